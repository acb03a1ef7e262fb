"""Bench outputs: the report's tables (mean ± sd over seeds) and accuracy matrices, and the measurements.

Two kinds of output, kept apart:

* what the models computed (metrics, accuracy matrices): :func:`markdown` and
  :func:`accuracy_matrices`, functions of the unit records that ``results.json`` holds, so
  ``gradfree report`` rebuilds report.md and its figures byte for byte;
* what was measured (wall and CPU time, peak memory, the machine, the bench's own duration), which
  changes from run to run: :func:`write_measurements` writes ``timings.md``, ``accuracy_vs_time.png``,
  ``results.csv`` and ``bench.json`` from the records with their measurements, when the bench runs.

Everything is built from the unit records (fresh or resumed from checkpoints), so a resumed bench
writes the same tables and figures as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from gradfree.core.checkpoint import write_json_atomic, write_text_atomic
from gradfree.experiments.bench.models import MODELS
from gradfree.experiments.bench.suites import SUITES

CSV_FIELDS = ["model", "suite", "seed", "metric", "value", "wall_s", "cpu_s", "peak_mb", "peak_cuda_mb",
              "mem_method", "status", "note"]
METRIC_ORDER = ["average_accuracy", "mean_forgetting", "bwt", "accuracy", "train_accuracy", "mse",
                "train_mse"]
PERCENT = {"average_accuracy", "mean_forgetting", "bwt", "accuracy", "train_accuracy"}


def _metric_rank(k: str) -> tuple[int, str]:
    return (METRIC_ORDER.index(k) if k in METRIC_ORDER else len(METRIC_ORDER), k)


def fmt(values: list[float], metric: str) -> str:
    """``mean ± sd`` over seeds (ddof 0): percentages for accuracies, 4 decimals for MSE."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "—"
    if metric in PERCENT:
        v = v * 100
        return f"{v.mean():.1f} ± {v.std():.1f}"
    if metric.endswith("_s"):
        return f"{v.mean():.2f} ± {v.std():.2f}"
    if metric.endswith("_mb"):
        return f"{v.mean():.0f}"
    return f"{v.mean():.4f} ± {v.std():.4f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, records: list[dict], skipped: dict, *, root: Path | None = None) -> None:
    """results.csv: one row per record (and per skipped pair), written atomically inside ``root``."""
    with io.StringIO(newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for (m, s), reason in skipped.items():
            if reason is not None:
                w.writerow({"model": m, "suite": s, "status": "skipped", "note": reason})
        for r in records:
            base = {"model": r["model"], "suite": r["suite"], "seed": r["seed"], "wall_s": r.get("wall_s"),
                    "cpu_s": r.get("cpu_s"), "peak_mb": r.get("peak_mb"),
                    "peak_cuda_mb": r.get("peak_cuda_mb"),
                    "mem_method": r.get("mem_method"), "status": r["status"], "note": r.get("error") or ""}
            if r["status"] != "ok":
                w.writerow(base)
            for metric in sorted(r["metrics"], key=_metric_rank):
                w.writerow({**base, "metric": metric, "value": r["metrics"][metric]})
        write_text_atomic(path, f.getvalue(), root=root)


def _group(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    g: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        g[(r["model"], r["suite"])].append(r)
    return g


def markdown(records: list[dict], skipped: dict, models: list[str], suites: list[str]) -> str:
    """The report's body: the summary table and one table of metrics per suite (no measurements)."""
    groups = _group(records)
    out = ["Cells are mean ± sd over seeds. Accuracies in %; continual suites show average accuracy "
           "(class-incremental, 5 tasks x 2 classes, no task id at test); the EMNS regression shows test MSE "
           "(lower is better). Wall time, CPU time and peak memory of each model and suite, and accuracy "
           "against wall time, are in [timings.md](timings.md): they are measured, so they change from run "
           "to run and are not in results.json.\n",
           "## Summary\n"]
    rows = []
    for m in models:
        row = [m]
        for s in suites:
            reason = skipped.get((m, s))
            recs = groups.get((m, s), [])
            if reason is not None:
                row.append(f"*n/a: {reason}*")
            elif any(r["status"] != "ok" for r in recs):
                err = next(r["error"] for r in recs if r["status"] != "ok")
                row.append(f"*error: {err[:80]}*".replace("|", "/"))
            else:
                metric = SUITES[s].main_metric
                row.append(fmt([r["metrics"].get(metric) for r in recs], metric))
        rows.append(row)
    out.append(_table(["model", *suites], rows))
    out.append("\nModels: " + "; ".join(f"**{m}**: {MODELS[m].summary}" for m in models if m in MODELS)
               + ".\n")
    for s in suites:
        ran = [m for m in models if skipped.get((m, s)) is None and groups.get((m, s))]
        if not ran:
            continue
        metrics = _metrics(groups, ran, s)
        rows = [[m, *(fmt([r["metrics"].get(k) for r in _ok(groups[(m, s)])], k) for k in metrics)]
                for m in ran]
        out.append(f"\n## {s}: {SUITES[s].summary}\n")
        out.append(_table(["model", *metrics], rows))
    return "\n".join(out)


def timings_markdown(records: list[dict], skipped: dict, meta: dict) -> str:
    """timings.md: the machine, the bench's duration and each model's wall time, CPU time and peak memory
    per suite (mean ± sd over seeds)."""
    groups = _group(records)
    mach = meta["machine"]
    machine = (f"{mach['processor']}, {mach['cpu_count']} CPU cores (torch threads: {mach['torch_threads']})"
               + (f", GPU {mach['gpu']}" if "gpu" in mach else "") + f", {mach['platform']}, "
               f"Python {mach['python']}, torch {mach['torch']}")
    out = ["# bench: measurements\n",
           f"Generated on {meta['started']}; machine: {machine}; device: {meta['device']}. "
           f"Seeds: {meta['seeds']}. Duration: {_duration(meta, records)}.\n",
           "Wall and CPU time cover fit and evaluation (one torch thread; on a shared machine CPU time is "
           "the steadier); peak memory is the rise of the process's resident high-water mark during the unit "
           f"({_mem_method(records)}). The models' scores are in [report.md](report.md).\n",
           "![accuracy_vs_time.png](accuracy_vs_time.png)\n"]
    for s in meta["suites"]:
        ran = [m for m in meta["models"] if skipped.get((m, s)) is None and groups.get((m, s))]
        if not ran:
            continue
        rows = [[m, fmt([r.get("wall_s") for r in _ok(groups[(m, s)])], "wall_s"),
                 fmt([r.get("cpu_s") for r in _ok(groups[(m, s)])], "cpu_s"),
                 fmt([r.get("peak_mb") for r in _ok(groups[(m, s)])], "peak_mb")] for m in ran]
        out.append(f"\n## {s}: {SUITES[s].summary}\n")
        out.append(_table(["model", "wall s", "CPU s", "peak MiB"], rows))
    return "\n".join(out)


def _ok(recs: list[dict]) -> list[dict]:
    return [r for r in recs if r["status"] == "ok"]


def _metrics(groups: dict, models: list[str], suite: str) -> list[str]:
    metrics: list[str] = []
    for m in models:
        for r in groups[(m, suite)]:
            metrics += [k for k in r["metrics"] if k not in metrics]
    return sorted(metrics, key=_metric_rank)


def _duration(meta: dict, records: list[dict]) -> str:
    """The units' own wall times, and this invocation's time when some units were resumed."""
    unit_sum = sum(r.get("wall_s") or 0.0 for r in records)
    text = f"{meta['units']} units whose own wall times add up to {unit_sum:.0f} s"
    if meta["units_resumed"]:
        text += (f" ({meta['units_resumed']} resumed from checkpoints; this invocation took "
                 f"{meta['duration_s']:.0f} s)")
    return text


def _mem_method(records: list[dict]) -> str:
    methods = {r.get("mem_method") for r in records if r.get("mem_method")}
    if methods == {"vmhwm"}:
        return "Linux VmHWM, reset before each unit"
    return "resource.getrusage ru_maxrss: a lower bound" if methods else "not measured"


def accuracy_matrices(records: list[dict], models: list[str], suites: list[str]) -> list[tuple[str, Any]]:
    """The accuracy matrices (mean over seeds) of each continual suite: [(name, figure)]."""
    from gradfree.experiments.plots import accuracy_matrix_heatmap, figure

    groups, out = _group(records), []
    for s in suites:
        if SUITES[s].kind != "continual":
            continue
        ms = [m for m in models if groups.get((m, s)) and all(
            r["status"] == "ok" and "R" in r["extra"] for r in groups[(m, s)])]
        if not ms:
            continue
        ncol = min(4, len(ms))
        fig, axes = figure(ncol, int(np.ceil(len(ms) / ncol)), size=(3.6, 3.0))
        for ax in axes.flat[len(ms):]:
            ax.axis("off")
        for ax, m in zip(axes.flat, ms):
            R = np.mean([r["extra"]["R"] for r in groups[(m, s)]], axis=0)  # (T, T) mean over seeds
            accuracy_matrix_heatmap(ax, R, f"{m}, {s}")
        fig.tight_layout()
        out.append((f"accuracy_matrices_{s}", fig))
    return out


def accuracy_vs_time(records: list[dict], models: list[str], suites: list[str]) -> Any | None:
    """Each suite's main metric against wall time per run (measured), one panel per suite."""
    from matplotlib.ticker import NullFormatter

    from gradfree.experiments.plots import clipped_yerr, figure

    groups = _group(records)
    suites = [s for s in suites if any(groups.get((m, s)) for m in models)]
    if not suites:
        return None
    ncol = min(4, len(suites))
    fig, axes = figure(ncol, int(np.ceil(len(suites) / ncol)), size=(3.8, 3.2))
    for ax in axes.flat[len(suites):]:
        ax.axis("off")
    for ax, s in zip(axes.flat, suites):
        metric = SUITES[s].main_metric
        for m in models:
            recs = _ok(groups.get((m, s), []))
            if not recs:
                continue
            t = np.array([r["wall_s"] for r in recs])
            scale = 100.0 if metric in PERCENT else 1.0
            v = np.array([r["metrics"][metric] for r in recs], dtype=float) * scale
            high = 100.0 if metric in PERCENT else np.inf
            yerr = clipped_yerr([v.mean()], [v.std()], -100.0 if metric == "bwt" else 0.0, high)
            ax.errorbar(t.mean(), v.mean(), xerr=t.std(), yerr=yerr, fmt="o", ms=4, capsize=2)
            ax.annotate(m, (t.mean(), v.mean()), fontsize=6, xytext=(3, 3), textcoords="offset points")
        lo, hi = ax.get_xlim()
        if lo > 0 and hi / lo > 10:  # a log scale only where times span a decade or more
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("wall time per run (s)")
        ax.set_ylabel(metric.replace("_", " ") + (" (%)" if metric in PERCENT else "")
                      + (" (lower is better)" if metric == "mse" else ""))
        ax.set_title(s, fontsize=9)
    fig.tight_layout()
    return fig


def write_measurements(out: Path, records: list[dict], skipped: dict, meta: dict) -> None:
    """timings.md, accuracy_vs_time.png, results.csv and bench.json in run folder ``out``: the records
    with their measurements (not in results.json, which holds what the models computed)."""
    from gradfree.core.files import write_bytes_atomic
    from gradfree.experiments.plots import png_bytes

    write_csv(out / "results.csv", records, skipped, root=out)
    write_json(out / "bench.json", records, skipped, meta, root=out)
    write_text_atomic(out / "timings.md", timings_markdown(records, skipped, meta), root=out)
    fig = accuracy_vs_time(records, meta["models"], meta["suites"])
    if fig is not None:
        write_bytes_atomic(out / "accuracy_vs_time.png", png_bytes(fig), root=out)


def write_json(path: Path, records: list[dict], skipped: dict, meta: dict, *,
               root: Path | None = None) -> None:
    """bench.json: every record with its measurements, what was skipped and why, and the machine."""
    write_json_atomic(path, root=root, obj={
        "meta": meta,
        "skipped": [{"model": m, "suite": s, "reason": r} for (m, s), r in skipped.items() if r is not None],
        "records": [{k: v for k, v in r.items() if k != "traceback"} for r in records]})
