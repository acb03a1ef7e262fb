"""``gradfree bench --ray``: one Ray task per (suite, seed), assembled into the local bench's files.

Each task loads its suite's data for its seed once and runs every model that can run there
(``gradfree.bench.runner.run_unit``), returning the unit records. The driver writes them as the
bench's own unit checkpoints and then runs the bench locally, which finds every unit done and only
writes the CSV, the markdown table and the figures: the same files as a local run. Wall time and peak
memory are those measured on the worker that ran the unit. Units already checkpointed are not sent.
"""

from __future__ import annotations

from pathlib import Path

from gradfree.core.checkpoint import write_checkpoint
from gradfree.distributed.cluster import init_ray


def _run_suite_seed(suite: str, seed: int, models: list[str], quick: bool, device: str,
                    threads: int | None) -> list[dict]:
    import torch

    from gradfree.bench.runner import run_unit
    from gradfree.bench.suites import SUITES

    if threads is not None:
        torch.set_num_threads(threads)
    data = SUITES[suite].load(seed, quick)
    return [run_unit(m, suite, seed, data, quick=quick, device=device, threads=threads) for m in models]


def run_bench_on_ray(quick: bool = False, seeds: int = 3, out: str | Path = "runs/bench", device: str = "cpu",
                     progress: bool = True, threads: int | None = 1, address: str | None = None,
                     models: list[str] | None = None, suites: list[str] | None = None,
                     max_retries: int = 3) -> Path:
    """Spread the bench's (suite, seed) groups over a Ray cluster; return the output folder.

    ``models`` / ``suites`` restrict the run to a subset of the table, as in ``run_bench``.
    """
    from gradfree.bench import run_bench
    from gradfree.bench.models import MODELS
    from gradfree.bench.runner import checkpoint_dir, unit_path
    from gradfree.bench.suites import SUITES

    ray = init_ray(address)
    ckpt = checkpoint_dir(out, quick, device)
    ckpt.mkdir(parents=True, exist_ok=True)
    remote = ray.remote(max_retries=max_retries, num_cpus=1)(_run_suite_seed)
    refs = []
    for suite in suites or list(SUITES):
        for seed in range(seeds):
            todo = [m for m in (models or list(MODELS)) if MODELS[m].reason(suite, quick) is None
                    and not unit_path(ckpt, m, suite, seed).exists()]
            if todo:
                refs.append(remote.remote(suite, seed, todo, quick, device, threads))
    for records in ray.get(refs):
        for rec in records:
            write_checkpoint(unit_path(ckpt, rec["model"], rec["suite"], rec["seed"]), rec)
    return run_bench(quick=quick, seeds=seeds, out=out, device=device, progress=progress, threads=threads,
                     models=models, suites=suites)
