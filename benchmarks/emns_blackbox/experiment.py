"""One benchmark run: the chosen suites (COCO's bbob / bbob-noisy, IOH's PBO) into one folder, then
``summary.json`` and ``report.md`` there (with ``append``, added to the folder's earlier runs)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from .coco import GROUPS, NOISY_GROUPS, coco_ert, coco_suite, coco_summary
from .pbo import pbo
from .report import report


def run_suites(a, out: Path, command: str, log) -> None:
    """Run every suite of ``a.suites`` with the settings of the command line ``a`` (the namespace of
    ``benchmarks/bench_emns_blackbox.py``) under ``out``; ``command`` is recorded in the summary."""
    dims = [int(d) for d in a.dims.split(",")]
    names = a.optimizers.split(",")
    suites = a.suites.split(",")
    slow = [n for n in a.slow.split(",") if n]
    previous = out / "summary.json"
    earlier = json.loads(previous.read_text()) if a.append and previous.exists() else {}
    summary = {**earlier, "commands": [*earlier.get("commands", []), command], "dims": dims,
        "budget_multiplier": a.budget_multiplier,
        "targets": "51 targets 10^[2..-8]", "slow peers": {"names": slow, "dims": a.slow_dims,
        "instances": a.slow_instances, "pbo runs": a.slow_runs},
        "machine": platform.processor() or platform.machine(),
        "cpu_seconds": earlier.get("cpu_seconds", {})}
    os.chdir(out)  # cocoex and cocopp write relative to the working directory
    here = Path(".")
    for s in suites:
        if s in ("bbob", "bbob-noisy"):
            inst = a.instances if s == "bbob" else (a.noisy_instances or a.instances)
            fun = a.functions if s == "bbob" else ""
            summary["cpu_seconds"].setdefault(s, {}).update(coco_suite(
                s, names, dims, a.budget_multiplier, inst, fun, here, log, slow,
                [int(d) for d in a.slow_dims.split(",") if d],
                [int(i) for i in a.slow_instances.split(",") if i]))
            present = sorted(p.name for p in (here / "exdata" / s).iterdir() if p.is_dir())
            groups = GROUPS if s == "bbob" else NOISY_GROUPS
            summary[s], summary[s + " per function"] = coco_summary(s, present, here, groups)
            if s == "bbob":
                summary["bbob ERT/D f1-5 at 1e-8"] = coco_ert(s, present, here, range(1, 6))
            if not a.no_cocopp:
                import cocopp

                cocopp.genericsettings.outputdir = f"ppdata/{s}"
                cocopp.main(" ".join(f"exdata/{s}/{n}" for n in present))
        elif s == "pbo":
            lo, hi = (int(v) for v in a.pbo_functions.split("-"))
            best, cpu = pbo(a.pbo_optimizers.split(","), range(lo, hi + 1), a.pbo_dim, a.pbo_budget,
                            a.pbo_runs, here, log, slow, a.slow_runs)
            before = earlier.get("pbo", {}) if earlier.get("pbo settings", {}).get("dim") == a.pbo_dim else {}
            fids = sorted({*before, *best}, key=int)
            summary["pbo"] = {f: {**before.get(f, {}), **best.get(f, {})} for f in fids}
            summary["cpu_seconds"]["pbo"] = {**summary["cpu_seconds"].get("pbo", {}), **cpu}
            summary["pbo settings"] = {"dim": a.pbo_dim, "budget": a.pbo_budget, "runs": a.pbo_runs,
                                       "instance": 1}
    Path("summary.json").write_text(json.dumps(summary, indent=1, default=float))
    Path("report.md").write_text(report(summary))
    log(report(summary))
