"""``gradfree run NAME --ray``: one Ray task per seed, assembled into the same files as a local run.

Each task runs the experiment with a single seed in a scratch folder and sends back the JSON of its
checkpointed units (``ctx.unit``), whose keys name the seed. The driver writes them into
``OUT/checkpoints`` and then runs the experiment locally over all seeds: every unit is found done, so
the local pass only aggregates, reports and draws. ``results.json`` is therefore byte-identical to a
local run's. Tasks are retried (``max_retries``) when a worker dies, and units already done in
``OUT`` travel to the workers with the task, so an interrupted sweep resumes instead of restarting.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gradfree.core.checkpoint import MAX_CHECKPOINT_BYTES, write_text_atomic
from gradfree.core.files import read_text, safe_mkdir
from gradfree.distributed.cluster import init_ray
from gradfree.experiments.cli_runner import default_out, run_experiment, seed_list


def _run_one_seed(name: str, quick: bool, seed: int, device: str, options: dict,
                  done: dict[str, str], threads: int = 1) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "checkpoints").mkdir()
        for fname, text in done.items():
            write_text_atomic(Path(tmp) / "checkpoints" / fname, text, root=tmp)
        run_experiment(name, quick=quick, seeds=[seed], out=tmp, device=device, progress=False,
                       options=options, threads=threads)
        return {p.name: p.read_text() for p in (Path(tmp) / "checkpoints").glob("*.json")}


def _readable(path: Path) -> str | None:
    """A checkpoint's text, or None for anything that is not a regular file of bounded size."""
    try:
        return read_text(path, MAX_CHECKPOINT_BYTES)
    except (OSError, UnicodeDecodeError):
        return None


def run_experiment_on_ray(name: str, *, quick: bool = False, seeds: int | None = None,
                          out: str | Path | None = None, device: str = "cpu", options: dict | None = None,
                          address: str | None = None, progress: bool = True, max_retries: int = 3,
                          threads: int = 1) -> Path:
    """Spread the seeds of experiment ``name`` over a Ray cluster; return the output folder.

    Examples
    --------
    The same folder as ``run_experiment(name, ...)`` writes (the results do not depend on the
    cluster), with the seeds computed on the cluster's workers:

    >>> from gradfree.experiments import get_experiment
    >>> get_experiment("ncm-split").default_seeds           # seeds=None: seeds 0, 1, 2, one per task
    3
    >>> out = run_experiment_on_ray("ncm-split", quick=True, progress=False)   # doctest: +SKIP
    >>> (out / "results.json").exists(), (out / "report.md").exists()          # doctest: +SKIP
    (True, True)
    """
    ray = init_ray(address)
    out = Path(out) if out is not None else default_out(name, quick)
    seeds_ = seed_list(name, seeds)
    options = dict(options or {})
    ckpt = safe_mkdir(out / "checkpoints", root=out)
    done = ray.put({p.name: text for p in ckpt.glob("*.json") if (text := _readable(p)) is not None})
    remote = ray.remote(max_retries=max_retries)(_run_one_seed)
    refs = [remote.remote(name, quick, s, device, options, done, threads) for s in seeds_]
    for files in ray.get(refs):
        for fname, text in files.items():
            if not (ckpt / fname).exists():
                write_text_atomic(ckpt / fname, text, root=out)
    return run_experiment(name, quick=quick, seeds=seeds_, out=out, device=device, progress=progress,
                          options=options, threads=threads)
