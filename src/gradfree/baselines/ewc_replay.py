"""Continual-learning baselines on the backprop MLP: elastic weight consolidation and experience replay.

Both treat every ``partial_fit`` call as one task (``fit`` = one task from scratch). A stream runner
that calls ``partial_fit`` several times per task (``epochs > 1`` in ``run_stream``) therefore ends a
"task" after each call; pass ``epochs`` to the estimator instead to keep one call per task.

EWC (Kirkpatrick et al. 2017). After task t the diagonal Fisher ``F_t`` is computed on that task's data
and the weights ``theta_t`` are stored; later tasks add ``(lambda / 2) * sum_t F_t (theta - theta_t)^2``
to the loss. Decisions: the *empirical* Fisher (squared gradient of the log-likelihood of the true
label, averaged over the task's samples, computed exactly per sample); the sum over tasks is kept in
constant memory as ``F = sum_t F_t`` and the Fisher-weighted anchor ``theta* = sum_t F_t theta_t / F``,
because ``sum_t F_t (theta - theta_t)^2 = F (theta - theta*)^2 + const`` (same gradient, exactly).

Experience replay (e.g. Chaudhry et al. 2019, "tiny episodic memories"). A reservoir buffer of
``buffer_size`` samples over everything seen; every mini-batch of new data is concatenated with an
equally large mini-batch drawn uniformly (with replacement) from the buffer. The buffer is updated with
a call's data after training on it, so replay during task t shows tasks < t.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from gradfree.baselines import _mlp_core as core
from gradfree.baselines.mlp import MLPClassifier
from gradfree.core.schema import integer, list_of, tensor


class EWCClassifier(MLPClassifier):
    """Backprop MLP with elastic weight consolidation; each ``partial_fit`` call is one task.

    Parameters (beyond :class:`MLPClassifier`)
    -------------------------------------------
    ewc_lambda : float
        Strength of the quadratic penalty.

    Fitted attributes: ``fisher_w_`` / ``fisher_b_`` (summed diagonal Fisher per layer), ``anchor_w_`` /
    ``anchor_b_`` (Fisher-weighted anchors), ``n_tasks_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = EWCClassifier(random_state=0)
    >>> for task in range(5):                    # two new classes per task, no task id
    ...     mask = (y[:1200] // 2) == task
    ...     model = model.partial_fit(X[:1200][mask] / 16, y[:1200][mask], classes=np.arange(10))
    >>> 0.1 < model.score(X[1200:] / 16, y[1200:]) < 1.0
    True
    """

    _parameter_constraints = {**MLPClassifier._parameter_constraints,
                              "ewc_lambda": [Interval(Real, 0, None, closed="left")]}
    _saved_fields = {
        "fisher_w_": list_of(tensor("h{j}", "h{i}", low=0), dim="L"),
        "fisher_b_": list_of(tensor("h{j}", low=0), dim="L"),
        "anchor_w_": list_of(tensor("h{j}", "h{i}"), dim="L"),
        "anchor_b_": list_of(tensor("h{j}"), dim="L"),
        "n_tasks_": integer(0),
    }

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (256,), *, epochs: int = 5, lr: float = 1e-3,
                 batch_size: int = 128, weight_decay: float = 0.0, ewc_lambda: float = 1000.0,
                 random_state: Any = None, device: str = "cpu") -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, epochs=epochs, lr=lr,
                         batch_size=batch_size, weight_decay=weight_decay, random_state=random_state,
                         device=device)
        self.ewc_lambda = ewc_lambda

    def _init_state(self) -> None:
        self.fisher_w_ = [torch.zeros_like(w) for w in self.weights_]
        self.fisher_b_ = [torch.zeros_like(b) for b in self.biases_]
        self.anchor_w_ = [w.clone() for w in self.weights_]
        self.anchor_b_ = [b.clone() for b in self.biases_]
        self.n_tasks_ = 0

    def _penalty(self, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor | None:
        if self.n_tasks_ == 0 or self.ewc_lambda == 0:
            return None
        pen = sum((f * (p - a).square()).sum() for p, f, a in
                  zip((*weights, *biases), (*self.fisher_w_, *self.fisher_b_),
                      (*self.anchor_w_, *self.anchor_b_)))
        return 0.5 * self.ewc_lambda * pen

    def _end_task(self, X: torch.Tensor, y: torch.Tensor) -> None:
        fw, fb = core.diagonal_fisher(self.weights_, self.biases_, X, y, self._masks)
        new_f, new_a = [], []
        for f_old, a_old, f_t, theta in zip((*self.fisher_w_, *self.fisher_b_),
                                            (*self.anchor_w_, *self.anchor_b_), (*fw, *fb),
                                            (*self.weights_, *self.biases_)):
            f = f_old + f_t
            # Fisher-weighted mean of the anchors; where no task has any Fisher, the latest weights.
            a = torch.where(f > 0, (f_old * a_old + f_t * theta) / f.clamp_min(1e-30), theta)
            new_f.append(f)
            new_a.append(a)
        nw = len(self.weights_)
        self.fisher_w_, self.fisher_b_ = new_f[:nw], new_f[nw:]
        self.anchor_w_, self.anchor_b_ = new_a[:nw], new_a[nw:]
        self.n_tasks_ += 1


class ReplayClassifier(MLPClassifier):
    """Backprop MLP with experience replay from a reservoir buffer; each ``partial_fit`` is one task.

    Parameters (beyond :class:`MLPClassifier`)
    -------------------------------------------
    buffer_size : int
        Samples kept in memory (0 = no replay, i.e. plain sequential fine-tuning).

    Fitted attributes: ``buffer_X_`` (buffer_size, d), ``buffer_y_`` (buffer_size,) class indices,
    ``n_seen_`` (samples offered to the reservoir so far; the first ``min(n_seen_, buffer_size)`` rows
    are filled).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = ReplayClassifier(random_state=0)
    >>> for task in range(5):                    # two new classes per task, no task id
    ...     mask = (y[:1200] // 2) == task
    ...     model = model.partial_fit(X[:1200][mask] / 16, y[:1200][mask], classes=np.arange(10))
    >>> 0.1 < model.score(X[1200:] / 16, y[1200:]) < 1.0
    True
    """

    _parameter_constraints = {**MLPClassifier._parameter_constraints,
                              "buffer_size": [Interval(Integral, 0, None, closed="left")]}
    _saved_fields = {
        "buffer_X_": tensor("B", "d"),
        "buffer_y_": tensor("B", dtype=("int64",), low=0),
        "n_seen_": integer(0),
    }

    def _check_loaded_state(self) -> None:
        """The buffer holds ``buffer_size`` rows whose labels are class indices."""
        super()._check_loaded_state()
        if self.buffer_X_.shape[0] != int(self.buffer_size):
            raise ValueError(f"buffer_X_ has {self.buffer_X_.shape[0]} rows, "
                             f"buffer_size is {self.buffer_size}")
        if self.buffer_y_.numel() and int(self.buffer_y_.max()) >= len(self.classes_):
            raise ValueError("buffer_y_ holds a class index beyond classes_")

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (256,), *, epochs: int = 5, lr: float = 1e-3,
                 batch_size: int = 128, weight_decay: float = 0.0, buffer_size: int = 200,
                 random_state: Any = None, device: str = "cpu") -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, epochs=epochs, lr=lr,
                         batch_size=batch_size, weight_decay=weight_decay, random_state=random_state,
                         device=device)
        self.buffer_size = buffer_size

    def _init_state(self) -> None:
        d = self.weights_[0].shape[1]
        self.buffer_X_ = torch.zeros(int(self.buffer_size), d, dtype=self.dtype, device=self.device_)
        self.buffer_y_ = torch.zeros(int(self.buffer_size), dtype=torch.long, device=self.device_)
        self.n_seen_ = 0

    def _batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        filled = min(self.n_seen_, int(self.buffer_size))
        if filled == 0:
            return xb, yb
        idx = torch.randint(filled, (len(xb),), generator=self.rng_, device=self.device_)
        return torch.cat([xb, self.buffer_X_[idx]]), torch.cat([yb, self.buffer_y_[idx]])

    def _end_task(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Reservoir sampling (Vitter's algorithm R), vectorised over the call's samples."""
        m, n = int(self.buffer_size), len(X)
        if m == 0 or n == 0:
            self.n_seen_ += n
            return
        j = torch.arange(self.n_seen_, self.n_seen_ + n, device=self.device_, dtype=torch.float64)
        u = torch.rand(n, generator=self.rng_, device=self.device_, dtype=torch.float64)
        slot = torch.where(j < m, j, torch.floor(u * (j + 1)))  # sample i goes to slot if < m
        slot = slot.long().cpu().numpy()
        ok = np.nonzero(slot < m)[0]
        rev = ok[::-1]  # a later sample overwrites an earlier one in the same slot
        _, first = np.unique(slot[rev], return_index=True)
        keep = torch.as_tensor(np.sort(rev[first]), device=self.device_)
        dst = torch.as_tensor(slot[keep.cpu().numpy()], device=self.device_)
        self.buffer_X_ = self.buffer_X_.index_copy(0, dst, X[keep].to(self.dtype))
        self.buffer_y_ = self.buffer_y_.index_copy(0, dst, y[keep])
        self.n_seen_ += n
