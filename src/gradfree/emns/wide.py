"""``EMNSMLPClassifier`` and ``EMNSMLPRegressor``: EMNS at image scale (ours), a wide tanh MLP whose
weights learn by resistance-scaled mirrored mutation (:mod:`gradfree.emns.scale`) or by activity
mutation (:mod:`gradfree.emns.activity`), one batched pass per generation on a fresh minibatch.

The centre's update is the engine's ``"scale"`` / ``"activity"`` strategy
(:mod:`gradfree.emns.engine`, the same functions); what this face adds is the network: candidates
are scored without being materialised (the mirrored pairs share the centre's first-layer product;
activity mutation perturbs neurons, not weights), fitness over a minibatch, input scaling, the
continual-learning shield and class mask. The paper's network is
:class:`gradfree.emns.EMNSClassifier` / :class:`gradfree.emns.EMNSRegressor`.

Configurations (classmethods): the constructor's defaults are :data:`gradfree.emns.SCALE`
(``.scale()`` names them), ``.continual()`` (:data:`gradfree.emns.CONTINUAL`), ``.images()``
(:data:`gradfree.emns.IMAGES`, activity mutation) and ``.images_weights()``
(:data:`gradfree.emns.IMAGES_WEIGHTS`).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from gradfree.core.base import (
    RANDOM_STATE,
    GradFreeClassifier,
    GradFreeEstimator,
    GradFreeRegressor,
    no_grad_learning,
)
from gradfree.core.schema import RNG, saved_state
from gradfree.emns import activity
from gradfree.emns import scale as mlp
from gradfree.emns.mixins import INPUT_SCALINGS, InputScaling, StateViews
from gradfree.emns.mutation import draw_seeds
from gradfree.emns.presets import CONTINUAL, IMAGES, IMAGES_WEIGHTS, SCALE


def generation(st: mlp.ScaleState, p: mlp.ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor,
               class_mask: torch.Tensor | None = None, batch: torch.Tensor | None = None) -> float:
    """One in-process generation of weight mutation or, with ``p.mutate="activities"``, activity
    mutation; returns the mean fitness of the candidates."""
    step = activity.generation if p.mutate == "activities" else mlp.generation
    return step(st, p, seed, X, y, class_mask, batch)


class _WideBase(InputScaling, StateViews, GradFreeEstimator):
    """Shared fit / partial_fit of the wide-MLP estimators.

    Parameters
    ----------
    hidden_layer_sizes : widths of the tanh hidden layers.
    mutate : ``"weights"`` (the paper's ``theta + N mu (1 - r)`` on every weight, mirrored) or
        ``"activities"`` (every neuron's summed input on every sample mutated; node perturbation in
        EMNS's terms, :mod:`gradfree.emns.activity`; needs ``centre="adam"``, ``resistance_rate=0``,
        ``noise_rank=0``).
    population_size : candidates per generation (even: mirrored pairs).
    mutation_rate : mu.
    centre, learning_rate, lr_half_life, weight_decay : how the centre moves (``"adam"`` /
        ``"momentum"`` along the search gradient, step ``learning_rate`` halving every
        ``lr_half_life`` generations, 0 = constant; or ``"recombine"``, TUNED's weighted mean).
    shaping : ``"rank"`` (centred ranks) or ``"none"`` (standardised fitness).
    batch_size : samples of the fresh minibatch of every generation (0 = all).
    resistance_rate, r_max : resistances adapted from the selected mutations (0 = fixed) and their bound.
    noise : ``"seeded"`` or ``"table"`` (shared noise table). noise_rank : low-rank first-layer noise.
    shield, shield_quantile : the continual-learning shield (:mod:`gradfree.emns.scale`).
    max_evaluations : evaluations per ``fit`` / ``partial_fit`` call.
    input_scaling : None, ``"standard"`` or ``"maxabs"`` (fitted on the first data).
    random_state, device : as everywhere in gradfree.
    """

    #: state_ is the wide MLP's ScaleState (input scaling's fields: InputScaling)
    _saved_fields = {**RNG, "state_": saved_state(mlp.ScaleState)}

    def _check_loaded_state(self) -> None:
        """The layer sizes run from the data's features through ``hidden_layer_sizes`` to the outputs."""
        self._check_loaded_sizes()
        if list(self.state_.sizes[1:-1]) != [int(h) for h in self.hidden_layer_sizes]:
            raise ValueError("state_.sizes do not match hidden_layer_sizes")

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "mutate": [StrOptions(set(mlp.MUTATES))],
        "population_size": [Interval(Integral, 2, None, closed="left")],
        "mutation_rate": [Interval(Real, 0, None, closed="neither")],
        "centre": [StrOptions(set(mlp.CENTRES))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        **{rate: [Interval(Real, 0, None, closed="left")] for rate in (
            "lr_half_life", "weight_decay", "resistance_rate", "shield")},
        "shaping": [StrOptions(set(mlp.MLP_SHAPINGS))],
        "batch_size": [Interval(Integral, 0, None, closed="left")],
        "r_max": [Interval(Real, 0, 1, closed="left")],
        "noise": [StrOptions(set(mlp.NOISES))],
        "noise_rank": [Interval(Integral, 0, None, closed="left")],
        "shield_quantile": [Interval(Real, 0, 1, closed="both")],
        "max_evaluations": [Interval(Integral, 1, None, closed="left")],
        "input_scaling": [StrOptions({s for s in INPUT_SCALINGS if s}), None],
        "random_state": RANDOM_STATE,
        "device": [str],
    }
    def __init__(self, hidden_layer_sizes: tuple[int, ...] = SCALE["hidden_layer_sizes"], *,
                 mutate: str = "weights", population_size: int = SCALE["population_size"],
                 mutation_rate: float = SCALE["mutation_rate"], centre: str = SCALE["centre"],
                 learning_rate: float = SCALE["learning_rate"], lr_half_life: float = 0.0,
                 weight_decay: float = 0.0, shaping: str = SCALE["shaping"],
                 batch_size: int = SCALE["batch_size"], resistance_rate: float = 0.0, r_max: float = 0.95,
                 noise: str = "seeded", noise_rank: int = 0, shield: float = 0.0,
                 shield_quantile: float = 1.0,
                 max_evaluations: int = SCALE["max_evaluations"],
                 input_scaling: str | None = SCALE["input_scaling"], random_state: Any = None,
                 device: str = "cpu") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.mutate = mutate
        self.population_size = population_size
        self.mutation_rate = mutation_rate
        self.centre = centre
        self.learning_rate = learning_rate
        self.lr_half_life = lr_half_life
        self.weight_decay = weight_decay
        self.shaping = shaping
        self.batch_size = batch_size
        self.resistance_rate = resistance_rate
        self.r_max = r_max
        self.noise = noise
        self.noise_rank = noise_rank
        self.shield = shield
        self.shield_quantile = shield_quantile
        self.max_evaluations = max_evaluations
        self.input_scaling = input_scaling
        self.random_state = random_state
        self.device = device

    def set_population_executor(self, factory: Callable[..., Any] | None) -> _WideBase:
        """Evaluate each generation elsewhere (the hook for scale-out); None: in-process.

        ``factory(state, params, X, y)`` is called at the start of every ``fit`` / ``partial_fit`` and
        returns an object with a ``generation`` method like :func:`generation` and an optional
        ``close()``; it must reproduce the in-process arithmetic
        (:mod:`gradfree.distributed.emns_population` ships only seeds and fitness values). It is not a
        hyper-parameter: it is neither cloned nor saved.
        """
        self._executor_factory = factory
        return self

    @classmethod
    def scale(cls, **overrides: Any):
        """:data:`gradfree.emns.SCALE` (the constructor's defaults), with ``overrides``.

        >>> from gradfree.emns import EMNSMLPClassifier
        >>> EMNSMLPClassifier.scale().get_params() == EMNSMLPClassifier().get_params()
        True
        """
        return cls._preset(SCALE, overrides)

    @classmethod
    def continual(cls, **overrides: Any):
        """SCALE for class-incremental streams (:data:`gradfree.emns.CONTINUAL`), with ``overrides``.

        Split digits, five tasks of two classes, one ``partial_fit`` per task, no replay:

        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from gradfree.emns import EMNSMLPClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> Xa, ya = X[:1200], y[:1200]
        >>> m = EMNSMLPClassifier.continual(random_state=0)
        >>> for a in range(0, 10, 2):
        ...     task = (ya == a) | (ya == a + 1)
        ...     _ = m.partial_fit(Xa[task], ya[task], classes=np.arange(10))
        >>> round(m.score(X[1200:], y[1200:]), 3)  # all ten classes, held-out digits
        0.559
        """
        return cls._preset(CONTINUAL, overrides)

    @classmethod
    def images(cls, **overrides: Any):
        """Image-sized data under a time budget, activity mutation (:data:`gradfree.emns.IMAGES`), with
        ``overrides`` (its ``max_evaluations`` is ~600 s of one core).

        >>> from sklearn.datasets import load_digits
        >>> from gradfree.emns import EMNSMLPClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> m = EMNSMLPClassifier.images(max_evaluations=12_800, random_state=0).fit(X[:1200], y[:1200])
        >>> m.mutate, round(m.score(X[1200:], y[1200:]), 3)
        ('activities', 0.915)
        """
        return cls._preset(IMAGES, overrides)

    @classmethod
    def images_weights(cls, **overrides: Any):
        """Image-sized data with the paper's weight mutation (:data:`gradfree.emns.IMAGES_WEIGHTS`), with
        ``overrides``.

        >>> from gradfree.emns import EMNSMLPClassifier
        >>> m = EMNSMLPClassifier.images_weights()
        >>> m.mutate, m.hidden_layer_sizes, m.population_size
        ('weights', (64,), 128)
        """
        return cls._preset(IMAGES_WEIGHTS, overrides)

    @classmethod
    def _preset(cls, config: dict, overrides: dict):
        names = set(cls._get_param_names())
        return cls(**{**{k: v for k, v in config.items() if k in names}, **overrides})

    def _check_param_rules(self) -> None:
        """The hidden widths, and the options that only make sense together (``ScaleParams.check``:
        e.g. activity mutation needs ``centre="adam"``)."""
        if any(int(h) < 1 for h in tuple(self.hidden_layer_sizes)) or not self.hidden_layer_sizes:
            raise ValueError(f"hidden_layer_sizes must be positive, got {self.hidden_layer_sizes}")
        self._scale_params()

    def _scale_params(self) -> mlp.ScaleParams:
        """The resolved :class:`gradfree.emns.scale.ScaleParams`."""
        kw = dict(fitness=getattr(self, "fitness", "mse"), class_mask=getattr(self, "class_mask", None))
        return mlp.ScaleParams(
            population_size=int(self.population_size), mutation_rate=float(self.mutation_rate),
            learning_rate=float(self.learning_rate), centre=self.centre, shaping=self.shaping,
            batch_size=int(self.batch_size), weight_decay=float(self.weight_decay),
            resistance_rate=float(self.resistance_rate), r_max=float(self.r_max), shield=float(self.shield),
            shield_quantile=float(self.shield_quantile), noise=self.noise,
            lr_half_life=float(self.lr_half_life), noise_rank=int(self.noise_rank), mutate=self.mutate,
            **kw).check()

    # ------------------------------------------------------------------ learning
    def _n_outputs(self, y: torch.Tensor) -> int:
        raise NotImplementedError

    @no_grad_learning
    def _learn(self, X: torch.Tensor, y: torch.Tensor, *, first: bool, whole: bool) -> _WideBase:
        """Evolve for ``max_evaluations`` evaluations: from a fresh network (``first``) or further."""
        X = self._scale_inputs(X, fit=first)
        self._evolve(X, y, self._n_outputs(y), first)
        return self

    def _evolve(self, X: torch.Tensor, y: torch.Tensor, n_out: int, first: bool) -> None:
        """``max_evaluations // population_size`` generations of :func:`generation`."""
        p = self._scale_params()
        if first:
            sizes = [X.shape[1], *[int(h) for h in self.hidden_layer_sizes], n_out]
            self.state_ = mlp.init_state(sizes, self.rng_, p, self.device_)
        st = self.state_
        mask = None
        if p.class_mask is not None and y.dtype == torch.long:  # the classes the fitness sees
            mask = torch.zeros(n_out, dtype=torch.bool, device=y.device)
            mask[y.unique()] = True
            if p.class_mask == "seen":
                st.seen = mask if st.seen is None else st.seen | mask
                mask = st.seen.clone()
        start = st.theta.clone()
        h = st.history
        # set_population_executor (gradfree.distributed.fit_on_ray): same seeds, same arithmetic, same result
        make = getattr(self, "_executor_factory", None)
        executor = None if make is None else make(st, p, X, y)
        step = generation if executor is None else executor.generation
        try:
            for _ in range(max(1, int(self.max_evaluations) // p.population_size)):
                (seed,) = draw_seeds(self.rng_, 1)
                f = step(st, p, seed, X, y, mask)
                h["evaluations"].append(st.n_evaluations)
                h["fitness"].append(f)
                h["mutation_rate"].append(st.mutation_rate)
        finally:
            if executor is not None and hasattr(executor, "close"):
                executor.close()  # release the workers (and their CPUs)
        mlp.consolidate(st, start, p)

    # ------------------------------------------------------------------ inference
    @no_grad_learning
    def _outputs(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs (N, n_out) of the centre."""
        X = self._scale_inputs(X, fit=False)
        return mlp.forward(self.state_.theta[None], self.state_.sizes, X)[0]


class EMNSMLPClassifier(GradFreeClassifier, _WideBase):
    """EMNS at image scale, classifier: a wide tanh MLP evolved by resistance-scaled mirrored mutation.

    Defaults: :data:`gradfree.emns.SCALE` (learns raw scikit-learn digits: 96.2 % in ~1 s). Also
    ``fitness`` (``"cross_entropy"`` or ``"mse"`` on one-hot targets, the paper's sec. 7.1) and
    ``class_mask`` (None, ``"present"``, ``"seen"``: the classes the fitness sees, for
    class-incremental streams). Parameters as in :class:`gradfree.emns.wide._WideBase`.

    >>> from sklearn.datasets import load_digits
    >>> from gradfree.emns import EMNSMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> m = EMNSMLPClassifier(random_state=0).fit(X[:1200], y[:1200])  # raw pixels
    >>> round(m.score(X[1200:], y[1200:]), 3), m.n_evaluations_  # held-out accuracy
    (0.894, 19200)
    >>> m.predict_proba(X[1200:1201]).round(2).shape
    (1, 10)
    """

    _parameter_constraints = {**_WideBase._parameter_constraints,
                              "fitness": [StrOptions(set(mlp.MLP_FITNESSES))],
                              "class_mask": [StrOptions({m for m in mlp.CLASS_MASKS if m}), None]}

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = SCALE["hidden_layer_sizes"], *,
                 mutate: str = "weights", population_size: int = SCALE["population_size"],
                 mutation_rate: float = SCALE["mutation_rate"], centre: str = SCALE["centre"],
                 learning_rate: float = SCALE["learning_rate"], lr_half_life: float = 0.0,
                 weight_decay: float = 0.0, fitness: str = SCALE["fitness"],
                 shaping: str = SCALE["shaping"], batch_size: int = SCALE["batch_size"],
                 resistance_rate: float = 0.0, r_max: float = 0.95, noise: str = "seeded",
                 noise_rank: int = 0, shield: float = 0.0, shield_quantile: float = 1.0,
                 class_mask: str | None = None, max_evaluations: int = SCALE["max_evaluations"],
                 input_scaling: str | None = SCALE["input_scaling"], random_state: Any = None,
                 device: str = "cpu") -> None:
        self.fitness = fitness
        self.class_mask = class_mask
        _WideBase.__init__(
            self, hidden_layer_sizes, mutate=mutate, population_size=population_size,
            mutation_rate=mutation_rate, centre=centre, learning_rate=learning_rate,
            lr_half_life=lr_half_life, weight_decay=weight_decay, shaping=shaping, batch_size=batch_size,
            resistance_rate=resistance_rate, r_max=r_max, noise=noise, noise_rank=noise_rank, shield=shield,
            shield_quantile=shield_quantile, max_evaluations=max_evaluations, input_scaling=input_scaling,
            random_state=random_state, device=device)

    def _n_outputs(self, y: torch.Tensor) -> int:
        return len(self.classes_)

    def _has_proba(self) -> bool:
        return self.fitness == "cross_entropy"

    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        return self._outputs(X)

    def _proba_scores(self, X: torch.Tensor) -> torch.Tensor:
        return self._outputs(X)


class EMNSMLPRegressor(GradFreeRegressor, _WideBase):
    """EMNS at image scale, regressor: fitness -MSE (paper sec. 7.1). Parameters as in
    :class:`gradfree.emns.wide._WideBase`.

    >>> import numpy as np
    >>> from gradfree.emns import EMNSMLPRegressor
    >>> X = np.random.default_rng(0).normal(size=(400, 3))
    >>> y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    >>> m = EMNSMLPRegressor(max_evaluations=12_800, random_state=0).fit(X, y)
    >>> round(m.score(X, y), 2)  # training R^2
    0.92
    """

    def _n_outputs(self, y: torch.Tensor) -> int:
        return y.shape[1]

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        Xt = self._validate(X, reset=False)
        return self._format_prediction(self._outputs(Xt))
