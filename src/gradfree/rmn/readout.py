"""The read-outs of :class:`gradfree.rmn.RMNClassifier`: the paper's prototypes (``"simple"``: one per
class; ``"overcomplete"``: a pool with binding lock and a top-k vote) and our ``"discriminant"``
(streaming LDA, :mod:`gradfree.core.lda`), each set up, learned, scored and checked after a load.

A mixin of the estimator: it works on the estimator's parameters and fitted attributes.
"""

from __future__ import annotations

import torch

from gradfree.core.lda import lda_check, lda_init, lda_scores, lda_update
from gradfree.rmn import kernels
from gradfree.rmn.layer import normalise, vote_scores


class Readout:
    """The read-out's state (``lda_*``, or ``prototypes_``, ``binding_`` and ``bound_counts_``)."""

    def _init_readout(self, d: int) -> None:
        """Fresh read-out over ``d`` features: zero statistics, or random unit prototypes (the simple
        read-out's bound one per class, the overcomplete one's all free)."""
        dev, g, C = self.device_, self.rng_, len(self.classes_)
        if self.readout == "discriminant":
            lda_init(self, d, C, dev)
            return
        M = C if self.readout == "simple" else int(self._prototype_params().n)
        P = torch.randn(M, d, generator=g, device=dev, dtype=self.dtype)
        self.prototypes_ = normalise(P).contiguous()
        if self.readout == "simple":
            self.binding_ = torch.arange(C, device=dev)
        else:
            self.binding_ = torch.full((M,), -1, dtype=torch.long, device=dev)
        self.bound_counts_ = torch.bincount(self.binding_.clamp_min(0)[self.binding_ >= 0], minlength=C)

    def _check_loaded_readout(self, D: int) -> None:
        """A loaded read-out holds the state of its kind, over the ``D`` features the layers give."""
        if self.readout == "discriminant":
            if not hasattr(self, "lda_sums_") or hasattr(self, "prototypes_"):
                raise ValueError("readout='discriminant' stores the lda_* statistics and no prototypes")
            lda_check(self)
            got = int(self.lda_sums_.shape[1])
        else:
            if not all(hasattr(self, a) for a in ("prototypes_", "binding_", "bound_counts_")):
                raise ValueError("a prototype read-out needs prototypes_, binding_ and bound_counts_")
            if self.binding_.numel() and int(self.binding_.max()) >= len(self.classes_):
                raise ValueError("binding_ names a class beyond classes_")
            got = int(self.prototypes_.shape[1])
        if got != D:
            raise ValueError(f"the read-out takes {got} features where the layers give {D}")

    def _learn_readout(self, Yn: torch.Tensor, c: torch.Tensor) -> None:
        if self.readout == "discriminant":
            lda_update(self, Yn, c)
            return
        pp = self._prototype_params()
        P, lr = self.prototypes_, float(pp.lr)
        if self.backend_ == "numba":
            v = kernels.as_numpy_view
            Yc, cn = Yn.contiguous(), c.contiguous()
            if self.readout == "simple":
                kernels.readout_simple_numba(v(P), v(Yc), v(cn), lr, float(pp.push_lr))
            elif pp.recruit_threshold is not None:
                kernels.readout_recruit_numba(v(P), v(self.binding_), v(self.bound_counts_), v(Yc), v(cn), lr,
                                              self._pull_k(), self._cap(), float(pp.recruit_threshold))
            else:
                kernels.readout_bind_numba(v(P), v(self.binding_), v(self.bound_counts_), v(Yc), v(cn), lr,
                                           self._pull_k(), self._cap())
        elif self.readout == "simple":
            kernels.readout_simple_torch(P, Yn, c, lr, float(pp.push_lr))
        elif pp.recruit_threshold is not None:
            kernels.readout_recruit_torch(P, self.binding_, self.bound_counts_, Yn, c, lr, self._pull_k(),
                                          self._cap(), float(pp.recruit_threshold))
        else:
            kernels.readout_bind_torch(P, self.binding_, self.bound_counts_, Yn, c, lr, self._pull_k(),
                                       self._cap())

    def _pull_k(self) -> int:
        pp = self._prototype_params()
        return int(pp.vote_k if pp.pull_k is None else pp.pull_k)

    def _cap(self) -> int:
        cap = self._prototype_params().cap
        return int(cap) if cap is not None else int(self.prototypes_.shape[0])

    def _readout_scores(self, H: torch.Tensor) -> torch.Tensor:
        """Class scores (B, C) of the read-out input ``H`` (B, D)."""
        if self.readout == "discriminant":
            return lda_scores(self, H)
        if self.readout == "simple":
            return H @ self.prototypes_.double().T                 # cosine to each class prototype
        return vote_scores(self.prototypes_.double(), self.binding_, H,
                           int(self._prototype_params().vote_k), len(self.classes_))
