"""Optimiser adapters for continuous problems in bbob's domain [-5, 5]^D: EMNS ``blackbox`` with and
without IPOP restarts, pycma (default, IPOP, separable), nevergrad's ``NGOpt`` and EvoTorch's SNES.

Each takes ``(f, x0, budget, seed)``, ``f`` mapping an (n, D) array to n values, and minimises ``f``
from ``x0`` until ``budget`` evaluations are spent (or ``f`` raises to stop the run).
"""

from __future__ import annotations

import numpy as np
import torch

from gradfree.emns import EMNSOptimizer

BOUND = 5.0  # bbob's search domain [-5, 5]^D


def run_emns(f, x0, budget, seed, ipop, options=None):
    """EMNS "blackbox" from x0 with sigma0 = 2 (COCO's domain / 5), restarted from uniform points in the
    domain until the budget is spent; with ``ipop`` the population doubles at each restart."""
    rng, used, pop, first = np.random.default_rng(seed), 0, None, True
    while used < budget:
        start = x0 if first else rng.uniform(-4, 4, len(x0))
        opt = EMNSOptimizer(start, 2.0, popsize=pop, random_state=int(rng.integers(2**31)),
                            maxfevals=budget - used, options=options)
        opt.optimize(f, vectorized=True)
        used += opt.result.evaluations
        pop = opt.strategy_.popsize * 2 if ipop else opt.strategy_.popsize
        pop += pop % 2
        first = False


def run_cma(f, x0, budget, seed, mode):
    import cma

    opts = {"maxfevals": budget, "seed": seed + 1, "verbose": -9, "bounds": None}
    if mode == "sep":
        opts["CMA_diagonal"] = True
    restarts = 9 if mode == "ipop" else 0
    cma.fmin2(None, x0, 2.0, opts, restarts=restarts, incpopsize=2,
              parallel_objective=lambda X: list(f(np.asarray(X))))


def _patch_nevergrad() -> None:
    """nevergrad 1.0.12's meta-model calls ``float()`` on a (1,) array, which NumPy >= 2.4 refuses
    (TypeError); report it as the meta-model failure nevergrad already handles (it then falls back to
    its base optimiser, as it does whenever the surrogate cannot be fitted)."""
    from nevergrad.optimization import metamodel, optimizerlib

    original = metamodel.learn_on_k_best
    if getattr(original, "_patched", False):
        return

    def learn(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except TypeError as exc:
            raise metamodel.MetaModelFailure(str(exc)) from None

    learn._patched = True
    optimizerlib.learn_on_k_best = learn


def run_ngopt(f, x0, budget, seed):
    import nevergrad as ng

    _patch_nevergrad()

    param = ng.p.Array(init=x0).set_bounds(-BOUND, BOUND)
    param.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.NGOpt(parametrization=param, budget=budget)
    for _ in range(budget):
        cand = opt.ask()
        opt.tell(cand, float(f(cand.value[None])[0]))


def run_snes(f, x0, budget, seed):
    from evotorch import Problem
    from evotorch.algorithms import SNES

    D = len(x0)
    prob = Problem("min", lambda X: torch.as_tensor(f(X.detach().cpu().double().numpy())),
                   solution_length=D, initial_bounds=(-BOUND, BOUND), vectorized=True, seed=seed,
                   dtype=torch.float64)
    searcher = SNES(prob, stdev_init=2.0, center_init=torch.as_tensor(x0))
    used = 0
    while used + searcher._popsize <= budget:
        searcher.step()
        used += searcher._popsize


CONTINUOUS = {
    "emns": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=False),
    "emns-ipop": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=True),
    # resistances up to 0.999 (the step ratio between variables up to 1000, not 20): ill-conditioning
    "emns-ipop-r999": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=True, options={"r_max": 0.999}),
    "cma": lambda f, x0, b, s: run_cma(f, x0, b, s, "default"),
    "cma-ipop": lambda f, x0, b, s: run_cma(f, x0, b, s, "ipop"),
    "sep-cma": lambda f, x0, b, s: run_cma(f, x0, b, s, "sep"),
    "ngopt": run_ngopt,
    "snes": run_snes,
}
