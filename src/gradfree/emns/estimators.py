"""``EMNSRegressor`` and ``EMNSClassifier``: EMNS networks evolved by mutation only (no gradients).

Decisions (docs/decisions.md leaves them to us; the paper's literal rule is one option among them):

* The defaults are :data:`gradfree.emns.TUNED` (inputs standardised, below): a (8/8_w, 16) population
  with intermediate recombination, mirrored sampling, mu adapted by cumulative step-size adaptation
  from 0.2 (floor 0.02) and resistances adapted from the selected mutations. The paper's own rule,
  ``selection="none"`` (keep every mutation; ``.paper()``), does not learn - ``gradfree run
  emns-demos`` measures it - and a researcher calling ``fit`` expects a model that learns. TUNED
  learns best among those measured on real data at the default budget: held-out R^2 on diabetes,
  held-out accuracy on wine, breast cancer and digits, beside (1+16) with the paper's mutation, the
  defaults before it (``benchmarks/compare_emns_defaults.py``; docs/decisions.md has the numbers).
* Budgets count *evaluations* (one forward pass of one candidate over the training data):
  ``max_evaluations`` per ``fit`` / ``partial_fit`` call; a generation starts only if it fits in what
  is left (at least one runs per call); re-scoring after a structural change is counted too. For
  ``"none"`` / ``"revert"`` one evaluation is one step (the reference's "epoch"); a population
  generation costs ``population_size`` (+1 with ``recombination``: the new parent is evaluated).
* ``partial_fit`` continues the evolution. On data other than the previous call's, the parents are
  first re-scored on the new data (those evaluations are counted). On the same data it continues
  exactly: ``fit`` with budget 2B equals ``fit`` with B followed by ``partial_fit`` with B (also across
  ``save``/``load``), when B is a multiple of a generation's cost.
* Options beyond the paper, each off by default and named: ``rate_rule="success"`` (1/5th rule),
  ``self_adaptive`` (resistance mutates before the value that uses it), ``recombination=k``
  (the parent becomes the log-rank weighted mean of the best k candidates), ``mu_min`` / ``r_max``
  (override the constants' bounds), ``keep_best`` (predict with the best individual evaluated since the
  last change of data or structure, not the current parent), ``mirrored`` (candidates in pairs with
  opposite value noise), ``restart_patience`` (a fresh network after that many evaluations without
  improvement; the ``keep_best`` elite survives), and, with ``recombination`` only,
  ``rate_rule="csa"`` (cumulative step-size adaptation of mu) and ``resistance_rate`` (resistances
  adapted from the selected mutations instead of mutated at random: sep-CMA-ES's diagonal update on
  1 - r). ``TUNED`` (the defaults) turns on recombination, ``rate_rule="csa"``, ``resistance_rate``,
  ``mirrored`` and ``keep_best``.
* Fitness is -MSE (sec. 7.1). The classifier regresses one-hot targets (binary: one output, target
  0/1, as the reference does) and predicts the largest output.
* Inputs are standardised by default (``input_scaling="standard"``, fitted on the first data): the
  paper feeds them raw and clips each synapse to +-10, which fails on features in the 100s (raw wine,
  breast cancer, diabetes); ``.paper()`` keeps them raw. docs/decisions.md has the numbers.
* Targets are not rescaled: the outputs are clipped to +-5 (the reference's clip).
* This is the paper's network (sec. 3): neuron bases, growth and pruning (``structure``), the
  paper's rules and ours beside them. EMNS at image scale (a wide MLP) is
  :class:`gradfree.emns.EMNSMLPClassifier` / :class:`gradfree.emns.EMNSMLPRegressor`.
* ``constants`` names the mutation constants (``"paper"`` or ``"reference"``,
  :mod:`gradfree.emns.params`); the paper's whole configuration is the classmethod ``.paper()``.
"""

from __future__ import annotations

import hashlib
import inspect
import math
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
from gradfree.emns import structure
from gradfree.emns.evolution import (
    ALIASES,
    NETWORK_RATE_RULES,
    NETWORK_SELECTIONS,
    EvoState,
    log,
    new_history,
    step_population,
    step_single,
    update_elite,
)
from gradfree.emns.fast import HAVE_NUMBA, forward_numba, make_evaluator
from gradfree.emns.mixins import INPUT_SCALINGS, InputScaling, StateViews
from gradfree.emns.network import forward, init_network
from gradfree.emns.params import PRESETS, EMNSParams, make_params
from gradfree.emns.structure import StructureParams

NO_STRUCTURE = StructureParams()


class _EMNSBase(InputScaling, StateViews, GradFreeEstimator):
    """Shared fit / partial_fit / evolution loop of the paper-network estimators.

    Parameters
    ----------
    hidden_layer_sizes : widths of the hidden layers (inputs and outputs come from the data).
    constants : ``"paper"`` or ``"reference"`` mutation constants (see :mod:`gradfree.emns.params`);
        ``mutation_rate``, ``mu_min`` and ``r_max`` override its mu_0 and bounds.
    selection : ``"none"`` (paper), ``"revert"`` (reference, with ``revert_prob``), ``"plus"``
        ((n_parents + population_size)) or ``"comma"`` ((n_parents, population_size); the default, with
        ``recombination=8``: (8/8_w, 16)).
    rate_rule : ``"preset"`` (sec. 2.3), ``"success"`` (1/5th rule, ``success_damping``) or ``"csa"``
        (cumulative step-size adaptation; needs ``recombination``).
    self_adaptive, recombination, keep_best, mirrored : options beyond the paper (module docstring).
    resistance_rate : ours, 0 = off (the paper's random resistance mutation). With ``recombination``,
        the rate at which each resistance is adapted from the selected mutations (0.2 in ``TUNED``).
    restart_patience : ours, 0 = off. After this many evaluations without an improvement of the current
        run's best fitness, start again from a fresh random network at the initial mutation rate (a
        restart strategy). Meant with ``keep_best``, whose elite survives restarts and is what predicts.
    max_evaluations : evaluation budget of each ``fit`` / ``partial_fit`` call.
    structure : growth, connection formation and pruning (sec. 6), a
        :class:`gradfree.emns.structure.StructureParams`; None: off.
    hist_every : generations between resistance histograms in ``history_``.
    backend : ``"auto"`` (numba kernel on the CPU when installed, else torch), ``"torch"``, ``"numba"``.
    input_scaling : ``"standard"`` (the default: per-feature mean and sd), ``"maxabs"`` or None (raw, as
        the paper), fitted on the first data.
    random_state, device : as everywhere in gradfree.
    """

    #: state_ is the paper network's EvoState (input scaling's fields: InputScaling)
    _saved_fields = {**RNG, "state_": saved_state(EvoState)}

    def _check_loaded_state(self) -> None:
        """The layer sizes run from the data's features to the outputs; the scaling fits the parameter."""
        self._check_loaded_sizes()

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "constants": [StrOptions(set(PRESETS))],
        "mutation_rate": [Interval(Real, 0, None, closed="neither"), None],
        "selection": [StrOptions({*NETWORK_SELECTIONS, *ALIASES})],
        "population_size": [Interval(Integral, 1, None, closed="left")],
        "n_parents": [Interval(Integral, 1, None, closed="left")],
        "revert_prob": [Interval(Real, 0, 1, closed="both")],
        "rate_rule": [StrOptions(set(NETWORK_RATE_RULES))],
        "success_damping": [Interval(Real, 0, None, closed="neither")],
        "max_evaluations": [Interval(Integral, 1, None, closed="left")],
        **{flag: ["boolean"] for flag in ("self_adaptive", "keep_best", "mirrored")},
        "hist_every": [Interval(Integral, 1, None, closed="left")],
        "resistance_rate": [Interval(Real, 0, None, closed="left")],
        "mu_min": [Interval(Real, 0, None, closed="left"), None],
        "r_max": [Interval(Real, 0, 1, closed="both"), None],
        "recombination": [Interval(Integral, 0, None, closed="left")],
        "restart_patience": [Interval(Integral, 0, None, closed="left")],
        "structure": [StructureParams, None],
        "backend": [StrOptions({"auto", "torch", "numba"})],
        "input_scaling": [StrOptions({s for s in INPUT_SCALINGS if s}), None],
        "random_state": RANDOM_STATE,
        "device": [str],
    }

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (8, 4), *, constants: str = "paper",
                 mutation_rate: float | None = 0.2, selection: str = "comma", population_size: int = 16,
                 n_parents: int = 1, revert_prob: float = 0.7, rate_rule: str = "csa",
                 success_damping: float = 3.0, max_evaluations: int = 5000,
                 structure: StructureParams | None = None, self_adaptive: bool = False,
                 mu_min: float | None = 0.02, r_max: float | None = 0.95, recombination: int = 8,
                 keep_best: bool = True, mirrored: bool = True, resistance_rate: float = 0.2,
                 restart_patience: int = 0, hist_every: int = 50, backend: str = "auto",
                 input_scaling: str | None = "standard", random_state: Any = None,
                 device: str = "cpu") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.constants = constants
        self.mutation_rate = mutation_rate
        self.selection = selection
        self.population_size = population_size
        self.n_parents = n_parents
        self.revert_prob = revert_prob
        self.rate_rule = rate_rule
        self.success_damping = success_damping
        self.max_evaluations = max_evaluations
        self.structure = structure
        self.self_adaptive = self_adaptive
        self.mu_min = mu_min
        self.r_max = r_max
        self.recombination = recombination
        self.keep_best = keep_best
        self.mirrored = mirrored
        self.resistance_rate = resistance_rate
        self.restart_patience = restart_patience
        self.hist_every = hist_every
        self.backend = backend
        self.input_scaling = input_scaling
        self.random_state = random_state
        self.device = device

    def set_population_executor(self, factory: Callable[..., Any] | None) -> _EMNSBase:
        """Evaluate each generation's candidates elsewhere (the hook for scale-out); None: in-process.

        ``factory(state, evaluate, params)`` is called at the start of every ``fit`` / ``partial_fit``
        with the run's explicit state and returns an object with a ``step`` method like
        :func:`gradfree.emns.evolution.step_population`. An executor must reproduce the in-process
        arithmetic (:mod:`gradfree.distributed.emns_population` ships only seeds and fitness values),
        so the fitted model is the same either way. It is not a hyper-parameter: it is neither cloned
        nor saved.
        """
        self._executor_factory = factory
        return self

    # ------------------------------------------------------------------ configuration
    def _selection(self) -> str:
        """The selection rule, aliases resolved (the declared constraint admits both spellings)."""
        return ALIASES.get(self.selection, self.selection)

    def _check_param_rules(self) -> None:
        """What no single declared constraint states: the hidden widths, the structural options, the
        numba backend's availability, and the options that only make sense together."""
        if any(int(h) < 1 for h in tuple(self.hidden_layer_sizes)):
            raise ValueError(f"hidden_layer_sizes must be positive, got {self.hidden_layer_sizes}")
        self._structure()
        if self.backend == "numba" and not HAVE_NUMBA:
            raise ValueError("backend='numba' needs numba installed")
        sel = self._selection()
        if sel == "comma" and self.n_parents > self.population_size:
            raise ValueError("(mu,lambda) needs n_parents <= population_size")
        if self.recombination > self.population_size:
            raise ValueError("recombination must be between 0 (off) and population_size")
        if (self.rate_rule == "csa" or self.resistance_rate) and not (
                self.recombination and sel in ("plus", "comma")):
            raise ValueError('rate_rule="csa" and resistance_rate need a population selection with '
                             'recombination >= 1')
        p = self.params_
        if not p.mu_min <= p.mu_max:
            raise ValueError(f"mu_min ({p.mu_min}) exceeds the {self.constants!r} constants' mu_max "
                             f"({p.mu_max})")

    def _structure(self) -> StructureParams:
        """The structural options (``structure``; None: all off, the default tolerances)."""
        return (self.structure or NO_STRUCTURE).check()

    @property
    def params_(self) -> EMNSParams:
        """The resolved mutation hyper-parameters (preset + overrides)."""
        return make_params(self.constants, mutation_rate=self.mutation_rate, mu_min=self.mu_min,
                           r_max=self.r_max, self_adaptive=bool(self.self_adaptive),
                           mirrored=bool(self.mirrored), resistance_rate=float(self.resistance_rate))

    def _n_parents(self) -> int:
        pop = self._selection() in ("plus", "comma") and not self.recombination
        return int(self.n_parents) if pop else 1

    def _use_numba(self) -> bool:
        auto = self.backend == "auto" and HAVE_NUMBA and self.device_.type == "cpu"
        return self.backend == "numba" or auto

    def _evaluator(self, X: torch.Tensor, Y: torch.Tensor):
        return make_evaluator(X, Y, self._use_numba())

    # ------------------------------------------------------------------ learning
    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        """The (N, outputs) float targets the fitness compares the outputs with."""
        raise NotImplementedError

    def _start(self, n_in: int, n_out: int) -> None:
        sizes = [n_in, *[int(h) for h in self.hidden_layer_sizes], n_out]
        values, res, masks = init_network(sizes, self._n_parents(), self.rng_, self.device_)
        self.state_ = EvoState(sizes=sizes, values=values, resistances=res, masks=masks,
                               fitness=torch.full((values.shape[0],), -math.inf, device=self.device_),
                               mutation_rate=float(self.params_.mutation_rate),
                               prune_counts=torch.zeros_like(masks), history=new_history())

    @no_grad_learning
    def _learn(self, X: torch.Tensor, y: torch.Tensor, *, first: bool, whole: bool) -> _EMNSBase:
        """Evolve for ``max_evaluations`` evaluations: from a fresh network (``first``: ``fit``, or the
        first ``partial_fit``) or from the current population."""
        X = self._scale_inputs(X, fit=first)
        Y = self._targets(y)
        if first:
            self._start(X.shape[1], Y.shape[1])
        self._evolve(X, Y, self.params_)
        return self

    def _evolve(self, X: torch.Tensor, Y: torch.Tensor, p: EMNSParams) -> None:
        st, rng, sel = self.state_, self.rng_, self._selection()
        evaluate = self._evaluator(X, Y)
        key = hashlib.sha1(X.cpu().numpy().tobytes() + Y.cpu().numpy().tobytes()).hexdigest()
        if key != st.data_key:  # new data: re-score the parents on it
            st.fitness = evaluate(st.values, st.masks, st.sizes)
            st.n_evaluations += st.values.shape[0]
            st.best_fitness, st.last_improvement, st.data_key = float(st.fitness.max()), st.n_evaluations, key
            if self.keep_best:
                update_elite(st, reset=True)
        target = st.n_evaluations + int(self.max_evaluations)
        kw = dict(rate_rule=self.rate_rule, damping=float(self.success_damping))
        sp = self._structure()
        interval = int(sp.interval)
        cost = 1 if sel in ("none", "revert") else int(self.population_size) + bool(self.recombination)
        # A population generation runs in-process unless an executor was installed for this fit
        # (gradfree.distributed.fit_on_ray puts one on Ray actors; same arithmetic, same result).
        executor = getattr(self, "_executor_factory", None)
        step = step_population if executor is None or sel in ("none", "revert") else \
            executor(st, evaluate, p).step
        first = True
        while st.n_evaluations + cost <= target or first:  # a step starts only if it fits in the budget
            first = False
            before = st.n_evaluations
            if sel in ("none", "revert"):
                acc = step_single(st, evaluate, p, rng, selection=sel, revert_prob=float(self.revert_prob),
                                  **kw)
            else:
                acc = step(st, evaluate, p, rng, selection=sel, lam=int(self.population_size),
                           recombine=int(self.recombination), **kw)
            best = float(st.fitness.max())
            if best > st.best_fitness + sp.growth_tol:
                st.last_improvement = st.n_evaluations
            st.best_fitness = max(st.best_fitness, best)
            if self.keep_best:
                update_elite(st)
            log(st, acc, int(self.hist_every))
            crossed = st.n_evaluations // interval > before // interval
            if sp.active and crossed:
                self._restructure(st, X, evaluate, p, sp)
            stale = st.n_evaluations - st.last_improvement >= int(self.restart_patience)
            if self.restart_patience and stale and st.n_evaluations + st.values.shape[0] + cost <= target:
                self._restart(st, evaluate, p)

    def _restart(self, st: EvoState, evaluate, p: EMNSParams) -> None:
        """A fresh random network at the initial mutation rate; the elite (``keep_best``) is kept."""
        st.values, st.resistances, _ = init_network(st.sizes, st.values.shape[0], self.rng_, self.device_)
        st.fitness = evaluate(st.values, st.masks, st.sizes)
        st.n_evaluations += st.values.shape[0]
        st.mutation_rate, st.path = float(p.mutation_rate), None
        st.best_fitness, st.last_improvement = float(st.fitness.max()), st.n_evaluations  # this run's best
        st.history["events"].append({"evaluations": st.n_evaluations, "event": "restart"})

    def _restructure(self, st: EvoState, X: torch.Tensor, evaluate, p: EMNSParams,
                     sp: StructureParams) -> None:
        """Sec. 6: pruning, connection formation, growth on stagnation; re-score the parents if changed."""
        rng, events, changed = self.rng_, st.history["events"], False
        if sp.prune:
            n = structure.prune(st, float(sp.prune_threshold), int(sp.prune_patience))
            if n:
                events.append({"evaluations": st.n_evaluations, "event": "prune", "n": n})
                changed = True
        if sp.connect:
            n = structure.form_connections(st, X, rng, float(sp.connect_rate), p.r_init)
            if n:
                events.append({"evaluations": st.n_evaluations, "event": "connect", "n": n})
                changed = True
        hidden = [l for l in range(1, len(st.sizes) - 1) if st.sizes[l] < sp.max_hidden]
        if sp.growth and hidden and st.n_evaluations - st.last_improvement >= sp.growth_patience:
            layer = hidden[int(torch.randint(len(hidden), (), generator=rng, device=rng.device))]
            structure.grow(st, layer, rng, p.r_init)
            st.last_improvement = st.n_evaluations
            events.append({"evaluations": st.n_evaluations, "event": "grow", "layer": layer,
                           "sizes": list(st.sizes)})
            changed = True
        if changed:
            st.fitness = evaluate(st.values, st.masks, st.sizes)
            st.n_evaluations += st.values.shape[0]
            if self._selection() in ("plus", "comma"):
                order = torch.sort(st.fitness, descending=True, stable=True).indices
                st.values, st.resistances = st.values[order], st.resistances[order]
                st.fitness = st.fitness[order]
            st.best_fitness = float(st.fitness.max())
            if self.keep_best:
                update_elite(st, reset=True)

    # ------------------------------------------------------------------ inference
    @no_grad_learning
    def _outputs(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs (N, n_out) of the best individual."""
        X = self._scale_inputs(X, fit=False)
        fwd = forward_numba if self._use_numba() else forward
        return fwd(self.best_values_, self.state_.masks, self.state_.sizes, X)[0]

    @property
    def best_values_(self) -> torch.Tensor:
        """(1, n_params): the elite with ``keep_best``, otherwise the best current parent."""
        st = self.state_
        if self.keep_best and st.elite_values is not None:
            return st.elite_values
        best = int(st.fitness.argmax())
        return st.values[best:best + 1]


def _base_defaults() -> dict:
    sig = inspect.signature(_EMNSBase.__init__)
    return {k: v.default for k, v in sig.parameters.items() if k != "self"}


#: The paper's exact configuration (sec. 2-3, 7.1): its own network, the paper's constants, every
#: mutation accepted (``selection="none"``), fitness -MSE, raw inputs; every option beyond the paper off
#: (TUNED's, which are the constructor's defaults, included). ``EMNSClassifier.paper()`` /
#: ``EMNSRegressor.paper()``; the experiments (``gradfree run emns-demos``) build on it.
PAPER: dict = dict(_base_defaults(), selection="none", constants="paper", population_size=16,
                   recombination=0, rate_rule="preset", resistance_rate=0.0, mutation_rate=None,
                   mu_min=None, r_max=None, keep_best=False, mirrored=False, input_scaling=None)


class _Presets:
    @classmethod
    def paper(cls, **overrides: Any):
        """The paper's exact configuration (:data:`PAPER`), with ``overrides``.

        >>> from gradfree.emns import EMNSRegressor
        >>> m = EMNSRegressor.paper(max_evaluations=500)
        >>> m.selection, m.constants, m.max_evaluations
        ('none', 'paper', 500)
        """
        return cls(**{**PAPER, **overrides})


class EMNSRegressor(_Presets, GradFreeRegressor, _EMNSBase):
    """Evolvable Modular Neural System regressor (Karahan 2025) on the paper's network: fitness -MSE,
    mutation only. Defaults: :data:`gradfree.emns.TUNED` (a recombining (8/8_w, 16) population) on
    standardised inputs, 5,000 evaluations per call; ``.paper()`` is the paper's exact rule. Parameters
    as in :class:`_EMNSBase`; :mod:`gradfree.emns.estimators` says what was decided and why.

    >>> from gradfree.data import emns_regression
    >>> from gradfree.emns import EMNSRegressor
    >>> X, y = emns_regression(random_state=0)  # the reference's demo regression, 3 features
    >>> m = EMNSRegressor(random_state=0).fit(X, y)
    >>> round(m.score(X, y), 2), m.n_evaluations_, m.layer_sizes_  # training R^2
    (0.88, 4999, [3, 8, 4, 1])
    >>> m.partial_fit(X, y).n_evaluations_  # the evolution continues where it stopped
    9997
    """

    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        Xt = self._validate(X, reset=False)
        return self._format_prediction(self._outputs(Xt))


class EMNSClassifier(_Presets, GradFreeClassifier, _EMNSBase):
    """Evolvable Modular Neural System classifier on the paper's network: regresses one-hot targets
    (binary: one 0/1 output) and predicts the largest output. Defaults as :class:`EMNSRegressor`'s
    (:data:`gradfree.emns.TUNED`, standardised inputs); ``.paper()`` is the paper's exact rule. EMNS at
    image scale is :class:`gradfree.emns.EMNSMLPClassifier`. Parameters as in :class:`_EMNSBase`.

    >>> from gradfree.data import emns_classification
    >>> from gradfree.emns import EMNSClassifier
    >>> X, y = emns_classification(random_state=0)  # the paper's x1 + x2 > 0
    >>> m = EMNSClassifier(max_evaluations=2000, random_state=0).fit(X, y)
    >>> round(m.score(X, y), 2), m.predict(X[:5]).tolist()
    (0.99, [1, 1, 1, 1, 1])
    """

    def _has_proba(self) -> bool:
        return False

    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        C = len(self.classes_)
        if C == 2:
            return y.to(self.dtype).unsqueeze(1)  # (N, 1), target 0/1
        return torch.nn.functional.one_hot(y, C).to(self.dtype)  # (N, C)

    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        out = self._outputs(X)
        return torch.cat([1.0 - out, out], dim=1) if out.shape[1] == 1 else out
