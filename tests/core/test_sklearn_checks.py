"""scikit-learn's own estimator checks on every estimator's defaults and on each preset the README
recommends. Every expected failure says why; the xfails are strict, so a check that starts passing
fails this test until its entry is removed."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from gradfree.baselines import (
    EWCClassifier,
    MLPClassifier,
    MLPRegressor,
    NearestClassMean,
    ReplayClassifier,
    SETMLPClassifier,
    SLDAClassifier,
    SparseMLPClassifier,
)
from gradfree.emns import EMNSClassifier, EMNSMLPClassifier, EMNSMLPRegressor, EMNSRegressor
from gradfree.rmn import RMNClassifier
from gradfree.wuxing import WuxingClassifier

ESTIMATORS = {  # name (the README's spelling) -> estimator
    "NearestClassMean()": NearestClassMean(),
    "SLDAClassifier()": SLDAClassifier(),
    "MLPClassifier()": MLPClassifier(random_state=0),
    "MLPRegressor()": MLPRegressor(random_state=0),
    "SparseMLPClassifier()": SparseMLPClassifier(random_state=0),
    "SETMLPClassifier()": SETMLPClassifier(random_state=0),
    "EWCClassifier()": EWCClassifier(random_state=0),
    "ReplayClassifier()": ReplayClassifier(random_state=0),
    "RMNClassifier()": RMNClassifier(random_state=0),
    "RMNClassifier.paper()": RMNClassifier.paper(random_state=0),
    "WuxingClassifier()": WuxingClassifier(random_state=0),
    "EMNSClassifier()": EMNSClassifier(random_state=0),
    "EMNSRegressor()": EMNSRegressor(random_state=0),
    "EMNSMLPClassifier()": EMNSMLPClassifier(random_state=0),
    "EMNSMLPRegressor()": EMNSMLPRegressor(random_state=0),
}

EXPECTED_FAILED: dict[str, dict[str, str]] = {
    "MLPRegressor()": {"check_regressors_train": (
        "the defaults are the bench's budget for image data (5 epochs, batches of 128, lr 1e-3): on the "
        "check's 200 samples that is 10 Adam steps, short of R^2 0.5 (tests/baselines/test_mlp.py shows "
        "the regressor learning with a longer budget)")},
    "SETMLPClassifier()": {"check_classifiers_train": (
        "SET keeps a sparse mask and prunes and regrows connections after every epoch; with the default "
        "5 epochs on the check's 150 blobs it stays below the 0.83 training accuracy demanded")},
    "EMNSMLPClassifier()": {"check_methods_subset_invariance": (
        "scores in float32, and a row's float32 products round differently in a batch of one "
        "(relative differences ~1e-6, above the check's 1e-7); predictions agree. The fix is float64 "
        "scoring, as the MLPs and RMN's prototype read-outs do; left to the EMNS package")},
    "EMNSMLPRegressor()": {"check_methods_subset_invariance": (
        "scores in float32, and a row's float32 products round differently in a batch of one "
        "(relative differences ~1e-6, above the check's 1e-7); predictions agree. The fix is float64 "
        "scoring, as the MLPs and RMN's prototype read-outs do; left to the EMNS package")},
}

# EMNSClassifier() and EMNSRegressor() carry scikit-learn's poor_score tag (emns.estimators.PoorScore
# says why), so check_classifiers_train / check_regressors_train skip their score thresholds for them;
# test_poor_score_tags_take_effect_and_are_still_needed re-verifies both halves.

# Not in the parametrisation: RMNClassifier.patches() needs images (its neurons are 3 x 3 patches),
# and scikit-learn's check data has 1-10 features, so every check would fail on input validation.
# tests/rmn/test_patches.py covers its estimator contract on images; the test below re-verifies that
# the exclusion still holds.


def _name(estimator) -> str:
    return next(k for k, v in ESTIMATORS.items() if v is estimator)


@parametrize_with_checks(list(ESTIMATORS.values()), xfail_strict=True,
                         expected_failed_checks=lambda est: EXPECTED_FAILED.get(_name(est), {}))
def test_sklearn_check(estimator, check):
    check(estimator)


def test_patches_preset_still_refuses_non_image_input():
    import numpy as np

    X, y = np.random.default_rng(0).normal(size=(20, 5)), np.arange(20) % 2
    with pytest.raises(ValueError, match="not a square image"):
        RMNClassifier.patches(random_state=0).fit(X, y)


def test_every_expected_failure_names_a_listed_estimator():
    assert set(EXPECTED_FAILED) <= set(ESTIMATORS)
    assert all(reason.strip() for checks in EXPECTED_FAILED.values() for reason in checks.values())


def test_poor_score_tags_take_effect_and_are_still_needed():
    """The tag reaches scikit-learn (the mixins do not reset it), only the paper-network estimators
    carry it, and their defaults are still below the thresholds it skips (remove it when they are not)."""
    import numpy as np
    from sklearn.datasets import make_blobs, make_regression
    from sklearn.preprocessing import StandardScaler, scale
    from sklearn.utils import get_tags, shuffle

    assert get_tags(EMNSRegressor()).regressor_tags.poor_score
    assert get_tags(EMNSClassifier()).classifier_tags.poor_score
    assert not get_tags(EMNSMLPRegressor()).regressor_tags.poor_score
    assert not get_tags(EMNSMLPClassifier()).classifier_tags.poor_score
    # check_regressors_train's data and threshold (R^2 > 0.5 on the training data)
    X, y = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20, random_state=42)
    X, y = StandardScaler().fit_transform(X), scale(y)
    assert EMNSRegressor(random_state=0).fit(X, y).score(X, y) < 0.5
    # check_classifiers_train's data and threshold (training accuracy > 0.83)
    X, y = shuffle(*make_blobs(n_samples=300, random_state=0), random_state=7)
    X = StandardScaler().fit_transform(X)
    assert np.mean(EMNSClassifier(random_state=0).fit(X, y).predict(X) == y) < 0.83
