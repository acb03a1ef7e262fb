"""Nearest class mean: the simplest class-incremental learner (a running mean per class, no forgetting)."""

from __future__ import annotations

import torch
from sklearn.utils._param_validation import StrOptions

from gradfree.core.base import GradFreeClassifier, no_grad_learning
from gradfree.core.schema import tensor


class NearestClassMean(GradFreeClassifier):
    """Classify by the closest running class mean (Euclidean, or cosine after normalising).

    Each class keeps the exact mean of every sample seen so far, so learning new classes never changes
    old ones: class-incremental by nature, and the reference point for forgetting. ``predict_proba``
    reads the means as isotropic Gaussians with the pooled within-class variance (equal priors); it
    exists for ``metric="euclidean"`` only (cosine scores have no variance to read them with).
    ``fit`` needs two classes; ``partial_fit`` accepts one class at a time (new labels become new
    classes).

    Parameters
    ----------
    metric : {"euclidean", "cosine"}
        Distance used at prediction time.
    device : {"cpu", "cuda", "auto"}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = NearestClassMean().fit(X[:1200], y[:1200])
    >>> round(model.score(X[1200:], y[1200:]), 3)
    0.881
    >>> model.partial_fit(X[:5], y[:5]).means_.shape       # keep learning; classes stay independent
    torch.Size([10, 64])
    """

    _can_grow_classes = True
    _proba_from = "softmax"

    _parameter_constraints = {"metric": [StrOptions({"euclidean", "cosine"})], "device": [str]}
    _saved_fields = {
        "sums_": tensor("C", "d", dtype=("float64",)),
        "counts_": tensor("C", dtype=("float64",), low=0),
        "sq_sums_": tensor("C", dtype=("float64",), low=0),
    }

    def _check_loaded_state(self) -> None:
        """At least one class has samples, and the class means fit in float32 (what ``predict`` uses)."""
        if not bool((self.counts_ > 0).any()):
            raise ValueError("counts_ holds no sample: no class has a mean")
        means = self.sums_ / self.counts_.clamp_min(1)[:, None]
        if not bool(torch.isfinite(means.to(self.dtype)).all()):
            raise ValueError("sums_ / counts_ gives class means beyond float32")

    def __init__(self, metric: str = "euclidean", *, device: str = "cpu") -> None:
        self.metric = metric
        self.device = device

    @no_grad_learning
    def _learn(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, whole: bool) -> NearestClassMean:
        """Add (X, y) to the running class means; new labels become new classes. ``fit`` needs two."""
        if first:
            C, d = len(self.classes_), Xt.shape[1]
            self.sums_ = torch.zeros(C, d, dtype=torch.float64, device=self.device_)
            self.counts_ = torch.zeros(C, dtype=torch.float64, device=self.device_)
            self.sq_sums_ = torch.zeros(C, dtype=torch.float64, device=self.device_)
        self.sums_.index_add_(0, yi, Xt.double())
        self.counts_ += torch.bincount(yi, minlength=len(self.classes_)).double()
        self.sq_sums_.index_add_(0, yi, Xt.double().square().sum(1))
        return self

    def _grow_classes(self, n_new: int) -> None:
        d = self.sums_.shape[1]
        self.sums_ = torch.cat([self.sums_, self.sums_.new_zeros(n_new, d)])
        self.counts_ = torch.cat([self.counts_, self.counts_.new_zeros(n_new)])
        self.sq_sums_ = torch.cat([self.sq_sums_, self.sq_sums_.new_zeros(n_new)])

    @property
    def means_(self) -> torch.Tensor:
        """Class means, shape (n_classes, n_features); classes never seen are +inf away."""
        return (self.sums_ / self.counts_.clamp_min(1)[:, None]).to(self.dtype)

    @no_grad_learning
    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        means = self.means_
        if self.metric == "cosine":
            s = torch.nn.functional.normalize(X, dim=1) @ torch.nn.functional.normalize(means, dim=1).T
        else:
            s = -0.5 * torch.cdist(X, means).square()  # same ranking as the distance, linear in x
        return s.masked_fill(self.counts_[None, :] == 0, float("-inf"))

    def _has_proba(self) -> bool:
        return self.metric == "euclidean"

    def _proba_scores(self, X: torch.Tensor) -> torch.Tensor:
        """Gaussian log-likelihoods up to a constant: -|x - mean|^2 / (2 var), var pooled over classes."""
        n = self.counts_.sum()
        within = (self.sq_sums_ - self.sums_.square().sum(1) / self.counts_.clamp_min(1)).sum()
        var = (within / (n * self.n_features_in_)).clamp_min(1e-12)
        d2 = torch.cdist(X.double(), self.means_.double()).square()
        return (-d2 / (2 * var)).masked_fill(self.counts_[None, :] == 0, float("-inf"))
