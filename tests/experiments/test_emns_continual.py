"""The emns-continual experiment: registered, its pair's target functions match the data, and a quick run
writes a report and results whose numbers lie in range."""

from __future__ import annotations

import json

import numpy as np

from gradfree.data import emns_continual_tasks
from gradfree.experiments import emns_continual as ec
from gradfree.experiments.cli_runner import run_experiment
from gradfree.experiments.registry import get_experiment


def test_registered():
    assert get_experiment("emns-continual").default_seeds >= 3


def test_pair_target_functions_are_the_generators():
    (X1, y1), (X2, y2) = emns_continual_tasks(random_state=3)
    assert np.allclose(ec.f1(X1), y1, atol=1e-6) and np.allclose(ec.f2(X2), y2, atol=1e-6)


def test_quick_run_writes_a_report_with_numbers_in_range(tmp_path):
    out = run_experiment("emns-continual", quick=True, seeds=1, out=tmp_path, progress=False)
    report = (out / "report.md").read_text()
    assert "## Verdict" in report and "D / 4" in report
    for name in ("accuracy_matrices.png", "retention.png", "config.json", "run_info.json"):
        assert (out / name).exists()
    res = json.loads((out / "results.json").read_text())["results"]
    assert set(res["digits"]) == set(ec.DIGITS_ROWS) and set(res["pair"]) == set(ec.PAIR_ROWS)
    for runs in res["digits"].values():
        (r,) = runs
        R = np.array(r["R"])
        assert R.shape == (5, 5) and ((0 <= R) & (R <= 1)).all()
        assert 0 <= r["average_accuracy"] <= 1 and -1 <= r["bwt"] <= 1
        assert r["task1_after_task1"] == R[0, 0] and r["task1_after_last"] == R[-1, 0]
        if "floor_mean" in r:
            assert 0 <= r["floor_mean"] <= 0.95 + 1e-6 and 0 <= r["frozen_fraction"] <= 1
    assert res["digits"][ec.OFF][0]["frozen_fraction"] == 0  # shield off: no floor
    assert res["digits"][ec.OFF][0]["average_accuracy"] > 0.2  # chance is 0.1
    for runs in res["pair"].values():
        (r,) = runs
        D = r["D_task1_inputs"]
        assert D > 0
        # one function of x: on task 1's inputs, sqrt(MSE1) + sqrt(MSE2) >= sqrt(D), so the sum >= D / 2
        assert r["task1_mse_after_task2"] + r["task2_mse_on_task1_inputs"] >= D / 2 - 1e-9
        assert r["task1_mse_after_task2"] >= r["task1_bound_given_task2"] - 1e-9
        assert r["task1_mse_after_task1"] < r["task1_constant_mse"]  # task 1 was learned
