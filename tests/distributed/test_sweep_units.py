"""A run split into per-seed parts and one part for ``ctx.first_seeds`` computes every unit once, and
the run gathered from the parts equals a local run (the plan of ``gradfree run --ray``, without Ray)."""

from __future__ import annotations

import pytest

from gradfree.experiments import registry
from gradfree.experiments.cli_runner import compute_units, run_experiment
from gradfree.experiments.registry import experiment, saved_units, store_units

NAME = "toy-first-seeds"


def _toy(ctx):
    per_seed = {f"s{seed}": ctx.unit(f"per-seed-{seed}", lambda seed=seed: {"v": seed * 10})
                for seed in ctx.seeds}
    quick = {f"s{seed}": ctx.unit(f"first-{seed}", lambda seed=seed: {"v": seed + 0.5})
             for seed in ctx.first_seeds(2)}
    return {"per_seed": per_seed, "first_two": quick}


@pytest.fixture
def toy():
    experiment(NAME, "a toy with per-seed units and units of the first two seeds",
               report=lambda r, c: "toy\n", figures=lambda r, c: [])(_toy)
    yield NAME
    registry._REGISTRY.pop(NAME)


def test_parts_compute_each_unit_once_and_gather_into_the_local_results(toy, tmp_path):
    seeds = [0, 1, 2]
    parts = [compute_units(toy, quick=True, seeds=[s], all_seeds=seeds, shared=False) for s in seeds]
    parts.append(compute_units(toy, quick=True, seeds=[], all_seeds=seeds, shared=True))
    ids = [i for part in parts for i in part]
    assert sorted(ids) == ["first-0", "first-1", "per-seed-0", "per-seed-1", "per-seed-2"]  # once each
    assert set(parts[-1]) == {"first-0", "first-1"}

    local = run_experiment(toy, quick=True, seeds=3, out=tmp_path / "local", progress=False)
    gathered = tmp_path / "gathered"
    for part in parts:
        store_units(gathered, part)
    run_experiment(toy, quick=True, seeds=3, out=gathered, progress=False)
    assert (gathered / "results.json").read_bytes() == (local / "results.json").read_bytes()
    assert set(saved_units(gathered)) == set(saved_units(local))


def test_done_units_are_not_computed_again(toy):
    first = compute_units(toy, quick=True, seeds=[0], all_seeds=[0], shared=True)
    assert compute_units(toy, quick=True, seeds=[0], all_seeds=[0], shared=True, done=first) == {}


def test_store_units_refuses_what_is_not_a_unit_record(tmp_path):
    with pytest.raises(ValueError, match="not a unit record"):
        store_units(tmp_path, {"x": {"no": "result"}})
    with pytest.raises(ValueError, match="not a unit record"):
        store_units(tmp_path, {"../x": {"result": 1, "seconds": 0.0}})
