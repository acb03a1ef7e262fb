"""The EMNS evolution engine: resistance-scaled mutation, co-evolving resistances and an adaptive
mutation rate on a flat vector, one whole population per step (ask), updated from its fitness (tell).

Every rule of gradfree's EMNS is a named :class:`Strategy` here, built from the same functions the
estimators call (:mod:`gradfree.emns.mutation`, :mod:`gradfree.emns.evolution`,
:mod:`gradfree.emns.scale`, :mod:`gradfree.emns.activity`):

==============  ==========================================================================================
``"paper"``     the paper's rule (sec. 2.1-2.3, 7.1): one individual, ``x + N mu (1 - r)``, its resistances
                mutated by the same rule, every mutation accepted, mu adapted from Delta P (alpha, beta,
                gamma)
``"reference"`` the reference implementation's hill climber: the ``"reference"`` constants
                (:mod:`gradfree.emns.params`), a worse mutation reverted with probability 0.7
``"plus"``      (1+lambda) selection with the paper's mutation and rate rule (``EMNSRegressor``'s default)
``"tuned"``     :data:`gradfree.emns.TUNED`: (lambda/2 / lambda/2_w, lambda) mirrored, the centre the
                log-rank weighted mean of the best half, mu by cumulative step-size adaptation, the
                resistances adapted from the selected mutations (sep-CMA-ES's diagonal rule on 1 - r)
``"blackbox"``  ours, for objectives of any size: ``"tuned"``'s rules with lambda = 4 + 3 ln D (even,
                CMA-ES's default) and no floor on mu, so the run converges to any precision
``"scale"``     the wide-MLP learner's rule (:data:`gradfree.emns.SCALE`): mirrored pairs
                ``x +- N mu (1 - r)``, fitness shaped into centred ranks, the centre moved by Adam along
                the search gradient, every step scaled by ``1 - r``
``"activity"``  activity mutation's update (:mod:`gradfree.emns.activity`) with the variables as the
                mutated activities: mirrored pairs ``x +- mu xi``, the slope from the raw fitness
                differences, Adam's step scaled by ``1 - r``
==============  ==========================================================================================

A ``"gradient"`` strategy's rank update can keep only its best pairs: ``options={"top_pairs": b}``
(ours, from ARS V2-t's top directions; Mania et al. 2018, arXiv:1803.07055) moves the centre along the
``b`` antithetic pairs whose better member is best, ranked among themselves; every candidate still
counts as an evaluation.

Discrete variables (``vartype``): ``"integer"`` reads the mutation on a continuous latent centre and
rounds each candidate to the nearest integer; ``"binary"`` reads ``mu (1 - r_i)`` as the probability
that bit ``i`` flips (at least one bit flips per candidate, as in the (1+lambda) EA's "shift"
mutation; Pinto & Doerr 2018), the resistances co-evolving by the paper's rule and mu adapted by the
1/5th success rule. Bit strings therefore get a self-adaptive, per-bit-protected standard bit mutation.
On plateaus and rugged landscapes add ``options={"neutral": True, "mu_min": 1 / n}`` (ours): an offspring
as good as its parent replaces it, as in the (1+lambda) EA, and mu never falls below the EA's rate 1/n.

Every candidate's noise is a pure function of one integer seed per generation (:func:`noise`), drawn
from the run's generator, so a worker holding the centre can rebuild any row from the seed alone.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from gradfree.core.io import saveable
from gradfree.core.schema import Spec, integer, real, saved_state, tensor
from gradfree.emns import activity, scale
from gradfree.emns.evolution import adapt_rate_csa, adapt_resistances, recombination_weights
from gradfree.emns.mutation import adapt_rate_preset, adapt_rate_success, draw_seeds, mutate
from gradfree.emns.params import PRESETS, EMNSParams

SELECTIONS = ("none", "revert", "plus", "comma", "gradient")
RATE_RULES = ("preset", "success", "csa", "fixed")
VARTYPES = ("continuous", "integer", "binary")
HISTORY = 1000  # generations of best values kept for tolfun


@saveable
@dataclass(frozen=True)
class Strategy:
    """One EMNS configuration of the engine (frozen; :data:`STRATEGIES` names the project's).

    Examples
    --------
    >>> from gradfree.emns import STRATEGIES
    >>> sorted(STRATEGIES)                    # the names EMNSOptimizer(strategy=...) accepts
    ['activity', 'blackbox', 'paper', 'plus', 'reference', 'scale', 'tuned']
    >>> paper = STRATEGIES["paper"]           # one mutant per step, no selection (sec. 2)
    >>> paper.selection, paper.popsize, paper.rate_rule, paper.params.mutation_rate
    ('none', 1, 'preset', 0.5)
    """

    name: str
    params: EMNSParams  # mutation constants: preset, bounds, mirrored, resistance_rate
    selection: str = "plus"  # "none", "revert", "plus", "comma" (with recombination) or "gradient"
    popsize: int = 16  # 0: 4 + 3 ln D rounded up to even (resolved by the optimizer)
    recombination: int = 0  # comma: how many of the best are averaged (0: popsize // 2)
    rate_rule: str = "preset"  # mu: "preset" (sec. 2.3), "success" (1/5th), "csa" or "fixed"
    revert_prob: float = 0.7  # "revert": probability that a worse mutation is undone
    success_damping: float = 3.0
    learning_rate: float = 0.0  # "gradient": Adam's step, in units of sigma0 (SCALE: 0.015 / 0.08)
    update: str = "rank"  # "gradient": "rank" (centred ranks, SCALE) or "slope" (activity mutation)
    r_init: float = 0.0  # initial resistance of every variable
    neutral: bool = False  # "plus" (ours): an offspring as good as its parent replaces it (neutral moves
    #                        across plateaus, as the (1+lambda) EA's ">="); success then means "better"
    centre: str = "adam"  # "gradient", "rank" update: the centre's optimiser, "adam" or "momentum" (heavy
    #                       ball on the search direction in noise units; ours, for control)
    top_pairs: int = 0  # "gradient", "rank" update: only the best pairs (by the better of the two) enter
    #                     the update, ranked among themselves (ARS V2-t's top directions); 0: every pair

    _saved_fields: ClassVar[dict] = {
        "name": Spec("str"),
        "params": saved_state(EMNSParams),
        "selection": Spec("str", choices=SELECTIONS),
        "popsize": integer(1, 2**20),
        "recombination": integer(0, 2**20),
        "rate_rule": Spec("str", choices=RATE_RULES),
        "revert_prob": real(0, 1),
        "success_damping": real(0, None),
        "learning_rate": real(0, None),
        "update": Spec("str", choices=("rank", "slope")),
        "r_init": real(0, 1),
        "neutral": Spec("bool", optional=True),  # absent in files saved before the option
        "centre": Spec("str", choices=("adam", "momentum"), optional=True),  # likewise
        "top_pairs": integer(0, 2**19, optional=True),  # likewise
    }

    def _check_loaded(self) -> None:
        self.check(1)

    def check(self, dim: int) -> Strategy:
        if self.selection not in SELECTIONS or self.rate_rule not in RATE_RULES:
            raise ValueError(f"selection must be one of {SELECTIONS} and rate_rule one of {RATE_RULES}, "
                             f"got {self.selection!r}, {self.rate_rule!r}")
        single = self.selection in ("none", "revert")
        if single and self.popsize != 1:
            raise ValueError(f"strategy {self.name!r} evolves one individual: popsize must be 1, "
                             f"got {self.popsize}")
        if self.popsize < 1 or (self.selection in ("comma", "gradient") and self.popsize < 2):
            raise ValueError(f"popsize must be >= {1 if self.selection == 'plus' else 2}, got {self.popsize}")
        if (self.selection == "gradient" or self.params.mirrored) and self.popsize % 2:
            raise ValueError(f"strategy {self.name!r} samples mirrored pairs: popsize must be even, "
                             f"got {self.popsize}")
        if not 0 <= self.recombination <= self.popsize:
            raise ValueError(f"recombination must be in [0, popsize], got {self.recombination}")
        if self.rate_rule == "csa" and self.selection != "comma":
            raise ValueError('rate_rule="csa" needs selection="comma" (a weighted mean of selected steps)')
        if self.params.resistance_rate > 0 and self.selection not in ("comma", "gradient"):
            raise ValueError("resistance_rate > 0 needs selection 'comma' or 'gradient'")
        if self.update not in ("rank", "slope") or not 0 <= self.r_init <= self.params.r_max:
            raise ValueError(f"update must be 'rank' or 'slope' and r_init in [0, r_max], got "
                             f"{self.update!r}, {self.r_init}")
        if self.centre not in ("adam", "momentum") or (self.centre != "adam" and (
                self.selection != "gradient" or self.update != "rank")):
            raise ValueError(f'centre must be "adam", or "momentum" with the "gradient" selection\'s rank '
                             f'update, got {self.centre!r}')
        if self.top_pairs and (self.selection != "gradient" or self.update != "rank"
                               or self.top_pairs > self.popsize // 2):
            raise ValueError(f'top_pairs > 0 needs the "gradient" selection\'s rank update and at most '
                             f"popsize // 2 = {self.popsize // 2} pairs, got {self.top_pairs}")
        if self.neutral and self.selection != "plus":
            raise ValueError(f"neutral=True needs selection 'plus', got {self.selection!r}")
        if not (0 <= self.revert_prob <= 1 and self.success_damping > 0 and self.learning_rate >= 0):
            raise ValueError(f"invalid strategy: {self}")
        return self

    def with_options(self, **options) -> Strategy:
        """A copy with fields of the strategy or of its ``params`` replaced (unknown names refused)."""
        own = {f.name for f in dataclasses.fields(self)} - {"name", "params"}
        mut = {f.name for f in dataclasses.fields(EMNSParams)}
        unknown = set(options) - own - mut
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; strategy options: {sorted(own)}, "
                             f"mutation options: {sorted(mut)}")
        p = dataclasses.replace(self.params, **{k: v for k, v in options.items() if k in mut})
        return dataclasses.replace(self, params=p, **{k: v for k, v in options.items() if k in own})

    @property
    def n_selected(self) -> int:
        return self.recombination or self.popsize // 2


_REF = PRESETS["reference"]
_TUNED_PARAMS = dataclasses.replace(PRESETS["paper"], mu_min=0.02, r_max=0.95, mirrored=True,
                                    resistance_rate=0.2)
_GRADIENT = dataclasses.replace(PRESETS["paper"], r_max=0.95, mirrored=True)

#: The project's EMNS rules as named engine strategies (module docstring). ``popsize`` is the default
#: (0: 4 + 3 ln D, even; ``EMNSOptimizer(popsize=...)`` overrides it); sigma0 is mu_0.
STRATEGIES: dict[str, Strategy] = {
    "paper": Strategy("paper", PRESETS["paper"], selection="none", popsize=1),
    "reference": Strategy("reference", _REF, selection="revert", popsize=1),
    "plus": Strategy("plus", PRESETS["paper"], selection="plus", popsize=16),
    "tuned": Strategy("tuned", _TUNED_PARAMS, selection="comma", popsize=16, rate_rule="csa"),
    "blackbox": Strategy("blackbox", dataclasses.replace(_TUNED_PARAMS, mu_min=0.0), selection="comma",
                         popsize=0, rate_rule="csa"),
    "scale": Strategy("scale", _GRADIENT, selection="gradient", popsize=64, rate_rule="fixed",
                      learning_rate=0.015 / 0.08, r_init=0.2),
    "activity": Strategy("activity", _GRADIENT, selection="gradient", popsize=256, rate_rule="fixed",
                         learning_rate=0.01 / 0.08, update="slope", r_init=0.2),
}


@saveable
@dataclass
class EngineState:
    """Everything a run needs to continue exactly (saved whole with the optimizer).

    Field names follow :class:`gradfree.emns.scale.ScaleState` where the meaning is the same, so the
    wide-MLP learner's update functions act on this state unchanged.
    """

    sizes: list[int]  # [D]
    theta: torch.Tensor  # (D,) the centre / parent (the latent centre for integer variables)
    resistances: torch.Tensor  # (D,)
    r_floor: torch.Tensor  # (D,) resistances never fall below it (zeros here)
    m: torch.Tensor  # (D,) Adam's first moment ("gradient" strategies)
    v: torch.Tensor  # (D,) Adam's second moment
    mutation_rate: float
    path: torch.Tensor | None = None  # (D,) evolution path of rate_rule="csa"
    f_parent: float = math.inf  # fitness of the parent (single / plus); inf = not evaluated
    n_evaluations: int = 0
    n_generations: int = 0
    seed: int = -1  # the pending generation's noise seed (-1: nothing asked)
    asked: torch.Tensor | None = None  # (P, D) the rows handed out by the last ask
    best_history: list = field(default_factory=list)  # best f of the recent generations (tolfun)
    sigma0: float = 1.0  # the initial mutation rate (the unit of a "gradient" strategy's learning_rate)
    step_scale: float = 1.0  # multiplies a "gradient" strategy's centre step (a schedule's, set by its face)

    _saved_fields: ClassVar[dict] = {
        "sizes": Spec("ints", low=1),
        "theta": tensor("D", dtype=("float32", "float64")),
        "resistances": tensor("D", dtype=("float32", "float64"), low=0, high=1),
        "r_floor": tensor("D", dtype=("float32", "float64"), low=0, high=1),
        "m": tensor("D", dtype=("float32", "float64")),
        "v": tensor("D", dtype=("float32", "float64"), low=0),
        "mutation_rate": real(0, None),
        "path": tensor("D", dtype=("float32", "float64"), nullable=True),
        "f_parent": real(finite=False),
        "n_evaluations": integer(0),
        "n_generations": integer(0),
        "seed": integer(-1, 2**62),
        "asked": tensor("P", "D", dtype=("float32", "float64"), nullable=True),
        "best_history": Spec("floats", finite=False),
        "sigma0": real(0, None),
        "step_scale": real(0, None, optional=True),  # absent in files saved before it: 1.0
    }

    def _check_loaded(self) -> None:
        """sizes is [D]; a pending generation has its seed; f_parent is not NaN."""
        if list(self.sizes) != [self.theta.numel()]:
            raise ValueError(f"sizes must be [{self.theta.numel()}], got {self.sizes[:4]}")
        if (self.asked is None) != (self.seed < 0) or math.isnan(self.f_parent):
            raise ValueError("asked and seed must be set together; f_parent must not be NaN")
        if len(self.best_history) > HISTORY or any(math.isnan(v) for v in self.best_history):
            raise ValueError(f"best_history holds at most {HISTORY} values, none NaN")
        if not (self.mutation_rate > 0 and self.sigma0 > 0):
            raise ValueError("mutation_rate and sigma0 must be > 0")


def init_state(x0: torch.Tensor, sigma0: float, s: Strategy) -> EngineState:
    """A fresh run centred on ``x0`` (D,) with mu_0 = ``sigma0``."""
    z = torch.zeros_like(x0)
    return EngineState(sizes=[int(x0.shape[0])], theta=x0.clone(), resistances=torch.full_like(x0, s.r_init),
                       r_floor=z.clone(), m=z.clone(), v=z.clone(), mutation_rate=float(sigma0),
                       sigma0=float(sigma0))


def noise(seed: int, s: Strategy, dim: int, dtype: torch.dtype, device: torch.device,
          binary: bool = False, cast: bool = True, work: dict | None = None
          ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The generation's unit noise from its seed: value noise (P, D) (mirrored or "gradient": the
    K = P / 2 directions of the pairs, + candidates first, then -), resistance noise (P, D) or None,
    uniforms (P, D) for bit flips or None. Without ``cast`` the value noise stays float32 (exact in
    any wider dtype: the caller casts it where it copies it anyway) and is drawn into ``work``."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    P, p = s.popsize, s.params
    half = P // 2 if (p.mirrored or s.selection == "gradient") else P
    # float32 draws (vectorised in torch, ~5x faster than float64), then the engine's dtype
    if cast:
        z = torch.randn(half, dim, generator=g).to(device, dtype)
    else:  # the same draws, into a reused buffer
        z = torch.randn(half, dim, generator=g, out=_buffer(work, "draws", (half, dim), torch.empty(0)))
    zr = None
    if p.resistance_rate == 0 and s.selection != "gradient":
        zr = torch.randn(P, dim, generator=g).to(device, dtype)
    u = torch.rand(P, dim, generator=g).to(device, dtype) if binary else None
    return z, zr, u


def candidates(st: EngineState, s: Strategy, seed: int, vartype: str, work: dict | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows (P, D) of the generation of ``seed``, their latent values, resistances and value noise.

    ``work`` (optional) keeps the (P, D) buffers of mirrored pairs from one generation to the next:
    at large D, allocating them afresh costs the kernel a page fault per 4 KiB (measured: more system
    time than the arithmetic). The returned rows then live in ``work`` until the next call."""
    D, x = st.sizes[0], st.theta
    P, mu = s.popsize, st.mutation_rate
    # mirrored pairs without resistance noise (resistance_rate != 0) or a value clip: x +- d
    pairs = (s.selection != "gradient" and s.params.mirrored and s.params.resistance_rate != 0
             and not math.isfinite(s.params.value_clip))
    z, zr, u = noise(seed, s, D, x.dtype, x.device, vartype == "binary", cast=not pairs, work=work)
    if s.selection == "gradient":
        step = mu * (1.0 - st.resistances) if s.update == "rank" else torch.full_like(x, mu)
        X = torch.cat([x + z * step, x - z * step])  # mirrored pairs, + candidates first
        return X, X, st.resistances.expand_as(X), z
    if pairs:
        # sec. 2.1's rule for mirrored pairs: x +- N mu (1 - r), the product computed once per pair,
        # written in place: v[:K] = d + x, v[K:] = x - d (the values of cat([x + d, x - d]));
        # the noise stays the K directions, :func:`tell` gathers the selected ones
        K = P // 2
        zf = _buffer(work, "noise", (K, D), x)
        zf.copy_(z)  # the float32 draws in the engine's dtype (exact)
        v = _buffer(work, "rows", (P, D), x)
        torch.mul(zf, mu * (1.0 - st.resistances), out=v[:K])
        torch.sub(x, v[:K], out=v[K:])
        v[:K].add_(x)
        return v.round() if vartype == "integer" else v, v, st.resistances.expand(P, D), zf
    if s.params.mirrored:
        z = torch.cat([z, -z])
    # the parent (D,) broadcasts against the (P, D) noise: sec. 2.1's rule for every candidate at once
    v, r = mutate(x, st.resistances, (z, z if zr is None else zr), mu, s.params)
    r = r.expand(P, D) if r.dim() == 1 else r
    if vartype == "binary":
        prob = (mu * (1.0 - st.resistances)).clamp(max=0.5).expand(P, D)  # the step read as a flip rate
        flip = u < prob
        none = ~flip.any(1)
        if bool(none.any()):  # at least one flip: the bit with the smallest uniform relative to its rate
            forced = (u / prob.clamp(min=1e-300)).argmin(1)
            flip[none, forced[none]] = True
        X = torch.where(flip, 1.0 - x, x)
        return X, X, r, z
    return (v.round() if vartype == "integer" else v), v, r, z


def _buffer(work: dict | None, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """A tensor of ``shape`` in ``like``'s dtype and device: ``work[name]`` reused when it fits."""
    b = None if work is None else work.get(name)
    if b is None or b.shape != shape or b.dtype != like.dtype or b.device != like.device:
        b = torch.empty(shape, dtype=like.dtype, device=like.device)
        if work is not None:
            work[name] = b
    return b


def _selected_noise(z: torch.Tensor, order: torch.Tensor, P: int, w: torch.Tensor, work: dict | None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The value noise of the rows ``order`` (k, D) and the weights ``w`` (k,) with the rows' signs.

    When ``z`` holds only the K = P / 2 directions of mirrored pairs, row i >= K is -z[i - K]: the
    rows are gathered unsigned and the sign moves onto the weight (exact: ``(-w) z == w (-z)``, and
    the squares the resistances use do not see it), so no signed copy is made."""
    if z.shape[0] == P:
        return z.index_select(0, order), w
    K = z.shape[0]
    out = _buffer(work, "selected noise", (order.shape[0], z.shape[1]), z)
    torch.index_select(z, 0, order % K, out=out)
    return out, torch.where(order < K, w, -w)


def tell(st: EngineState, s: Strategy, rows: tuple[torch.Tensor, ...], f: torch.Tensor,
         rng: torch.Generator, work: dict | None = None) -> None:
    """Update the run from the fitness ``f`` (P,) (minimised) of the generation's ``rows``
    (:func:`candidates`' output; ``work``: its buffers, reused)."""
    X, latent, r, z = rows
    P = f.shape[0]
    p = s.params
    best = int(torch.argmin(f))  # first of ties
    f_best = float(f[best])
    if s.selection == "gradient":
        fit = -f.to(st.theta.dtype)  # the learner's rules maximise
        K = P // 2
        if s.update == "rank" and 0 < s.top_pairs < K:
            keep = top_pairs(fit, s.top_pairs)  # (top_pairs,) pair indices
            scale.apply_update(st, _scale_params(s, 2 * s.top_pairs, st.sigma0, st.step_scale),
                               torch.cat([fit[:K][keep], fit[K:][keep]]), z[keep])
            st.n_evaluations += P - 2 * s.top_pairs  # apply_update counted the selected candidates only
        elif s.update == "rank":
            scale.apply_update(st, _scale_params(s, P, st.sigma0, st.step_scale), fit, z)
        else:
            d = torch.nan_to_num(fit[:K] - fit[K:], nan=0.0, posinf=0.0, neginf=0.0)
            slope = (d @ z) / (2.0 * st.mutation_rate * K)  # activity.slope_gradient with one layer
            activity.step_centre(st, _scale_params(s, P, st.sigma0, st.step_scale), slope, K)
        st.f_parent = f_best
    elif s.selection == "comma":
        k = s.n_selected
        order = torch.sort(f, stable=True).indices[:k]
        w = recombination_weights(k, f.device).to(st.theta.dtype)
        zs, ws = _selected_noise(z, order, P, w, work)  # ws: w with the rows' signs
        sel = _buffer(work, "selected rows", (k, latent.shape[1]), latent)
        st.theta = w @ torch.index_select(latent, 0, order, out=sel)  # index_select: one pass
        if p.resistance_rate > 0:
            st.resistances = adapt_resistances(st.resistances[None], zs, w[:, None], p)[0]
        else:
            st.resistances = (w @ r[order]).clamp_(p.r_min, p.r_max)
        if s.rate_rule == "csa":
            adapt_rate_csa(st, ws @ zs, w, p)
        else:
            _adapt_rate(st, s, _delta(st.f_parent, f_best), float((f <= st.f_parent).float().mean()))
        st.f_parent = f_best
        st.n_generations += 1
        st.n_evaluations += P
    else:  # one parent: "none", "revert", "plus"
        f_old = st.f_parent
        success = float(((f < f_old) if s.neutral else (f <= f_old)).float().mean())
        keep = s.selection == "none" or f_best < f_old or (s.neutral and f_best <= f_old)
        if s.selection == "revert" and not keep:  # the reference: undo a worse mutation with prob. 0.7
            keep = float(torch.rand((), generator=rng, device=rng.device)) >= s.revert_prob
        if keep:
            st.theta, st.resistances, st.f_parent = latent[best].clone(), r[best].clone(), f_best
        delta = _delta(f_old, f_best if s.selection != "plus" else min(f_best, f_old))
        _adapt_rate(st, s, delta, float(f_best < f_old) if P == 1 else success)
        st.n_generations += 1
        st.n_evaluations += P
    st.best_history = (st.best_history + [f_best])[-HISTORY:]


def top_pairs(fit: torch.Tensor, b: int) -> torch.Tensor:
    """Indices (b,) of the ``b`` antithetic pairs of ``fit`` (2K,) (maximised; + candidates first) whose
    better member is best, best first, ties by position, NaN last: ARS V2-t's top directions (Mania et
    al. 2018, "Simple random search provides a competitive approach to reinforcement learning",
    arXiv:1803.07055, Algorithm 2, lines 6-7)."""
    K = fit.shape[0] // 2
    score = torch.nan_to_num(torch.maximum(fit[:K], fit[K:]), nan=-math.inf)
    return torch.sort(score, descending=True, stable=True).indices[:b]


def _delta(f_old: float, f_new: float) -> float:
    """Delta P (sec. 2.3, improvement > 0); a first generation (no parent fitness) counts as no change."""
    return f_old - f_new if math.isfinite(f_old) and math.isfinite(f_new) else 0.0


def _adapt_rate(st: EngineState, s: Strategy, delta: float, success: float) -> None:
    if s.rate_rule == "preset":
        st.mutation_rate = adapt_rate_preset(st.mutation_rate, delta, s.params)
    elif s.rate_rule == "success":
        st.mutation_rate = adapt_rate_success(st.mutation_rate, success, s.params, s.success_damping)


def _scale_params(s: Strategy, P: int, sigma0: float, step_scale: float = 1.0) -> scale.ScaleParams:
    """The wide-MLP learner's parameters equivalent to a "gradient" strategy (its centre's step
    ``learning_rate`` mu_0, times ``step_scale``)."""
    return scale.ScaleParams(population_size=P, mutation_rate=1.0,
                             learning_rate=s.learning_rate * sigma0 * step_scale,
                             centre=s.centre, shaping="rank", resistance_rate=s.params.resistance_rate,
                             r_max=s.params.r_max, batch_size=0)


def draw_seed(rng: torch.Generator) -> int:
    """The next generation's noise seed."""
    return draw_seeds(rng, 1)[0]
