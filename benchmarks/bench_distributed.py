"""Bytes exchanged per EMNS generation on Ray, for networks of 10^2 to 10^5 parameters, and for the
wide-MLP path: weight mutation (``gradfree.emns.SCALE``) on the 784-64-10 network (50,890 parameters,
population 128) and activity mutation (``gradfree.emns.IMAGES``, population 256) on 196-64-10 and 784-64-10.

The paper (sec. 7.2) claims O(1) communication: only the global mutation rate needs coordinating.
With the seed trick our actors exchange seeds, fitness values and selection indices; this prints the
pickled size of every message of a generation beside the size of the parameter vector a naive
implementation would ship. Run: ``python benchmarks/bench_distributed.py`` (needs gradfree[distributed]).
Writes benchmarks/results/distributed.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import ray

from gradfree.data import emns_regression
from gradfree.distributed.emns_population import MLPRayPopulation, RayPopulation
from gradfree.emns import IMAGES, EMNSMLPClassifier, EMNSRegressor

HIDDEN = {"1e2": (6,), "1e3": (24, 16), "1e4": (96, 64), "1e5": (320, 224)}


def main(population: int = 8, generations: int = 5) -> None:
    # logical CPUs for every row's two actors: actors of earlier rows are not killed, and with num_cpus=2
    # the next row's actors could wait for a CPU for ever
    ray.init(num_cpus=2 * (len(HIDDEN) + 3), include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    X, y = emns_regression(n_samples=64, random_state=0)
    rows = []
    for label, hidden in HIDDEN.items():
        holder: dict = {}

        def executor(st, evaluate, p, holder=holder):
            holder["pop"] = RayPopulation(st, evaluate, p, n_workers=2)
            return holder["pop"]

        model = EMNSRegressor(hidden_layer_sizes=hidden, population_size=population,
                              max_evaluations=population * generations, random_state=0, backend="torch")
        model.set_population_executor(executor)
        start = time.perf_counter()
        model.fit(X, y)
        secs = time.perf_counter() - start
        n = int(model.state_.values.shape[1])
        per_gen = holder["pop"].bytes_sent
        rows.append({"target": label, "n_params": n, "bytes_per_generation_max": max(per_gen),
                     "bytes_per_generation_mean": sum(per_gen) / len(per_gen),
                     "naive_bytes_per_generation": 4 * n * (population + 2), "seconds": secs})
    # the wide MLP (EMNSMLPClassifier): weight mutation (gradfree.emns.SCALE, population 128) on 784-64-10,
    # and activity mutation (gradfree.emns.IMAGES, population 256: one fitness value per copy and sample)
    # on 196-64-10 and 784-64-10
    import numpy as np

    rng = np.random.default_rng(0)
    for target, d, kw in (("mlp 784-64-10", 784, dict(hidden_layer_sizes=(64,), population_size=128)),
                          ("act 196-64-10", 196, IMAGES), ("act 784-64-10", 784, IMAGES)):
        Xi = rng.normal(size=(512, d)).astype(np.float32)
        yi = rng.integers(0, 10, 512)
        holder = {}
        model = EMNSMLPClassifier(**{**kw, "max_evaluations": kw["population_size"] * generations},
                               random_state=0)
        model.set_population_executor(lambda st, p, Xt, yt, h=holder: h.setdefault(
            "pop", MLPRayPopulation(st, p, Xt, yt, 2)))
        start = time.perf_counter()
        model.fit(Xi, yi)
        secs = time.perf_counter() - start
        n = int(model.state_.theta.shape[0])
        per_gen = holder["pop"].bytes_sent
        rows.append({"target": target, "n_params": n, "bytes_per_generation_max": max(per_gen),
                     "bytes_per_generation_mean": sum(per_gen) / len(per_gen),
                     "naive_bytes_per_generation": 4 * n * kw["population_size"], "seconds": secs})
    ray.shutdown()
    print(f"{'network':>14} {'params':>9} {'bytes/generation (max)':>24} {'naive (params shipped)':>24}")
    for r in rows:
        print(f"{r['target']:>14} {r['n_params']:>9} {r['bytes_per_generation_max']:>24} "
              f"{r['naive_bytes_per_generation']:>24}")
    out = Path(__file__).parent / "results" / "distributed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"population": population, "workers": 2, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
