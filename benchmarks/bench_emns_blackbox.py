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
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from gradfree.emns import EMNSOptimizer

GROUPS = {"separable f1-5": range(1, 6), "moderate f6-9": range(6, 10),
          "ill-conditioned f10-14": range(10, 15),
          "multi-modal f15-19": range(15, 20), "weak structure f20-24": range(20, 25),
          "multi-modal f15-24": range(15, 25), "all f1-24": range(1, 25)}
NOISY_GROUPS = {"moderate noise f101-106": range(101, 107),
                "severe noise, uni-modal f107-121": range(107, 122),
                "severe noise, multi-modal f122-130": range(122, 131), "noisy f101-130": range(101, 131)}
TARGETS = 10.0 ** np.linspace(2, -8, 51)  # COCO's bbob targets for the ECDF
BOUND = 5.0  # bbob's search domain [-5, 5]^D


# ---------------------------------------------------------------------------------------- optimisers
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


def coco_suite(suite_name, names, dims, mult, instances, functions, out, log, slow=(), slow_dims=None,
               slow_instances=None):
    """Every optimiser on every problem of the suite, COCO's observer logging; returns CPU seconds.
    The optimisers in ``slow`` run only on dimensions ``slow_dims`` and instances ``slow_instances``
    (None: all), same budget; cocopp compares them where they ran."""
    import cocoex

    opts = f"dimensions:{','.join(map(str, dims))}"
    opts += f" instance_indices:{instances}" if instances else ""
    opts += f" function_indices:{functions}" if functions else ""
    times = {}
    for name in names:
        suite = cocoex.Suite(suite_name, "", opts)
        # COCO writes to exdata/<result_folder> under the working directory
        observer = cocoex.Observer(suite_name, f"result_folder: {suite_name}/{name} algorithm_name: {name}")
        t0 = time.process_time()
        for k, problem in enumerate(suite):
            D = problem.dimension
            if name in slow and ((slow_dims and D not in slow_dims)
                                 or (slow_instances and problem.id_instance not in slow_instances)):
                continue
            problem.observe_with(observer)

            def f(X, problem=problem):
                return np.array([problem(x) for x in np.atleast_2d(X)])

            CONTINUOUS[name](f, problem.initial_solution, int(mult * D), 1000 * k + D)
            problem.free()
        times[name] = time.process_time() - t0
        log(f"{suite_name} {name}: {times[name]:.1f} s CPU")
    return times


def coco_summary(suite_name, names, out, groups):
    """Fraction of (run, target) pairs reached at the end, per group and dimension, from COCO's data."""
    import cocopp

    res = {}
    for name in names:
        dsl = cocopp.load(str(out / "exdata" / suite_name / name))
        for ds in dsl:
            hit = np.array([np.isfinite(ds.detEvals([t])[0]).mean() for t in TARGETS]).mean()
            res.setdefault(name, {}).setdefault(ds.dim, {})[ds.funcId] = float(hit)
    table = {}
    for name, by_dim in res.items():
        for dim, by_f in by_dim.items():
            for g, fs in groups.items():
                vals = [by_f[i] for i in fs if i in by_f]
                if vals:
                    table.setdefault(g, {}).setdefault(str(dim), {})[name] = float(np.mean(vals))
    return table, res


def coco_ert(suite_name, names, out, functions, target=1e-8):
    """ERT (evaluations / D) to reach f - f_opt <= ``target``, per function and dimension (inf: never)."""
    import cocopp

    ert = {}
    for name in names:
        for ds in cocopp.load(str(out / "exdata" / suite_name / name)):
            if ds.funcId in functions:
                e = float(ds.detERT([target])[0])
                ert.setdefault(name, {}).setdefault(str(ds.dim), {})[ds.funcId] = e / ds.dim
    return ert


# ---------------------------------------------------------------------------------------------- PBO
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


def emns_bits(problem, n, budget, rng, popsize, neutral=False):
    """EMNS "plus" on bit strings (per-bit flip rate mu (1 - r_i), 1/5th rule). ``neutral`` (our named
    configuration): an offspring as good as its parent replaces it (the EA's ">=", neutral moves across
    plateaus; only strict improvements count as successes) and mu never falls below 1/n, the EA's rate
    (without the floor the 1/5th rule drives mu down on rugged functions until one bit flips at a time)."""
    options = {"rate_rule": "success", **({"neutral": True, "mu_min": 1.0 / n} if neutral else {})}
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
    "(1+1) EA": lambda p, n, b, r: ea_one_plus_lambda(p, n, b, r, 1),
    "(1+10) EA": lambda p, n, b, r: ea_one_plus_lambda(p, n, b, r, 10),
    "ng-discrete": ng_discrete,
}


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


# ------------------------------------------------------------------------------------------ overhead
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


# ---------------------------------------------------------------------------------------------- main
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
        load = os.getloadavg()[0]
        res, runs = overhead(repeats=a.overhead_repeats)
        log(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores); "
            f"medians of {a.overhead_repeats} interleaved repeats")
        for k, (wall, cpu) in res.items():
            log(f"{k:>24}: {wall * 1e6:8.1f} us wall, {cpu * 1e6:8.1f} us CPU per evaluation")
        (out / "overhead.json").write_text(json.dumps({
            "seconds_per_evaluation": {k: v[0] for k, v in res.items()},
            "cpu_seconds_per_evaluation": {k: v[1] for k, v in res.items()},
            "repeats_wall_cpu": runs, "load_average_before": load,
            "machine": platform.processor() or platform.machine(), "threads": 1}, indent=1))
        return
    dims = [int(d) for d in a.dims.split(",")]
    names = a.optimizers.split(",")
    suites = a.suites.split(",")
    slow = [n for n in a.slow.split(",") if n]
    command = "python benchmarks/bench_emns_blackbox.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v not in (None, False, "")
        and k not in ("overhead", "no_cocopp", "append"))
    previous = out / "summary.json"
    earlier = json.loads(previous.read_text()) if a.append and previous.exists() else {}
    summary = {**earlier, "commands": [*earlier.get("commands", []), command], "dims": dims,
        "budget_multiplier": a.budget_multiplier,
        "targets": "51 targets 10^[2..-8]", "slow peers": {"names": slow, "dims": a.slow_dims,
        "instances": a.slow_instances, "pbo runs": a.slow_runs},
        "machine": platform.processor() or platform.machine(),
        "cpu_seconds": earlier.get("cpu_seconds", {})}
    os.chdir(out)  # cocoex and cocopp write relative to the working directory
    here = Path(".")
    for s in suites:
        if s in ("bbob", "bbob-noisy"):
            inst = a.instances if s == "bbob" else (a.noisy_instances or a.instances)
            fun = a.functions if s == "bbob" else ""
            summary["cpu_seconds"].setdefault(s, {}).update(coco_suite(
                s, names, dims, a.budget_multiplier, inst, fun, here, log, slow,
                [int(d) for d in a.slow_dims.split(",") if d],
                [int(i) for i in a.slow_instances.split(",") if i]))
            present = sorted(p.name for p in (here / "exdata" / s).iterdir() if p.is_dir())
            groups = GROUPS if s == "bbob" else NOISY_GROUPS
            summary[s], summary[s + " per function"] = coco_summary(s, present, here, groups)
            if s == "bbob":
                summary["bbob ERT/D f1-5 at 1e-8"] = coco_ert(s, present, here, range(1, 6))
            if not a.no_cocopp:
                import cocopp

                cocopp.genericsettings.outputdir = f"ppdata/{s}"
                cocopp.main(" ".join(f"exdata/{s}/{n}" for n in present))
        elif s == "pbo":
            lo, hi = (int(v) for v in a.pbo_functions.split("-"))
            summary["pbo"], summary["cpu_seconds"]["pbo"] = pbo(
                a.pbo_optimizers.split(","), range(lo, hi + 1), a.pbo_dim, a.pbo_budget, a.pbo_runs, here,
                log,
                slow, a.slow_runs)
            summary["pbo settings"] = {"dim": a.pbo_dim, "budget": a.pbo_budget, "runs": a.pbo_runs,
                                       "instance": 1}
    Path("summary.json").write_text(json.dumps(summary, indent=1, default=float))
    Path("report.md").write_text(report(summary))
    log(report(summary))


def report(s: dict) -> str:
    runs = "\n".join(f"    {c}" for c in s.get("commands", []))
    lines = ["# EMNS on COCO / IOH", "", "Commands (one folder, run in turn):", "", runs, ""]
    for suite in ("bbob", "bbob-noisy"):
        if suite not in s:
            continue
        lines += [f"## {suite}: fraction of (run, target) pairs reached within the budget "
                  f"({s['budget_multiplier']:g} x D evaluations; 51 targets 10^[2..-8])", ""]
        for g, by_dim in s[suite].items():
            names = sorted({n for v in by_dim.values() for n in v})
            lines += [f"**{g}**", "", "| D | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
            for d, v in sorted(by_dim.items(), key=lambda kv: int(kv[0])):
                lines.append(f"| {d} | " + " | ".join(f"{v.get(n, math.nan):.3f}" for n in names) + " |")
            lines.append("")
    if "bbob ERT/D f1-5 at 1e-8" in s:
        lines += ["## bbob separable f1-5: ERT / D to f - f_opt <= 1e-8 (inf: not reached)", ""]
        for name, by_dim in s["bbob ERT/D f1-5 at 1e-8"].items():
            for d, by_f in sorted(by_dim.items(), key=lambda kv: int(kv[0])):
                ert = ", ".join(f"f{f} {e:.0f}" for f, e in sorted(by_f.items()))
                lines.append(f"- {name}, D={d}: {ert}")
        lines.append("")
    if "pbo" in s:
        st = s["pbo settings"]
        lines += [f"## IOH PBO, n = {st['dim']}, budget {st['budget']}, {st['runs']} runs, instance 1: "
                  "mean best fitness (maximised)", ""]
        names = sorted({n for v in s["pbo"].values() for n in v})
        lines += ["| f | problem | " + " | ".join(names) + " |", "|---|---" + "|---" * len(names) + "|"]
        for fid, v in sorted(s["pbo"].items(), key=lambda kv: int(kv[0])):
            prob = next(iter(v.values()))["problem"]
            lines.append(f"| {fid} | {prob} | " + " | ".join(f"{v[n]['mean']:.2f}" for n in names) + " |")
        lines.append("")
    lines += ["CPU seconds: " + json.dumps(s["cpu_seconds"], default=lambda x: round(float(x), 1)), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
