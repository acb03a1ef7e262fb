"""Homeostasis after every sample (the paper's rule), its fast numba path, the paper preset and the
constructor's defaults (discriminant read-out)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.baselines import SLDAClassifier
from gradfree.core.checks import check_no_autograd, check_save_load_roundtrip, run_sklearn_checks
from gradfree.data import load_digits, orthogonal_manifolds
from gradfree.rmn import HomeostasisParams, RMNClassifier, kernels

needs_numba = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba not installed")


@pytest.fixture(scope="module")
def manifolds():
    X, y, _ = orthogonal_manifolds(n_clusters=10, dim=100, n_per_cluster=60, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    p = np.random.default_rng(0).permutation(len(X))
    return X[p], y[p]


def test_paper_preset_is_the_paper_configuration():
    m = RMNClassifier.paper()
    assert m.homeostasis == HomeostasisParams(theta=0.01, epsilon=0.01, activity_decay=0.01, interval=1)
    assert (m.n_neurons, m.k, m.readout, m.prototypes.n, m.prototypes.vote_k, m.representation) == \
        (1000, 0.05, "overcomplete", 100, 5, "y")
    assert not m.center_inputs and m.eta > 0
    assert RMNClassifier.paper(n_neurons=10).n_neurons == 10


@needs_numba
def test_span_kernel_bookkeeping_is_exact_without_noise(manifolds):
    """epsilon = 0: the span kernel's representation must reproduce the literal rule to rounding."""
    X, y = manifolds
    kw = dict(n_neurons=150, k=8, homeostasis=HomeostasisParams(epsilon=0.0, interval=1), shuffle=False,
              random_state=0)
    a = RMNClassifier.paper(**kw, backend="torch").fit(X, y)
    b = RMNClassifier.paper(**kw, backend="numba").fit(X, y)
    torch.testing.assert_close(a.weights_[0], b.weights_[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(a.activity_[0], b.activity_[0], atol=1e-5, rtol=0)
    assert torch.equal(a.binding_, b.binding_)


def _drift(backend: str, X, y, seed: int) -> tuple[float, float]:
    """Mean cosine of each neuron with its start after 20 samples, every neuron idle (theta huge), and
    the mean winner activation over those samples."""
    hp = HomeostasisParams(theta=10.0, epsilon=0.02, interval=1)
    m = RMNClassifier.paper(n_neurons=300, k=5, homeostasis=hp, random_state=seed, backend=backend)
    m.partial_fit(X[:2], y[:2], classes=np.arange(10))
    W0 = m.weights_[0].clone()
    m.partial_fit(X[100:120], y[100:120])
    a = torch.topk((torch.as_tensor(X[300:400]) @ m.weights_[0].T).clamp_min(0), 5).values.mean()
    return float((W0 * m.weights_[0]).sum(1).mean()), float(a)


@needs_numba
def test_span_kernel_draws_the_same_law_as_the_literal_rule(manifolds):
    X, y = manifolds
    ref = np.array([_drift("torch", X, y, s) for s in range(4)])
    fast = np.array([_drift("numba", X, y, s) for s in range(4, 8)])
    # mean cosine drift after 20 noisy steps: ~0.68 for both; the seed-to-seed sd is ~0.002
    assert abs(ref[:, 0].mean() - fast[:, 0].mean()) < 0.01
    assert abs(ref[:, 1].mean() - fast[:, 1].mean()) < 0.1 * ref[:, 1].mean()
    assert 0.3 < fast[:, 0].mean() < 0.95                   # noise was applied, not everything lost


@needs_numba
def test_every_sample_homeostasis_moves_only_idle_neurons(manifolds):
    X, y = manifolds
    m = RMNClassifier.paper(n_neurons=200, k=5, eta=0.0, random_state=0)
    m.partial_fit(X[:300], y[:300], classes=np.arange(10))
    with torch.inference_mode():
        m.activity_[0][:100] = 1.0                          # busy: above theta for the next samples
        idle = m.activity_[0] < m.homeostasis.theta
        busy = m.activity_[0] > 1.2 * m.homeostasis.theta  # stays above theta for 10 samples (0.99^10)
        before = m.weights_[0].clone()
    m.partial_fit(X[300:310], y[300:310])
    moved = (m.weights_[0] - before).abs().amax(dim=1) > 1e-6
    assert not moved[busy].any()                            # eta = 0: only noise moves neurons
    assert idle.sum() > 20 and moved[idle].float().mean() > 0.9
    torch.testing.assert_close(m.weights_[0].norm(dim=1), torch.ones(200), atol=1e-5, rtol=0)


def test_defaults_learn_raw_digits(digits):
    X, y = digits
    m = RMNClassifier(random_state=0).fit(X[:1260], y[:1260])
    assert m.score(X[1260:], y[1260:]) >= 0.9               # issue 13: defaults that learn (chance 0.1)


def test_frozen_defaults_are_random_feature_slda(digits):
    """The defaults' layer is frozen random unit vectors: the same features as rf-slda's."""
    X, y = digits
    m = RMNClassifier(random_state=3).fit(X[:1000], y[:1000])
    s = SLDAClassifier(random_features=1000, random_state=3).fit(X[:1000], y[:1000])
    assert (m.predict(X[1000:]) == s.predict(X[1000:])).mean() > 0.99


def test_defaults_estimator_conventions(digits, tmp_path):
    X, y = digits
    run_sklearn_checks(RMNClassifier(n_neurons=60, random_state=0))
    check_no_autograd(RMNClassifier(n_neurons=60, eta=0.05, random_state=0), X[:300], y[:300])
    m = RMNClassifier(n_neurons=100, random_state=0).partial_fit(X[:300], y[:300], classes=np.arange(10))
    loaded = check_save_load_roundtrip(m, X[300:500], tmp_path / "rmn")
    loaded.partial_fit(X[300:600], y[300:600])
    m.partial_fit(X[300:600], y[300:600])
    np.testing.assert_array_equal(loaded.predict(X[600:]), m.predict(X[600:]))
