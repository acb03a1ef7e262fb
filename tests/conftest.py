"""Shared fixtures: small data sets and a temporary output folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.data import load_digits


@pytest.fixture(autouse=True)
def _few_threads():
    """Tests use tiny tensors: one thread avoids oversubscription (2 cores here, often shared)."""
    torch.set_num_threads(1)


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
