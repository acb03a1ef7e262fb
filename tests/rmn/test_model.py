"""Property tests of the Resonant Manifold Network (no number copied from the paper is asserted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradfree.core.checks import (
    check_deterministic,
    check_no_autograd,
    check_save_load_roundtrip,
    run_sklearn_checks,
)
from gradfree.data import load_digits, orthogonal_manifolds
from gradfree.rmn import (
    HomeostasisParams,
    PrototypeParams,
    RMNClassifier,
    dead_neurons,
    kernels,
    neuron_overlap,
    task_activation_frequency,
)
from gradfree.rmn.layer import normalise

SMALL = dict(n_neurons=60, k=5, prototypes=PrototypeParams(n=30, vote_k=3), random_state=0)
BACKENDS = ["torch"] + (["numba"] if kernels.HAVE_NUMBA else [])


@pytest.fixture(scope="module")
def manifolds():
    X, y, _ = orthogonal_manifolds(n_clusters=10, dim=100, n_per_cluster=60, random_state=0)
    return X, y


def _task(X, y, t):
    idx = (y >= 2 * t) & (y < 2 * t + 2)
    return X[idx], y[idx]


# ------------------------------------------------------------------ layer invariants
@pytest.mark.parametrize("backend", BACKENDS)
def test_weights_and_prototypes_stay_unit_norm(manifolds, backend):
    X, y = manifolds
    m = RMNClassifier.paper(n_neurons=(200, 100), k=10, backend=backend, random_state=0).fit(X, y)
    for W in m.weights_:
        torch.testing.assert_close(W.norm(dim=1), torch.ones(W.shape[0]), atol=1e-5, rtol=0)
    P = m.prototypes_
    torch.testing.assert_close(P.norm(dim=1), torch.ones(P.shape[0]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_winners_move_in_erosion(backend):
    g = torch.Generator().manual_seed(0)
    W = normalise(torch.randn(300, 40, generator=g))
    x = normalise(torch.randn(1, 40, generator=g))
    before = W.clone()
    a = torch.relu(W @ x[0])
    expected = set(torch.topk(a, 7).indices.tolist())
    mean, plast = torch.zeros(300), torch.ones(300)
    with torch.inference_mode():
        if backend == "torch":
            win, _, _ = kernels.erode_torch(W, x, 7, 0.1, plast, 0.0, mean, 0.01)
        else:
            win = torch.empty(1, 7, dtype=torch.long)
            v = kernels.as_numpy_view
            kernels.erode_chunk_numba(v(W), v(x), v((x @ W.T).contiguous()), 7, 0.1, v(plast), 0.0, v(mean),
                                      0.01, v(win), v(torch.empty(1, 7)), v(torch.empty(1, 40)), 7)
    moved = set(torch.nonzero((W - before).abs().amax(dim=1) > 0).squeeze(1).tolist())
    assert set(win[0].tolist()) == expected
    assert moved == expected
    # each winner rotated toward x: its cosine with x grew
    idx = sorted(expected)
    assert torch.all(W[idx] @ x[0] > before[idx] @ x[0])


def test_backends_agree(manifolds):
    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    X, y = manifolds
    # the same random numbers
    kw = dict(n_neurons=150, k=8, homeostasis=HomeostasisParams(interval=100), random_state=0)
    a = RMNClassifier.paper(**kw, backend="torch").partial_fit(X, y)
    b = RMNClassifier.paper(**kw, backend="numba").partial_fit(X, y)
    torch.testing.assert_close(a.weights_[0], b.weights_[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(a.activity_[0], b.activity_[0], atol=1e-5, rtol=0)
    assert torch.equal(a.binding_, b.binding_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_homeostasis_only_touches_idle_neurons(manifolds):
    X, y = manifolds
    m = RMNClassifier.paper(n_neurons=100, k=5, random_state=0)
    m.partial_fit(X[:50], y[:50], classes=np.arange(10))
    with torch.inference_mode():
        m.activity_[0][:] = torch.linspace(0, 2 * m.homeostasis.theta, 100)
        before = m.weights_[0].clone()
        m._thermal_noise(0)
    idle = m.activity_[0] < m.homeostasis.theta
    moved = (m.weights_[0] - before).abs().amax(dim=1) > 0
    assert idle.any() and (~idle).any()
    assert torch.equal(moved, idle)
    torch.testing.assert_close(m.weights_[0].norm(dim=1), torch.ones(100), atol=1e-5, rtol=0)


# ------------------------------------------------------------------ read-out and continual properties
@pytest.mark.parametrize("backend", BACKENDS)
def test_bound_prototype_never_updated_by_another_class(manifolds, backend):
    X, y = manifolds
    m = RMNClassifier.paper(**{**SMALL, "backend": backend})
    m.partial_fit(*_task(X, y, 0), classes=np.arange(10))
    bound = m.binding_.clone()
    P = m.prototypes_.clone()
    assert (bound >= 0).any()
    for t in range(1, 5):
        m.partial_fit(*_task(X, y, t))
        mine = bound >= 0
        assert torch.equal(m.binding_[mine], bound[mine]), "a binding changed"
        assert torch.equal(m.prototypes_[mine], P[mine]), "a prototype of tasks 1 was moved by a later class"


def test_prototype_cap_limits_bindings(manifolds):
    X, y = manifolds
    m = RMNClassifier.paper(**{**SMALL, "prototypes": PrototypeParams(n=30, vote_k=3, cap=2)}).fit(X, y)
    assert m.binding_distribution().max() <= 2


def test_orthogonal_task2_leaves_task1_winners_unchanged(manifolds):
    X, y = manifolds
    m = RMNClassifier.paper(n_neurons=400, k=20, homeostasis=None, random_state=0)
    X1, y1 = _task(X, y, 0)
    m.partial_fit(X1, y1, classes=np.arange(10))
    before = m.winners(X1)
    acc1 = m.score(X1, y1)
    m.partial_fit(*_task(X, y, 1))
    after = m.winners(X1)
    assert m.score(X1, y1) == acc1
    # task-1 winner sets survive: only neurons at the margin of both clusters (the paper's small overlap)
    # can change, so the per-sample Jaccard index stays ~1 and most sets are identical
    jac = [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(before, after)]
    assert np.mean(jac) > 0.98
    assert np.mean([set(a) == set(b) for a, b in zip(before, after)]) > 0.9


def test_overcomplete_beats_chance_and_remembers_orthogonal_tasks(manifolds):
    X, y = manifolds
    m = RMNClassifier.paper(n_neurons=300, k=15, random_state=0)
    for t in range(5):
        m.partial_fit(*_task(X, y, t), classes=np.arange(10))
    assert m.score(*_task(X, y, 0)) > 0.9  # first task still known after four more
    assert m.score(X, y) > 0.8             # chance is 0.1


def test_digits_better_than_chance():
    X, y = load_digits()
    X = X - X.mean(axis=0)  # centred pixels; raw non-negative pixels all point the same way
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, te = idx[:1200], idx[1200:]
    for readout in ("overcomplete", "simple"):
        m = RMNClassifier.paper(n_neurons=300, k=15, readout=readout, random_state=0).fit(X[tr], y[tr])
        assert m.score(X[te], y[te]) > 0.5  # chance 0.1


def test_analysis_helpers(manifolds):
    X, y = manifolds
    m = RMNClassifier.paper(n_neurons=200, k=10, random_state=0)
    tasks = [_task(X, y, t) for t in range(5)]
    for Xt, yt in tasks:
        m.partial_fit(Xt, yt, classes=np.arange(10))
    freq = task_activation_frequency(m, [Xt for Xt, _ in tasks])
    assert freq.shape == (5, 200)
    np.testing.assert_allclose(freq.sum(axis=1), 10.0)  # k winners per sample
    ov = neuron_overlap(freq)
    assert len(ov["adjacent"]) == 4 and 0 <= ov["mean"] <= 1
    sets = freq > 0
    j = (sets[0] & sets[1]).sum() / (sets[0] | sets[1]).sum()
    assert ov["adjacent"][0] == pytest.approx(j)
    assert dead_neurons(freq) == int((~sets.any(axis=0)).sum())


# ------------------------------------------------------------------ estimator contract
def test_sklearn_checks():
    run_sklearn_checks(RMNClassifier.paper(**SMALL, max_iter=5))  # every check passes


def test_no_autograd(manifolds):
    X, y = manifolds
    check_no_autograd(RMNClassifier.paper(**SMALL), X, y)
    check_no_autograd(RMNClassifier.paper(**SMALL, readout="simple", backend="torch"), X, y)


def test_save_load_roundtrip_and_resume(manifolds, tmp_path):
    X, y = manifolds
    m = RMNClassifier.paper(**SMALL, plasticity_decay=0.1, homeostasis=HomeostasisParams(interval=7))
    m.partial_fit(*_task(X, y, 0), classes=np.arange(10))
    loaded = check_save_load_roundtrip(m, X, tmp_path / "rmn")
    assert torch.equal(loaded.binding_, m.binding_) and torch.equal(loaded.activity_[0], m.activity_[0])
    # a loaded model continues exactly as the original would have
    m.partial_fit(*_task(X, y, 1))
    loaded.partial_fit(*_task(X, y, 1))
    assert torch.equal(m.weights_[0], loaded.weights_[0])
    np.testing.assert_array_equal(m.predict(X), loaded.predict(X))


def test_deterministic(manifolds):
    X, y = manifolds
    check_deterministic(RMNClassifier.paper(**SMALL), X, y)
    check_deterministic(RMNClassifier.paper(**SMALL, readout="simple", representation="code"), X, y)


@pytest.mark.parametrize("bad", [dict(readout="x"), dict(k=0), dict(k=500), dict(representation="z"),
                                 dict(eta=-1.0), dict(prototypes=PrototypeParams(n=0)),
                                 dict(prototypes=PrototypeParams(cap=0)), dict(homeostasis=True),
                                 dict(homeostasis=HomeostasisParams(theta=-1.0)),
                                 dict(homeostasis=HomeostasisParams(interval=0)),
                                 dict(prototypes=PrototypeParams(lr="fast"))])
def test_bad_parameters_raise(manifolds, bad):
    X, y = manifolds
    with pytest.raises(ValueError):
        RMNClassifier.paper(**{**SMALL, **bad}).fit(X, y)
