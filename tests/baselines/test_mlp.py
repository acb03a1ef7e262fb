"""Backprop baselines: estimator contract, save/load, determinism, learning, sparsity, forgetting order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from gradfree.baselines import EWCClassifier, MLPClassifier, ReplayClassifier, SparseMLPClassifier
from gradfree.core.checks import check_deterministic, check_save_load_roundtrip, run_sklearn_checks

SMALL = dict(hidden_layer_sizes=(32,), epochs=40, lr=1e-2, random_state=0)
ALL = [MLPClassifier(**SMALL), SparseMLPClassifier(link_ratio=0.5, **SMALL), EWCClassifier(**SMALL),
       ReplayClassifier(buffer_size=20, **SMALL)]
IDS = [type(e).__name__ for e in ALL]

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    return X[idx[:1200]], y[idx[:1200]], X[idx[1200:]], y[idx[1200:]]


@pytest.mark.parametrize("est", ALL, ids=IDS)
def test_sklearn_checks(est):
    run_sklearn_checks(est)  # predictions are computed in float64: a row does not depend on its batch


@pytest.mark.parametrize("est", ALL, ids=IDS)
def test_save_load_roundtrip_and_exact_resume(est, digits, tmp_path):
    Xtr, ytr, Xte, _ = digits
    a = clone(est).set_params(epochs=2)
    a.partial_fit(Xtr[:400], ytr[:400], classes=np.arange(10))
    a.partial_fit(Xtr[400:800], ytr[400:800])  # EWC/replay state is non-trivial now
    b = check_save_load_roundtrip(a, Xte, tmp_path / "m")
    a.partial_fit(Xtr[800:], ytr[800:])
    b.partial_fit(Xtr[800:], ytr[800:])
    np.testing.assert_array_equal(a.decision_function(Xte), b.decision_function(Xte))


@pytest.mark.parametrize("est", ALL, ids=IDS)
def test_deterministic(est, digits):
    Xtr, ytr, _, _ = digits
    check_deterministic(clone(est).set_params(epochs=2), Xtr[:300], ytr[:300])
    a = clone(est).set_params(random_state=1, epochs=1).fit(Xtr[:300], ytr[:300])
    b = clone(est).set_params(random_state=2, epochs=1).fit(Xtr[:300], ytr[:300])
    assert not torch.equal(a.weights_[0], b.weights_[0]), "random_state has no effect"


@pytest.mark.parametrize("cls,kw,floor", [(MLPClassifier, {}, 0.85),
                                          (SparseMLPClassifier, {"link_ratio": 0.3}, 0.6),
                                          (EWCClassifier, {}, 0.85), (ReplayClassifier, {}, 0.85)])
def test_learns_digits(cls, kw, floor, digits):
    Xtr, ytr, Xte, yte = digits
    m = cls(random_state=0, epochs=10, **kw).fit(Xtr, ytr)
    assert m.score(Xte, yte) > floor  # chance is 0.1
    assert m.loss_curve_[-1] < m.loss_curve_[0]


@pytest.mark.parametrize("ratio", [0.01, 0.1, 0.37, 1.0])
def test_sparse_mask_density_is_the_link_ratio(ratio, digits):
    Xtr, ytr, _, _ = digits
    m = SparseMLPClassifier(hidden_layer_sizes=(100, 50), link_ratio=ratio, epochs=1, random_state=0)
    m.fit(Xtr[:200], ytr[:200])
    kept = possible = 0
    for w, mask in zip(m.weights_, m.masks_):
        n_out, n_in = mask.shape
        assert int(mask.sum()) == max(n_out, round(ratio * n_out * n_in))
        assert bool((mask.sum(1) >= 1).all()), "a unit has no input"
        assert bool((w[~mask] == 0).all()), "a masked weight moved"
        kept, possible = kept + int(mask.sum()), possible + mask.numel()
    assert m.link_ratio_ == kept / possible
    assert abs(m.link_ratio_ - ratio) < 0.01


def _split_digits_forgetting(model, digits) -> tuple[float, float]:
    """Class-incremental split digits (5 tasks of 2 classes): (mean forgetting, average accuracy)."""
    Xtr, ytr, Xte, yte = digits
    T = 5
    R = np.zeros((T, T))
    for t in range(T):
        sel = np.isin(ytr, [2 * t, 2 * t + 1])
        model.partial_fit(Xtr[sel], ytr[sel], classes=np.arange(10))
        for u in range(T):
            su = np.isin(yte, [2 * u, 2 * u + 1])
            R[t, u] = model.score(Xte[su], yte[su])
    forgetting = [R[u:T - 1, u].max() - R[T - 1, u] for u in range(T - 1)]
    return float(np.mean(forgetting)), float(R[-1].mean())


def test_sequential_mlp_forgets_more_than_ewc_and_replay(digits):
    kw = dict(epochs=5, random_state=0)
    f_seq, a_seq = _split_digits_forgetting(MLPClassifier(**kw), digits)
    f_ewc, a_ewc = _split_digits_forgetting(EWCClassifier(ewc_lambda=1000.0, **kw), digits)
    f_rep, a_rep = _split_digits_forgetting(ReplayClassifier(buffer_size=200, **kw), digits)
    assert f_seq > 0.5  # fine-tuning forgets most of each old task class-incrementally
    assert f_ewc < f_seq and f_rep < f_seq
    assert a_rep > a_seq + 0.2


def test_replay_buffer_is_a_reservoir_over_all_tasks(digits):
    Xtr, ytr, _, _ = digits
    m = ReplayClassifier(buffer_size=100, epochs=1, random_state=0)
    for t in range(5):
        sel = np.isin(ytr, [2 * t, 2 * t + 1])
        m.partial_fit(Xtr[sel], ytr[sel], classes=np.arange(10))
    assert m.n_seen_ == len(Xtr)
    labels = m.classes_[m.buffer_y_.numpy()]
    assert set(np.unique(labels)) == set(range(10))  # every task is still represented
    # every buffered row is a training sample with its own label
    Xt = torch.as_tensor(Xtr)
    for x, lab in zip(m.buffer_X_[:10], labels[:10]):
        hit = (Xt == x).all(1).nonzero().squeeze(1).numpy()
        assert hit.size and lab in ytr[hit]


def test_ewc_penalty_is_zero_at_the_anchor_and_positive_away(digits):
    Xtr, ytr, _, _ = digits
    m = EWCClassifier(epochs=1, random_state=0, hidden_layer_sizes=(16,))
    m.partial_fit(Xtr[:300], ytr[:300], classes=np.arange(10))
    assert m.n_tasks_ == 1 and all(bool((f >= 0).all()) for f in m.fisher_w_)
    assert float(m._penalty(m.anchor_w_, m.anchor_b_)) == 0.0
    moved = [w + 0.1 for w in m.anchor_w_]
    assert float(m._penalty(moved, m.anchor_b_)) > 0.0


def test_works_when_called_inside_inference_mode(digits):
    Xtr, ytr, Xte, yte = digits
    with torch.inference_mode():
        m = ReplayClassifier(epochs=2, random_state=0).fit(Xtr, ytr)
        m.partial_fit(Xtr[:100], ytr[:100])
    assert m.score(Xte, yte) > 0.5


@pytest.mark.parametrize("params", [dict(hidden_layer_sizes=(0,)), dict(lr=0.0), dict(batch_size=0),
                                    dict(epochs=-1), dict(weight_decay=-1.0)])
def test_bad_parameters_raise(params, digits):
    Xtr, ytr, _, _ = digits
    with pytest.raises(ValueError):
        MLPClassifier(**params).fit(Xtr[:50], ytr[:50])
    with pytest.raises(ValueError):
        SparseMLPClassifier(link_ratio=0.0).fit(Xtr[:50], ytr[:50])


def test_mlp_regressor_contract_roundtrip_and_learning(tmp_path):
    from gradfree.baselines import MLPRegressor
    from gradfree.data import emns_regression

    run_sklearn_checks(MLPRegressor(**SMALL))
    X, y = emns_regression(200, random_state=0)
    Xt, yt = emns_regression(200, random_state=1)
    check_deterministic(MLPRegressor(epochs=5, random_state=0), X, y)
    m = MLPRegressor(epochs=100, batch_size=32, random_state=0).fit(X, y)
    assert m.score(Xt, yt) > 0.5  # R^2; the noise floor allows ~0.85
    assert m.predict(Xt).shape == (200,)
    b = check_save_load_roundtrip(m, Xt, tmp_path / "r")
    np.testing.assert_array_equal(m.partial_fit(X, y).predict(Xt), b.partial_fit(X, y).predict(Xt))


def test_diagonal_fisher_matches_a_per_sample_autograd_loop():
    from gradfree.baselines import _mlp_core as core

    g = torch.Generator().manual_seed(0)
    w, b, masks = core.init_layers([6, 5, 4, 3], g, torch.device("cpu"), torch.float32, link_ratio=0.6)
    X = torch.randn(17, 6, generator=g)
    y = torch.randint(3, (17,), generator=g)
    fw, fb = core.diagonal_fisher(w, b, X, y, masks, chunk=5)
    ref_w = [torch.zeros_like(t) for t in w]
    ref_b = [torch.zeros_like(t) for t in b]
    for i in range(len(X)):  # the textbook definition, one sample at a time
        ps = [t.clone().requires_grad_(True) for t in (*w, *b)]
        loss = torch.nn.functional.cross_entropy(core.forward(ps[:3], ps[3:], X[i:i + 1], masks), y[i:i + 1])
        grads = torch.autograd.grad(loss, ps)
        for acc, gr in zip((*ref_w, *ref_b), grads):
            acc += gr.square() / len(X)
    for a, r in zip((*fw, *fb), (*ref_w, *ref_b)):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-7)


def test_vectorised_reservoir_equals_algorithm_r_step_by_step():
    m = ReplayClassifier(buffer_size=7, epochs=1, random_state=0, hidden_layer_sizes=(4,))
    X0 = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    m.partial_fit(X0, np.arange(10) % 2, classes=[0, 1])  # fills the buffer, n_seen_ = 10
    X = torch.arange(100, 100 + 40 * 3, dtype=torch.float32).reshape(40, 3)
    y = torch.arange(40) % 2
    g = torch.Generator()
    g.set_state(m.rng_.get_state())
    u = torch.rand(40, generator=g, dtype=torch.float64)  # the draws _end_task will make
    buf_x, buf_y = m.buffer_X_.clone(), m.buffer_y_.clone()
    for i in range(40):  # Vitter's algorithm R, one sample at a time
        j = m.n_seen_ + i
        r = j if j < 7 else int(np.floor(u[i].item() * (j + 1)))
        if r < 7:
            buf_x[r], buf_y[r] = X[i], y[i]
    m._end_task(X, y)
    assert torch.equal(m.buffer_X_, buf_x) and torch.equal(m.buffer_y_, buf_y) and m.n_seen_ == 50
