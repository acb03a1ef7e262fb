"""``gradfree run NAME --ray``: one Ray task per seed (and one for the units of the run's first seeds),
assembled into the same files as a local run.

Each task computes a part of the run's checkpointed units with the run layer's
:func:`~gradfree.experiments.cli_runner.compute_units` and sends back their records: a task per seed
computes that seed's units, one more task the units an experiment declares with ``ctx.first_seeds``
(a quick mode's single seed, an ablation on the first seed), so no unit is computed twice. The driver
stores the records in ``OUT`` (:func:`~gradfree.experiments.registry.store_units`) and then runs the
experiment locally over all seeds: every unit is found done, so the local pass only aggregates,
reports and draws, and ``results.json`` is byte-identical to a local run's. Tasks are retried
(``max_retries``) when a worker dies, and units already done in ``OUT`` travel to the workers with the
task, so an interrupted sweep resumes instead of restarting.
"""

from __future__ import annotations

from pathlib import Path

from gradfree.distributed.cluster import init_ray
from gradfree.experiments.cli_runner import compute_units, default_out, run_experiment, seed_list
from gradfree.experiments.registry import get_experiment, saved_units, store_units


def run_experiment_on_ray(name: str, *, quick: bool = False, seeds: int | list[int] | None = None,
                          out: str | Path | None = None, device: str = "cpu", options: dict | None = None,
                          address: str | None = None, progress: bool = True, max_retries: int = 3,
                          threads: int = 1) -> Path:
    """Spread the units of experiment ``name`` over a Ray cluster by seed; return the output folder.

    Examples
    --------
    The same folder as ``run_experiment(name, ...)`` writes (the results do not depend on the
    cluster), with each seed's units computed by a task of its own and those of ``ctx.first_seeds``
    by one more:

    >>> from gradfree.experiments import get_experiment
    >>> get_experiment("ncm-split").default_seeds           # seeds=None: seeds 0, 1, 2, one per task
    3
    >>> out = run_experiment_on_ray("ncm-split", quick=True, progress=False)   # doctest: +SKIP
    >>> (out / "results.json").exists(), (out / "report.md").exists()          # doctest: +SKIP
    (True, True)
    """
    options = dict(options or {})
    get_experiment(name).check_options(options, quick=quick)  # usage errors before a cluster starts
    seeds_ = seed_list(name, seeds)
    ray = init_ray(address)
    out = Path(out) if out is not None else default_out(name, quick)
    done = ray.put(saved_units(out))
    remote = ray.remote(max_retries=max_retries)(compute_units)
    parts = [([s], False) for s in seeds_] + [([], True)]  # one task per seed, one for ctx.first_seeds
    refs = [remote.remote(name, quick=quick, seeds=part, all_seeds=seeds_, shared=shared, device=device,
                          options=options, threads=threads, done=done) for part, shared in parts]
    for units in ray.get(refs):
        store_units(out, units)
    return run_experiment(name, quick=quick, seeds=seeds_, out=out, device=device, progress=progress,
                          options=options, threads=threads)
