"""Streaming linear discriminant statistics, shared by :class:`gradfree.baselines.SLDAClassifier` and
:class:`gradfree.rmn.RMNClassifier`'s discriminant read-out (both packages sit on the same floor, so
the code lives here).

The statistics live on the estimator as fitted attributes (``lda_counts_``, ``lda_sums_``,
``lda_m2_``, ``lda_shift_``, ``lda_r4_``), so they are saved and loaded with it; the estimator needs a
``shrinkage`` parameter ("auto" or a float in [0, 1]). The solve is cached in ``_lda_cache`` (a dict
made at init and mutated in place, so prediction leaves ``__dict__`` unchanged, as scikit-learn checks).
"""

from __future__ import annotations

from typing import Any

import torch

from gradfree.core.schema import tensor

BATCH = 4096  # rows per second-moment GEMM

#: the saved statistics over C classes and D read-out features (:mod:`gradfree.core.schema`)
LDA_FIELDS = {
    "lda_counts_": tensor("C", dtype=("float64",), low=0),
    "lda_sums_": tensor("C", "D", dtype=("float64",)),
    "lda_m2_": tensor("D", "D", dtype=("float64",)),
    "lda_shift_": tensor("D", dtype=("float32",)),
    "lda_r4_": tensor(dtype=("float64",), low=0),
}


def lda_check(est: Any) -> None:
    """Loaded statistics a discriminant can be solved from: samples seen, a symmetric second moment
    with a non-negative diagonal (``ValueError`` otherwise)."""
    if not float(est.lda_counts_.sum()) > 0:
        raise ValueError("lda_counts_ holds no sample")
    m2 = est.lda_m2_
    if bool((m2.diagonal() < 0).any()) or not torch.allclose(m2, m2.T, rtol=1e-9, atol=1e-9):
        raise ValueError("lda_m2_ is not a second moment (asymmetric or a negative diagonal)")
    est._lda_cache = {}


# ---------------------------------------------------------------------------------------------- statistics
def lda_init(est: Any, n_features: int, n_classes: int, device: torch.device) -> None:
    """Empty sufficient statistics on ``est`` (attributes ``lda_*_``, saved with the model)."""
    f64 = torch.float64
    est.lda_counts_ = torch.zeros(n_classes, dtype=f64, device=device)
    est.lda_sums_ = torch.zeros(n_classes, n_features, dtype=f64, device=device)
    est.lda_m2_ = torch.zeros(n_features, n_features, dtype=f64, device=device)
    est.lda_shift_ = torch.zeros(n_features, dtype=torch.float32, device=device)
    est.lda_r4_ = torch.zeros((), dtype=f64, device=device)
    est._lda_cache = {}


def lda_grow(est: Any, n_new: int) -> None:
    """Room for ``n_new`` more classes."""
    est.lda_counts_ = torch.cat([est.lda_counts_, est.lda_counts_.new_zeros(n_new)])
    est.lda_sums_ = torch.cat([est.lda_sums_, est.lda_sums_.new_zeros(n_new, est.lda_sums_.shape[1])])
    _lda_cache_clear(est)


def _lda_cache_clear(est: Any) -> None:
    """Drop the cached solve. The cache is a dict made at init and mutated in place, so prediction
    leaves ``__dict__`` unchanged (scikit-learn's check); a loaded model makes it on first use."""
    est.__dict__.setdefault("_lda_cache", {}).clear()


def lda_update(est: Any, F: torch.Tensor, y: torch.Tensor) -> None:
    """Add features F (B, D) of classes y (B,) to the statistics (float32 GEMMs, float64 sums).

    The second moment is taken about ``lda_shift_`` (the mean of the first batch) to keep the float32
    products well conditioned; the within-class scatter does not depend on the shift. ``lda_r4_``
    accumulates sum ||f - mean_c||^4 with the class mean as it stands after the batch (the one
    streaming approximation, used only for the Ledoit-Wolf shrinkage intensity).
    """
    if float(est.lda_counts_.sum()) == 0:
        est.lda_shift_ = F.mean(dim=0).to(torch.float32)
    for s in range(0, len(F), BATCH):
        Z, yb = F[s:s + BATCH] - est.lda_shift_, y[s:s + BATCH]
        est.lda_m2_ += (Z.T @ Z).double()
        est.lda_sums_.index_add_(0, yb, Z.double())
        est.lda_counts_ += torch.bincount(yb, minlength=len(est.lda_counts_)).double()
        means = (est.lda_sums_ / est.lda_counts_.clamp_min(1)[:, None]).float()
        est.lda_r4_ += ((Z - means[yb]).square().sum(dim=1).double() ** 2).sum()
    _lda_cache_clear(est)


def lda_shrinkage(est: Any, S: torch.Tensor, n: float) -> float:
    """The shrinkage intensity: ``est.shrinkage`` if a number, else Ledoit-Wolf's (scikit-learn's
    ``ledoit_wolf_shrinkage`` formula on the class-centred data, from the streamed statistics)."""
    if est.shrinkage != "auto":
        return float(est.shrinkage)
    D = S.shape[0]
    tr, fro2 = float(torch.trace(S)), float(S.square().sum())
    beta = (float(est.lda_r4_) / n - fro2) / (D * n)
    delta = (fro2 - tr * tr / D) / D
    beta = min(beta, delta)
    return 0.0 if beta <= 0 or delta <= 0 else beta / delta


def lda_solve(est: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(coef (D, C), intercept (C,)) of the LDA decision function (float64), cached until the next
    update."""
    cache = est.__dict__.get("_lda_cache")
    if cache:
        return cache["coef"], cache["intercept"]
    n_c, N = est.lda_counts_, float(est.lda_counts_.sum())
    seen = n_c > 0
    means = est.lda_sums_ / n_c.clamp_min(1)[:, None]                    # shifted class means (C, D)
    S = (est.lda_m2_ - (means[seen].T * n_c[seen]) @ means[seen]) / N    # pooled within-class cov.
    S = (S + S.T) / 2
    D = S.shape[0]
    s = lda_shrinkage(est, S, N)
    Sig = (1 - s) * S + s * (float(torch.trace(S)) / D) * torch.eye(D, dtype=S.dtype, device=S.device)
    mu = means + est.lda_shift_.double()                                 # class means (C, D)
    try:
        coef = torch.linalg.solve(Sig, mu.T)                             # Sigma^-1 mu_c   (D, C)
    except RuntimeError:                                                 # singular: least squares
        coef = torch.linalg.lstsq(Sig, mu.T).solution
    prior = (n_c / N).clamp_min(1e-300).log()
    icpt = -0.5 * (mu * coef.T).sum(dim=1) + prior
    icpt = icpt.masked_fill(~seen, float("-inf"))
    out = {"coef": coef, "intercept": icpt, "shrinkage": s}
    if cache is not None:
        cache.update(out)
    return out["coef"], out["intercept"]


def lda_scores(est: Any, F: torch.Tensor) -> torch.Tensor:
    """LDA decision scores (B, C): f^T Sigma^-1 mu_c - mu_c^T Sigma^-1 mu_c / 2 + log prior_c."""
    coef, icpt = lda_solve(est)
    return F.double() @ coef + icpt  # float64: a row's score does not depend on its batch
