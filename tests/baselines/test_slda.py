"""Streaming LDA baseline: agreement with scikit-learn's LDA, order invariance, estimator conventions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf_shrinkage
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from gradfree.baselines import SLDAClassifier
from gradfree.core.checks import check_no_autograd, check_save_load_roundtrip, run_sklearn_checks
from gradfree.data import load_digits


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    rng = np.random.default_rng(0)
    p = rng.permutation(len(X))
    return np.asarray(X, np.float64)[p], np.asarray(y)[p]


def test_matches_sklearn_lda_at_fixed_shrinkage(digits):
    X, y = digits
    ours = SLDAClassifier(shrinkage=0.1).fit(X, y)
    ref = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1).fit(X, y)
    d_ours, d_ref = ours.decision_function(X), ref.decision_function(X)
    np.testing.assert_allclose(d_ours, d_ref, atol=1e-3 * np.abs(d_ref).max())
    assert (ours.predict(X) == ref.predict(X)).mean() > 0.999


def test_class_incremental_stream_equals_fit(digits):
    X, y = digits
    full = SLDAClassifier(shrinkage=0.05).fit(X, y)
    stream = SLDAClassifier(shrinkage=0.05)
    for t in range(5):                                    # one pass, two new classes per call
        idx = y // 2 == t
        stream.partial_fit(X[idx], y[idx])
    np.testing.assert_array_equal(np.sort(stream.classes_), np.sort(full.classes_))
    order = np.argsort(stream.classes_)
    np.testing.assert_allclose(stream.decision_function(X)[:, order], full.decision_function(X),
                               rtol=1e-4, atol=1e-3)


def test_auto_shrinkage_is_ledoit_wolf_of_class_centred_data(digits):
    X, y = digits
    m = SLDAClassifier().fit(X, y)                      # one batch: the fourth moment is exact here
    means = np.stack([X[y == c].mean(0) for c in m.classes_])
    Z = X - means[np.searchsorted(m.classes_, y)]
    assert m.shrinkage_ == pytest.approx(ledoit_wolf_shrinkage(Z, assume_centered=True), rel=1e-4)


def test_random_features_learn_digits(digits):
    X, y = digits
    raw = SLDAClassifier().fit(X[:1200], y[:1200]).score(X[1200:], y[1200:])
    rf = SLDAClassifier(random_features=500, random_state=0).fit(X[:1200], y[:1200]).score(X[1200:], y[1200:])
    assert raw > 0.85 and rf > 0.9                      # chance 0.1


@pytest.mark.parametrize("params", [{}, {"random_features": 20, "random_state": 0}])
def test_sklearn_checks(params):
    run_sklearn_checks(SLDAClassifier(**params))


def test_save_load_and_no_autograd(digits, tmp_path):
    X, y = digits
    m = SLDAClassifier(random_features=50, random_state=0).fit(X[:400], y[:400])
    loaded = check_save_load_roundtrip(m, X[400:600], tmp_path / "slda")
    loaded.partial_fit(X[400:600], y[400:600])              # a loaded model keeps learning
    m.partial_fit(X[400:600], y[400:600])
    np.testing.assert_array_equal(loaded.predict(X[600:]), m.predict(X[600:]))
    check_no_autograd(SLDAClassifier(random_features=50, random_state=0), X[:400], y[:400])


@pytest.mark.parametrize("bad", [{"shrinkage": 2.0}, {"shrinkage": "ledoit"}, {"random_features": -1}])
def test_bad_parameters_raise(digits, bad):
    X, y = digits
    with pytest.raises(ValueError):
        SLDAClassifier(**bad).fit(X[:100], y[:100])
