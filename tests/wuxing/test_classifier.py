"""WuxingClassifier: estimator contract, no autograd, save/load, determinism, learning on digits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from gradfree.core.checks import (
    check_deterministic,
    check_no_autograd,
    check_save_load_roundtrip,
    run_sklearn_checks,
)
from gradfree.data import load_digits
from gradfree.wuxing import DynamicsParams, FixedPointParams, WuxingClassifier

# tiny and fast: check_estimator fits dozens of times
SMALL = dict(hidden_layer_sizes=(12, 6), dynamics=DynamicsParams(T=4.0, dt=0.5), epochs=2, batch_size=16,
             random_state=0)

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_sklearn_estimator_checks():
    run_sklearn_checks(WuxingClassifier(**SMALL))  # every check passes (none expected to fail)


def test_no_autograd(digits):
    Xtr, _, ytr, _ = digits
    check_no_autograd(WuxingClassifier(**SMALL), Xtr[:200], ytr[:200])
    check_no_autograd(WuxingClassifier(**{**SMALL, "method": "mixed"}), Xtr[:100], ytr[:100])


def test_save_load_roundtrip(tmp_path, digits):
    Xtr, Xte, ytr, _ = digits
    m = WuxingClassifier(**{**SMALL, "method": "mixed"}).fit(Xtr[:200], ytr[:200])
    loaded = check_save_load_roundtrip(m, Xte[:50], tmp_path / "wx")
    # training resumes identically after a load
    m.partial_fit(Xtr[200:300], ytr[200:300])
    loaded.partial_fit(Xtr[200:300], ytr[200:300])
    np.testing.assert_array_equal(m.coef_.numpy(), loaded.coef_.numpy())


def test_deterministic(digits):
    Xtr, _, ytr, _ = digits
    check_deterministic(WuxingClassifier(**SMALL), Xtr[:200], ytr[:200])


def test_learns_digits_better_than_chance(digits):
    Xtr, Xte, ytr, yte = digits
    m = WuxingClassifier(epochs=2, batch_size=16, dynamics=DynamicsParams(T=15.0), random_state=0)
    m.fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.25  # chance is 0.1
    assert m.loss_curve_[-1] < m.loss_curve_[0]


@pytest.mark.parametrize("method", ["fixed_point", "mixed"])
def test_method1_and_mixed_move_what_they_should(digits, method):
    Xtr, _, ytr, _ = digits
    m = WuxingClassifier(**{**SMALL, "method": method}).fit(Xtr[:300], ytr[:300])
    assert float((m.K1_ - 1.0).abs().max()) > 0  # fixed points moved
    c_moved = not np.array_equal(m.coef_.numpy(), WuxingClassifier(**{**SMALL, "step": 0.0}).fit(
        Xtr[:300], ytr[:300]).coef_.numpy())
    assert c_moved == (method == "mixed")


def test_bad_parameters_raise(digits):
    Xtr, _, ytr, _ = digits
    for bad in [dict(method="sgd"), dict(wiring="dense"), dict(dynamics=DynamicsParams(integrator="rk2")),
                dict(dynamics=DynamicsParams(K1=0.4)), dict(dynamics=DynamicsParams(T=-1.0)),
                dict(fixed_point=FixedPointParams(pid=(1.0, 0.0))),
                dict(fixed_point=FixedPointParams(rule="k4")),
                dict(fixed_point=FixedPointParams(pid_decay=2.0)), dict(dynamics={"T": 4.0}),
                dict(backward="exact"), dict(fanout=0)]:
        with pytest.raises(ValueError):
            WuxingClassifier(**{**SMALL, **bad}).fit(Xtr[:20], ytr[:20])


def test_option_groups_clone_and_set():
    from sklearn.base import clone

    m = WuxingClassifier(dynamics=DynamicsParams(T=6.0), fixed_point=FixedPointParams(rule="k123"))
    c = clone(m).set_params(fixed_point=None)
    assert c.dynamics == DynamicsParams(T=6.0) and c.fixed_point is None and m.fixed_point.rule == "k123"


def test_files_saved_before_the_grouping_load(tmp_path, digits):
    """A file whose parameters are flat (K1, ..., fp_rule: saved before the options were grouped)
    loads with the same parameters and predictions."""
    import dataclasses
    import json

    Xtr, _, ytr, _ = digits
    m = WuxingClassifier(**{**SMALL, "method": "mixed", "fixed_point": FixedPointParams(rule="k123")})
    m.fit(Xtr[:100], ytr[:100])
    path = m.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    p = meta["params"]
    p.update(p.pop("dynamics")["fields"])
    fp = p.pop("fixed_point")["fields"]
    p.update(fp_step=fp["step"], pid=fp["pid"], pid_decay=fp["pid_decay"], fp_max=fp["max_offset"],
             fp_rule=fp["rule"])
    path.write_text(json.dumps(meta))
    loaded = WuxingClassifier.load(tmp_path / "m")
    assert loaded.get_params() == m.get_params()
    np.testing.assert_array_equal(loaded.predict(Xtr[:50]), m.predict(Xtr[:50]))
    assert dataclasses.asdict(loaded.fixed_point)["rule"] == "k123"
