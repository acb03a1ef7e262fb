"""Smoke tests of the RMN experiments' building blocks (the full runs are `gradfree run rmn-...`)."""

from __future__ import annotations

import numpy as np

from gradfree.experiments import rmn_orthogonal, rmn_split


def test_orthogonal_unit_reports_every_metric():
    r = rmn_orthogonal.run_variant("overcomplete, no homeostasis", seed=0, quick=True, device="cpu")
    for key in ("R", "average_accuracy", "task1_final", "task1_forgetting", "dead_neurons", "overlap",
                "binding", "activation_frequency"):
        assert key in r
    R = np.array(r["R"])
    assert R.shape == (5, 5)
    assert r["task1_forgetting"] == R[:-1, 0].max() - R[-1, 0]
    assert sum(r["binding"]) <= 100 and len(r["binding"]) == 10
    assert np.array(r["activation_frequency"]).shape == (5, 1000)
    assert r["average_accuracy"] > 0.5  # chance 0.1


def test_split_streams_and_a_row():
    train, test = rmn_split.split_dataset("digits", seed=0, quick=True)
    assert len(train) == len(test) == 5
    assert all(len(set(t.classes)) == 2 for t in train)
    r = rmn_split.run_one("digits", "NCM", seed=0, quick=True, device="cpu")
    assert np.array(r["R"]).shape == (5, 5) and 0.5 < r["average_accuracy"] <= 1
