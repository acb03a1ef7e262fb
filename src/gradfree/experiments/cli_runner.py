"""Run a registered experiment end to end: results.json, report.md, figures, run_info.json."""

from __future__ import annotations

import platform
import time
from pathlib import Path

from gradfree.core.checkpoint import read_checkpoint, write_checkpoint, write_json_atomic, write_text_atomic
from gradfree.core.device import resolve_device
from gradfree.experiments.registry import ExperimentContext, get_experiment


def default_out(name: str, quick: bool) -> Path:
    return Path("runs") / (name + ("-quick" if quick else ""))


def seed_list(name: str, seeds: int | None) -> list[int]:
    """Seeds 0..N-1, N defaulting to the experiment's own default."""
    n_seeds = get_experiment(name).default_seeds if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError("--seeds must be >= 1")
    return list(range(n_seeds))


def run_experiment(name: str, *, quick: bool = False, seeds: int | list[int] | None = None,
                   out: str | Path | None = None, device: str = "cpu", progress: bool = True,
                   options: dict | None = None) -> Path:
    """Run experiment ``name`` into ``out`` (default ``runs/<name>[-quick]``); resume if it was cut off.

    ``seeds`` is a count (seeds 0..N-1) or an explicit list. ``results.json`` holds only what the
    experiment computed (reproducible for a given seed list); wall times, the command line and the
    machine go to ``run_info.json``.
    """
    exp = get_experiment(name)
    exp.check_options(dict(options or {}))
    resolve_device(device)  # "cuda" without CUDA is refused before anything runs
    seeds = list(seeds) if isinstance(seeds, (list, tuple)) else seed_list(name, seeds)
    n_seeds = len(seeds)
    out = Path(out) if out is not None else default_out(name, quick)
    config = {"experiment": name, "quick": quick, "seeds": seeds, "device": device,
              "options": dict(options or {})}
    cfg_path = out / "config.json"
    saved = read_checkpoint(cfg_path, lambda c: isinstance(c, dict))
    if saved is not None and saved != config:
        raise ValueError(f"{out} holds a run with other settings ({cfg_path}); choose another --out "
                         "or delete it")
    write_checkpoint(cfg_path, config, root=out)
    ctx = ExperimentContext(out=out, quick=quick, seeds=seeds, device=device,
                            show_progress=progress, options=dict(options or {}), title=name)
    start = time.perf_counter()
    try:
        results = exp.fn(ctx)
        ctx.stage("writing results and report")
        write_json_atomic(out / "results.json", {"config": config, "results": results}, root=out)
        sets = "".join(f" --set {k}={v}" for k, v in sorted(ctx.options.items()))
        command = f"gradfree run {name}{' --quick' if quick else ''} --seeds {n_seeds}{sets}"
        header = (f"# {name}\n\n{exp.summary}\n\nSeeds: {ctx.seeds}; quick: {quick}; device: {device}. "
                  f"Command: `{command}`.\n")
        figs = "".join(f"\n![{f}]({f})\n" for f in ctx.figures)
        write_text_atomic(out / "report.md", header + "\n" + "\n".join(ctx.report_parts) + figs, root=out)
        write_json_atomic(out / "run_info.json", root=out, obj={
            "wall_seconds_this_process": time.perf_counter() - start, "unit_seconds": ctx.timings,
            "python": platform.python_version(), "machine": platform.machine(), "node": platform.node(),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
    finally:
        ctx.close()
    return out
