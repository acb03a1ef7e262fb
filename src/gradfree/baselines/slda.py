"""Streaming linear discriminant analysis (SLDA; Hayes & Kanan 2020), on raw inputs or on frozen random
ReLU features.

One pass, order-invariant: the model keeps each class's count and sum and the pooled second moment of
the (shifted) inputs; the within-class covariance is derived from them at prediction time, so the
one-pass, class-incremental result equals offline LDA on the same data (scikit-learn's
``LinearDiscriminantAnalysis(solver="lsqr", shrinkage=s)`` for a fixed ``s``; tested).

The statistics and the solve live in :mod:`gradfree.core.lda`, shared with
:class:`gradfree.rmn.RMNClassifier`'s discriminant read-out.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from gradfree.core.base import RANDOM_STATE, GradFreeClassifier, no_grad_learning
from gradfree.core.lda import (
    BATCH,
    LDA_FIELDS,
    lda_check,
    lda_grow,
    lda_init,
    lda_scores,
    lda_solve,
    lda_update,
)
from gradfree.core.schema import RNG, tensor


# ---------------------------------------------------------------------------------------------- model
class SLDAClassifier(GradFreeClassifier):
    """Streaming LDA (Hayes & Kanan 2020, "Lifelong Machine Learning with Deep Streaming Linear
    Discriminant Analysis", CVPR-W): running class means and a shared covariance, one pass.

    Every sample updates its class's count and sum and the pooled second moment; prediction solves
    ``(1 - s) Sigma + s (tr Sigma / D) I`` against the class means (scikit-learn's shrinkage
    convention) and adds the log class priors, as scikit-learn's LDA does. The statistics are exact and
    order-invariant, so ``partial_fit`` task by task ends exactly where ``fit`` on all data ends.

    Parameters
    ----------
    shrinkage : float in [0, 1] or "auto", default "auto"
        ``"auto"``: Ledoit-Wolf intensity from the streamed statistics (its fourth-moment term uses
        the running class means, the one approximation); a float: that intensity.
    random_features : int, default 0
        0: LDA on the raw input ("slda"). n > 0: on n frozen random ReLU features
        ``relu(W normalise(x - m))`` ("rf-slda"), W random unit rows, m the mean of the first data
        learned (frozen).
    random_state : int, RandomState, Generator or None
        Seeds the random features.
    device : {"cpu", "cuda", "auto"}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SLDAClassifier().fit(X[:1200], y[:1200])
    >>> round(model.score(X[1200:], y[1200:]), 3)
    0.91
    """

    _can_grow_classes = True
    _proba_from = "softmax"  # scores are log posteriors up to a per-sample constant

    _parameter_constraints = {
        "shrinkage": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "random_features": [Interval(Integral, 0, None, closed="left")],
        "random_state": RANDOM_STATE,
        "device": [str],
    }

    _saved_fields = {**RNG, **LDA_FIELDS, "input_mean_": tensor("d", optional=True),
                     "rf_weights_": tensor("D", "d", optional=True)}

    def __init__(self, shrinkage: float | str = "auto", *, random_features: int = 0, random_state: Any = None,
                 device: str = "cpu") -> None:
        self.shrinkage = shrinkage
        self.random_features = random_features
        self.random_state = random_state
        self.device = device

    def _features(self, X: torch.Tensor, exact_rows: bool = False) -> torch.Tensor:
        """Raw X, or relu(W normalise(X - m)). ``exact_rows``: the product in float64, rounded to float32,
        so a row's features do not depend on the batch it comes in (prediction)."""
        if int(self.random_features) == 0:
            return X
        Z = torch.nn.functional.normalize(X - self.input_mean_, dim=1, eps=1e-12)
        if exact_rows:
            return (Z.double() @ self.rf_weights_.double().T).clamp_min_(0).to(X.dtype)
        return (Z @ self.rf_weights_.T).clamp_min_(0)

    @no_grad_learning
    def _learn(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, whole: bool) -> SLDAClassifier:
        """Add (X, y) to the statistics (``fit``: from nothing); new labels become new classes."""
        if first:
            n = int(self.random_features)
            if n:
                self.input_mean_ = Xt.mean(dim=0)
                W = torch.randn(n, Xt.shape[1], generator=self.rng_, device=self.device_, dtype=self.dtype)
                self.rf_weights_ = torch.nn.functional.normalize(W, dim=1)
            lda_init(self, n or Xt.shape[1], len(self.classes_), self.device_)
        elif len(self.classes_) > len(self.lda_counts_):
            lda_grow(self, len(self.classes_) - len(self.lda_counts_))
        lda_update(self, self._features(Xt), yi)
        return self

    def _grow_classes(self, n_new: int) -> None:
        if hasattr(self, "lda_counts_"):
            lda_grow(self, n_new)

    def _check_loaded_state(self) -> None:
        """The statistics match n_features / classes / random_features and can be solved."""
        D = int(self.random_features) or int(self.n_features_in_)
        C = len(self.classes_)
        if tuple(self.lda_m2_.shape) != (D, D) or tuple(self.lda_sums_.shape) != (C, D) \
                or tuple(self.lda_counts_.shape) != (C,):
            raise ValueError("LDA statistics do not match n_features / classes")
        if int(self.random_features) and not (hasattr(self, "rf_weights_") and hasattr(self, "input_mean_")):
            raise ValueError("random_features > 0 needs rf_weights_ and input_mean_")
        lda_check(self)

    @property
    def shrinkage_(self) -> float:
        """The shrinkage intensity in use (Ledoit-Wolf's under ``shrinkage="auto"``)."""
        if not hasattr(self, "lda_m2_"):
            raise AttributeError("shrinkage_: the model is not fitted")
        with torch.inference_mode():
            lda_solve(self)
        return float(self._lda_cache["shrinkage"])

    @no_grad_learning
    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        return torch.cat([lda_scores(self, self._features(X[s:s + BATCH], exact_rows=True))
                          for s in range(0, len(X), BATCH)])
