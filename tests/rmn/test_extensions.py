"""Tests of our RMN extensions (not in the paper): centring, sparse-code hand-off, prototype cap and
recruitment, use-dependent plasticity, partial erosion, and the consolidating preset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.core.checks import check_save_load_roundtrip
from gradfree.data import load_digits, orthogonal_manifolds
from gradfree.rmn import HomeostasisParams, PrototypeParams, RMNClassifier, kernels
from gradfree.rmn.layer import normalise

EXT = dict(n_neurons=200, k=10, representation="code",
           prototypes=PrototypeParams(n=60, cap=5, recruit_threshold=0.8, pull_k=1, vote_k=1),
           plasticity_decay=0.3, erode_k=3, center_inputs=True, readout="overcomplete",
           homeostasis=HomeostasisParams(interval=100), random_state=0)


@pytest.fixture(scope="module")
def manifolds():
    X, y, _ = orthogonal_manifolds(n_clusters=10, dim=100, n_per_cluster=40, spread=0.3, cosine=0.3,
                                   random_state=1)
    return X, y


def test_extension_backends_agree(manifolds):
    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    X, y = manifolds
    a = RMNClassifier(**EXT, backend="torch").partial_fit(X, y, classes=np.arange(10))
    b = RMNClassifier(**EXT, backend="numba").partial_fit(X, y, classes=np.arange(10))
    torch.testing.assert_close(a.weights_[0], b.weights_[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(a.plasticity_[0], b.plasticity_[0], atol=1e-5, rtol=0)
    assert torch.equal(a.binding_, b.binding_)
    torch.testing.assert_close(a.prototypes_, b.prototypes_, atol=1e-4, rtol=0)


@pytest.mark.parametrize("backend", ["torch"] + (["numba"] if kernels.HAVE_NUMBA else []))
def test_recruitment_respects_cap_and_lock(manifolds, backend):
    X, y = manifolds
    m = RMNClassifier(**EXT, backend=backend)
    m.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))
    bound, P = m.binding_.clone(), m.prototypes_.clone()
    m.partial_fit(X[y >= 5], y[y >= 5])
    assert m.binding_distribution().max() <= EXT["prototypes"].cap
    old = bound >= 0
    assert torch.equal(m.binding_[old], bound[old])
    assert torch.equal(m.prototypes_[old], P[old])


def test_plasticity_falls_with_use_and_freezes(manifolds):
    X, y = manifolds
    m = RMNClassifier(**{**EXT, "plasticity_decay": 1.0, "erode_k": None}).fit(X, y)
    p = m.plasticity_[0]
    assert torch.all(p <= 1) and torch.all(p >= 0) and (p < 1).any()
    used = p < 1
    # a neuron's plasticity only ever falls, and unused neurons keep plasticity 1
    assert torch.all(p[~used] == 1)


def test_erode_k_moves_only_the_strongest():
    g = torch.Generator().manual_seed(0)
    W = normalise(torch.randn(100, 30, generator=g))
    x = normalise(torch.randn(1, 30, generator=g))
    before = W.clone()
    with torch.inference_mode():
        win, act, _ = kernels.erode_torch(W, x, 8, 0.2, torch.ones(100), 0.0, torch.zeros(100), 0.01,
                                          erode_k=2)
    moved = set(torch.nonzero((W - before).abs().amax(dim=1) > 0).squeeze(1).tolist())
    assert moved == set(win[0, torch.topk(act[0], 2).indices].tolist())


def test_consolidating_preset_learns_digits_class_incrementally():
    X, y = load_digits()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, te = idx[:1200], idx[1200:]
    m = RMNClassifier.consolidating(n_neurons=500, random_state=0)
    for t in range(5):
        sel = tr[(y[tr] >= 2 * t) & (y[tr] < 2 * t + 2)]
        m.partial_fit(X[sel], y[sel], classes=np.arange(10))
    assert m.score(X[te], y[te]) > 0.6  # all ten classes after five tasks; chance 0.1


def test_extension_state_round_trips(manifolds, tmp_path):
    X, y = manifolds
    m = RMNClassifier(**EXT).partial_fit(X, y, classes=np.arange(10))
    loaded = check_save_load_roundtrip(m, X, tmp_path / "rmn_ext")
    assert torch.equal(loaded.input_mean_, m.input_mean_)
    assert torch.equal(loaded.plasticity_[0], m.plasticity_[0])
