"""Shared fixtures: small data sets and a temporary output folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.data import load_digits


@pytest.fixture(autouse=True)
def _few_threads():
    """Two cores here: keep torch from oversubscribing when tests run beside other work."""
    torch.set_num_threads(2)


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
