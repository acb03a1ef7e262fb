"""PBO runner: every bit-string optimiser on IOH's PBO problems, IOH's analyzer logging every run."""

from __future__ import annotations

import time

import numpy as np

from .discrete import DISCRETE


def pbo(names, fids, n, budget, runs, out, log, slow=(), slow_runs=None):
    """Best fitness found per (function, optimiser), mean over runs; IOH's analyzer logs every run."""
    import ioh

    best, times = {}, {}
    for name in names:
        logger = ioh.logger.Analyzer(root=str(out / "ioh"), folder_name=name.replace(" ", "_"),
                                     algorithm_name=name)
        t0 = time.process_time()
        for fid in fids:
            problem = ioh.get_problem(fid, instance=1, dimension=n, problem_class=ioh.ProblemClass.PBO)
            problem.attach_logger(logger)
            vals = []
            for run in range(slow_runs if name in slow and slow_runs else runs):
                DISCRETE[name](problem, n, budget, np.random.default_rng(10_000 * fid + run))
                vals.append(float(problem.state.current_best.y))
                problem.reset()
            best.setdefault(str(fid), {})[name] = {"mean": float(np.mean(vals)), "runs": vals,
                                                   "problem": problem.meta_data.name}
            problem.detach_logger()
        logger.close()
        times[name] = time.process_time() - t0
        log(f"PBO {name}: {times[name]:.1f} s CPU")
    return best, times

