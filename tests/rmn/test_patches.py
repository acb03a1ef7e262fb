"""Patch resonance (``receptive_field``; ``RMNClassifier.patches()``): the map against an independent
per-patch computation, its two backends against each other, and the estimator around it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.core.checks import check_no_autograd, check_save_load_roundtrip
from gradfree.data import load_digits
from gradfree.rmn import HomeostasisParams, RMNClassifier, kernels
from gradfree.rmn.patches import patch_features, zero_mean_unit

needs_numba = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba not installed")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    p = np.random.default_rng(0).permutation(len(X))
    return X[p], y[p]


def naive_features(X, W, shape, p, pool, eps):
    """One patch at a time in float64 NumPy: centre it, divide by norm + eps, rectify, average per block."""
    C, H, Wd = shape
    Lh, Lw = H - p + 1, Wd - p + 1
    out = np.zeros((len(X), len(W), pool, pool))
    count = np.zeros((pool, pool))
    for r in range(Lh):
        for c in range(Lw):
            count[r * pool // Lh, c * pool // Lw] += 1
    for b, x in enumerate(X.astype(np.float64).reshape(-1, C, H, Wd)):
        for r in range(Lh):
            for c in range(Lw):
                patch = x[:, r:r + p, c:c + p].reshape(-1)
                z = patch - patch.mean()
                a = np.maximum(W @ z / (np.linalg.norm(z) + eps), 0)
                out[b, :, r * pool // Lh, c * pool // Lw] += a
    return (out / count).reshape(len(X), -1)


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("shape,p,pool", [((1, 9, 9), 3, 4), ((3, 7, 10), 2, 3), ((1, 6, 8), 4, 2)])
def test_patch_map_matches_a_per_patch_computation(backend, shape, p, pool):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(5, int(np.prod(shape)), generator=g)
    X[0] = 0.5                                                  # flat image: every patch is all mean
    W = zero_mean_unit(torch.randn(6, shape[0] * p * p, generator=g))
    got = patch_features(X, W, shape, p, pool, backend, eps=0.1)
    want = naive_features(X.numpy(), W.double().numpy(), shape, p, pool, 0.1)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5)
    assert got[0].abs().max() < 1e-5                            # flat patches do not resonate


def test_neurons_are_zero_mean_unit_vectors(digits):
    X, y = digits
    m = RMNClassifier.patches(random_state=0).fit(X[:200], y[:200])
    W = m.weights_[0]
    assert W.shape == (16, 9)
    torch.testing.assert_close(W.norm(dim=1), torch.ones(16), atol=1e-6, rtol=0)
    torch.testing.assert_close(W.mean(dim=1), torch.zeros(16), atol=1e-6, rtol=0)
    assert m.pool_ == 6 and m.image_shape_ == [1, 8, 8]          # 8 x 8 digits: 6 positions per side


def test_patches_learn_split_digits_class_incrementally(digits):
    """One pass, task by task, no replay: the frozen layer's statistics are order-invariant, so the
    stream ends where ``fit`` on everything ends."""
    X, y = digits
    Xtr, ytr, Xte, yte = X[:1260], y[:1260], X[1260:], y[1260:]
    stream = RMNClassifier.patches(random_state=0)
    for t in range(5):
        idx = np.isin(ytr, [2 * t, 2 * t + 1])
        stream.partial_fit(Xtr[idx], ytr[idx], classes=np.arange(10))
    whole = RMNClassifier.patches(random_state=0, shuffle=False).fit(Xtr, ytr)
    assert stream.score(Xte, yte) >= 0.95                      # chance 0.1
    assert (stream.predict(Xte) == whole.predict(Xte)).mean() > 0.99


def test_backends_agree_on_predictions(digits):
    X, y = digits
    a = RMNClassifier.patches(backend="torch", random_state=1).fit(X[:600], y[:600])
    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    b = RMNClassifier.patches(backend="numba", random_state=1).fit(X[:600], y[:600])
    assert (a.predict(X[600:]) == b.predict(X[600:])).mean() > 0.99


def test_scores_do_not_depend_on_the_batch(digits):
    X, y = digits
    m = RMNClassifier.patches(random_state=0).fit(X[:500], y[:500])
    np.testing.assert_array_equal(m.predict_proba(X[500:700])[10:20], m.predict_proba(X[510:520]))


def test_save_load_and_no_autograd(digits, tmp_path):
    X, y = digits
    m = RMNClassifier.patches(random_state=0).partial_fit(X[:300], y[:300], classes=np.arange(10))
    loaded = check_save_load_roundtrip(m, X[300:500], tmp_path / "rmn_patches")
    loaded.partial_fit(X[300:600], y[300:600])
    m.partial_fit(X[300:600], y[300:600])
    np.testing.assert_array_equal(loaded.predict(X[600:]), m.predict(X[600:]))
    check_no_autograd(RMNClassifier.patches(random_state=0), X[:200], y[:200])


def test_explicit_image_shape_and_channels():
    rng = np.random.default_rng(0)
    X = rng.random((120, 2 * 6 * 9)).astype(np.float32)
    y = np.arange(120) % 3
    m = RMNClassifier.patches(image_shape=(2, 6, 9), receptive_field=3, pool=2, random_state=0).fit(X, y)
    assert m.weights_[0].shape == (16, 18) and m.predict(X).shape == (120,)


@pytest.mark.parametrize("params,X_features,match", [
    (dict(), 60, "not a square image"),
    (dict(image_shape=(7, 9)), 64, "has 63 values"),
    (dict(receptive_field=9), 64, "exceeds the image size"),
    (dict(eta=0.05), 64, "one frozen layer"),
    (dict(homeostasis=HomeostasisParams()), 64, "one frozen layer"),
    (dict(n_neurons=(8, 8)), 64, "one frozen layer"),
    (dict(representation="code"), 64, "one frozen layer"),
    (dict(image_shape=(0, 8)), 64, "image_shape must be"),
])
def test_bad_patch_settings_raise(params, X_features, match):
    X = np.random.default_rng(0).random((20, X_features))
    with pytest.raises(ValueError, match=match):
        RMNClassifier.patches(**params).fit(X, np.arange(20) % 2)


def test_winners_is_refused_for_patch_layers(digits):
    X, y = digits
    m = RMNClassifier.patches(random_state=0).fit(X[:200], y[:200])
    with pytest.raises(ValueError, match="patch layer"):
        m.winners(X[:5])
