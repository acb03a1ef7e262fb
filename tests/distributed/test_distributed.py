"""Scale-out on Ray: seed sweeps and EMNS populations give the same results as in-process runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'gradfree[distributed]'")

from gradfree.data import emns_regression  # noqa: E402
from gradfree.distributed.emns_population import RayPopulation, fit_on_ray  # noqa: E402
from gradfree.emns import EMNSRegressor, StructureParams  # noqa: E402


def _model(**kw):
    return EMNSRegressor(**{**dict(hidden_layer_sizes=(8, 5), selection="plus", population_size=8,
                                   max_evaluations=160, random_state=3), **kw})


def _state_equal(a, b):
    sa, sb = a.state_, b.state_
    return (torch.equal(sa.values, sb.values) and torch.equal(sa.resistances, sb.resistances)
            and torch.equal(sa.fitness, sb.fitness) and sa.mutation_rate == sb.mutation_rate
            and sa.n_evaluations == sb.n_evaluations)


@pytest.mark.parametrize("kw", [{}, dict(selection="comma", recombination=3, mirrored=True)])
def test_population_on_ray_equals_in_process(local_ray, kw):
    X, y = emns_regression(n_samples=100, random_state=0)
    local = _model(**kw).fit(X, y)
    remote = fit_on_ray(_model(**kw), X, y, n_workers=2)
    assert _state_equal(local, remote)
    np.testing.assert_array_equal(local.predict(X), remote.predict(X))
    assert local.history_["fitness"] == remote.history_["fitness"]


def test_structure_changes_and_restarts_are_refused():
    X, y = emns_regression(n_samples=50, random_state=0)
    for kw in (dict(structure=StructureParams(growth=True)), dict(restart_patience=100)):
        with pytest.raises(ValueError, match="not distributed"):
            fit_on_ray(_model(**kw), X, y)


def _wait_for_restart(worker, generation_before: int, timeout: float = 60.0) -> bool:
    """Wait until Ray has restarted the killed actor (it then reports its initial generation)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ray.get(worker.catch_up.remote([])) < generation_before:
                return True
        except ray.exceptions.RayError:
            pass
        time.sleep(0.2)
    return False


def test_killed_actor_is_restarted_and_caught_up(local_ray):
    X, y = emns_regression(n_samples=100, random_state=0)
    local = _model().fit(X, y)
    killed = {"done": False, "pop": None}

    def executor(st, evaluate, p):
        pop = RayPopulation(st, evaluate, p, n_workers=2)
        killed["pop"] = pop
        step = pop.step

        def step_and_kill(*args, **kwargs):
            out = step(*args, **kwargs)
            if not killed["done"] and len(pop.log) == 5:
                worker = pop.workers[0]
                before = ray.get(worker.catch_up.remote([]))
                ray.kill(worker, no_restart=False)  # a real worker death, mid-run
                killed["done"] = _wait_for_restart(worker, before)
            return out

        pop.step = step_and_kill
        return pop

    model = _model()
    model.set_population_executor(executor)
    model.fit(X, y)
    assert killed["done"] and killed["pop"].catch_ups >= 1  # the restarted actor replayed the log
    assert _state_equal(local, model)


def test_bytes_per_generation_do_not_grow_with_parameters(local_ray):
    sizes = []
    for hidden in [(4,), (64, 64)]:
        X, y = emns_regression(n_samples=50, random_state=0)
        holder = {}

        def executor(st, evaluate, p, holder=holder):
            holder["pop"] = RayPopulation(st, evaluate, p, n_workers=2)
            return holder["pop"]

        model = EMNSRegressor(hidden_layer_sizes=hidden, population_size=8, max_evaluations=17,
                              backend="torch", random_state=0)
        model.set_population_executor(executor)
        model.fit(X, y)
        sizes.append((model.state_.values.shape[1], max(holder["pop"].bytes_sent)))
    (n_small, b_small), (n_big, b_big) = sizes
    assert n_big > 50 * n_small
    assert b_big <= b_small * 1.2 + 64  # seeds, fitness and indices only


def test_seed_sweep_on_ray_matches_local(local_ray, tmp_path):
    from gradfree.distributed import run_experiment_on_ray
    from gradfree.experiments.cli_runner import run_experiment

    local = run_experiment("ncm-split", quick=True, seeds=2, out=tmp_path / "local", progress=False)
    remote = run_experiment_on_ray("ncm-split", quick=True, seeds=2, out=tmp_path / "ray", progress=False)
    assert (remote / "results.json").read_text() == (local / "results.json").read_text()


@pytest.mark.slow  # two quick rmn-split runs: ~50 s of CPU each
def test_rmn_split_quick_on_ray_matches_local(local_ray, tmp_path):
    """rmn-split --quick runs all its units on the first seed (``ctx.first_seeds``): under Ray one task
    computes them once, the per-seed tasks compute nothing, and results.json equals a local run's."""
    from gradfree.distributed import run_experiment_on_ray
    from gradfree.experiments.cli_runner import run_experiment
    from gradfree.experiments.registry import saved_units

    local = run_experiment("rmn-split", quick=True, seeds=2, out=tmp_path / "local", progress=False)
    remote = run_experiment_on_ray("rmn-split", quick=True, seeds=2, out=tmp_path / "ray", progress=False)
    assert (remote / "results.json").read_bytes() == (local / "results.json").read_bytes()
    assert set(saved_units(remote)) == set(saved_units(local))
    assert not any(i.endswith("seed1") for i in saved_units(remote))  # no unit of the second seed


def test_bench_on_ray_matches_local(local_ray, tmp_path):
    from gradfree.cli import main

    args = ["bench", "--quick", "--seeds", "2", "--no-progress", "--set", "models=ncm,mlp-joint",
            "--set", "suites=split-digits"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--out", str(tmp_path / "ray"), "--ray"]) == 0
    local, remote = ((tmp_path / p / "results.json").read_text() for p in ("local", "ray"))
    assert remote == local
    assert (tmp_path / "ray" / "report.md").exists()
