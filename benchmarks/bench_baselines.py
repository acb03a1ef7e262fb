"""Speed of the backprop baselines: seconds per training epoch, and the two vectorised helpers.

Plain script (no timing in tests): ``python benchmarks/bench_baselines.py [--n 2000] [--threads 1]``.
Prints a table and writes ``benchmarks/results/baselines.json``.

* fit: seconds per epoch of each baseline on a Fashion-MNIST subset (784 -> 256 -> 10, batch 128);
* Fisher: the exact per-sample diagonal Fisher computed in closed form (one backward per chunk,
  ``(delta^2)^T a^2``) against the textbook loop (one backward per sample);
* reservoir: the vectorised algorithm R against a Python loop over samples.
"""

from __future__ import annotations

import argparse
import json
import platform
import timeit
from pathlib import Path

import numpy as np
import torch


def _best(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls (timeit: the least disturbed run)."""
    return min(timeit.repeat(fn, repeat=repeat, number=1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000, help="training samples")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from gradfree.baselines import (
        EWCClassifier,
        MLPClassifier,
        ReplayClassifier,
        SparseMLPClassifier,
    )
    from gradfree.baselines import _mlp_core as core
    from gradfree.data import load_fashion_mnist

    X, y = load_fashion_mnist("train")
    X, y = X[: a.n], y[: a.n]
    rows = []
    for name, est in [("MLPClassifier", MLPClassifier(epochs=a.epochs, random_state=0)),
                      ("SparseMLPClassifier 10%", SparseMLPClassifier(link_ratio=0.1, epochs=a.epochs,
                                                                      random_state=0)),
                      ("EWCClassifier", EWCClassifier(epochs=a.epochs, random_state=0)),
                      ("ReplayClassifier", ReplayClassifier(epochs=a.epochs, random_state=0))]:
        secs = _best(lambda est=est: est.fit(X, y))
        rows.append({"what": f"fit {name}", "seconds": secs / a.epochs, "unit": "s / epoch"})

    m = MLPClassifier(epochs=1, random_state=0).fit(X[:500], y[:500])
    Xt, yt = torch.as_tensor(X[:500]), torch.as_tensor(y[:500])

    def loop() -> None:
        for i in range(len(Xt)):
            ps = [t.clone().requires_grad_(True) for t in (*m.weights_, *m.biases_)]
            out = core.forward(ps[:2], ps[2:], Xt[i:i + 1])
            torch.autograd.grad(torch.nn.functional.cross_entropy(out, yt[i:i + 1]), ps)

    rows.append({"what": "Fisher closed form, 500 samples",
                 "seconds": _best(lambda: core.diagonal_fisher(m.weights_, m.biases_, Xt, yt)), "unit": "s"})
    rows.append({"what": "Fisher per-sample loop, 500 samples", "seconds": _best(loop, 1), "unit": "s"})

    r = ReplayClassifier(buffer_size=200, epochs=1, random_state=0).fit(X[:10], y[:10])
    Xb, yb = torch.as_tensor(X), torch.as_tensor(y)
    rows.append({"what": f"reservoir update, {a.n} samples (vectorised)",
                 "seconds": _best(lambda: r._end_task(Xb, yb)), "unit": "s"})

    def reservoir_loop() -> None:
        buf, n_seen = r.buffer_X_.clone(), r.n_seen_
        u = torch.rand(len(Xb), dtype=torch.float64)
        for i in range(len(Xb)):
            j = n_seen + i
            k = j if j < 200 else int(u[i] * (j + 1))
            if k < 200:
                buf[k] = Xb[i]

    rows.append({"what": f"reservoir update, {a.n} samples (Python loop)", "seconds": _best(reservoir_loop),
                 "unit": "s"})

    width = max(len(x["what"]) for x in rows)
    print(f"{'what':<{width}}  seconds")
    for x in rows:
        print(f"{x['what']:<{width}}  {x['seconds']:.4f} {x['unit']}")
    out = Path(__file__).parent / "results" / "baselines.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "threads": a.threads, "n": a.n, "torch": torch.__version__,
                               "machine": platform.platform(), "cpu": platform.processor(),
                               "note": "shared machine: timings under contention"}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
