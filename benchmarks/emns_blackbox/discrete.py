"""Optimiser adapters for bit strings (IOH's PBO problems, maximised): EMNS ``plus`` in its bit
configurations, the (1+lambda) EA (standard bit mutation, written here) and nevergrad's
``DiscreteOnePlusOne``.

Each takes ``(problem, n, budget, rng)``; the problem records its best point itself (IOH's state).
"""

from __future__ import annotations

import numpy as np

from gradfree.emns import EMNSOptimizer


def ea_one_plus_lambda(problem, n, budget, rng, lam):
    """(1+lambda) EA: standard bit mutation at rate 1/n (at least one bit flips, Pinto & Doerr's shift)."""
    x = rng.integers(0, 2, n)
    fx, used = problem(x.tolist()), 1
    while used + lam <= budget:
        flips = rng.random((lam, n)) < 1.0 / n
        none = ~flips.any(1)
        flips[none, rng.integers(0, n, none.sum())] = True
        Y = np.where(flips, 1 - x, x)
        fy = np.array([problem(y.tolist()) for y in Y])
        used += lam
        b = int(fy.argmax())
        if fy[b] >= fx:
            x, fx = Y[b], fy[b]


def emns_bits(problem, n, budget, rng, popsize, neutral=False, uniform=False):
    """EMNS "plus" on bit strings (per-bit flip rate mu (1 - r_i), 1/5th rule). ``neutral`` (our named
    configuration): an offspring as good as its parent replaces it (the EA's ">=", neutral moves across
    plateaus; only strict improvements count as successes) and mu never falls below 1/n, the EA's rate
    (without the floor the 1/5th rule drives mu down on rugged functions until one bit flips at a time).
    ``uniform`` (ours, a probe of the resistances' part): the resistances do not mutate
    (``resistance_factor`` 0), so every bit flips at rate mu: the adaptive rate without per-bit rates."""
    options = {"rate_rule": "success", **({"neutral": True, "mu_min": 1.0 / n} if neutral else {}),
               **({"resistance_factor": 0.0} if uniform else {})}
    opt = EMNSOptimizer(rng.integers(0, 2, n).astype(float), 1.0 / n, strategy="plus", vartype="binary",
                        popsize=popsize, random_state=int(rng.integers(2**31)), maxfevals=budget,
                        options=options, tolfun=None)
    opt.optimize(lambda X: -np.array([problem(x.astype(int).tolist()) for x in X]), vectorized=True)


def ng_discrete(problem, n, budget, rng):
    import nevergrad as ng

    param = ng.p.Choice([0, 1], repetitions=n)
    param.random_state = np.random.RandomState(int(rng.integers(2**31)))
    opt = ng.optimizers.DiscreteOnePlusOne(parametrization=param, budget=budget)
    for _ in range(budget):
        c = opt.ask()
        opt.tell(c, -float(problem(list(c.value))))


DISCRETE = {
    "emns-bits": lambda p, n, b, r: emns_bits(p, n, b, r, 1),
    "emns-bits-10": lambda p, n, b, r: emns_bits(p, n, b, r, 10),
    "emns-bits-neutral": lambda p, n, b, r: emns_bits(p, n, b, r, 1, neutral=True),
    "emns-bits-10-neutral": lambda p, n, b, r: emns_bits(p, n, b, r, 10, neutral=True),
    "emns-bits-neutral-uniform": lambda p, n, b, r: emns_bits(p, n, b, r, 1, neutral=True, uniform=True),
    "(1+1) EA": lambda p, n, b, r: ea_one_plus_lambda(p, n, b, r, 1),
    "(1+10) EA": lambda p, n, b, r: ea_one_plus_lambda(p, n, b, r, 10),
    "ng-discrete": ng_discrete,
}
