"""Run a registered experiment end to end: results.json, report.md, figures, run_info.json."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from gradfree.core.checkpoint import read_checkpoint, write_checkpoint, write_json_atomic, write_text_atomic
from gradfree.core.device import resolve_device
from gradfree.core.files import write_bytes_atomic
from gradfree.core.io import read_json
from gradfree.experiments.common import torch_threads
from gradfree.experiments.registry import (
    Experiment,
    ExperimentContext,
    get_experiment,
    saved_units,
    store_units,
)


def default_out(name: str, quick: bool) -> Path:
    return Path("runs") / (name + ("-quick" if quick else ""))


def seed_list(name: str, seeds: int | list[int] | None) -> list[int]:
    """Seeds 0..N-1 (N defaulting to the experiment's own default), or an explicit list, checked:
    non-negative and distinct (a later seed alone, run in a folder of its own, joins the others' units).

    >>> seed_list("ncm-split", 2), seed_list("ncm-split", [2])
    ([0, 1], [2])
    """
    if isinstance(seeds, (list, tuple)):
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ValueError(f"--seed-list needs one or more seeds >= 0, got {list(seeds)}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"--seed-list has a seed twice: {list(seeds)}")
        return [int(s) for s in seeds]
    n_seeds = get_experiment(name).default_seeds if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError("--seeds must be >= 1")
    return list(range(n_seeds))


def _header(exp: Experiment, config: dict) -> str:
    sets = "".join(f" --set {k}={v}" for k, v in sorted(config["options"].items()))
    seeds = list(config["seeds"])
    chosen = (f"--seeds {len(seeds)}" if seeds == list(range(len(seeds)))
              else "--seed-list " + ",".join(map(str, seeds)))
    command = f"gradfree run {exp.name}{' --quick' if config['quick'] else ''} {chosen}{sets}"
    return (f"# {exp.name}\n\n{exp.summary}\n\nSeeds: {config['seeds']}; quick: {config['quick']}; "
            f"device: {config['device']}. Command: `{command}`.\n")


def render(out: Path, exp: Experiment, config: dict, results: dict) -> None:
    """Write report.md and the figures from ``exp.report`` / ``exp.figures``: functions of the results
    and the config alone, so a run and ``gradfree report`` write the same bytes."""
    from gradfree.experiments.plots import png_bytes

    names = []
    for fname, fig in exp.figures(results, config):
        write_bytes_atomic(out / f"{fname}.png", png_bytes(fig), root=out)
        names.append(f"{fname}.png")
    figs = "".join(f"\n![{f}]({f})\n" for f in names)
    write_text_atomic(out / "report.md", _header(exp, config) + "\n" + exp.report(results, config) + figs,
                      root=out)


RESULTS_MAX_BYTES = 256 * 2**20


def rebuild_report(out: str | Path) -> Path:
    """``gradfree report DIR``: report.md and the figures again, from DIR/results.json alone."""
    out = Path(out)
    path = out / "results.json"
    if not path.is_file():
        raise ValueError(f"{path}: no results.json of a finished run")
    saved = read_json(path, "results file", max_bytes=RESULTS_MAX_BYTES)  # untrusted: bounded, checked
    if not (isinstance(saved, dict) and isinstance(saved.get("config"), dict)
            and isinstance(saved.get("results"), dict)):
        raise ValueError(f"{path}: fields 'config' and 'results' must be objects")
    config = saved["config"]
    checks = {"experiment": lambda v: isinstance(v, str), "quick": lambda v: isinstance(v, bool),
              "device": lambda v: isinstance(v, str),
              "seeds": lambda v: isinstance(v, list) and all(type(x) is int for x in v),
              "options": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values())}
    for key, ok in checks.items():
        if not ok(config.get(key)):
            raise ValueError(f"{path}: field 'config.{key}' is missing or of the wrong type")
    exp = get_experiment(config["experiment"])
    try:
        render(out, exp, config, saved["results"])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: field 'results' is not what {exp.name} writes "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    return out


def compute_units(name: str, *, quick: bool, seeds: list[int], all_seeds: list[int], shared: bool,
                  device: str = "cpu", options: dict | None = None, threads: int = 1,
                  done: dict[str, dict] | None = None) -> dict[str, dict]:
    """Compute a part of a run's units in a scratch folder and return the records of those computed.

    The experiment runs with ``seeds`` as its per-seed seeds, ``all_seeds`` as the run's, and
    ``shared`` saying whether this part computes the units of ``ctx.first_seeds``; ``done`` (records
    from :func:`~gradfree.experiments.registry.saved_units`) are found done rather than recomputed.
    Nothing is reported or drawn: the run that gathers the records (:func:`run_experiment` on a folder
    holding them, via :func:`~gradfree.experiments.registry.store_units`) does that. The Ray sweep runs
    one such part per seed and one for the shared units.
    """
    import tempfile

    exp = get_experiment(name)
    parsed = exp.check_options(dict(options or {}), quick=quick)
    with tempfile.TemporaryDirectory() as tmp:
        store_units(tmp, dict(done or {}))
        ctx = ExperimentContext(out=Path(tmp), quick=quick, seeds=list(seeds), all_seeds=list(all_seeds),
                                shared=shared, device=device, show_progress=False, options=parsed,
                                title=name)
        try:
            with torch_threads(int(threads)):
                exp.fn(ctx)
        finally:
            ctx.close()
        return saved_units(tmp, ctx.computed)


def run_experiment(name: str, *, quick: bool = False, seeds: int | list[int] | None = None,
                   out: str | Path | None = None, device: str = "cpu", progress: bool = True,
                   options: dict | None = None, threads: int = 1) -> Path:
    """Run experiment ``name`` into ``out`` (default ``runs/<name>[-quick]``); resume if it was cut off.

    ``seeds`` is a count (seeds 0..N-1) or an explicit list. ``results.json`` holds only what the
    experiment computed (reproducible for a given seed list, identical for any ``threads``, the CPU
    threads torch and numba use); wall times, the command line and the machine go to ``run_info.json``.

    Examples
    --------
    >>> import json, tempfile
    >>> out = run_experiment("ncm-split", quick=True, seeds=1, out=tempfile.mkdtemp(), progress=False)
    >>> sorted(json.loads((out / "results.json").read_text())["results"])
    ['digits', 'fashion-mnist']
    """
    exp = get_experiment(name)
    parsed = exp.check_options(dict(options or {}), quick=quick)  # ctx.options: values, not strings
    if int(threads) < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    resolve_device(device)  # "cuda" without CUDA is refused before anything runs
    seeds = seed_list(name, seeds)
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
                            show_progress=progress, options=parsed, title=name)
    start = time.perf_counter()
    try:
        with torch_threads(int(threads)):
            results = exp.fn(ctx)
        ctx.stage("writing results and report")
        write_json_atomic(out / "results.json", {"config": config, "results": results}, root=out)
        # rendered from what results.json holds (keys sorted), exactly as `gradfree report` will
        results = json.loads(json.dumps(results, sort_keys=True))
        render(out, exp, config, results)
        write_json_atomic(out / "run_info.json", root=out, obj={
            "wall_seconds_this_process": time.perf_counter() - start, "unit_seconds": ctx.timings,
            **({"unit_stats": ctx.stats} if ctx.stats else {}),
            "threads": int(threads), "python": platform.python_version(), "machine": platform.machine(),
            "node": platform.node(),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
    finally:
        ctx.close()
    return out
