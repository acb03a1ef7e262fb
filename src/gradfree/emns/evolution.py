"""Explicit evolution state and the selection strategies (one step each).

* ``"none"`` (the paper, sec. 2.1 and 7.1): mutate, evaluate, keep - every mutation is accepted.
* ``"revert"`` (the reference's ``train``): keep the mutation if strictly better, otherwise revert to
  the previous state with probability ``revert_prob`` (0.7).
* ``"plus"`` ((mu+lambda); (1+lambda) with one parent) and ``"comma"`` ((mu,lambda)): lambda
  candidates, candidate ``c`` mutated from parent ``c % mu`` with the noise of its own seed, all
  evaluated in one batched forward pass; the best ``mu`` (of parents and candidates for "plus", of
  candidates only for "comma") become the parents. Resistance-scaled mutation is unchanged.

Mutation-rate rules: ``"preset"`` (sec. 2.3 with the preset's alpha/beta/gamma; Delta P is the best
fitness of this step minus the best fitness before it), ``"success"`` (1/5th rule, ours) or ``"csa"``
(ours, with ``recombine`` only: cumulative step-size adaptation, the CMA-ES rule for sigma, applied to
mu; Hansen, "The CMA Evolution Strategy: A Tutorial", eq. 31-32 with C = I in the noise's coordinates).

Option ``resistance_rate`` (ours, ``EMNSParams.resistance_rate``, with ``recombine`` only): the
resistances stop mutating at random and are instead adapted from the value noise of the selected
candidates (:func:`adapt_resistances`): sep-CMA-ES's diagonal update written on the step scale 1 - r.
Both rules read the selected candidates' noise, rebuilt from their seeds, so a distributed worker that
knows only seeds and fitness values reaches the same state.

Option ``mirrored`` (ours, ``EMNSParams.mirrored``): candidates come in pairs that share a seed, the
second with the value noise negated (mirrored sampling, Brockhoff et al. 2010).

An *evaluation* is one forward pass of one candidate over the training data; budgets count those.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from gradfree.core.io import saveable
from gradfree.core.schema import HISTORY, Spec, integer, real, tensor
from gradfree.emns.mutation import (
    adapt_rate_preset,
    adapt_rate_success,
    candidate_noise,
    draw_seeds,
    mutate,
    population_noise,
)
from gradfree.emns.network import n_params, n_synapses
from gradfree.emns.params import EMNSParams

#: selection rules of the paper network's evolution loop (``step_single`` / ``step_population``; the
#: engine's strategies have their own, :data:`gradfree.emns.engine.SELECTIONS`), and their spellings
NETWORK_SELECTIONS = ("none", "revert", "plus", "comma")
ALIASES = {"(1+lambda)": "plus", "(mu+lambda)": "plus", "(mu,lambda)": "comma"}
#: mutation-rate rules of the paper network's evolution loop (the engine adds ``"fixed"``:
#: :data:`gradfree.emns.engine.RATE_RULES`)
NETWORK_RATE_RULES = ("preset", "success", "csa")
HIST_BINS = 20
# evaluate(values (P, n_params), masks, sizes) -> fitness (P,) on the current training data
Evaluate = Callable[[torch.Tensor, torch.Tensor, list], torch.Tensor]


@saveable
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
    # best individual seen since the last change of data or structure (option keep_best)
    elite_values: torch.Tensor | None = None  # (1, n_params)
    elite_resistances: torch.Tensor | None = None
    elite_fitness: float = -math.inf
    path: torch.Tensor | None = None  # (n_params,) evolution path of rate_rule="csa" (zeros when None)

    _saved_fields: ClassVar[dict] = {
        "sizes": Spec("ints", low=1),
        "values": tensor("M", "n"),
        "resistances": tensor("M", "n", low=0),
        "masks": tensor("s", low=0, high=1),
        "fitness": tensor("M", finite=False),
        "mutation_rate": real(0, None),
        "n_evaluations": integer(0),
        "n_generations": integer(0),
        "best_fitness": real(finite=False),
        "last_improvement": integer(0),
        "prune_counts": tensor("s", low=0, nullable=True),
        "data_key": Spec("str"),
        "history": HISTORY,
        "elite_values": tensor(1, "n", nullable=True),
        "elite_resistances": tensor(1, "n", low=0, nullable=True),
        "elite_fitness": real(finite=False),
        "path": tensor("n", nullable=True),
    }

    def _check_loaded(self) -> None:
        """values and masks hold exactly what the layer sizes need; no fitness is NaN."""
        if len(self.sizes) < 2 or n_params(self.sizes) != self.values.shape[1] \
                or n_synapses(self.sizes) != self.masks.numel():
            raise ValueError(f"sizes {self.sizes[:8]} do not match the stored values / masks")
        if bool(torch.isnan(self.fitness).any()):
            raise ValueError("fitness holds NaN")


def update_elite(st: EvoState, reset: bool = False) -> None:
    """Copy the best parent into the elite if it is better (or unconditionally with ``reset``)."""
    best = int(st.fitness.argmax())
    f = float(st.fitness[best])
    if reset or f > st.elite_fitness or st.elite_values is None:
        st.elite_values = st.values[best:best + 1].clone()
        st.elite_resistances = st.resistances[best:best + 1].clone()
        st.elite_fitness = f


def new_history() -> dict:
    return {"evaluations": [], "fitness": [], "mutation_rate": [], "accepted": [], "n_params": [],
            "resistance_hist": [], "resistance_hist_evaluations": [], "events": []}


def log(st: EvoState, accepted: float, hist_every: int) -> None:
    """One history row per step; a resistance histogram of the best parent every ``hist_every`` steps
    (the first step included)."""
    h = st.history
    h["evaluations"].append(st.n_evaluations)
    h["fitness"].append(float(st.fitness.max()))
    h["mutation_rate"].append(st.mutation_rate)
    h["accepted"].append(float(accepted))
    h["n_params"].append(int(st.values.shape[1]))
    if hist_every and (st.n_generations - 1) % hist_every == 0:
        r = st.resistances[int(st.fitness.argmax())]
        counts = np.histogram(r.float().cpu().numpy(), bins=HIST_BINS, range=(0.0, 1.0))[0]
        h["resistance_hist"].append(counts.tolist())
        h["resistance_hist_evaluations"].append(st.n_evaluations)


def _update_rate(st: EvoState, p: EMNSParams, rule: str, delta: float, success: float,
                 damping: float) -> None:
    if rule == "preset":
        st.mutation_rate = adapt_rate_preset(st.mutation_rate, delta, p)  # sec. 2.3
    elif rule == "csa":
        raise ValueError('rate_rule="csa" needs a population with recombination')
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


def candidates(st: EvoState, seeds: list[int], p: EMNSParams, idx: list[int] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Values and resistances (k, n_params) of candidates ``idx`` (default all) of a generation.

    Candidate ``c`` is parent ``c % M`` mutated with the noise of ``seeds[c]``; elementwise, so any
    subset is bit-identical to the same rows of the whole generation.
    """
    M, n = st.values.shape
    idx = list(range(len(seeds))) if idx is None else [int(i) for i in idx]
    if not idx:
        return st.values[:0], st.resistances[:0]
    parent = torch.tensor(idx, device=st.values.device) % M
    return mutate(st.values[parent], st.resistances[parent], _noise(seeds, idx, n, p, st.values.device),
                  st.mutation_rate, p)


def _noise(seeds: list[int] | dict[int, int], idx: list[int], n: int, p: EMNSParams, device) -> torch.Tensor:
    """(2, k, n) noise of candidates ``idx``; with ``p.mirrored`` odd candidates negate the value noise."""
    noise = population_noise([seeds[i] for i in idx], n, device)
    if p.mirrored:
        noise[0] *= torch.tensor([-1.0 if i % 2 else 1.0 for i in idx], device=device)[:, None]
    return noise


def generation_seeds(rng: torch.Generator, lam: int, p: EMNSParams) -> list[int]:
    """The ``lam`` candidate seeds of a generation (mirrored: each drawn seed used twice in a row)."""
    if not p.mirrored:
        return draw_seeds(rng, lam)
    return [s for s in draw_seeds(rng, (lam + 1) // 2) for _ in (0, 1)][:lam]


def step_population(st: EvoState, evaluate: Evaluate, p: EMNSParams, rng: torch.Generator, *,
                    selection: str, lam: int, rate_rule: str, damping: float, recombine: int = 0) -> float:
    """One generation of (mu+lambda) / (mu,lambda); returns the fraction of candidates beating a parent."""
    seeds = generation_seeds(rng, lam, p)
    v, r = candidates(st, seeds, p)  # (lam, n)
    f = evaluate(v, st.masks, st.sizes)  # (lam,)  all candidates in one pass
    return apply_generation(st, seeds, f, p, evaluate, selection=selection, rate_rule=rate_rule,
                            damping=damping, recombine=recombine, cand=(v, r))


def apply_generation(st: EvoState, seeds: list[int], f: torch.Tensor, p: EMNSParams, evaluate: Evaluate, *,
                     selection: str, rate_rule: str, damping: float, recombine: int = 0,
                     cand: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
    """Selection, elite and mutation-rate update of a generation whose fitness ``f`` (lam,) is known.

    The distributed entry point: a worker that knows only the generation's ``seeds`` and the gathered
    fitness values calls it with ``cand=None`` and rebuilds just the winners from their seeds, reaching
    the same state as the in-process :func:`step_population` (which passes the candidates it has).
    With ``recombine`` the new parent is evaluated with ``evaluate`` (deterministic on every worker).
    """
    M = st.values.shape[0]
    lam = len(seeds)

    def rows(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if cand is not None:
            return cand[0][idx], cand[1][idx]
        return candidates(st, seeds, p, idx.tolist())

    st.n_evaluations += lam
    st.n_generations += 1
    parent = torch.arange(lam, device=f.device) % M
    # a tie counts as a success: on a flat plateau (e.g. saturated clips) the 1/5th rule then widens mu
    success = float((f >= st.fitness.to(f.device)[parent]).float().mean())
    best_before = float(st.fitness.max())
    if st.elite_values is not None:  # keep_best: the elite may be any evaluated candidate
        c = int(f.argmax())
        if float(f[c]) > st.elite_fitness:
            st.elite_values, st.elite_resistances = (t.clone() for t in rows(torch.tensor([c])))
            st.elite_fitness = float(f[c])
    if recombine:  # ours: (mu/mu_w, lambda), the one parent becomes the weighted mean of the best k
        order = torch.sort(f, descending=True, stable=True).indices[:recombine]
        v, r = rows(order)
        w = recombination_weights(recombine, v.device)[:, None]
        z = (_noise(seeds, order.tolist(), v.shape[1], p, v.device)[0]  # (k, n) the selected value noise
             if p.resistance_rate > 0 or rate_rule == "csa" else None)
        st.values, st.resistances = _recombine(st.resistances, v, r, z, w, p)
        st.fitness = evaluate(st.values, st.masks, st.sizes)  # one more evaluation
        st.n_evaluations += 1
    else:
        f = f.to(st.fitness.device)
        allf = torch.cat([st.fitness, f]) if selection == "plus" else f  # parents first: ties keep them
        order = torch.sort(allf, descending=True, stable=True).indices[:M]
        off = M if selection == "plus" else 0
        is_parent = order < off
        v, r = st.values.clone(), st.resistances.clone()
        v[is_parent], r[is_parent] = st.values[order[is_parent]], st.resistances[order[is_parent]]
        cv, cr = rows(order[~is_parent] - off)
        v[~is_parent], r[~is_parent] = cv, cr
        st.values, st.resistances, st.fitness = v, r, allf[order]
    if rate_rule == "csa" and recombine:  # without recombination _update_rate refuses "csa"
        adapt_rate_csa(st, (w * z).sum(0), w, p)
    else:
        _update_rate(st, p, rate_rule, float(st.fitness.max()) - best_before, success, damping)
    return success


def adapt_resistances(resistances: torch.Tensor, z: torch.Tensor, w: torch.Tensor,
                      p: EMNSParams) -> torch.Tensor:
    """Derandomised resistance update (ours, option ``resistance_rate``): (1, n) -> (1, n).

    The step scale s = 1 - r of each parameter grows when the selected candidates' noise ``z`` (k, n)
    (weights ``w`` (k, 1)) was larger than expected along it and shrinks when smaller:
    s <- s * exp(c / 2 * (sum_k w_k z_k^2 - 1)) - sep-CMA-ES's rank-mu diagonal update of the variance
    (Ros & Hansen 2008) in log form, on the resistance the paper scales every mutation with.
    """
    wz2 = (w * z).mul_(z)  # (w z) z in place: one (k, n) temporary instead of two (same values)
    scale = (1.0 - resistances) * torch.exp(0.5 * p.resistance_rate * (wz2.sum(0) - 1.0))
    return (1.0 - scale).clamp_(p.r_min, p.r_max)


def adapt_rate_csa(st: EvoState, zw: torch.Tensor, w: torch.Tensor, p: EMNSParams) -> None:
    """Cumulative step-size adaptation of mu (ours, ``rate_rule="csa"``; CMA tutorial eq. 31-32).

    ``zw`` (n,) is the weighted mean of the selected value noise; the path accumulates it, and mu grows
    when the path is longer than a random walk's (steps in one direction) and shrinks when shorter.
    """
    n = zw.shape[0]
    mueff = 1.0 / float((w * w).sum())
    cs = (mueff + 2.0) / (n + mueff + 5.0)
    ds = 1.0 + 2.0 * max(0.0, math.sqrt((mueff - 1.0) / (n + 1.0)) - 1.0) + cs
    chi_n = math.sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n))  # E||N(0, I)||
    if st.path is None or st.path.shape != zw.shape:  # fresh, or the structure changed
        st.path = torch.zeros_like(zw)
    st.path = (1.0 - cs) * st.path + math.sqrt(cs * (2.0 - cs) * mueff) * zw  # eq. 31
    growth = min(cs / ds * (float(st.path.norm()) / chi_n - 1.0), 700.0)  # capped: exp would overflow
    mu = st.mutation_rate * math.exp(growth)  # eq. 32
    st.mutation_rate = float(min(max(mu, p.mu_min), p.mu_max))


def recombination_weights(k: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Log-rank weights of the best ``k`` candidates (CMA-ES's), summing to 1."""
    w = math.log(k + 0.5) - torch.log(torch.arange(1, k + 1, dtype=torch.float32, device=device))
    return w / w.sum()


def regenerate(parent_values: torch.Tensor, parent_resistances: torch.Tensor, seed: int, mu: float,
               p: EMNSParams, index: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rebuild one candidate (values, resistances), each (n_params,), from its parent, seed and rate.

    This is all a distributed worker needs: parents are shared, and a generation's winners travel as
    (seed, candidate index, fitness) plus the one global mutation rate; the parent is candidate index %
    mu, and with ``p.mirrored`` an odd index is the mirrored twin.
    """
    noise = _noise({index: seed}, [index], parent_values.shape[-1], p, parent_values.device)[:, 0]
    return mutate(parent_values, parent_resistances, noise, mu, p)


def recombine_from_seeds(parent_values: torch.Tensor, parent_resistances: torch.Tensor,
                         ranked_seeds: list[int], mu: float, p: EMNSParams,
                         ranked_indices: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The parent after a ``recombination`` generation, rebuilt from the winners' seeds (best first) and,
    with ``p.mirrored``, their candidate indices."""
    if p.mirrored and ranked_indices is None:
        raise ValueError("mirrored candidates need their indices (ranked_indices) to be rebuilt")
    idx = ranked_indices or [0] * len(ranked_seeds)
    n, dev = parent_values.shape[-1], parent_values.device
    cands = [regenerate(parent_values, parent_resistances, s, mu, p, i) for s, i in zip(ranked_seeds, idx)]
    z = (torch.stack([_noise({i: s}, [i], n, p, dev)[0, 0] for s, i in zip(ranked_seeds, idx)])  # (k, n)
         if p.resistance_rate > 0 else None)
    w = recombination_weights(len(ranked_seeds), dev)[:, None]
    v, r = _recombine(parent_resistances.reshape(1, n), torch.stack([c[0] for c in cands]),
                      torch.stack([c[1] for c in cands]), z, w, p)
    return v[0], r[0]


def _recombine(parent_r: torch.Tensor, v: torch.Tensor, r: torch.Tensor, z: torch.Tensor | None,
               w: torch.Tensor, p: EMNSParams) -> tuple[torch.Tensor, torch.Tensor]:
    """The new parent (1, n) from the selected candidates' values and resistances (k, n), their value
    noise z (k, n) and weights w (k, 1): weighted means, or with ``resistance_rate`` the parent's
    resistances adapted by :func:`adapt_resistances`."""
    if p.resistance_rate > 0:
        new_r = adapt_resistances(parent_r, z, w, p)
    else:
        new_r = (w * r).sum(0, keepdim=True).clamp_(p.r_min, p.r_max)
    return (w * v).sum(0, keepdim=True), new_r

