"""Wuxing: the stabilised update prevents the traced divergence; inputs scaled by the estimator;
denormal handling leaves the caller's float mode alone; presets; the SET baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_digits

from gradfree.baselines import SETMLPClassifier
from gradfree.wuxing import MODEL1, DynamicsParams, FixedPointParams, WuxingClassifier
from gradfree.wuxing.floats import flush_denormals, flushing


@pytest.fixture(scope="module")
def raw_digits():
    X, y = sk_digits(return_X_y=True)  # raw pixels 0-16
    return X.astype(np.float32), y


def _losses(model, X, y):
    """Per-batch training losses of ``model.fit(X, y)``."""
    with model.recording_batch_losses() as out:
        model.fit(X, y)
    return np.array(out)


def test_stabilised_update_prevents_the_traced_divergence(raw_digits):
    """The traced failure (fan-in 2, full Fashion-MNIST: loss 0.23 -> 18,891 within 5,000 samples,
    65 % of the coefficients at +-c_max) on small data: adders of fan-in 3 with signals six times
    larger (input_scale 0.3) take the network out of the small-signal regime, where the backward
    system at rest (eq. 2.5) is no longer the forward system's adjoint. With the paper's update the loss
    explodes and the coefficients saturate; the stabilised update (our default: backward system
    linearised around the forward state, trust region max_delta) keeps training."""
    X, y = raw_digits[0][:900], raw_digits[1][:900]
    kw = dict(fan_in=3, input_scale=0.3, epochs=2, random_state=0)
    old = WuxingClassifier.paper(hidden_layer_sizes=(200, 62, 20), fanout="auto", **kw)
    L_old = _losses(old, X, y)
    sat_old = float((old.coef_.abs() >= old.c_max - 1e-6).float().mean())
    assert L_old.max() > 100 * L_old[:5].mean()  # the loss explodes ...
    assert sat_old > 0.3  # ... and the coefficients pile up at the clip bound

    new = WuxingClassifier(**kw)  # the defaults: the stabilised update
    L_new = _losses(new, X, y)
    sat_new = float((new.coef_.abs() >= new.c_max - 1e-6).float().mean())
    assert L_new.max() < 2 * L_new[:5].mean()
    assert L_new[-10:].mean() < L_new[:10].mean()  # and it still learns
    assert sat_new < 0.05


def test_trust_region_bounds_each_update(raw_digits):
    X, y = raw_digits
    m = WuxingClassifier(hidden_layer_sizes=(20, 10), dynamics=DynamicsParams(T=6.0), step=50.0,
                         max_delta=0.01, epochs=1, random_state=0)
    m.partial_fit(X[:32], y[:32], classes=np.arange(10))
    before = m.coef_.clone()
    m.partial_fit(X[32:64], y[32:64])  # one batch
    assert float((m.coef_ - before).abs().max()) <= 0.01 + 1e-7


def test_inputs_are_scaled_by_the_estimator(raw_digits, tmp_path):
    X, y = raw_digits
    kw = dict(hidden_layer_sizes=(20, 10), dynamics=DynamicsParams(T=6.0), epochs=1, random_state=0)
    raw = WuxingClassifier(**kw).fit(X[:300], y[:300])
    unit = WuxingClassifier(**kw).fit(X[:300] / 16.0, y[:300])
    assert raw.x_scale_ == pytest.approx(1 / 16)
    assert unit.x_scale_ == 1.0
    np.testing.assert_allclose(raw.coef_.numpy(), unit.coef_.numpy(), atol=1e-5)
    np.testing.assert_array_equal(raw.predict(X[300:400]), unit.predict(X[300:400] / 16.0))
    raw.save(tmp_path / "m")
    loaded = WuxingClassifier.load(tmp_path / "m")
    assert loaded.x_scale_ == raw.x_scale_
    np.testing.assert_array_equal(loaded.predict(X[300:400]), raw.predict(X[300:400]))
    none = WuxingClassifier(**kw, scale_inputs="none").fit(X[:100], y[:100])
    assert none.x_scale_ == 1.0
    with pytest.raises(ValueError):
        WuxingClassifier(**kw, scale_inputs="std").fit(X[:50], y[:50])


@pytest.mark.parametrize("mode", [False, True])
def test_float_mode_is_left_as_the_caller_set_it(raw_digits, mode):
    from gradfree.wuxing.reference import ExactGradientWuxing

    X, y = raw_digits
    kw = dict(hidden_layer_sizes=(12, 6), dynamics=DynamicsParams(T=3.0), epochs=1, batch_size=64,
              random_state=0)
    torch.set_flush_denormal(mode)
    try:
        assert flushing() == mode
        WuxingClassifier(**kw).fit(X[:128], y[:128])  # numba kernel (or torch) path
        assert flushing() == mode
        rk4 = DynamicsParams(T=3.0, integrator="rk4")
        WuxingClassifier(**{**kw, "dynamics": rk4}).fit(X[:64], y[:64])  # torch path
        assert flushing() == mode
        ExactGradientWuxing(**kw).fit(X[:64], y[:64])  # autograd baseline
        assert flushing() == mode
        with flush_denormals():
            assert flushing()
        assert flushing() == mode
    finally:
        torch.set_flush_denormal(False)


def test_presets():
    paper = WuxingClassifier.paper()
    assert paper.hidden_layer_sizes == MODEL1[1:-1] and paper.backward == "rest" and paper.max_delta is None
    from gradfree.wuxing import build_wiring

    g = WuxingClassifier.goal()
    w = build_wiring([784, *g.hidden_layer_sizes, 10], mode=g.wiring, fanout=g.fanout, fan_in=g.fan_in,
                     element_aware=g.element_aware)
    assert w.link_ratio <= 0.01
    assert WuxingClassifier.goal(fan_in=1).fan_in == 1  # overrides win


def test_set_baseline_keeps_its_budget_and_moves_its_mask(raw_digits):
    X, y = raw_digits
    m = SETMLPClassifier(hidden_layer_sizes=(32,), link_ratio=0.1, epochs=1, random_state=0)
    m.fit(X[:300], y[:300])
    before = [k.clone() for k in m.masks_]
    m.partial_fit(X[:300], y[:300])
    assert [int(k.sum()) for k in m.masks_] == [int(k.sum()) for k in before]  # same connections
    assert any(bool((a != b).any()) for a, b in zip(m.masks_, before))  # but not the same ones
    for w, k in zip(m.weights_, m.masks_):
        assert bool((w[~k] == 0).all())


def test_method1_second_reading_moves_each_parameter(raw_digits, tmp_path):
    X, y = raw_digits
    kw = dict(hidden_layer_sizes=(20, 10), dynamics=DynamicsParams(T=6.0), epochs=1, random_state=0,
              fixed_point=FixedPointParams(rule="k123"))
    m = WuxingClassifier(**kw, method="fixed_point").fit(X[:200], y[:200])
    for K, K0 in ((m.K1_, 1.0), (m.K2_, 0.5), (m.K3_, 0.5)):
        assert float((K - K0).abs().max()) > 0
        assert float((K - K0).abs().max()) <= m.fixed_point.max_offset * m.input_scale + 1e-6
    assert bool((m.K1_ > m.K2_).all()) and bool((m.K3_ > 0).all())
    mixed = WuxingClassifier(**kw, method="mixed").fit(X[:200], y[:200])
    loaded = WuxingClassifier.load(mixed.save(tmp_path / "k123"))
    mixed.partial_fit(X[200:300], y[200:300])
    loaded.partial_fit(X[200:300], y[200:300])
    np.testing.assert_array_equal(mixed.K2_.numpy(), loaded.K2_.numpy())
    with pytest.raises(ValueError):
        WuxingClassifier(**{**kw, "fixed_point": FixedPointParams(rule="k4")}).fit(X[:50], y[:50])
