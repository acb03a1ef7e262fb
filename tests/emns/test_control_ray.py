"""PolicySearch on 2 local Ray actors equals the in-process run, a killed actor included."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium")
ray = pytest.importorskip("ray")

from gradfree.emns import PolicySearch  # noqa: E402

from .test_control import SMALL, _kill_before  # noqa: E402


def test_ray_workers_match_in_process_even_when_one_is_killed(local_ray, monkeypatch):
    local = PolicySearch("CartPole-v1", **SMALL).fit()
    _kill_before(monkeypatch, 2)
    far = PolicySearch("CartPole-v1", n_jobs=2, backend="ray", **SMALL).fit()
    assert far._last_pool_stats[2] == 1
    np.testing.assert_array_equal(far.centre_, local.centre_)
    assert far.history_["return_mean"] == local.history_["return_mean"]
