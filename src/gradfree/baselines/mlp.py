"""Backprop MLP baselines: the dense MLP (joint / sequential), the fixed-random-sparse MLP
and a dense MLP regressor.

These are the only models in gradfree that use autograd, on purpose: they are what the gradient-free
systems are measured against. Training runs under ``torch.enable_grad()`` (and outside inference
mode); prediction runs under ``torch.inference_mode()``.

* ``fit(X, y)`` = joint training from scratch (the upper bound on a continual stream when given all
  tasks' data at once);
* ``partial_fit(X, y, classes=...)`` = sequential fine-tuning: ``epochs`` passes over the data given,
  continuing from the current weights (the forgetting lower bound). The label set is fixed on the first
  call, as in scikit-learn, so the output layer has a unit for every class from the start.

Decisions: cross-entropy loss (squared error for the regressor, on the raw targets), ReLU hidden
layers, Adam with L2 ``weight_decay`` (``torch.optim.Adam``).
A fresh Adam state is created at every ``fit``/``partial_fit`` call (the common choice in
continual-learning baselines; it also keeps the saved state to the weights and the RNG). All randomness
(initialisation, masks, shuffling, replay draws) comes from the estimator's ``rng_`` generator, so a
fixed ``random_state`` gives bit-identical results and a loaded model resumes exactly.

Subclasses hook in through ``_batch`` (add samples to a mini-batch: replay), ``_penalty`` (add a loss
term: EWC) and ``_end_task`` (after each ``partial_fit``: consolidation, buffer update).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from gradfree.baselines import _mlp_core as core
from gradfree.core.base import (
    RANDOM_STATE,
    GradFreeClassifier,
    GradFreeEstimator,
    GradFreeRegressor,
    no_grad_learning,
)
from gradfree.core.schema import LOSS_CURVE, RNG, integer, list_of, real, tensor


class _MLPBase(GradFreeEstimator):
    """Shared by the MLP classifier and regressor: parameters, training loop, subclass hooks.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units per hidden layer.
    epochs : int
        Passes over the data per ``fit`` / ``partial_fit`` call.
    lr, batch_size, weight_decay : Adam learning rate, mini-batch size, L2 coefficient.
    random_state : int, RandomState or None
    device : {"cpu", "cuda", "auto"}

    Fitted attributes: ``weights_`` / ``biases_`` (lists of tensors, (out, in) / (out,)),
    ``loss_curve_`` (mean loss per epoch, all calls), ``n_iter_`` (epochs so far), ``rng_``.
    """

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "random_state": RANDOM_STATE,
        "device": [str],
    }

    #: layer l maps h{l} inputs to h{l+1} outputs (h0 = n_features_in_, the last = outputs)
    _saved_fields = {
        **RNG,
        "weights_": list_of(tensor("h{j}", "h{i}"), dim="L"),
        "biases_": list_of(tensor("h{j}"), dim="L"),
        "loss_curve_": LOSS_CURVE,
        "n_iter_": integer(0),
    }

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (256,), *, epochs: int = 5, lr: float = 1e-3,
                 batch_size: int = 128, weight_decay: float = 0.0, random_state: Any = None,
                 device: str = "cpu") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ parameters
    def _check_param_rules(self) -> None:
        if any(isinstance(h, bool) or int(h) != h or h < 1 for h in self.hidden_layer_sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")

    def _check_loaded_state(self) -> None:
        """The layers chain from ``n_features_in_`` through ``hidden_layer_sizes`` to the outputs."""
        sizes = [int(self.n_features_in_), *map(int, self.hidden_layer_sizes), int(self._n_outputs())]
        got = [int(self.weights_[0].shape[1]), *(int(w.shape[0]) for w in self.weights_)]
        if got != sizes:
            raise ValueError(f"weights_ chain through sizes {got}, the parameters say {sizes}")

    def _link_ratio(self) -> float | None:
        """Fraction of connections kept per layer; ``None`` = dense."""
        return None

    @property
    def _masks(self) -> list[torch.Tensor] | None:
        return getattr(self, "masks_", None)

    # ------------------------------------------------------------------ learning
    def _learn(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, whole: bool) -> Any:
        """``epochs`` passes of Adam over (X, y), from scratch (``fit``) or from the current weights."""
        if first:
            sizes = [Xt.shape[1], *map(int, self.hidden_layer_sizes), self._n_outputs()]
            w, b, m = core.init_layers(sizes, self.rng_, self.device_, self.dtype, self._link_ratio())
            self.weights_, self.biases_ = w, b
            if m is not None:
                self.masks_ = m
            self.loss_curve_ = []
            self.n_iter_ = 0
            self._init_state()
        self._train(Xt, yi)
        with torch.no_grad():
            self._end_task(Xt, yi)
        return self

    def _train(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """``epochs`` passes of mini-batch Adam on cross-entropy (+ subclass penalty / replay)."""
        n, bs, nw = len(X), int(self.batch_size), len(self.weights_)
        with torch.inference_mode(False), torch.enable_grad():
            X, y = X.clone(), y.clone()  # ordinary tensors even if called inside inference mode
            params = [p.detach().clone().requires_grad_(True) for p in (*self.weights_, *self.biases_)]
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
            for _ in range(int(self.epochs)):
                perm = torch.randperm(n, generator=self.rng_, device=self.device_)
                total = 0.0
                for s in range(0, n, bs):
                    idx = perm[s:s + bs]
                    xb, yb = self._batch(X[idx], y[idx])  # (B, d), (B,)
                    logits = core.forward(params[:nw], params[nw:], xb, self._masks)  # (B, C)
                    loss = self._loss(logits, yb)
                    pen = self._penalty(params[:nw], params[nw:])
                    if pen is not None:
                        loss = loss + pen
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                self.loss_curve_.append(total / n)
                self.n_iter_ += 1
                with torch.no_grad():
                    self._end_epoch(params[:nw], opt)
        self.weights_ = [p.detach().clone() for p in params[:nw]]
        self.biases_ = [p.detach().clone() for p in params[nw:]]
        if self._masks is not None:  # keep masked weights exactly zero
            self.weights_ = [w * m for w, m in zip(self.weights_, self._masks)]

    # ------------------------------------------------------------------ hooks (subclasses)
    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _init_state(self) -> None:
        """Create subclass state on the first call."""

    def _batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return xb, yb

    def _penalty(self, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor | None:
        return None

    def _end_epoch(self, weights: list[torch.Tensor], opt: torch.optim.Optimizer) -> None:
        """Called after every epoch with the live weights and optimiser (under ``no_grad``)."""

    def _end_task(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Called after every ``fit`` / ``partial_fit`` with that call's data (under ``no_grad``)."""

    @no_grad_learning
    def _forward(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs (N, outputs), computed in float64 so a row's prediction does not depend on the batch
        it comes in (float32 matrix products round differently for one row and for many)."""
        d = lambda ts: None if ts is None else [t.double() for t in ts]  # noqa: E731
        return core.forward(d(self.weights_), d(self.biases_), X.double(), d(self._masks))


class MLPClassifier(GradFreeClassifier, _MLPBase):
    """Dense backprop MLP classifier (ReLU, cross-entropy, Adam).

    Parameters and fitted attributes as in :class:`_MLPBase`, plus ``classes_``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = MLPClassifier(random_state=0).fit(X[:1200] / 16, y[:1200])
    >>> round(model.score(X[1200:] / 16, y[1200:]), 3)
    0.874
    """

    _proba_from = "softmax"  # predict_proba: softmax of the logits the cross-entropy was trained on

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, target)

    # ------------------------------------------------------------------ prediction
    @no_grad_learning
    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        return self._forward(X)  # (N, C) logits


class SparseMLPClassifier(MLPClassifier):
    """Backprop MLP with a fixed random sparse mask per layer (the Wuxing paper's Fig. 3 baseline).

    Each layer keeps ``link_ratio`` of its ``n_in * n_out`` connections (at least one input per unit),
    drawn once at the first fit and never changed. ``masks_`` holds them; ``link_ratio_`` is the
    overall ratio kept / possible over all layers.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SparseMLPClassifier(random_state=0).fit(X[:1200] / 16, y[:1200])
    >>> round(model.score(X[1200:] / 16, y[1200:]), 3)
    0.858
    """

    _parameter_constraints = {**_MLPBase._parameter_constraints,
                              "link_ratio": [Interval(Real, 0, 1, closed="right")]}

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (256,), *, epochs: int = 5, lr: float = 1e-3,
                 batch_size: int = 128, weight_decay: float = 0.0, link_ratio: float = 1.0,
                 random_state: Any = None, device: str = "cpu") -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, epochs=epochs, lr=lr,
                         batch_size=batch_size, weight_decay=weight_decay, random_state=random_state,
                         device=device)
        self.link_ratio = link_ratio

    _saved_fields = {"masks_": list_of(tensor("h{j}", "h{i}", dtype=("bool",)), dim="L"),
                     "link_ratio_": real(0, 1)}

    def _link_ratio(self) -> float | None:
        return float(self.link_ratio)

    def _init_state(self) -> None:
        kept, possible = core.n_connections(self.weights_, self.masks_)
        self.link_ratio_ = kept / possible


class MLPRegressor(GradFreeRegressor, _MLPBase):
    """Dense backprop MLP regressor (ReLU, squared error, Adam); same parameters as :class:`MLPClassifier`.

    ``partial_fit(X, y)`` continues training for ``epochs`` passes. ``score`` is R^2.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> model = MLPRegressor(epochs=100, batch_size=32, random_state=0).fit(X, y / 100)
    >>> round(model.score(X, y / 100), 2)      # R^2 on the training data
    1.0
    """

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out, target)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, (n_samples,) or (n_samples, n_outputs) as fitted."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self._format_prediction(self._forward(self._validate(X, reset=False)))
