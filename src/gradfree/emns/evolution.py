"""Explicit evolution state and the selection strategies (one step each).

* ``"none"`` (the paper, sec. 2.1 and 7.1): mutate, evaluate, keep - every mutation is accepted.
* ``"revert"`` (the reference's ``train``): keep the mutation if strictly better, otherwise revert to
  the previous state with probability ``revert_prob`` (0.7).
* ``"plus"`` ((mu+lambda); (1+lambda) with one parent) and ``"comma"`` ((mu,lambda)): lambda
  candidates, candidate ``c`` mutated from parent ``c % mu`` with the noise of its own seed, all
  evaluated in one batched forward pass; the best ``mu`` (of parents and candidates for "plus", of
  candidates only for "comma") become the parents. Resistance-scaled mutation is unchanged.

Mutation-rate rules: ``"preset"`` (sec. 2.3 with the preset's alpha/beta/gamma; Delta P is the best
fitness of this step minus the best fitness before it) or ``"success"`` (1/5th rule, ours).

An *evaluation* is one forward pass of one candidate over the training data; budgets count those.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gradfree.emns.mutation import (
    adapt_rate_preset,
    adapt_rate_success,
    candidate_noise,
    draw_seeds,
    mutate,
    population_noise,
)
from gradfree.emns.params import EMNSParams

SELECTIONS = ("none", "revert", "plus", "comma")
ALIASES = {"(1+lambda)": "plus", "(mu+lambda)": "plus", "(mu,lambda)": "comma"}
RATE_RULES = ("preset", "success")
HIST_BINS = 20
# evaluate(values (P, n_params), masks, sizes) -> fitness (P,) on the current training data
Evaluate = Callable[[torch.Tensor, torch.Tensor, list], torch.Tensor]


@dataclass
class EvoState:
    """Everything an EMNS run needs to continue exactly (saved whole by ``save``)."""

    sizes: list[int]
    values: torch.Tensor  # (M, n_params)  M = number of parents (1 unless (mu,lambda)/(mu+lambda))
    resistances: torch.Tensor  # (M, n_params)
    masks: torch.Tensor  # (n_syn,) 1 = connection present
    fitness: torch.Tensor  # (M,) -MSE of each parent on the current data
    mutation_rate: float
    n_evaluations: int = 0
    n_generations: int = 0
    best_fitness: float = -math.inf
    last_improvement: int = 0  # n_evaluations at the last improvement of best_fitness
    prune_counts: torch.Tensor | None = None  # (n_syn,) consecutive checks with |g*w| near zero
    data_key: str = ""  # fingerprint of the data the fitness refers to
    history: dict = field(default_factory=dict)


def new_history() -> dict:
    return {"evaluations": [], "fitness": [], "mutation_rate": [], "accepted": [], "n_params": [],
            "resistance_hist": [], "resistance_hist_evaluations": [], "events": []}


def log(st: EvoState, accepted: float, hist_every: int) -> None:
    """One history row per step; a resistance histogram of the best parent every ``hist_every`` steps."""
    h = st.history
    h["evaluations"].append(st.n_evaluations)
    h["fitness"].append(float(st.fitness.max()))
    h["mutation_rate"].append(st.mutation_rate)
    h["accepted"].append(float(accepted))
    h["n_params"].append(int(st.values.shape[1]))
    if hist_every and st.n_generations % hist_every == 0:
        r = st.resistances[int(st.fitness.argmax())]
        counts = np.histogram(r.float().cpu().numpy(), bins=HIST_BINS, range=(0.0, 1.0))[0]
        h["resistance_hist"].append(counts.tolist())
        h["resistance_hist_evaluations"].append(st.n_evaluations)


def _update_rate(st: EvoState, p: EMNSParams, rule: str, delta: float, success: float,
                 damping: float) -> None:
    if rule == "preset":
        st.mutation_rate = adapt_rate_preset(st.mutation_rate, delta, p)  # sec. 2.3
    else:
        st.mutation_rate = adapt_rate_success(st.mutation_rate, success, p, damping)


def step_single(st: EvoState, evaluate: Evaluate, p: EMNSParams, rng: torch.Generator, *,
                selection: str, revert_prob: float, rate_rule: str, damping: float) -> float:
    """One mutate-evaluate step of a single individual ("none" or "revert"). Returns 1.0 if kept."""
    (seed,) = draw_seeds(rng, 1)
    noise = candidate_noise(seed, st.values.shape[1], st.values.device).unsqueeze(1)  # (2, 1, n)
    v, r = mutate(st.values, st.resistances, noise, st.mutation_rate, p)
    f = evaluate(v, st.masks, st.sizes)  # (1,)
    f_new, f_old = float(f[0]), float(st.fitness[0])
    st.n_evaluations += 1
    st.n_generations += 1
    keep = True
    if selection == "revert" and not f_new > f_old:
        keep = float(torch.rand((), generator=rng, device=rng.device)) >= revert_prob
    if keep:
        st.values, st.resistances, st.fitness = v, r, f
    _update_rate(st, p, rate_rule, f_new - f_old, float(f_new > f_old), damping)
    return float(keep)


def step_population(st: EvoState, evaluate: Evaluate, p: EMNSParams, rng: torch.Generator, *,
                    selection: str, lam: int, rate_rule: str, damping: float) -> float:
    """One generation of (mu+lambda) / (mu,lambda); returns the fraction of candidates beating a parent."""
    M, n = st.values.shape
    seeds = draw_seeds(rng, lam)
    parent = torch.arange(lam, device=st.values.device) % M  # candidate c comes from parent c % M
    noise = population_noise(seeds, n, st.values.device)  # (2, lam, n)
    v, r = mutate(st.values[parent], st.resistances[parent], noise, st.mutation_rate, p)
    f = evaluate(v, st.masks, st.sizes)  # (lam,)  all candidates in one pass
    st.n_evaluations += lam
    st.n_generations += 1
    success = float((f > st.fitness[parent]).float().mean())
    best_before = float(st.fitness.max())
    if selection == "plus":  # parents first so that ties keep the parent
        v = torch.cat([st.values, v])
        r = torch.cat([st.resistances, r])
        f = torch.cat([st.fitness, f])
    order = torch.sort(f, descending=True, stable=True).indices[:M]
    st.values, st.resistances, st.fitness = v[order], r[order], f[order]
    _update_rate(st, p, rate_rule, float(st.fitness.max()) - best_before, success, damping)
    return success


def regenerate(parent_values: torch.Tensor, parent_resistances: torch.Tensor, seed: int, mu: float,
               p: EMNSParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Rebuild one candidate (values, resistances), each (n_params,), from its parent, seed and rate.

    This is all a distributed worker needs: parents are shared, and a generation's winners travel as
    (seed, parent index = candidate index % mu, fitness) plus the one global mutation rate.
    """
    noise = candidate_noise(seed, parent_values.shape[-1], parent_values.device)
    return mutate(parent_values, parent_resistances, noise, mu, p)
