"""The emns-demos experiment: registered, and one unit of each demo runs and reports what it should."""

from __future__ import annotations

import json

import pytest

from gradfree.experiments.emns_demos import DEMOS, STRATEGIES, learns, run_unit
from gradfree.experiments.registry import get_experiment


def test_registered():
    assert get_experiment("emns-demos").default_seeds >= 3


@pytest.mark.parametrize("demo", list(DEMOS))
def test_one_unit_per_demo_is_json_and_scored_on_held_out_data(demo):
    r = run_unit(demo, STRATEGIES["recombine"], seed=0, budget=60)
    json.dumps(r)
    for key in ("train_mse_final", "adaptation_speed", "stability_index", "modularity", "resistance_entropy",
                "curve", "n_params", "active_synapses"):
        assert key in r
    held_out = {"classification": "test_accuracy", "continual": "task1_mse_after_task2"}.get(demo, "test_mse")
    assert held_out in r
    assert isinstance(learns(demo, r), bool)
    assert r["curve"]["resistance_hist"] and len(r["curve"]["resistance_hist"][0]) == 20
