"""A quick probe of EMNS configurations on single bbob functions: ERT / D to f - f_opt <= 1e-8 over COCO's
15 default instances at the full budget (1e4 x D evaluations), without COCO's observer (minutes, where
``benchmarks/long_runs/coco_full.py`` takes hours). Seed set 0 is the COCO run's own seeds, so its ERT
equals the committed unit's; ``--reps N`` adds seed sets 1..N-1 to show the seed spread.

    python benchmarks/probe_coco_ert.py r999,r9999,cma-ipop 1,2,3,4,5 2 --reps 3

Prints one JSON line per (seed set, configuration, function, dimension).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/, home of emns_blackbox
from emns_blackbox.continuous import run_cma, run_emns

#: the probed configurations (``emns-ipop-r999`` of the COCO run is ``r999``)
CONFIGS = {
    "r999": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=True, options={"r_max": 0.999}),
    "r9999": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=True, options={"r_max": 0.9999}),
    "r999-rr05": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=True,
                                              options={"r_max": 0.999, "resistance_rate": 0.5}),
    "r999-rr01": lambda f, x0, b, s: run_emns(f, x0, b, s, ipop=True,
                                              options={"r_max": 0.999, "resistance_rate": 0.1}),
    "cma-ipop": lambda f, x0, b, s: run_cma(f, x0, b, s, "ipop"),
}


class _Hit(Exception):
    """The final target was hit: the run ends (as in the COCO run)."""


def ert(runner, fid: int, dim: int, rep: int, mult: float = 1e4) -> tuple[float, int]:
    """(ERT / D, successes) of ``runner`` on bbob function ``fid`` in dimension ``dim``."""
    import cocoex

    total, hits = 0, 0
    for problem in cocoex.Suite("bbob", "", f"dimensions:{dim} function_indices:{fid}"):
        n = [0]

        def f(X, problem=problem, n=n):
            out = []
            for x in np.atleast_2d(X):
                out.append(problem(x))
                n[0] += 1
                if problem.final_target_hit:
                    raise _Hit
            return np.array(out)

        seed = 100_000 * dim + 1_000 * fid + problem.id_instance + 10_000_000 * rep  # rep 0: coco_full's
        try:
            runner(f, problem.initial_solution, int(mult * dim), seed)
        except _Hit:
            hits += 1
        total += n[0]
        problem.free()
    return (total / hits / dim if hits else float("inf")), hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("functions", help="bbob function numbers, comma-separated")
    ap.add_argument("dims", help="dimensions, comma-separated")
    ap.add_argument("--reps", type=int, default=1, help="seed sets (0: the COCO run's)")
    args = ap.parse_args()
    names = args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"unknown configurations {unknown}; known: {list(CONFIGS)}")
    torch.set_num_threads(1)
    for dim in map(int, args.dims.split(",")):
        for fid in map(int, args.functions.split(",")):
            for rep in range(args.reps):
                for name in names:
                    t0 = time.process_time()
                    e, hits = ert(CONFIGS[name], fid, dim, rep)
                    print(json.dumps(dict(rep=rep, config=name, f=fid, D=dim, ert_per_D=round(e, 1),
                                          successes=hits, cpu_s=round(time.process_time() - t0, 1))),
                          flush=True)


if __name__ == "__main__":
    main()
