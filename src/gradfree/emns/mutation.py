"""The universal mutation rule (sec. 2.1-2.2), seed-addressable noise, and the mutation-rate rules.

Every mutation is generated from one integer seed: ``candidate_noise(seed, n_params)`` returns the
(2, n_params) standard-normal draws (row 0 for values, row 1 for resistances) of a CPU
``torch.Generator`` seeded with it. The estimator draws these seeds from its master ``rng_``. A
distributed worker that holds the same parent state can therefore rebuild any candidate from
``(seed, mutation_rate)`` alone (the OpenAI-ES seed trick):

    noise = candidate_noise(seed, n_params, device)
    values, resistances = mutate(parent_values, parent_resistances, noise, mu, params)

Noise is drawn on the CPU (then moved) so the same seed gives the same mutation on every device.
"""

from __future__ import annotations

import math

import torch

from gradfree.emns.params import EMNSParams

SEED_HIGH = 2**62
_SCRATCH = torch.Generator(device="cpu")


def draw_seeds(rng: torch.Generator, k: int) -> list[int]:
    """``k`` candidate seeds from the master generator."""
    return torch.randint(0, SEED_HIGH, (k,), generator=rng, device=rng.device).tolist()


def candidate_noise(seed: int, n_params: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2, n_params) float32 N(0, 1) noise of one candidate, a pure function of ``seed``."""
    _SCRATCH.manual_seed(int(seed))
    noise = torch.randn(2, n_params, generator=_SCRATCH, dtype=torch.float32)
    return noise if str(device) == "cpu" else noise.to(device)


def population_noise(seeds: list[int], n_params: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2, P, n_params): the noise of each seed, stacked (values row 0, resistances row 1)."""
    return torch.stack([candidate_noise(s, n_params) for s in seeds], dim=1).to(device)


def mutate(values: torch.Tensor, resistances: torch.Tensor, noise: torch.Tensor, mu: float,
           p: EMNSParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Mutated copies of ``values`` and ``resistances`` (any leading shape; noise is (2, *shape)).

    theta <- theta + N(0,1) * mu * (1 - r)                (eq. of sec. 2.1)
    r     <- r + N(0,1) * mu * factor * (1 - r), clipped  (sec. 2.2; factor 1 in the paper)

    Both use the resistance before this step, as the paper's ``EvolvableParameter.mutate`` does.
    With ``p.self_adaptive`` (ours) the resistance mutates first and the value uses the new one, the
    order of self-adaptive evolution strategies: selection then sees each step size with its effect.
    With ``p.resistance_rate > 0`` (ours) the resistance is not mutated here: it is adapted after
    selection from the selected value noise (:func:`gradfree.emns.evolution.adapt_resistances`).
    """
    step = mu * (1.0 - resistances)
    if p.resistance_rate > 0:
        return _clip_values(values + noise[0] * step, p), resistances.clone()
    r = (resistances + noise[1] * (step * p.resistance_factor)).clamp_(p.r_min, p.r_max)
    if p.self_adaptive:
        step = mu * (1.0 - r)
    return _clip_values(values + noise[0] * step, p), r


def _clip_values(v: torch.Tensor, p: EMNSParams) -> torch.Tensor:
    return v.clamp_(-p.value_clip, p.value_clip) if math.isfinite(p.value_clip) else v


def adapt_rate_preset(mu: float, delta: float, p: EMNSParams) -> float:
    """Sec. 2.3: mu * alpha if Delta P > 0, * beta if < 0, * gamma otherwise (dead band: reference)."""
    if delta > p.dead_band:
        mu *= p.alpha
    elif delta < -p.dead_band:
        mu *= p.beta
    else:
        mu *= p.gamma
    return float(min(max(mu, p.mu_min), p.mu_max))


def adapt_rate_success(mu: float, success: float, p: EMNSParams, damping: float = 3.0,
                       target: float = 0.2) -> float:
    """Rechenberg's 1/5th success rule (ours, option ``rate_rule="success"``).

    ``success`` is the fraction of candidates of this generation that beat their parent
    (1 or 0 for a single-individual step). mu grows when more than ``target`` succeed and shrinks when
    fewer do: mu * exp((success - target) / ((1 - target) * damping)).
    """
    mu *= math.exp((success - target) / ((1.0 - target) * damping))
    return float(min(max(mu, p.mu_min), p.mu_max))
