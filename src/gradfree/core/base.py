"""Estimator base for every gradfree model (and every baseline).

Conventions (scikit-learn's, plus ours):

* the constructor stores hyper-parameters only (every one after the first keyword-only), declared
  with scikit-learn's ``_parameter_constraints``; everything learned is set under a name ending in
  ``_``;
* one life cycle, owned here (scikit-learn's ``_fit_context``): ``fit`` and ``partial_fit`` (1) check
  the declared ``_parameter_constraints`` once per call, (2) run ``_check_param_rules`` for rules that
  involve several parameters, (3) run the shared prologue: ``fit`` forgets every fitted attribute
  (``_reset``); the first call sets ``device_`` and ``rng_``; X and y are validated and encoded
  (``_prepare``), then (4) call ``_learn(X, y, first=..., whole=...)`` with tensors on ``device_``.
  A model implements ``_learn`` (and ``_check_param_rules`` where it has such rules) only;
* ``random_state`` is turned into a seed inside ``fit`` (``_init_rng``) and drives one
  ``torch.Generator`` (``rng_``) that is saved with the model, so a resumed run continues exactly;
* inputs are NumPy arrays or torch tensors; ``_validate`` rejects NaN/inf, values too large for
  float32 arithmetic, wrong shape, a feature count that changes between ``partial_fit`` calls and
  empty input, with a ``ValueError`` saying which (scikit-learn's ``validate_data`` does most of it);
* ``random_state`` is an int, a ``RandomState``, a ``numpy.random.Generator`` or None;
* a classifier needs at least two classes (scikit-learn's rule): ``fit`` with one class is refused;
  models that grow their label set (``_can_grow_classes``) accept one class per ``partial_fit``;
* ``device`` is ``"cpu" | "cuda" | "auto"``; tensors live on ``device_``;
* learning never touches autograd: subclasses wrap learning and inference in :func:`no_grad_learning`
  (``torch.inference_mode``), and :mod:`gradfree.core.checks` verifies it;
* ``save(path)`` / ``load(path)`` round-trip exactly (see :mod:`gradfree.core.io`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from numbers import Integral
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from gradfree.core.device import resolve_device
from gradfree.core.io import load_estimator, register_estimator, save_estimator
from gradfree.core.schema import CLASSES, DEVICE, N_FEATURES, Spec, integer

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound="GradFreeEstimator")


def no_grad_learning(method: F) -> F:
    """Run ``method`` under ``torch.inference_mode()``: learning rules here are local and explicit.

    Examples
    --------
    >>> import torch
    >>> @no_grad_learning
    ... def hebbian_step(w, x):
    ...     return w + 0.1 * torch.outer(x, x), torch.is_inference_mode_enabled()
    >>> w, no_autograd = hebbian_step(torch.zeros(2, 2, requires_grad=True), torch.ones(2))
    >>> no_autograd, w.requires_grad
    (True, False)
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with torch.inference_mode():
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def to_numpy(X: Any) -> Any:
    """Torch tensors become NumPy arrays (on the CPU); anything else passes through unchanged.

    Examples
    --------
    >>> import torch
    >>> to_numpy(torch.arange(3))
    array([0, 1, 2])
    >>> to_numpy([1, 2])
    [1, 2]
    """
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return X


#: the ``_parameter_constraints`` entry of every ``random_state`` (scikit-learn's, plus numpy Generators)
RANDOM_STATE = [None, Integral, np.random.RandomState, np.random.Generator]


def seed_from(random_state: Any) -> int:
    """One 31-bit seed from an int, a ``RandomState``, a ``numpy.random.Generator`` or None.

    A ``Generator`` or ``RandomState`` is advanced by the draw, as scikit-learn does with instances.
    """
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def check_float32_range(A: np.ndarray, name: str) -> None:
    """Refuse values whose squares overflow float32 once summed over a row (every model sums them).

    The models compute in float32; an input of 1e30 passes NaN/inf checks in float64 but turns into
    inf and NaN inside the first dot product, and the model then learns garbage silently.
    """
    if A.size == 0:
        return
    d = A.shape[1] if A.ndim == 2 else 1
    limit = float(np.sqrt(np.finfo(np.float32).max / max(d, 1)))
    largest = float(np.max(np.abs(A)))
    if not largest <= limit:
        raise ValueError(f"{name} has values up to {largest:.3g} in magnitude, beyond what float32 "
                         f"arithmetic on {d} feature(s) can hold (|value| <= {limit:.3g}); rescale {name}")


class GradFreeEstimator(BaseEstimator):
    """Shared machinery: validation, device, seeding, save/load. Subclasses implement the learning.

    Examples
    --------
    Every model checks its input the same way and keeps its tensors on ``device_``:

    >>> from gradfree.baselines import NearestClassMean
    >>> NearestClassMean().fit([[0.0, 1.0], [float("nan"), 0.0]], [0, 1])   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Input X contains NaN...
    >>> NearestClassMean().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1]).device_
    device(type='cpu')

    See :class:`GradFreeClassifier` and :class:`GradFreeRegressor` for how to write a model.
    """

    #: dtype of model tensors
    dtype = torch.float32

    #: What a saved model of this class holds (:mod:`gradfree.core.schema`); subclasses add their own
    #: fields, and the loader refuses any file whose fields break the declaration.
    _saved_fields = {"device_": DEVICE, "n_features_in_": N_FEATURES}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_estimator(cls)  # the loader builds only registered types

    # ------------------------------------------------------------------ validation
    def _validate(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        """Validate ``X`` (and ``y``); return ``X`` as a float tensor on ``device_`` (and ``y`` as NumPy).

        ``reset=True`` records ``n_features_in_``; ``reset=False`` checks ``X`` against it.
        """
        X = to_numpy(X)
        if isinstance(y, str) and y == "no_validation":
            Xn = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
            check_float32_range(Xn, "X")
            return self._as_tensor(Xn)
        Xn, yn = validate_data(self, X, to_numpy(y), reset=reset, dtype=[np.float32, np.float64],
                               y_numeric=isinstance(self, RegressorMixin))
        check_float32_range(Xn, "X")
        if isinstance(self, RegressorMixin):
            check_float32_range(np.asarray(yn, dtype=np.float64).reshape(len(yn), -1), "y")
        return self._as_tensor(Xn), yn

    def _as_tensor(self, X: np.ndarray) -> torch.Tensor:
        X = np.ascontiguousarray(X)
        if not X.flags.writeable:
            X = X.copy()
        return torch.as_tensor(X, dtype=self.dtype, device=self.device_)

    # ------------------------------------------------------------------ device and seeding
    def _init_device(self) -> torch.device:
        self.device_ = resolve_device(getattr(self, "device", "cpu"))
        return self.device_

    def _init_rng(self) -> torch.Generator:
        """Seed ``rng_`` from ``random_state`` (int, RandomState, numpy Generator or None: fresh entropy)."""
        self.seed_ = seed_from(getattr(self, "random_state", None))
        self.rng_ = torch.Generator(device=self.device_)
        self.rng_.manual_seed(self.seed_)
        return self.rng_

    def _is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    # ------------------------------------------------------------------ life cycle
    #: scikit-learn parameter constraints (``sklearn.utils._param_validation``), checked at the start of
    #: every ``fit`` / ``partial_fit`` and when a model is loaded. A model does not re-check them.
    _parameter_constraints: dict = {}

    def _check_params(self) -> None:
        """The declared constraints, then the rules that involve several parameters."""
        self._validate_params()
        self._check_param_rules()

    def _check_param_rules(self) -> None:
        """Rules no single constraint can state (e.g. ``K1 > K2``); raise ``ValueError`` naming them."""

    def _reset(self) -> None:
        """Forget everything learned: every fitted attribute (a public name ending in ``_``)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def fit(self, X: Any, y: Any = None) -> Any:
        """Learn from scratch: forget everything, then learn from all of (X, y) with every pass ``fit``
        makes (see each model's ``_learn``)."""
        return self._life_cycle(X, y, None, whole=True)

    def _life_cycle(self, X: Any, y: Any, classes: Any, *, whole: bool) -> Any:
        """What ``fit`` (``whole``) and ``partial_fit`` do, in this order, once per call: parameters,
        prologue (forget on ``fit``; device and random state on the first call; inputs), ``_learn``."""
        self._check_params()
        if whole:
            self._reset()
        first = not self._is_fitted()
        self._in_fit = whole  # a classifier's fit needs two classes even where partial_fit takes one
        try:
            if first:
                self._init_device()
                if "random_state" in self._parameter_constraints:
                    self._init_rng()
            Xt, yt = self._prepare(X, y, classes, first=first)
        finally:
            del self._in_fit
        return self._learn(Xt, yt, first=first, whole=whole)

    def _prepare(self, X: Any, y: Any, classes: Any, *, first: bool) -> tuple[torch.Tensor, Any]:
        """Validated inputs: X as a float tensor on ``device_``, y as the model learns from it."""
        Xt, yn = self._validate(X, y, reset=first)
        return Xt, yn

    def _learn(self, X: torch.Tensor, y: Any, *, first: bool, whole: bool) -> Any:
        """The one learning path, on validated inputs. ``first``: no state yet (build it); ``whole``:
        ``fit`` (every pass ``fit`` makes) rather than ``partial_fit`` (one step of a stream)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to ``<path>.safetensors`` + ``<path>.json``; returns the JSON path."""
        check_is_fitted(self)
        return save_estimator(self, path)

    @classmethod
    def load(cls: type[E], path: str | Path, device: str | None = None) -> E:
        """Load a model saved with :meth:`save`, optionally onto another ``device``."""
        return load_estimator(path, device=device, expected=cls)

    def __sklearn_is_fitted__(self) -> bool:
        return self._is_fitted()


class GradFreeClassifier(ClassifierMixin, GradFreeEstimator):
    """Classifier conventions: ``classes_``, label encoding, ``predict`` from ``decision_function``.

    Class-incremental learning: ``partial_fit(X, y, classes=...)`` on the first call fixes the label
    set, as in scikit-learn. Models whose capacity can grow (``_can_grow_classes = True``, e.g.
    nearest class mean) also accept labels never seen before; they are appended to ``classes_`` and
    ``_grow_classes(n_new)`` is called so the model can make room.

    Examples
    --------
    A model implements ``_learn`` (on validated tensors, labels as indices into ``classes_``) and
    ``_scores``; ``fit``, ``partial_fit``, ``predict``, ``score`` and validation come from here:

    >>> import torch
    >>> class ClassMean(GradFreeClassifier):
    ...     def __init__(self, *, device="cpu"):
    ...         self.device = device
    ...     @no_grad_learning
    ...     def _learn(self, X, y, *, first, whole):
    ...         if first:
    ...             self.sums_ = X.new_zeros(len(self.classes_), X.shape[1])
    ...             self.counts_ = X.new_zeros(len(self.classes_))
    ...         self.sums_.index_add_(0, y, X)                 # a local, explicit rule: no autograd
    ...         self.counts_ += torch.bincount(y, minlength=len(self.classes_))
    ...         return self
    ...     def _scores(self, X):
    ...         return -torch.cdist(X, self.sums_ / self.counts_.clamp_min(1)[:, None])
    >>> X, y = [[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]], ["a", "a", "b", "b"]
    >>> ClassMean().fit(X, y).predict([[0.2, 0.1], [0.8, 0.7]])
    array(['a', 'b'], dtype='<U1')
    """

    _can_grow_classes = False
    _saved_fields = {"classes_": CLASSES}

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Any:
        """Continue learning from (X, y); ``classes`` (every label) on the first call, as in scikit-learn."""
        return self._life_cycle(X, y, classes, whole=False)

    def _prepare(self, X: Any, y: Any, classes: Any, *, first: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """X (N, d) on ``device_`` and the label indices (N,), updating ``classes_``."""
        Xt, yn = self._validate(X, y, reset=first)
        return Xt, self._encode_labels(yn, classes, reset=first)

    def _encode_labels(self, y: np.ndarray, classes: Any = None, *, reset: bool) -> torch.Tensor:
        """Map labels to indices 0..C-1 (a long tensor on ``device_``), updating ``classes_``."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
        check_classification_targets(y)
        if reset:
            labels = np.unique(np.asarray(classes) if classes is not None else y)
            if labels.size < 2 and (not self._can_grow_classes or getattr(self, "_in_fit", False)):
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes (in y or in "
                                 f"`classes=`); got {labels.size} class: {labels.tolist()}")
            self.classes_ = labels
        elif classes is not None and not np.array_equal(np.unique(classes), np.sort(self.classes_)):
            raise ValueError("`classes` must be the same on every partial_fit call; "
                             f"got {np.unique(classes)}, first call had {np.sort(self.classes_)}")
        new = np.setdiff1d(np.unique(y), self.classes_)
        if new.size:
            if not self._can_grow_classes or (reset and classes is not None):
                raise ValueError(f"y contains labels {new.tolist()} not in classes {self.classes_.tolist()}; "
                                 "pass every label in `classes=` on the first partial_fit call")
            self.classes_ = np.concatenate([self.classes_, new])
            self._grow_classes(new.size)
        return torch.as_tensor(self._label_index(y), dtype=torch.long, device=self.device_)

    def _label_index(self, y: np.ndarray) -> np.ndarray:
        order = np.argsort(self.classes_, kind="stable")
        pos = np.searchsorted(self.classes_[order], y).clip(0, len(order) - 1)
        idx = order[pos]
        bad = self.classes_[idx] != y
        if np.any(bad):
            raise ValueError(f"unknown labels {np.unique(y[bad]).tolist()}; the model knows "
                             f"{self.classes_.tolist()}")
        return idx

    def _grow_classes(self, n_new: int) -> None:  # pragma: no cover - overridden where supported
        raise NotImplementedError

    def decision_function(self, X: Any) -> np.ndarray:
        """Per-class scores, shape (n_samples, n_classes); larger means more likely.

        With two classes it is 1-D, the second class's score minus the first's (scikit-learn's rule).
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with torch.inference_mode():
            s = self._scores(X).double()
        if s.shape[1] == 2:
            s = torch.nan_to_num(s[:, 1] - s[:, 0], nan=0.0)
        return s.cpu().numpy()

    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    #: How ``predict_proba`` reads ``_scores``: ``"softmax"`` (scores are logits or log-likelihoods) or
    #: None (the scores are not on a scale that gives probabilities; ``predict_proba`` is then absent).
    _proba_from: str | None = None

    def _has_proba(self) -> bool:
        return self._proba_from is not None

    @available_if(lambda self: self._has_proba())
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with torch.inference_mode():
            p = torch.softmax(self._proba_scores(X).double(), dim=1)
        return p.cpu().numpy()

    def _proba_scores(self, X: torch.Tensor) -> torch.Tensor:
        """Scores whose softmax is ``predict_proba`` (the decision scores unless a model says otherwise)."""
        return self._scores(X)

    @available_if(lambda self: self._has_proba())
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class label per sample."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with torch.inference_mode():
            idx = self._scores(X).argmax(dim=1).cpu().numpy()
        return self.classes_[idx]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy. Labels the model has never been told about raise ``ValueError``."""
        check_is_fitted(self)
        y = to_numpy(y)
        self._label_index(np.asarray(y))  # raises on unknown labels
        return super().score(X, y, sample_weight=sample_weight)


class GradFreeRegressor(RegressorMixin, GradFreeEstimator):
    """Regressor conventions: 1-D or 2-D targets, ``score`` is R^2 (scikit-learn's).

    Examples
    --------
    A model implements ``_learn`` (targets arrive as an (N, outputs) tensor) and ``predict``;
    ``_format_prediction`` gives back the shape of the ``y`` it was fitted on:

    >>> class MeanRegressor(GradFreeRegressor):
    ...     def __init__(self, *, device="cpu"):
    ...         self.device = device
    ...     @no_grad_learning
    ...     def _learn(self, X, y, *, first, whole):
    ...         if first:
    ...             self.sum_, self.n_ = y.new_zeros(y.shape[1]), 0
    ...         self.sum_ += y.sum(0)
    ...         self.n_ += len(y)
    ...         return self
    ...     def predict(self, X):
    ...         X = self._validate(X, reset=False)
    ...         return self._format_prediction((self.sum_ / self.n_).expand(len(X), -1))
    >>> model = MeanRegressor().partial_fit([[0.0], [1.0]], [1.0, 3.0]).partial_fit([[2.0]], [8.0])
    >>> model.predict([[5.0], [6.0]])
    array([4., 4.])
    """

    _saved_fields = {"n_outputs_": integer(1, dim="out"), "y_was_1d_": Spec("bool")}

    def partial_fit(self, X: Any, y: Any) -> Any:
        """Continue learning from (X, y)."""
        return self._life_cycle(X, y, None, whole=False)

    def _prepare(self, X: Any, y: Any, classes: Any, *, first: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """X (N, d) on ``device_`` and the targets (N, outputs) as float tensors."""
        Xt, yn = self._validate(X, y, reset=first)
        return Xt, self._encode_targets(yn, reset=first)

    def _encode_targets(self, y: np.ndarray, *, reset: bool) -> torch.Tensor:
        y = np.asarray(y, dtype=np.float64)
        if reset:
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
            self.y_was_1d_ = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        if y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} outputs, but the model was fitted with {self.n_outputs_}")
        if not np.all(np.isfinite(y2)):
            raise ValueError("y contains NaN or infinity")
        return torch.as_tensor(np.array(y2, copy=True), dtype=self.dtype, device=self.device_)

    def _format_prediction(self, pred: torch.Tensor) -> np.ndarray:
        out = pred.cpu().numpy().astype(np.float64)
        return out.ravel() if self.n_outputs_ == 1 and getattr(self, "y_was_1d_", True) else out
