"""Shared fixtures: small data sets, one thread per test and one local Ray cluster for the Ray tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.data import load_digits


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch (and numba) thread per test, restored afterwards.

    The tests use small tensors; on a loaded 2-core machine threaded small ops were measured 10-40x
    slower (check_estimator on MLPClassifier: 3 s with one thread, 65 s with two). numba's OpenMP
    layer can also change torch's shared thread count, so both are pinned.
    """
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is the optional 'fast' extra
        numba = None
    old_torch = torch.get_num_threads()
    old_numba = numba.get_num_threads() if numba is not None else None
    torch.set_num_threads(1)
    if numba is not None:
        numba.set_num_threads(1)
    yield
    torch.set_num_threads(old_torch)
    if numba is not None:
        numba.set_num_threads(old_numba)


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits()
    return X, y


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4
    y = np.repeat(np.arange(3), 30)
    X = (centres[y] + rng.normal(size=(90, 5))).astype(np.float32)
    return X, y


@pytest.fixture(scope="session")
def local_ray():
    """One local 2-CPU Ray cluster for every Ray test a (pytest-xdist worker) process runs: each start
    costs seconds."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'gradfree[distributed]'")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()
