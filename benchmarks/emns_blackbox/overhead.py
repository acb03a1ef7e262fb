"""Each engine's own cost per evaluation (the objective returns zeros), EMNS beside pycma and EvoTorch's
SNES in the same process: ``--overhead``."""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np
import torch

from gradfree.emns import EMNSOptimizer


def overhead(gens=60, repeats=3):
    """Seconds of each engine's own work per evaluation (the objective returns zeros), same process:
    ``{case: (wall, cpu)}``, medians of ``repeats`` interleaved repeats. Wall time is
    ``time.perf_counter``; CPU time is this process's ``time.process_time`` (on a shared machine the
    meaningful one: waiting for a core is not charged)."""
    import cma
    from evotorch import Problem
    from evotorch.algorithms import SNES

    def timed(step, evals):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(gens):
            step()
        return (time.perf_counter() - t0) / (gens * evals), (time.process_time() - c0) / (gens * evals)

    def emns(D, dtype):
        opt = EMNSOptimizer(np.zeros(D), 1.0, random_state=0, tolfun=None, tolx=None, dtype=dtype)
        z = np.zeros(opt.strategy_.popsize)
        opt.tell(opt.ask(), z)
        return timed(lambda: opt.tell(opt.ask(), z), opt.strategy_.popsize)

    def pycma():
        es = cma.CMAEvolutionStrategy(np.zeros(100), 1.0, {"verbose": -9, "seed": 1})
        es.tell(X := es.ask(), [0.0] * len(X))

        def step():
            X = es.ask()
            es.tell(X, [0.0] * len(X))
        return timed(step, es.popsize)

    def snes():
        prob = Problem("min", lambda X: torch.zeros(X.shape[0]), solution_length=10_000,  # float32
                       initial_bounds=(-1, 1), vectorized=True, seed=0)
        alg = SNES(prob, stdev_init=1.0)
        alg.step()
        return timed(alg.step, alg._popsize)

    cases = {f"emns D={D} {dtype}": (lambda D=D, dtype=dtype: emns(D, dtype))
             for D, dtype in ((100, "float64"), (10_000, "float64"), (10_000, "float32"))}
    cases["pycma D=100"] = pycma
    cases["evotorch SNES D=10000"] = snes
    runs = {k: [] for k in cases}
    for _ in range(repeats):
        for k, fn in cases.items():
            runs[k].append(fn())
    return {k: tuple(float(x) for x in np.median(np.array(v), axis=0)) for k, v in runs.items()}, runs



def write_overhead(out, repeats, log) -> None:
    """Run :func:`overhead`, log one line per engine and write ``out/overhead.json`` (with the load
    average before the run and the machine)."""
    load = os.getloadavg()[0]
    res, runs = overhead(repeats=repeats)
    log(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores); "
        f"medians of {repeats} interleaved repeats")
    for k, (wall, cpu) in res.items():
        log(f"{k:>24}: {wall * 1e6:8.1f} us wall, {cpu * 1e6:8.1f} us CPU per evaluation")
    (out / "overhead.json").write_text(json.dumps({
        "seconds_per_evaluation": {k: v[0] for k, v in res.items()},
        "cpu_seconds_per_evaluation": {k: v[1] for k, v in res.items()},
        "repeats_wall_cpu": runs, "load_average_before": load,
        "machine": platform.processor() or platform.machine(), "threads": 1}, indent=1))
