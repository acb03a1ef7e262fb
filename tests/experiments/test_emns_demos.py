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
    assert r["curve"]["resistance_hist"] and len(r["curve"]["resistance_hist"][0]) == 20


@pytest.mark.parametrize("demo, good, bad", [
    ("classification", {"test_accuracy": 0.9}, {"test_accuracy": 0.6}),
    ("continual", {"task1_r2_after_task1": 0.8, "task2_r2_after_task2": 0.7},
     {"task1_r2_after_task1": 0.8, "task2_r2_after_task2": 0.1}),
    ("regression", {"test_r2": 0.9}, {"test_r2": 0.2}),
])
def test_learns_reads_the_held_out_score(demo, good, bad):
    assert learns(demo, good) and not learns(demo, bad)
