"""EMNS at image scale (issue 14) beside EvoTorch's PGPE, SNES and separable CMA-ES, in one run.

Run: ``python benchmarks/bench_emns_scale.py [--dataset digits|fashion] [--seeds 5] [--generations 300]
[--time-budget S] [--methods emns,pgpe,snes,cmaes] [--cost-only] [--emns JSON] [--emns-batch B]
[--hidden H ...] [--input-pool K] [--input-pca K] [--population P] [--jobs J]`` (``--emns
'{"lr_half_life": 5000}'`` overrides EMNS settings over the dataset's own; ``--emns-batch`` scores EMNS's
candidates on the first B samples of each generation's shared minibatch; ``--hidden`` / ``--input-pool``
/ ``--input-pca`` / ``--population`` change the shared network or population for every method;
``--jobs 2`` runs the (seed, method) units in two single-threaded processes, each pinned to its own
core, and gathers them into one result: the issue's 5-seed Fashion-MNIST comparison, 5 x 4 units of
600 s, then takes about 100 minutes on this project's 2-core machine).

Every method trains the same tanh MLP (digits: 64-32-10, population 64; Fashion-MNIST: pixels averaged
over 2 x 2 blocks, then 196-64-10, population 256; ``--input-pool 1`` for 784-64-10) from the same
initial weights, with the same fitness (-cross-entropy) on the same
minibatch of 256 training samples per generation (drawn once per (seed, generation) and fed to every
method). EMNS is ``gradfree.emns.SCALE`` (``EMNSClassifier.scale()``, weight mutation; on Fashion-MNIST
``gradfree.emns.IMAGES``, activity mutation: a generation's population is 256 mutated copies of the
network, each scored on every sample of the minibatch; ``--emns '{"mutate": "weights", "lr_half_life":
9000}' --population 128`` runs ``IMAGES_WEIGHTS``), run through
:mod:`gradfree.emns.scale` directly so it can be stopped on a clock. Digits: the 1,797 images split
1400/397 by one fixed permutation (seed 0), inputs standardised by the training split's statistics;
``--generations`` generations each (300 = 19,200 evaluations at population 64). Fashion-MNIST: the full
60k/10k from ``gradfree.data.load_fashion_mnist``, inputs divided by 255 then standardised; each method
gets ``--time-budget`` seconds of training wall time (the full goal is 600 s).

Wall time counts training only; test accuracy is measured every ``--eval-every`` generations with the
clock stopped. The methods of one seed run one after the other in this process, so machine load
affects them alike only on average: on the project's shared 2-core machine other jobs compete.
EvoTorch is an optional benchmark dependency (``pip install -e ".[bench]"``), never imported by the
library.

The cost section (``--cost-only`` prints just it) measures one generation's evaluation per candidate
against the matmul bound of the same network: FLOPs per candidate (2 x batch x sum of in x out) over
the GEMM throughput measured here with one ``torch.mm`` of the first layer's shape.

Writes ``benchmarks/results/emns_scale_{dataset}.json`` and ``emns_scale_{dataset}.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from gradfree.emns import IMAGES, EMNSMLPClassifier, activity
from gradfree.emns import scale as S

RESULTS = Path(__file__).resolve().parent / "results"
CONFIG = {  # dataset: (hidden, population, batch, EMNS overrides of SCALE, input pooling)
    "digits": ((32,), 64, 256, {}, 1),
    # Fashion: pixels averaged over 2 x 2 blocks (a fixed first layer of the shared network: 196-64-10,
    # 13k parameters instead of 784-64-10's 51k; every method sees the same), EMNS as
    # gradfree.emns.IMAGES (activity mutation, population 256, centre step 0.01 halving every 8000
    # generations, shared noise table). The search behind it: benchmarks/results/emns_fashion_search.md.
    "fashion": (IMAGES["hidden_layer_sizes"], IMAGES["population_size"], IMAGES["batch_size"],
                {k: IMAGES[k] for k in ("learning_rate", "lr_half_life", "noise", "mutate")}, 2),
}
# EvoTorch settings: PGPE as in issue 14 (Adam centre, stdev_init 0.05); centre step, SNES and
# CMA-ES initial step sizes chosen (best test accuracy) on seed 0 of digits from {0.01, 0.02, 0.05} /
# {0.05, 0.1} / {0.05, 0.1}: PGPE 96.7 / 95.7 / 88.9 %, SNES 97.2 / 96.0 %, CMA-ES 96.0 / 95.7 %.
PGPE_KW = dict(center_learning_rate=0.01, stdev_learning_rate=0.1, stdev_init=0.05, optimizer="adam")
SNES_KW = dict(stdev_init=0.05)
CMAES_KW = dict(stdev_init=0.05, separable=True)


def load(dataset: str, input_pool: int = 1, input_pca: int | None = None,
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardised train/test tensors; ``input_pool`` > 1 averages Fashion-MNIST's pixels over
    k x k blocks first (a fixed first layer shared by every method)."""
    if dataset == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        perm = np.random.RandomState(0).permutation(len(X))
        X, y = X[perm].astype(np.float32), y[perm]
        Xtr, ytr, Xte, yte = X[:1400], y[:1400], X[1400:], y[1400:]
    else:
        from gradfree.data import load_fashion_mnist

        Xtr, ytr = load_fashion_mnist("train")
        Xte, yte = load_fashion_mnist("test")
        Xtr, Xte = Xtr.astype(np.float32) / 255.0, Xte.astype(np.float32) / 255.0
        if input_pool > 1:
            k = input_pool
            Xtr, Xte = (a.reshape(len(a), 28 // k, k, 28 // k, k).mean(axis=(2, 4)).reshape(len(a), -1)
                        for a in (Xtr, Xte))
    if input_pca:
        from sklearn.decomposition import PCA

        pca = PCA(input_pca, random_state=0).fit(Xtr)
        Xtr, Xte = pca.transform(Xtr).astype(np.float32), pca.transform(Xte).astype(np.float32)
    m, s = Xtr.mean(0), Xtr.std(0)
    s[s < 1e-6] = 1.0
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return t((Xtr - m) / s), torch.tensor(ytr).long(), t((Xte - m) / s), torch.tensor(yte).long()


def accuracy(theta: torch.Tensor, sizes: list[int], X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.inference_mode():
        out = torch.cat([S.forward(theta[None], sizes, X[i:i + 5000])[0] for i in range(0, len(X), 5000)])
        return float((out.argmax(1) == y).float().mean())


class Clock:
    """Training wall time, paused while the test accuracy is measured."""

    def __init__(self) -> None:
        self.total, self.t0 = 0.0, None

    def start(self) -> None:
        self.t0 = time.perf_counter()

    def stop(self) -> float:
        self.total += time.perf_counter() - self.t0
        return self.total


def run_emns(seed, sizes, pop, data, batches, max_gens, budget_s, eval_every, emns_kw=None, emns_batch=None):
    Xtr, ytr, Xte, yte = data
    kw = {**(emns_kw or {}), "population_size": pop, "random_state": seed}
    p = EMNSMLPClassifier.scale(**kw)._scale_params()
    st = S.init_state(sizes, torch.Generator().manual_seed(seed), p, torch.device("cpu"))
    st.theta = theta0(seed, sizes).clone()
    rng = torch.Generator().manual_seed(10_000 + seed)
    curve, clock = [], Clock()
    with torch.inference_mode():
        for g in range(max_gens):
            clock.start()
            seed_g = int(torch.randint(0, 2**62, (1,), generator=rng))
            step = activity.generation if p.mutate == "activities" else S.generation
            step(st, p, seed_g, Xtr, ytr, batch=batches(g)[:emns_batch])
            t = clock.stop()
            if (g + 1) % eval_every == 0 or g + 1 == max_gens or t >= budget_s:
                curve.append((st.n_evaluations, t, accuracy(st.theta, sizes, Xte, yte)))
            if t >= budget_s:
                break
    return curve


def theta0(seed: int, sizes: list[int]) -> torch.Tensor:
    """The common initial network of every method: weights N(0, 1/fan_in), biases 0."""
    p = S.ScaleParams()
    return S.init_state(sizes, torch.Generator().manual_seed(seed), p, torch.device("cpu")).theta


def run_evotorch(name, seed, sizes, pop, data, batches, max_gens, budget_s, eval_every):
    from evotorch import Problem
    from evotorch.algorithms import CMAES, PGPE, SNES

    logging.getLogger("evotorch").setLevel(logging.WARNING)

    Xtr, ytr, Xte, yte = data
    state = {"g": 0}

    class MLP(Problem):
        def _evaluate_batch(self, batch):
            idx = batches(state["g"])
            out = S.forward(batch.values.as_subclass(torch.Tensor), sizes, Xtr[idx])
            batch.set_evals(S.fitness_of(out, ytr[idx], "cross_entropy"))

    torch.manual_seed(seed)
    prob = MLP("max", solution_length=S.n_params(sizes), initial_bounds=(-0.1, 0.1),
               dtype=torch.float32, seed=seed)
    c0 = theta0(seed, sizes)
    if name == "pgpe":
        algo = PGPE(prob, popsize=pop, center_init=c0, **PGPE_KW)
    elif name == "snes":
        algo = SNES(prob, popsize=pop, center_init=c0, **SNES_KW)
    else:
        algo = CMAES(prob, popsize=pop, center_init=c0, **CMAES_KW)
    curve, clock = [], Clock()
    with torch.inference_mode():
        for g in range(max_gens):
            state["g"] = g
            clock.start()
            algo.step()
            t = clock.stop()
            if (g + 1) % eval_every == 0 or g + 1 == max_gens or t >= budget_s:
                centre = algo.status["center"]
                centre = (centre.as_subclass(torch.Tensor) if isinstance(centre, torch.Tensor)
                          else centre.values)
                curve.append(((g + 1) * pop, t, accuracy(centre.float(), sizes, Xte, yte)))
            if t >= budget_s:
                break
    return curve


def cost(sizes: list[int], pop: int, batch: int, X: torch.Tensor, y: torch.Tensor, emns_kw: dict,
         reps: int = 20) -> dict:
    """Evaluation time per candidate vs the matmul bound (FLOPs / measured GEMM throughput)."""
    p = EMNSMLPClassifier.scale(**{**emns_kw, "population_size": pop})._scale_params()
    st = S.init_state(sizes, torch.Generator().manual_seed(0), p, torch.device("cpu"))
    idx = torch.arange(batch)
    with torch.inference_mode():
        A, B = torch.randn(batch, sizes[0]), torch.randn(sizes[0], pop * sizes[1])
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            A @ B
            times.append(time.perf_counter() - t0)
        gemm = 2 * batch * sizes[0] * pop * sizes[1] / min(times)  # FLOP/s
        ev, gen = [], []
        for r in range(reps):
            t0 = time.perf_counter()
            if p.mutate == "activities":  # evaluation and update are one pass (gradfree.emns.activity)
                activity.generation(st, p, r, X, y, batch=idx)
                t1 = time.perf_counter()
            else:
                f, eps = S.evaluate_generation(st, p, r, X, y, batch=idx)
                t1 = time.perf_counter()
                S.apply_update(st, p, f, eps)
            ev.append(t1 - t0)
            gen.append(time.perf_counter() - t0)
    flops = S.flops_per_candidate(sizes, batch)
    bound = flops / gemm
    out = dict(sizes=sizes, population=pop, batch=batch, flops_per_candidate=flops, gemm_gflops=gemm / 1e9,
               bound_us=bound * 1e6, eval_us_per_candidate=min(ev) / pop * 1e6,
               generation_us_per_candidate=min(gen) / pop * 1e6)
    out["ratio_to_bound"] = out["eval_us_per_candidate"] / out["bound_us"]
    print(f"cost {sizes} pop {pop} batch {batch}: {flops / 1e6:.2f} MFLOP/candidate, GEMM "
          f"{out['gemm_gflops']:.1f} GFLOP/s -> bound {out['bound_us']:.1f} us; evaluation "
          f"{out['eval_us_per_candidate']:.1f} us/candidate ({out['ratio_to_bound']:.2f}x the bound; "
          + ("activity mutation computes the first layer once for the whole population and includes the "
             "update" if p.mutate == "activities" else "the mirrored first layer needs only half the bound's "
             "multiply-adds" + (", a rank-r mutation shares it over the population" if p.noise_rank else ""))
          + "), whole generation "
          f"{out['generation_us_per_candidate']:.1f} us/candidate", flush=True)
    return out


_WORKER: dict = {}  # this process's settings and data (a --jobs worker loads its own copy once)


def _worker_init(settings: dict, cores) -> None:
    os.sched_setaffinity(0, {cores.get()})
    torch.set_num_threads(settings["threads"])
    logging.getLogger("evotorch").setLevel(logging.WARNING)
    _WORKER.update(settings=settings, data=load(settings["dataset"], settings["pool"], settings["pca"]))


def _worker_run(task: tuple[int, str]) -> tuple[int, str, list]:
    """Train one method on one seed; its minibatches depend only on the seed, so any process can run it."""
    seed, m = task
    c, data = _WORKER["settings"], _WORKER["data"]
    batches = Minibatches(seed, len(data[0]), c["batch"])
    if m == "emns":
        curve = run_emns(seed, c["sizes"], c["pop"], data, batches, c["gens"], c["budget"], c["every"],
                         c["emns_kw"], c["emns_batch"])
    else:
        curve = run_evotorch(m, seed, c["sizes"], c["pop"], data, batches, c["gens"], c["budget"], c["every"])
    return seed, m, curve


def _record(res: dict, seed: int, m: str, curve: list) -> None:
    res["curves"][m][str(seed)] = curve
    print(f"seed {seed} {m:6s}: test {100 * curve[-1][2]:.1f} %  after {curve[-1][0]} evaluations, "
          f"{curve[-1][1]:.1f} s", flush=True)


class Minibatches:
    """Minibatch ``g`` of a seed (drawn on first use, then the same for every method).

    Drawn 4,096 generations at a time (the same stream as one draw per generation): one small
    long-lived tensor per generation, interleaved with a generation's large temporaries, fragmented
    the heap until a run held ~20 GB."""

    CHUNK = 4096

    def __init__(self, seed: int, n: int, batch: int) -> None:
        self.gen, self.n, self.batch, self.cache = torch.Generator().manual_seed(20_000 + seed), n, batch, []

    def __call__(self, g: int) -> torch.Tensor:
        while len(self.cache) * self.CHUNK <= g:
            self.cache.append(torch.randint(0, self.n, (self.CHUNK, self.batch), generator=self.gen))
        return self.cache[g // self.CHUNK][g % self.CHUNK]


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, runs in res["curves"].items():
        for k, ax in ((0, axes[0]), (1, axes[1])):
            n = min(len(c) for c in runs.values())
            arr = np.array([c[:n] for c in runs.values()])  # (seeds, points, 3)
            ax.plot(arr[:, :, k].mean(0), 100 * arr[:, :, 2].mean(0), label=name)
    axes[0].set_xlabel("evaluations")
    axes[1].set_xlabel("training wall time (s)")
    for ax in axes:
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"{res['dataset']}: mean over seeds {res['seeds']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(CONFIG), default="digits")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--generations", type=int, default=None, help="default: 300 (digits), "
                    "unlimited (fashion)")
    ap.add_argument("--time-budget", type=float, default=None, help="training seconds per method "
                    "(default: none on digits, 600 on fashion)")
    ap.add_argument("--methods", default="emns,pgpe,snes,cmaes")
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--cost-only", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for every method (default 1)")
    ap.add_argument("--emns", default=None, help="JSON dict of EMNSMLPClassifier.scale() overrides, applied "
                    "over the dataset's own (e.g. '{\"mutation_rate\": 0.02}')")
    ap.add_argument("--hidden", type=int, nargs="*", default=None, help="hidden layer sizes of the shared "
                    "network, for every method (default: the dataset's)")
    ap.add_argument("--population", type=int, default=None, help="population of every method (default: "
                    "the dataset's)")
    ap.add_argument("--input-pool", type=int, default=None, help="Fashion-MNIST: average pixels over k x k "
                    "blocks first, for every method (default: the dataset's; 1: none)")
    ap.add_argument("--input-pca", type=int, default=None, help="project the (pooled) inputs on their "
                    "first K principal components of the training split, for every method (default: none)")
    ap.add_argument("--emns-batch", type=int, default=None, help="EMNS scores its candidates on the first "
                    "this many samples of each generation's shared minibatch (default: all of it)")
    ap.add_argument("--jobs", type=int, default=1, help="run the (seed, method) units in this many "
                    "worker processes, each pinned to its own core (default 1: all in this process)")
    ap.add_argument("--out", default=None, help="JSON path (default: "
                    "benchmarks/results/emns_scale_DATASET.json)")
    a = ap.parse_args()
    if not 1 <= a.jobs <= len(os.sched_getaffinity(0)):
        ap.error(f"--jobs must be between 1 and this process's {len(os.sched_getaffinity(0))} cores, "
                 f"got {a.jobs} (each worker is pinned to a core of its own)")
    torch.set_num_threads(a.threads)
    logging.getLogger("evotorch").setLevel(logging.WARNING)
    hidden, pop, batch, emns_kw, pool = CONFIG[a.dataset]
    pool = a.input_pool if a.input_pool is not None else pool
    hidden = tuple(a.hidden) if a.hidden is not None else hidden
    pop = a.population or pop
    emns_kw = {**emns_kw, **(json.loads(a.emns) if a.emns else {})}
    data = load(a.dataset, pool, a.input_pca)
    sizes = [data[0].shape[1], *hidden, 10]
    res = {"dataset": a.dataset, "sizes": sizes, "input_pool": pool, "input_pca": a.input_pca,
           "population": pop, "batch": batch,
           "emns_overrides": emns_kw,
           "emns_batch": a.emns_batch or batch, "jobs": a.jobs,
           "machine": f"{platform.machine()}, {platform.processor() or '?'}, torch {torch.__version__}, "
                      f"{a.threads} thread(s)",
           "cost": cost(sizes, pop, batch, data[0], data[1], emns_kw)}
    if a.cost_only:
        print(json.dumps(res["cost"], indent=1))
        return
    gens = a.generations or (300 if a.dataset == "digits" else 10**9)
    default_budget = float("inf") if a.dataset == "digits" else 600.0
    budget = a.time_budget if a.time_budget is not None else default_budget
    every = a.eval_every or (10 if a.dataset == "digits" else 100)
    methods = a.methods.split(",")
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    res.update(seeds=seeds, generations=gens, time_budget_s=budget, curves={m: {} for m in methods})
    tasks = [(seed, m) for seed in seeds for m in methods]
    settings = dict(dataset=a.dataset, pool=pool, pca=a.input_pca, threads=a.threads, sizes=sizes, pop=pop,
                    batch=batch, gens=gens, budget=budget, every=every, emns_kw=emns_kw,
                    emns_batch=a.emns_batch)
    if a.jobs > 1:  # one single-threaded worker process per core, each pinned to its own core
        del data  # each worker loads its own copy
        ctx = mp.get_context("spawn")
        cores = ctx.Queue()
        for c in sorted(os.sched_getaffinity(0))[:a.jobs]:
            cores.put(c)
        with ctx.Pool(a.jobs, initializer=_worker_init, initargs=(settings, cores)) as pool_:
            done = pool_.imap_unordered(_worker_run, tasks)
            for seed, m, curve in done:
                _record(res, seed, m, curve)
    else:
        _WORKER.update(settings=settings, data=data)
        for seed, m in tasks:
            _record(res, *_worker_run((seed, m)))
    for m in methods:  # seeds in order, whatever order the workers finished in
        res["curves"][m] = {str(s): res["curves"][m][str(s)] for s in seeds}
    print(f"\n{a.dataset}, {sizes}, population {pop}, batch {batch}, seeds {seeds}")
    print(f"{'method':8s} {'test accuracy (%)':>20s} {'evaluations':>12s} {'wall time (s)':>16s}")
    summary = {}
    for m in methods:
        last = np.array([c[-1] for c in res["curves"][m].values()])
        summary[m] = dict(accuracy_mean=float(last[:, 2].mean()), accuracy_sd=float(last[:, 2].std()),
                          evaluations_mean=float(last[:, 0].mean()), seconds_mean=float(last[:, 1].mean()),
                          seconds_sd=float(last[:, 1].std()))
        print(f"{m:8s} {100 * last[:, 2].mean():13.1f} ± {100 * last[:, 2].std():4.1f} "
              f"{last[:, 0].mean():12.0f} {last[:, 1].mean():10.2f} ± {last[:, 1].std():4.2f}")
    res["summary"] = summary
    RESULTS.mkdir(exist_ok=True)
    out = Path(a.out) if a.out else RESULTS / f"emns_scale_{a.dataset}.json"
    out.write_text(json.dumps(res, indent=1))
    plot(res, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
