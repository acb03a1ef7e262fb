"""What every estimator (systems and baselines) promises a scikit-learn user about its input."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import gradfree.baselines
import gradfree.emns
import gradfree.rmn
import gradfree.wuxing
import gradfree.wuxing.reference
from gradfree.core import GradFreeClassifier, GradFreeEstimator, GradFreeRegressor

# Small settings so each estimator fits 60 samples in well under a second; anything not named here
# is built with its defaults.
SMALL = {
    "RMNClassifier": dict(n_neurons=64),
    "EMNSClassifier": dict(max_evaluations=40),
    "EMNSRegressor": dict(max_evaluations=40),
    "EMNSMLPClassifier": dict(max_evaluations=640), "EMNSMLPRegressor": dict(max_evaluations=640),
    "WuxingClassifier": dict(hidden_layer_sizes=(12,), epochs=1),
    "ExactGradientWuxing": dict(hidden_layer_sizes=(12,), epochs=1),
    "MLPClassifier": dict(epochs=2), "SparseMLPClassifier": dict(epochs=2), "EWCClassifier": dict(epochs=2),
    "ReplayClassifier": dict(epochs=2), "MLPRegressor": dict(epochs=2), "SETMLPClassifier": dict(epochs=2),
}


def _concrete(base):
    seen, todo = [], [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            module = sub.__module__
            if (module.startswith("gradfree.") and not module.startswith("gradfree.core")
                    and not sub.__name__.startswith("_")):
                seen.append(sub)
    return sorted(set(seen), key=lambda c: c.__name__)


def _make(cls, **kw):
    params = inspect.signature(cls).parameters
    small = {k: v for k, v in SMALL.get(cls.__name__, {}).items() if k in params}
    return cls(**small, **kw)


ESTIMATORS = _concrete(GradFreeEstimator)
CLASSIFIERS = [c for c in ESTIMATORS if issubclass(c, GradFreeClassifier)]
REGRESSORS = [c for c in ESTIMATORS if issubclass(c, GradFreeRegressor)]
ids = lambda c: c.__name__  # noqa: E731


def _data(seed=0, n=60, d=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    return X, y


def test_every_system_and_baseline_is_covered():
    names = {c.__name__ for c in ESTIMATORS}
    assert {"RMNClassifier", "EMNSClassifier", "EMNSRegressor", "WuxingClassifier", "NearestClassMean",
            "MLPClassifier", "MLPRegressor"} <= names
    assert all(c.__module__.split(".")[1] in ("rmn", "emns", "wuxing", "baselines") for c in ESTIMATORS)
    for mod in (gradfree.rmn, gradfree.emns, gradfree.wuxing, gradfree.baselines):
        assert mod.__name__


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("scale", [np.inf, np.nan, 1e30])
def test_non_finite_or_overflowing_inputs_are_refused(cls, scale):
    X, y = _data()
    X = X.astype(np.float64)
    X[3, 2] = scale
    y = y.astype(float) if cls in REGRESSORS else y
    with pytest.raises(ValueError, match="NaN|infinity|float32|rescale"):
        _make(cls).fit(X, y)


@pytest.mark.parametrize("cls", REGRESSORS, ids=ids)
@pytest.mark.parametrize("scale", [np.inf, 1e30, 1e200])
def test_non_finite_or_overflowing_targets_are_refused(cls, scale):
    X, y = _data()
    y = y.astype(float)
    y[5] = scale
    with pytest.raises(ValueError, match="y|infinity|float32"):
        _make(cls).fit(X, y)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=ids)
def test_single_class_is_refused(cls):
    X, _ = _data()
    with pytest.raises(ValueError, match="2 classes"):
        _make(cls).fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_random_state_accepts_a_numpy_generator(cls):
    X, y = _data()
    if "random_state" not in inspect.signature(cls).parameters:
        pytest.skip(f"{cls.__name__} is deterministic (no random_state)")
    a = _make(cls, random_state=np.random.default_rng(7)).fit(X, y).predict(X)
    b = _make(cls, random_state=np.random.default_rng(7)).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=ids)
def test_predict_proba_where_offered(cls):
    X, y = _data()
    m = _make(cls).fit(X, y)
    if not hasattr(m, "predict_proba"):
        assert cls._proba_from is None or not m._has_proba()
        return
    p = m.predict_proba(X)
    assert p.shape == (len(X), len(m.classes_))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    assert np.all(p >= 0)
    np.testing.assert_array_equal(m.classes_[p.argmax(1)], m.predict(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_hyper_parameters_are_declared_and_keyword_only(cls):
    params = list(inspect.signature(cls).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), cls.__name__
    assert set(cls._parameter_constraints) == {p.name for p in [*params, *list(
        inspect.signature(cls).parameters.values())[:1]]}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_fit_forgets_everything_partial_fit_learned(cls):
    X, y = _data()
    y = y.astype(float) if cls in REGRESSORS else y
    kw = {} if cls in REGRESSORS else {"classes": np.unique(y)}
    m = _make(cls).partial_fit(X, y, **kw)
    m.stale_ = "left over"
    m.fit(X[:, :4], y)
    assert m.n_features_in_ == 4 and not hasattr(m, "stale_")
