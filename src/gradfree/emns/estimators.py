"""``EMNSRegressor`` and ``EMNSClassifier``: EMNS networks evolved by mutation only (no gradients).

Decisions (docs/decisions.md leaves them to us; the paper's literal rule is one option among them):

* ``selection`` defaults to ``"plus"`` with ``population_size=16`` ((1+16)): the paper's own rule,
  ``selection="none"`` (keep every mutation), does not learn - ``gradfree run emns-demos`` measures
  it - and a researcher calling ``fit`` expects a model that learns. The mutation step, the resistance
  co-evolution and the mutation-rate rule are the paper's (``preset="paper"``) unless changed.
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
  (override the preset's bounds), ``keep_best`` (predict with the best individual evaluated since the
  last change of data or structure, not the current parent), ``mirrored`` (candidates in pairs with
  opposite value noise), ``restart_patience`` (a fresh network after that many evaluations without
  improvement; the ``keep_best`` elite survives), and, with ``recombination`` only,
  ``rate_rule="csa"`` (cumulative step-size adaptation of mu) and ``resistance_rate`` (resistances
  adapted from the selected mutations instead of mutated at random: sep-CMA-ES's diagonal update on
  1 - r). ``TUNED`` collects the combination that trains fastest on the reference regression.
* Fitness is -MSE (sec. 7.1). The classifier regresses one-hot targets (binary: one output, target
  0/1, as the reference does) and predicts the largest output.
* Targets are not rescaled: the outputs are clipped to +-5 (the reference's clip).
* ``network="mlp"`` (ours, issue 14; :data:`SCALE`, the classifier's defaults): EMNS's resistance-scaled
  mirrored mutation on a wide MLP, every generation one batched matmul on a fresh minibatch
  (:mod:`gradfree.emns.scale`). ``EMNSClassifier.paper()`` is the paper's exact configuration
  (:data:`PAPER`) and what ``gradfree run emns-demos`` builds on; ``EMNSRegressor()`` keeps the paper's
  network with (1+16) selection as before.
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
from gradfree.core.schema import RNG, saved_state, tensor
from gradfree.emns import activity, structure
from gradfree.emns import scale as mlp
from gradfree.emns.evolution import (
    ALIASES,
    RATE_RULES,
    SELECTIONS,
    EvoState,
    log,
    new_history,
    step_population,
    step_single,
    update_elite,
)
from gradfree.emns.fast import HAVE_NUMBA, forward_numba, make_evaluator
from gradfree.emns.mutation import draw_seeds
from gradfree.emns.network import forward, init_network
from gradfree.emns.params import PRESETS, EMNSParams, make_params
from gradfree.emns.presets import CONTINUAL, MLP_LEARNING_RATE, MLP_MUTATION_RATE, SCALE

NETWORKS = ("emns", "mlp")
INPUT_SCALINGS = (None, "standard", "maxabs")


class _EMNSBase(GradFreeEstimator):
    """Shared fit / partial_fit / evolution loop of the EMNS estimators.

    Parameters
    ----------
    hidden_layer_sizes : widths of the hidden layers (inputs and outputs come from the data).
    preset : ``"paper"`` or ``"reference"`` (see :mod:`gradfree.emns.params`); ``mutation_rate``,
        ``mu_min`` and ``r_max`` override its mu_0 and bounds.
    selection : ``"none"`` (paper), ``"revert"`` (reference, with ``revert_prob``), ``"plus"``
        ((n_parents + population_size)) or ``"comma"`` ((n_parents, population_size)).
    rate_rule : ``"preset"`` (sec. 2.3), ``"success"`` (1/5th rule, ``success_damping``) or ``"csa"``
        (cumulative step-size adaptation; needs ``recombination``).
    self_adaptive, recombination, keep_best, mirrored : options beyond the paper (module docstring).
    resistance_rate : ours, 0 = off (the paper's random resistance mutation). With ``recombination``,
        the rate at which each resistance is adapted from the selected mutations (0.2 in ``TUNED``).
    restart_patience : ours, 0 = off. After this many evaluations without an improvement of the current
        run's best fitness, start again from a fresh random network at the initial mutation rate (a
        restart strategy). Meant with ``keep_best``, whose elite survives restarts and is what predicts.
    max_evaluations : evaluation budget of each ``fit`` / ``partial_fit`` call.
    growth, connect, prune : sec. 6 (see :mod:`gradfree.emns.structure`), checked every
        ``structure_interval`` evaluations; growth after ``growth_patience`` evaluations without an
        improvement above ``growth_tol``, up to ``max_hidden`` neurons a layer; formation with
        probability ``connect_rate * MI / max MI``; pruning below ``prune_threshold`` for
        ``prune_patience`` checks.
    hist_every : generations between resistance histograms in ``history_``.
    backend : ``"auto"`` (numba kernel on the CPU when installed, else torch), ``"torch"``, ``"numba"``.
    network : ``"emns"`` (the paper's network, sec. 3; every option above applies) or ``"mlp"`` (ours,
        :mod:`gradfree.emns.scale`: a wide tanh MLP whose candidates ``theta +- N * mu * (1 - r)`` are
        scored as one batched matmul; ``hidden_layer_sizes``, ``population_size`` (even),
        ``mutation_rate``, ``max_evaluations``, ``resistance_rate`` and ``r_max`` keep their meaning,
        the selection options above do not apply). The options below need ``network="mlp"``:
    fitness : ``"mse"`` (-MSE on one-hot targets, the paper's, sec. 7.1) or ``"cross_entropy"``.
    shaping : ``"none"`` (standardised fitness) or ``"rank"`` (centred ranks).
    centre : how the centre moves: ``"adam"`` / ``"momentum"`` along the search gradient (step
        ``learning_rate``, scaled by 1 - r) or ``"recombine"`` (TUNED's weighted mean of the best half).
    batch_size : samples of the fresh minibatch of every generation (0 = all).
    weight_decay, noise : L2 shrinkage of the centre; ``"seeded"`` or ``"table"`` (shared noise table).
    lr_half_life : generations over which the centre step halves (0 = constant).
    noise_rank : ours, 0 = off. r > 0: each candidate's first-layer weight mutation is a rank-r matrix
        (its entries still uncorrelated, unit variance), so the population shares the centre's first-layer
        product and a candidate costs far less (:mod:`gradfree.emns.scale`); needs fixed resistances.
    mutate : ``"weights"`` (the paper's ``theta + N * mu * (1 - r)``) or ``"activities"`` (ours,
        :mod:`gradfree.emns.activity`: every neuron's summed input on every sample is mutated, mirrored,
        and each weight steps along the measured fitness slope times its input; needs ``centre="adam"``,
        ``resistance_rate=0`` and ``noise_rank=0``). :data:`IMAGES` uses it.
    input_scaling : None, ``"standard"`` or ``"maxabs"`` (fitted on the first data; both networks).
    shield, class_mask : the continual-learning extension (:data:`CONTINUAL`, :mod:`gradfree.emns.scale`).
    random_state, device : as everywhere in gradfree.
    """

    #: state_ is the wide MLP's ScaleState (network="mlp") or the paper network's EvoState
    _saved_fields = {
        **RNG,
        "x_shift_": tensor("d", optional=True),
        "x_scale_": tensor("d", low=float(np.finfo(np.float32).tiny), optional=True),
        "state_": saved_state((mlp.ScaleState, EvoState)),
    }

    def _check_loaded_state(self) -> None:
        """The state's kind and layer sizes agree with the parameters and the data's shape."""
        st = self.state_
        want = mlp.ScaleState if self.network == "mlp" else EvoState
        if type(st) is not want:
            raise ValueError(f"network={self.network!r} stores a {want.__name__}, the file has a "
                             f"{type(st).__name__}")
        outputs = len(self.classes_) if hasattr(self, "classes_") else int(self.n_outputs_)
        if st.sizes[0] != int(self.n_features_in_) or st.sizes[-1] != outputs:
            raise ValueError(f"state_.sizes {st.sizes[:8]} do not run from n_features_in_ to the outputs")
        if self.network == "mlp" and list(st.sizes[1:-1]) != [int(h) for h in self.hidden_layer_sizes]:
            raise ValueError("state_.sizes do not match hidden_layer_sizes")
        if (self.input_scaling is None) == hasattr(self, "x_scale_") or \
                hasattr(self, "x_scale_") != hasattr(self, "x_shift_"):
            raise ValueError("x_shift_ / x_scale_ are stored exactly when input_scaling is set")

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "preset": [StrOptions(set(PRESETS))],
        "mutation_rate": [Interval(Real, 0, None, closed="neither"), None],
        "selection": [StrOptions({*SELECTIONS, *ALIASES})],
        "population_size": [Interval(Integral, 1, None, closed="left")],
        "n_parents": [Interval(Integral, 1, None, closed="left")],
        "revert_prob": [Interval(Real, 0, 1, closed="both")],
        "rate_rule": [StrOptions(set(RATE_RULES))],
        "success_damping": [Interval(Real, 0, None, closed="neither")],
        "max_evaluations": [Interval(Integral, 1, None, closed="left")],
        **{flag: ["boolean"] for flag in ("growth", "connect", "prune", "self_adaptive", "keep_best",
                                          "mirrored")},
        **{count: [Interval(Integral, 1, None, closed="left")] for count in (
            "structure_interval", "growth_patience", "max_hidden", "prune_patience", "hist_every")},
        **{rate: [Interval(Real, 0, None, closed="left")] for rate in (
            "growth_tol", "connect_rate", "prune_threshold", "resistance_rate", "weight_decay", "shield",
            "lr_half_life")},
        "mu_min": [Interval(Real, 0, None, closed="left"), None],
        "r_max": [Interval(Real, 0, 1, closed="both"), None],
        "recombination": [Interval(Integral, 0, None, closed="left")],
        "restart_patience": [Interval(Integral, 0, None, closed="left")],
        "backend": [StrOptions({"auto", "torch", "numba"})],
        "network": [StrOptions(set(NETWORKS))],
        "fitness": [StrOptions(set(mlp.FITNESSES))],
        "shaping": [StrOptions(set(mlp.SHAPINGS))],
        "centre": [StrOptions(set(mlp.CENTRES))],
        "batch_size": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "input_scaling": [StrOptions({s for s in INPUT_SCALINGS if s}), None],
        "class_mask": [StrOptions({m for m in mlp.CLASS_MASKS if m}), None],
        "noise": [StrOptions(set(mlp.NOISES))],
        "noise_rank": [Interval(Integral, 0, None, closed="left")],
        "mutate": [StrOptions(set(mlp.MUTATES))],
        "shield_quantile": [Interval(Real, 0, 1, closed="both")],
        "random_state": RANDOM_STATE,
        "device": [str],
    }

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (8, 4), *, preset: str = "paper",
                 mutation_rate: float | None = None, selection: str = "plus", population_size: int = 16,
                 n_parents: int = 1, revert_prob: float = 0.7, rate_rule: str = "preset",
                 success_damping: float = 3.0, max_evaluations: int = 5000, growth: bool = False,
                 connect: bool = False, prune: bool = False, structure_interval: int = 256,
                 growth_patience: int = 2048, growth_tol: float = 1e-5, max_hidden: int = 32,
                 connect_rate: float = 0.1, prune_threshold: float = 0.01, prune_patience: int = 5,
                 self_adaptive: bool = False, mu_min: float | None = None, r_max: float | None = None,
                 recombination: int = 0, keep_best: bool = False, mirrored: bool = False,
                 resistance_rate: float = 0.0, restart_patience: int = 0, hist_every: int = 50,
                 backend: str = "auto", network: str = "emns", fitness: str = "mse", shaping: str = "none",
                 centre: str = "adam", batch_size: int = 0, learning_rate: float = MLP_LEARNING_RATE,
                 weight_decay: float = 0.0, input_scaling: str | None = None, shield: float = 0.0,
                 class_mask: str | None = None, noise: str = "seeded", shield_quantile: float = 1.0,
                 lr_half_life: float = 0.0, noise_rank: int = 0, mutate: str = "weights",
                 random_state: Any = None, device: str = "cpu") -> None:
        self.mutate = mutate
        self.lr_half_life = lr_half_life
        self.noise_rank = noise_rank
        self.noise = noise
        self.shield_quantile = shield_quantile
        self.network = network
        self.fitness = fitness
        self.shaping = shaping
        self.centre = centre
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.input_scaling = input_scaling
        self.shield = shield
        self.class_mask = class_mask
        self.hidden_layer_sizes = hidden_layer_sizes
        self.preset = preset
        self.mutation_rate = mutation_rate
        self.selection = selection
        self.population_size = population_size
        self.n_parents = n_parents
        self.revert_prob = revert_prob
        self.rate_rule = rate_rule
        self.success_damping = success_damping
        self.max_evaluations = max_evaluations
        self.growth = growth
        self.connect = connect
        self.prune = prune
        self.structure_interval = structure_interval
        self.growth_patience = growth_patience
        self.growth_tol = growth_tol
        self.max_hidden = max_hidden
        self.connect_rate = connect_rate
        self.prune_threshold = prune_threshold
        self.prune_patience = prune_patience
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
        self.random_state = random_state
        self.device = device

    def set_population_executor(self, factory: Callable[..., Any] | None) -> _EMNSBase:
        """Evaluate each generation's candidates elsewhere (the hook for scale-out); None: in-process.

        ``factory`` is called at the start of every ``fit`` / ``partial_fit`` with the run's explicit
        state and returns the object that runs generations: for ``network="emns"``,
        ``factory(state, evaluate, params)`` with a ``step`` method like
        :func:`gradfree.emns.evolution.step_population`; for ``network="mlp"``,
        ``factory(state, params, X, y)`` with a ``generation`` method like
        :func:`gradfree.emns.scale.generation` and an optional ``close()``. An executor must reproduce
        the in-process arithmetic (:mod:`gradfree.distributed.emns_population` ships only seeds and
        fitness values), so the fitted model is the same either way. It is not a hyper-parameter: it is
        neither cloned nor saved.
        """
        self._executor_factory = factory
        return self

    # ------------------------------------------------------------------ configuration
    def _selection(self) -> str:
        sel = ALIASES.get(self.selection, self.selection)
        if sel not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS} (or {sorted(ALIASES)}), "
                             f"got {self.selection!r}")
        return sel

    def _check_params(self) -> EMNSParams:
        self._validate_params()
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {self.network!r}")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, got {self.input_scaling!r}")
        if self.network == "mlp":
            self._scale_params()
        elif (self.fitness != "mse" or self.shield or self.class_mask is not None or self.noise_rank
              or self.mutate != "weights"):
            raise ValueError('fitness="cross_entropy", shield, class_mask, noise_rank and '
                             'mutate="activities" need network="mlp"')
        self._selection()
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if self.rate_rule not in RATE_RULES:
            raise ValueError(f"rate_rule must be one of {RATE_RULES}, got {self.rate_rule!r}")
        if self.backend not in ("auto", "torch", "numba"):
            raise ValueError(f"backend must be 'auto', 'torch' or 'numba', got {self.backend!r}")
        if self.backend == "numba" and not HAVE_NUMBA:
            raise ValueError("backend='numba' needs numba installed")
        hs = tuple(self.hidden_layer_sizes)
        if any(int(h) < 1 for h in hs):
            raise ValueError(f"hidden_layer_sizes must be positive, got {self.hidden_layer_sizes}")
        if int(self.restart_patience) < 0:
            raise ValueError(f"restart_patience must be >= 0 (0 = off), got {self.restart_patience}")
        if int(self.max_evaluations) < 1 or int(self.population_size) < 1 or int(self.n_parents) < 1:
            raise ValueError("max_evaluations, population_size and n_parents must be >= 1")
        if self._selection() == "comma" and self.n_parents > self.population_size:
            raise ValueError("(mu,lambda) needs n_parents <= population_size")
        if not 0 <= int(self.recombination) <= self.population_size:
            raise ValueError("recombination must be between 0 (off) and population_size")
        if (self.rate_rule == "csa" or self.resistance_rate) and not (
                self.recombination and self._selection() in ("plus", "comma")):
            raise ValueError('rate_rule="csa" and resistance_rate need a population selection with '
                             'recombination >= 1')
        if not self.resistance_rate >= 0:
            raise ValueError(f"resistance_rate must be >= 0 (0 = off), got {self.resistance_rate}")
        if not 0.0 <= self.revert_prob <= 1.0:
            raise ValueError(f"revert_prob must be in [0, 1], got {self.revert_prob}")
        return self.params_

    @property
    def params_(self) -> EMNSParams:
        """The resolved mutation hyper-parameters (preset + overrides)."""
        return make_params(self.preset, mutation_rate=self.mutation_rate, mu_min=self.mu_min,
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
    def _targets(self, yn: np.ndarray, classes: Any, reset: bool) -> torch.Tensor:
        raise NotImplementedError

    def _start(self, n_in: int, n_out: int) -> None:
        sizes = [n_in, *[int(h) for h in self.hidden_layer_sizes], n_out]
        values, res, masks = init_network(sizes, self._n_parents(), self.rng_, self.device_)
        self.state_ = EvoState(sizes=sizes, values=values, resistances=res, masks=masks,
                               fitness=torch.full((values.shape[0],), -math.inf, device=self.device_),
                               mutation_rate=float(self.params_.mutation_rate),
                               prune_counts=torch.zeros_like(masks), history=new_history())

    @no_grad_learning
    def _learn(self, X: Any, y: Any, classes: Any, *, whole: bool) -> _EMNSBase:
        """Evolve for ``max_evaluations`` evaluations: from a fresh network (``fit``) or from the current
        population (``partial_fit``)."""
        p = self._check_params()
        first = not self._is_fitted()
        if first:
            self._init_device()
            self._init_rng()
        Xt, yn = self._validate(X, y, reset=first)
        Xt = self._scale_inputs(Xt, fit=first)
        if self.network == "mlp":
            self._evolve_mlp(Xt, *self._mlp_targets(yn, classes, reset=first), first)
            return self
        Y = self._targets(yn, classes, reset=first)
        if first:
            self._start(Xt.shape[1], Y.shape[1])
        self._evolve(Xt, Y, p)
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
        interval = int(self.structure_interval)
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
            if best > st.best_fitness + self.growth_tol:
                st.last_improvement = st.n_evaluations
            st.best_fitness = max(st.best_fitness, best)
            if self.keep_best:
                update_elite(st)
            log(st, acc, int(self.hist_every))
            crossed = st.n_evaluations // interval > before // interval
            if (self.growth or self.connect or self.prune) and crossed:
                self._restructure(st, X, evaluate, p)
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

    def _restructure(self, st: EvoState, X: torch.Tensor, evaluate, p: EMNSParams) -> None:
        """Sec. 6: pruning, connection formation, growth on stagnation; re-score the parents if changed."""
        rng, events, changed = self.rng_, st.history["events"], False
        if self.prune:
            n = structure.prune(st, float(self.prune_threshold), int(self.prune_patience))
            if n:
                events.append({"evaluations": st.n_evaluations, "event": "prune", "n": n})
                changed = True
        if self.connect:
            n = structure.form_connections(st, X, rng, float(self.connect_rate), p.r_init)
            if n:
                events.append({"evaluations": st.n_evaluations, "event": "connect", "n": n})
                changed = True
        hidden = [l for l in range(1, len(st.sizes) - 1) if st.sizes[l] < self.max_hidden]
        if self.growth and hidden and st.n_evaluations - st.last_improvement >= self.growth_patience:
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

    # ------------------------------------------------------------------ the wide-MLP path (network="mlp")
    def _scale_params(self) -> mlp.ScaleParams:
        """The resolved :class:`gradfree.emns.scale.ScaleParams` of ``network="mlp"``."""
        return mlp.ScaleParams(
            population_size=int(self.population_size),
            mutation_rate=MLP_MUTATION_RATE if self.mutation_rate is None else float(self.mutation_rate),
            learning_rate=float(self.learning_rate), centre=self.centre, fitness=self.fitness,
            shaping=self.shaping, batch_size=int(self.batch_size), weight_decay=float(self.weight_decay),
            resistance_rate=float(self.resistance_rate),
            r_max=0.95 if self.r_max is None else float(self.r_max), shield=float(self.shield),
            shield_quantile=float(self.shield_quantile), class_mask=self.class_mask, noise=self.noise,
            lr_half_life=float(self.lr_half_life), noise_rank=int(self.noise_rank),
            mutate=self.mutate).check()

    def _scale_inputs(self, X: torch.Tensor, fit: bool) -> torch.Tensor:
        """``input_scaling``: None (raw), ``"standard"`` (per-feature mean / sd of the first data seen;
        constant features keep scale 1) or ``"maxabs"`` (divided by the first data's largest |x|)."""
        if self.input_scaling is None:
            return X
        if fit:
            if self.input_scaling == "standard":
                sd = X.std(0)
                self.x_shift_, self.x_scale_ = X.mean(0), torch.where(sd > 1e-6, sd, torch.ones_like(sd))
            else:
                self.x_shift_ = torch.zeros(X.shape[1], device=X.device)
                self.x_scale_ = X.abs().max().clamp(min=1e-12).expand(X.shape[1]).clone()
        return (X - self.x_shift_) / self.x_scale_

    def _mlp_targets(self, yn: np.ndarray, classes: Any, reset: bool) -> tuple[torch.Tensor, int]:
        Y = self._encode_targets(yn, reset=reset)
        return Y, Y.shape[1]

    def _evolve_mlp(self, X: torch.Tensor, y: torch.Tensor, n_out: int, first: bool) -> None:
        """``max_evaluations // population_size`` generations of :func:`gradfree.emns.scale.generation`."""
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
        local = activity.generation if p.mutate == "activities" else mlp.generation
        step = local if executor is None else executor.generation
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
        """Outputs (N, n_out) of the best individual."""
        X = self._scale_inputs(X, fit=False)
        if self.network == "mlp":
            return mlp.forward(self.state_.theta[None], self.state_.sizes, X)[0]
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

    # ------------------------------------------------------------------ convenient views
    @property
    def layer_sizes_(self) -> list[int]:
        return list(self.state_.sizes)

    @property
    def mutation_rate_(self) -> float:
        return self.state_.mutation_rate

    @property
    def history_(self) -> dict:
        return self.state_.history

    @property
    def n_evaluations_(self) -> int:
        return self.state_.n_evaluations

    def _more_tags(self) -> dict:  # pragma: no cover - older scikit-learn
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if tags.regressor_tags is not None:
            tags.regressor_tags.poor_score = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.poor_score = True
        return tags


def _base_defaults() -> dict:
    sig = inspect.signature(_EMNSBase.__init__)
    return {k: v.default for k, v in sig.parameters.items() if k != "self"}


#: The paper's exact configuration (sec. 2-3, 7.1): its own network, preset "paper", every mutation
#: accepted (``selection="none"``), fitness -MSE, raw inputs. ``EMNSClassifier.paper()`` /
#: ``EMNSRegressor.paper()``; the experiments (``gradfree run emns-demos``) build on it.
PAPER: dict = dict(_base_defaults(), selection="none", preset="paper", network="emns")


class _Presets:
    @classmethod
    def paper(cls, **overrides: Any):
        """The paper's exact configuration (:data:`PAPER`), with ``overrides``."""
        return cls(**{**PAPER, **overrides})

    @classmethod
    def scale(cls, **overrides: Any):
        """The wide-MLP configuration (:data:`SCALE`), with ``overrides``."""
        return cls(**{**SCALE, **overrides})

    @classmethod
    def continual(cls, **overrides: Any):
        """SCALE for class-incremental streams (:data:`CONTINUAL`), with ``overrides``."""
        return cls(**{**CONTINUAL, **overrides})


class EMNSRegressor(_Presets, GradFreeRegressor, _EMNSBase):
    """Evolvable Modular Neural System regressor (Karahan 2025): fitness -MSE, mutation only.

    See :mod:`gradfree.emns.estimators` for the parameters' meaning and the decisions taken.
    """

    def _targets(self, yn: np.ndarray, classes: Any, reset: bool) -> torch.Tensor:
        return self._encode_targets(yn, reset=reset)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        Xt = self._validate(X, reset=False)
        return self._format_prediction(self._outputs(Xt))


class EMNSClassifier(_Presets, GradFreeClassifier, _EMNSBase):
    """Evolvable Modular Neural System classifier.

    Defaults: :data:`SCALE` (a wide MLP evolved with resistance-scaled mirrored mutation; learns raw
    scikit-learn digits). ``EMNSClassifier.paper()``: the paper's network and rule (regresses one-hot
    targets, binary: one 0/1 output). Parameters as in :class:`_EMNSBase`.
    """

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (32,), *, preset: str = "paper",
                 mutation_rate: float | None = MLP_MUTATION_RATE, selection: str = "plus",
                 population_size: int = 64, n_parents: int = 1, revert_prob: float = 0.7,
                 rate_rule: str = "preset", success_damping: float = 3.0, max_evaluations: int = 19_200,
                 growth: bool = False, connect: bool = False, prune: bool = False,
                 structure_interval: int = 256,
                 growth_patience: int = 2048, growth_tol: float = 1e-5, max_hidden: int = 32,
                 connect_rate: float = 0.1, prune_threshold: float = 0.01, prune_patience: int = 5,
                 self_adaptive: bool = False, mu_min: float | None = None, r_max: float | None = None,
                 recombination: int = 0, keep_best: bool = False, mirrored: bool = False,
                 resistance_rate: float = 0.0, restart_patience: int = 0, hist_every: int = 50,
                 backend: str = "auto", network: str = "mlp", fitness: str = "cross_entropy",
                 shaping: str = "rank", centre: str = "adam", batch_size: int = 256,
                 learning_rate: float = MLP_LEARNING_RATE, weight_decay: float = 0.0,
                 input_scaling: str | None = "standard",
                 shield: float = 0.0, class_mask: str | None = None, noise: str = "seeded",
                 shield_quantile: float = 1.0, lr_half_life: float = 0.0, noise_rank: int = 0,
                 mutate: str = "weights", random_state: Any = None, device: str = "cpu") -> None:
        kw = dict(locals())
        kw.pop("self")
        kw.pop("__class__", None)
        _EMNSBase.__init__(self, **kw)

    def _has_proba(self) -> bool:
        return self.network == "mlp" and self.fitness == "cross_entropy"

    def _mlp_targets(self, yn: np.ndarray, classes: Any, reset: bool) -> tuple[torch.Tensor, int]:
        idx = self._encode_labels(yn, classes, reset=reset)
        return idx, len(self.classes_)

    def _targets(self, yn: np.ndarray, classes: Any, reset: bool) -> torch.Tensor:
        idx = self._encode_labels(yn, classes, reset=reset)
        C = len(self.classes_)
        if C < 2 and reset:
            raise ValueError(f"EMNSClassifier needs at least 2 classes; y has {C} class")
        if C == 2:
            return idx.to(self.dtype).unsqueeze(1)  # (N, 1), target 0/1
        return torch.nn.functional.one_hot(idx, C).to(self.dtype)  # (N, C)

    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        out = self._outputs(X)
        return torch.cat([1.0 - out, out], dim=1) if out.shape[1] == 1 else out

    def _proba_scores(self, X: torch.Tensor) -> torch.Tensor:
        return self._outputs(X)
