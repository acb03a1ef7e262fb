"""EMNS at image scale (ours): resistance-scaled mirrored mutation of a wide MLP, every
candidate of a generation evaluated as one batched matmul on a fresh minibatch.

The network is the EMNS neuron (paper sec. 3.1-3.2) with its aggregation and activation held at their
initial bases (linear aggregation, ``tanh`` activation; a linear output layer) and each neuron's
per-synapse gains and biases folded into one weight matrix and one bias: a plain MLP, whose forward
pass is a matmul. Every parameter keeps its value and its resistance, and every change of a value is
scaled by ``1 - r`` as in the paper's universal rule (sec. 2.1, ``theta + N(0,1) * mu * (1 - r)``).

One generation (:func:`generation`), everything derived from one integer seed (so a distributed
worker needs only the seed and the fitness values, the OpenAI-ES seed trick):

1. a minibatch of ``batch_size`` training samples and the noise ``eps`` (lambda/2, n) are drawn;
2. candidates ``theta +- eps * mu * (1 - r)`` (mirrored pairs, Brockhoff et al. 2010) are scored in one
   batched forward pass (:func:`population_logits`); the mirrored pairs share the centre's first-layer
   product, ``X W^T +- X D^T``, so the widest layer costs lambda/2 + 1 matmuls, not lambda;
3. fitness is ``-MSE`` against one-hot targets (paper sec. 7.1, the default) or ``-cross-entropy``
   (``fitness="cross_entropy"``), optionally shaped into centred ranks (``shaping="rank"``);
4. the centre moves along the fitness-weighted noise (the search-gradient estimate of natural
   evolution strategies; Wierstra et al. 2014, eq. 8 with mirrored samples), by ``centre="adam"`` /
   ``"momentum"`` / ``"recombine"`` (the weighted mean of the best half, EMNS's ``TUNED``), and every
   step is scaled by ``1 - r`` as the mutation is;
5. optionally (``resistance_rate`` > 0) the resistances adapt from the selected noise, the rule of
   :func:`gradfree.emns.evolution.adapt_resistances` with centred-rank weights.

Low-rank mutation of the widest layer (ours, ``noise_rank`` = r > 0): the first layer's weight noise
of a candidate is ``V^T U / sqrt(r)`` with ``U`` (r, in) and ``V`` (r, hidden) standard normal, instead
of an (hidden, in) matrix of independent draws. Its entries are still uncorrelated with unit variance,
so the search-gradient estimate (step 4) is unchanged in expectation; but the candidate's first layer
is ``X W^T + ((X U^T) V) mu (1 - r) / sqrt(r)``: the centre's product is shared by the whole population
and each candidate adds a rank-r term, so a candidate costs O(batch (in + hidden) r) instead of
O(batch in hidden) (the low-rank perturbations of Sarkar et al. 2025, "Evolution Strategies at the
Hyperscale", arXiv:2511.16652). The paper's rule ``theta + N mu (1 - r)`` is kept exactly because the
first layer's weights share one resistance: ``noise_rank`` > 0 needs fixed resistances
(``resistance_rate`` = 0, no ``shield``). Measured on Fashion-MNIST (benchmarks/results/
emns_fashion_search.md): 2-6x cheaper per candidate, but it learns less per evaluation and is level or
behind per second, so every preset leaves it off.

Activity mutation (ours, ``mutate="activities"``, :mod:`gradfree.emns.activity`): the mirrored mutation
moves from the weights to every neuron's summed input on every sample, and the weights step along the
measured slopes; far less noisy on image-sized networks (``gradfree.emns.IMAGES`` uses it).

Continual-learning shield (ours, ``shield`` > 0; the paper's claim that resistances preserve what was
learned, sec. 5.2 and 8.3): at the end of each ``fit`` / ``partial_fit`` call (a task) every
parameter's drift over the call, ``|theta_end - theta_start|``, normalised by a quantile
(``shield_quantile``; 1 = the largest) of its layer's drifts and clipped at 1, raises the resistance
floor: ``r_floor = max(r_floor, shield * drift / ref)``. Resistances never fall below the floor, so the
parameters a task moved are shielded from later tasks' mutations and steps. Derived from EMNS's own
quantities, no gradient is computed. Measured on split digits (class-incremental, 5 x 2): it does not
pay - a strong shield keeps task 1 (99-100 %) but later tasks stop learning; a mild one changes nothing
(see ``gradfree.emns.CONTINUAL``). Under Adam every parameter drifts by about the same amount, so drift
says little about which parameters a task relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from gradfree.core.io import saveable
from gradfree.core.schema import HISTORY, Spec, integer, real, tensor
from gradfree.emns.evolution import recombination_weights
from gradfree.emns.mlp_forward import (  # noqa: F401 - re-exported: callers import them from here
    _tanh,
    flops_per_candidate,
    forward,
    layer_shapes,
    n_params,
    population_logits,
    unpack,
)
from gradfree.emns.noise import (  # noqa: F401 - re-exported: callers import them from here
    TABLE_SEED,
    TABLE_SIZE,
    _compact_sigma,
    combine_noise,
    expand_noise,
    generation_noise,
    noise_length,
    noise_table,
)

CENTRES = ("adam", "momentum", "recombine")
#: the wide MLP's fitness and its shaping (policy search has its own: gradfree.emns.control.search)
MLP_FITNESSES = ("mse", "cross_entropy")
MLP_SHAPINGS = ("none", "rank")
CLASS_MASKS = (None, "present", "seen")
NOISES = ("seeded", "table")
MUTATES = ("weights", "activities")
W_R, B_R = 0.2, 0.1  # initial resistances of weights and biases (the reference's, docs/decisions.md)


@saveable
@dataclass(frozen=True)
class ScaleParams:
    """Hyper-parameters of the wide-MLP population (evosax style: frozen)."""

    population_size: int = 64  # lambda, even (mirrored pairs)
    mutation_rate: float = 0.08  # mu
    learning_rate: float = 0.015  # centre step (adam / momentum)
    lr_half_life: float = 0.0  # generations over which the centre step halves (0 = constant)
    centre: str = "adam"
    fitness: str = "cross_entropy"
    shaping: str = "rank"
    batch_size: int = 256  # 0 = the whole training set each generation
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    resistance_rate: float = 0.0
    r_max: float = 0.95
    # noise: "seeded" (fresh N(0,1) draws from the generation's seed) or "table" (rows of one shared table of
    # 2^24 N(0,1) values at offsets drawn from the seed: the shared noise table of Salimans et al. 2017,
    # "Evolution Strategies as a Scalable Alternative to Reinforcement Learning", sec. 2.1)
    noise: str = "seeded"
    shield: float = 0.0  # continual-learning shield (module docstring); 0 = off
    shield_quantile: float = 1.0  # drifts are normalised by this quantile of their layer's drifts (1 = max)
    # continual: the classes the fitness sees - None (all), "present" (those in the call's data) or "seen"
    # (those in this or any earlier call's data)
    class_mask: str | None = None
    noise_rank: int = 0  # r > 0: rank-r mutation of the first layer's weights (module docstring); 0 = full
    # what mutates: "weights" (the paper's theta + N mu (1 - r)) or "activities" (ours: every neuron's summed
    # input on every sample, z +- N mu; the weights step along the measured slope, gradfree.emns.activity)
    mutate: str = "weights"

    def check(self) -> ScaleParams:
        if self.population_size < 2 or self.population_size % 2:
            raise ValueError(f"population_size must be even and >= 2, got {self.population_size}")
        if (self.centre not in CENTRES or self.fitness not in MLP_FITNESSES
                or self.shaping not in MLP_SHAPINGS):
            raise ValueError(f"centre in {CENTRES}, fitness in {MLP_FITNESSES}, shaping in {MLP_SHAPINGS}; "
                             f"got {self.centre!r}, {self.fitness!r}, {self.shaping!r}")
        if not (self.mutation_rate > 0 and self.learning_rate >= 0 and 0 <= self.r_max < 1
                and self.resistance_rate >= 0 and 0 <= self.shield <= 1 and self.batch_size >= 0
                and self.class_mask in CLASS_MASKS and self.noise in NOISES and self.lr_half_life >= 0
                and self.noise_rank >= 0):
            raise ValueError(f"invalid scale parameters: {self}")
        if self.mutate not in MUTATES:
            raise ValueError(f"mutate must be one of {MUTATES}, got {self.mutate!r}")
        if self.mutate == "activities" and (self.centre != "adam" or self.resistance_rate > 0
                                            or self.noise_rank):
            raise ValueError('mutate="activities" needs centre="adam", resistance_rate=0 and noise_rank=0 '
                             "(no per-parameter mutation to recombine, adapt resistances from or factorise)")
        if self.noise_rank and (self.resistance_rate > 0 or self.shield > 0):
            raise ValueError("noise_rank > 0 needs fixed resistances (resistance_rate=0, shield=0): the "
                             "low-rank mutation scales the first layer's weights by one shared 1 - r")
        return self


@saveable
@dataclass
class ScaleState:
    """Explicit state of a wide-MLP EMNS run (saved whole by ``save``)."""

    sizes: list[int]
    theta: torch.Tensor  # (n,) the centre
    resistances: torch.Tensor  # (n,)
    r_floor: torch.Tensor  # (n,) resistances never fall below it (shield)
    m: torch.Tensor  # (n,) first moment (adam / momentum)
    v: torch.Tensor  # (n,) second moment (adam)
    mutation_rate: float
    seen: torch.Tensor | None = None  # (n_out,) bool: classes met so far (class_mask="seen")
    n_evaluations: int = 0
    n_generations: int = 0
    history: dict = field(default_factory=dict)

    _saved_fields: ClassVar[dict] = {
        "sizes": Spec("ints", low=1),
        "theta": tensor("n"),
        "resistances": tensor("n", low=0, high=1),
        "r_floor": tensor("n", low=0, high=1),
        "m": tensor("n"),
        "v": tensor("n", low=0),
        "mutation_rate": real(0, None),
        "seen": tensor("n_out", dtype=("bool",), nullable=True),
        "n_evaluations": integer(0),
        "n_generations": integer(0),
        "history": HISTORY,
    }

    def _check_loaded(self) -> None:
        """theta holds exactly the parameters of the layer sizes; seen has one flag per output."""
        if len(self.sizes) < 2 or n_params(self.sizes) != self.theta.numel():
            raise ValueError(f"sizes {self.sizes[:8]} need {n_params(self.sizes[:64])} parameters, theta "
                             f"holds {self.theta.numel()}")
        if self.seen is not None and self.seen.numel() != self.sizes[-1]:
            raise ValueError("seen does not have one entry per output")


def init_state(sizes: list[int], rng: torch.Generator, p: ScaleParams, device: torch.device) -> ScaleState:
    """Weights N(0, 1/fan_in), biases 0; resistances 0.2 (weights) / 0.1 (biases), the reference's."""
    n = n_params(sizes)
    theta = torch.zeros(n, device=device)
    res = torch.full((n,), B_R, device=device)
    o = 0
    for a, b in layer_shapes(sizes):
        theta[o:o + a * b] = torch.randn(a * b, generator=rng, device=rng.device).to(device) / math.sqrt(b)
        res[o:o + a * b] = W_R
        o += a * b + a
    z = torch.zeros(n, device=device)
    return ScaleState(sizes=list(sizes), theta=theta, resistances=res.clamp(max=p.r_max), r_floor=z.clone(),
                      m=z.clone(), v=z.clone(), mutation_rate=float(p.mutation_rate),
                      history={"evaluations": [], "fitness": [], "mutation_rate": []})


def sample_fitness(out: torch.Tensor, y: torch.Tensor, kind: str, class_mask: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Fitness (P, N) of every network's output on every sample: outputs (P, N, C) against labels ``y``
    (N,): -squared error on one-hot (paper sec. 7.1) or -cross-entropy; regression targets ``y`` (N, C):
    -squared error; ``class_mask`` (C,) bool restricts the classes the fitness sees."""
    if y.is_floating_point():  # regression targets (N, C)
        return -((out - y.unsqueeze(0)) ** 2).mean(dim=2)
    C = out.shape[-1]
    if class_mask is not None:
        out = out[..., class_mask]
        y = torch.cumsum(class_mask.long(), 0)[y] - 1  # labels re-indexed among the kept classes
        C = out.shape[-1]
    if kind == "mse":
        target = torch.nn.functional.one_hot(y, C).to(out.dtype)
        return -((out - target) ** 2).mean(dim=2)
    picked = out.gather(-1, y.view(1, -1, 1).expand(out.shape[0], -1, 1)).squeeze(-1)
    return picked - torch.logsumexp(out, dim=-1)  # logsumexp: ~5x faster than log_softmax


def fitness_of(out: torch.Tensor, y: torch.Tensor, kind: str, class_mask: torch.Tensor | None = None
               ) -> torch.Tensor:
    """Fitness (P,) of outputs (P, N, C): :func:`sample_fitness` averaged over the samples."""
    return torch.nan_to_num(sample_fitness(out, y, kind, class_mask).mean(1), nan=-torch.inf)


def centred_ranks(f: torch.Tensor) -> torch.Tensor:
    """Ranks of ``f`` mapped linearly onto [-0.5, 0.5] (ties broken by position)."""
    P = f.shape[0]
    r = torch.empty(P, device=f.device)
    r[torch.argsort(f, stable=True)] = torch.arange(P, dtype=torch.float32, device=f.device)
    return r / max(P - 1, 1) - 0.5


def evaluate_generation(st: ScaleState, p: ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor,
                        class_mask: torch.Tensor | None = None, batch: torch.Tensor | None = None,
                        pairs: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fitness (lambda,) of the generation of ``seed`` (first the +, then the - candidates) and its noise.

    ``batch`` (optional sample indices) replaces the seed's own minibatch (benchmarks feed every method
    the same minibatches). ``pairs`` scores only those mirrored pairs (a distributed worker's share):
    fitness (2 * len(pairs),), + candidates first; each pair's value is the same as in the whole generation.
    """
    eps, idx = _noise_and_batch(st, p, seed, X.shape[0])
    idx = batch if batch is not None else idx
    xb, yb = (X, y) if idx is None else (X[idx], y[idx])
    sigma = st.mutation_rate * (1.0 - st.resistances)  # sec. 2.1: the step of every parameter
    if p.noise_rank:
        sigma = _compact_sigma(sigma, st.sizes, p.noise_rank)
    e = eps if pairs is None else eps[torch.as_tensor(pairs, dtype=torch.long, device=eps.device)]
    out = population_logits(st.theta, e * sigma, st.sizes, xb, p.noise_rank)
    return fitness_of(out, yb, p.fitness, class_mask), eps


def _noise_and_batch(st: ScaleState, p: ScaleParams, seed: int, n_samples: int
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
    return generation_noise(seed, p.population_size // 2, noise_length(st.sizes, p.noise_rank), n_samples,
                            p.batch_size, st.theta.device, p.noise)


def draw_noise(st: ScaleState, p: ScaleParams, seed: int, n_samples: int) -> torch.Tensor:
    """The generation's noise as :func:`apply_update` takes it (what a distributed driver rebuilds)."""
    return _noise_and_batch(st, p, seed, n_samples)[0]


def apply_update(st: ScaleState, p: ScaleParams, f: torch.Tensor, eps: torch.Tensor) -> None:
    """Move the centre (and adapt the resistances) from the generation's fitness ``f`` and noise."""
    K, rank = eps.shape[0], p.noise_rank  # eps (K, noise_length(sizes, rank))
    u = centred_ranks(f) if p.shaping == "rank" else (f - f.mean()) / (f.std() + 1e-12)
    u = torch.nan_to_num(u, nan=0.0, neginf=-0.5).to(eps.dtype)
    diff, total = u[:K] - u[K:], u[:K] + u[K:]
    scale = 1.0 - st.resistances  # every change is resistance-scaled (sec. 2.1)
    sigma = st.mutation_rate * scale
    st.n_generations += 1
    st.n_evaluations += 2 * K
    if p.centre == "recombine":  # EMNS TUNED: weighted mean of the best half (log-rank weights)
        order = torch.argsort(f, descending=True, stable=True)[:K]
        w = recombination_weights(K, f.device)
        signs = torch.where(order < K, 1.0, -1.0)
        if rank:  # w @ z without z: each pair's weight (a pair may be selected twice, once each sign)
            zw = combine_noise(torch.zeros(K, device=f.device).index_add_(0, order % K, w * signs), eps,
                               st.sizes, rank)
        else:
            z = signs[:, None] * eps[order % K]  # (K, n) the selected candidates' noise
            zw = w @ z
        st.theta = st.theta + zw * sigma
    else:
        de = combine_noise(diff, eps, st.sizes, rank)  # (n,) fitness-weighted noise
        g = de / (2 * K) / sigma  # search gradient (ascent), per unit of parameter
        if p.centre == "adam":
            step = adam_direction(st, p, g)
        else:  # heavy-ball momentum on the search direction in noise units
            st.m = p.beta1 * st.m + (1 - p.beta1) * de / (2 * K)
            step = st.m
        st.theta = st.theta + centre_step(st, p) * scale * step
    if p.weight_decay:
        st.theta = st.theta * (1.0 - p.learning_rate * p.weight_decay * scale)
    if p.resistance_rate > 0:  # the rule of evolution.adapt_resistances (sep-CMA-ES's diagonal on 1 - r)
        if p.centre == "recombine":  # the selected noise with the recombination weights
            s = scale * torch.exp(0.5 * p.resistance_rate * (w @ (z * z) - 1.0))
        else:  # centred-rank weights on the pairs (the utilities sum to zero)
            s = scale * torch.exp(0.5 * p.resistance_rate * (total @ (eps * eps - 1.0)) / K)
        st.resistances = (1.0 - s).clamp(0.0, p.r_max)
    st.resistances = torch.maximum(st.resistances, st.r_floor)


def adam_direction(st: ScaleState, p: ScaleParams, g: torch.Tensor) -> torch.Tensor:
    """Adam's bias-corrected direction (n,) for the ascent direction ``g`` (updates the moments)."""
    t = st.n_generations
    st.m = p.beta1 * st.m + (1 - p.beta1) * g
    st.v = p.beta2 * st.v + (1 - p.beta2) * g * g
    return (st.m / (1 - p.beta1 ** t)) / ((st.v / (1 - p.beta2 ** t)).sqrt() + 1e-8)


def centre_step(st: ScaleState, p: ScaleParams) -> float:
    """The centre's step size this generation: ``learning_rate`` halving every ``lr_half_life``."""
    return p.learning_rate * (0.5 ** (st.n_generations / p.lr_half_life) if p.lr_half_life > 0 else 1.0)


def generation(st: ScaleState, p: ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor,
               class_mask: torch.Tensor | None = None, batch: torch.Tensor | None = None) -> float:
    """One generation in-process; returns the mean fitness of the candidates."""
    if p.mutate != "weights":
        raise ValueError('scale.generation mutates the weights; mutate="activities" is '
                         "gradfree.emns.activity.generation")
    f, eps = evaluate_generation(st, p, seed, X, y, class_mask, batch)
    apply_update(st, p, f, eps)
    return float(f[torch.isfinite(f)].mean()) if torch.isfinite(f).any() else -math.inf


def consolidate(st: ScaleState, theta_start: torch.Tensor, p: ScaleParams) -> None:
    """The shield (module docstring): raise the resistance floor where this task moved the parameters."""
    if p.shield <= 0:
        return
    drift = (st.theta - theta_start).abs()
    o = 0
    for a, b in layer_shapes(st.sizes):
        for sl in (slice(o, o + a * b), slice(o + a * b, o + a * b + a)):
            d = drift[sl]
            ref = d.max() if p.shield_quantile >= 1 else torch.quantile(d, p.shield_quantile)
            rel = (d / ref.clamp(min=1e-12)).clamp(max=1.0)
            st.r_floor[sl] = torch.maximum(st.r_floor[sl], p.shield * rel)
        o += a * b + a
    st.r_floor.clamp_(max=p.r_max)
    st.resistances = torch.maximum(st.resistances, st.r_floor)
