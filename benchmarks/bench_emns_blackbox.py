"""EMNS in the paper's first benchmark domain, non-differentiable optimisation (Karahan 2025, sec. 8.1),
measured with the field's own tools, beside the field's reference optimisers in the same run.

* continuous: COCO's ``bbob`` (24 functions) and ``bbob-noisy`` (30) through ``cocoex`` with COCO's own
  observer (``exdata/``), post-processed by ``cocopp`` into its ECDF and ERT figures (``ppdata/``);
  budget ``--budget-multiplier`` x D evaluations per problem (the issue's full run: 1e4);
* discrete: IOH's PBO suite (``ioh``; OneMax, LeadingOnes, LABS, Ising, MIS, N-Queens, ...) at
  dimension ``--pbo-dim``, ``--pbo-runs`` independent runs per problem, logged by IOH's analyzer;
* peers, same problems and budgets: pycma (default; IPOP restarts), separable CMA-ES (pycma's
  ``CMA_diagonal``), nevergrad's ``NGOpt``, EvoTorch's SNES; on PBO the (1+lambda) EA (standard bit
  mutation at rate 1/n, lambda = 1 and 10, written here) and nevergrad's ``DiscreteOnePlusOne``.
* ``--overhead``: each engine's own cost per evaluation (the objective returns zeros): EMNS at D = 100
  and 10,000 beside pycma at D = 100 and EvoTorch SNES at D = 10,000.

EMNS runs as ``EMNSOptimizer(strategy="blackbox")`` (TUNED's rules sized for D) with restarts that
double the population (``emns-ipop``, ours), and as plain ``"blackbox"`` restarted at the same size
(``emns``). Everything a run writes goes under ``--out``; ``summary.json`` and ``report.md`` hold the
aggregated numbers (fraction of (problem, target) pairs solved at the full budget, COCO's 51 targets
10^[-8..2], per function group).

    python benchmarks/bench_emns_blackbox.py --dims 2,5 --budget-multiplier 1000   # minutes
    python benchmarks/bench_emns_blackbox.py --overhead                              # seconds

Optional dependencies: the extra ``blackbox`` (cma, coco-experiment, cocopp, ioh, nevergrad, evotorch).

The work is done by the ``emns_blackbox`` package beside this file (optimiser adapters, the COCO and PBO
runners, the overhead benchmark, the report); this file is its command line.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import torch

from emns_blackbox.continuous import CONTINUOUS
from emns_blackbox.discrete import DISCRETE
from emns_blackbox.experiment import run_suites
from emns_blackbox.overhead import write_overhead


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", default="bbob,bbob-noisy,pbo")
    ap.add_argument("--dims", default="2,5,10,20")
    ap.add_argument("--budget-multiplier", type=float, default=1e4)
    ap.add_argument("--instances", default="", help="COCO instance_indices, e.g. 1-3 (default: COCO's)")
    ap.add_argument("--functions", default="", help="COCO function_indices, e.g. 1-24")
    ap.add_argument("--noisy-instances", default="", help="instance_indices of bbob-noisy")
    ap.add_argument("--optimizers", default=",".join(CONTINUOUS))
    ap.add_argument("--pbo-optimizers", default=",".join(DISCRETE))
    ap.add_argument("--pbo-dim", type=int, default=64)
    ap.add_argument("--pbo-functions", default="1-23")
    ap.add_argument("--pbo-budget", type=int, default=10_000)
    ap.add_argument("--pbo-runs", type=int, default=5)
    ap.add_argument("--slow", default="", help="peers run on a subset (nevergrad costs 3-9 ms per "
                    "evaluation here): comma-separated names")
    ap.add_argument("--slow-dims", default="", help="dimensions of the --slow peers (default: all)")
    ap.add_argument("--slow-instances", default="", help="COCO instance numbers of the --slow peers, "
                    "e.g. 1,2 (default: all)")
    ap.add_argument("--slow-runs", type=int, default=0, help="PBO runs of the --slow peers (0: --pbo-runs)")
    ap.add_argument("--overhead", action="store_true", help="only the engine-overhead benchmark")
    ap.add_argument("--overhead-repeats", type=int, default=3, help="interleaved repeats of --overhead")
    ap.add_argument("--no-cocopp", action="store_true", help="skip cocopp's figures (numbers only)")
    ap.add_argument("--append", action="store_true", help="add to the --out folder's earlier runs: the "
                    "summary covers every optimiser whose COCO data is there")
    ap.add_argument("--out", default="benchmarks/results/emns_blackbox")
    a = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("nevergrad").setLevel(logging.ERROR)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    if a.overhead:
        write_overhead(out, a.overhead_repeats, log)
        return
    command = "python benchmarks/bench_emns_blackbox.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v not in (None, False, "")
        and k not in ("overhead", "no_cocopp", "append"))
    run_suites(a, out, command, log)


if __name__ == "__main__":
    main()
