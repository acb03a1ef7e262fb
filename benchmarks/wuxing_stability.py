"""Does Wuxing training diverge? MODEL1 with the stabilised update on full Fashion-MNIST, epoch by epoch.

Trains ``WuxingClassifier.paper(backward="linearised", max_delta=0.1)`` (MODEL1's wiring, the stabilised
update; ``--fan-in 2`` adds adders) on the 60,000 training images in their file order (the estimator
shuffles each epoch), seed 0, and after every epoch prints and appends to ``--out`` (JSON lines): test
accuracy on the 10,000 test images, the mean and the largest batch loss of the epoch, and the share
of coefficients at +-c_max. The traced divergence with the paper's update (fan-in 2) showed as a
batch loss of 18,891 and 65 % of the coefficients at the bound.

Usage: OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/wuxing_stability.py [--epochs 20]
[--fan-in 1] [--experiment-order] [--out runs/wuxing-stability.jsonl]. About 1.7 CPU-minutes per epoch
(fan-in 1). ``--fan-in 2 --experiment-order --epochs 1`` is the traced divergence's exact setting (same
wiring, initial coefficients and batches) with the stabilised update in place of the paper's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gradfree.data import load_fashion_mnist
from gradfree.wuxing import WuxingClassifier


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--fan-in", type=int, default=1)
    p.add_argument("--out", default="runs/wuxing-stability.jsonl")
    p.add_argument("--experiment-order", action="store_true",
                   help="the training images in wuxing-mnist's order (seed 0), as in the traced divergence")
    a = p.parse_args()
    Xtr, ytr = load_fashion_mnist("train")
    Xte, yte = load_fashion_mnist("test")
    if a.experiment_order:  # wuxing-mnist's _data(seed 0): the traced run's wiring, start and batches
        rng = np.random.default_rng(0)
        tr, te = rng.choice(60_000, 60_000, replace=False), rng.choice(10_000, 10_000, replace=False)
        Xtr, ytr, Xte, yte = Xtr[tr], ytr[tr], Xte[te], yte[te]
    kw = {} if a.fan_in == 1 else {"fan_in": a.fan_in}
    m = WuxingClassifier.paper(random_state=0, backward="linearised", max_delta=0.1, **kw)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for e in range(a.epochs):
        with m.recording_batch_losses() as losses:
            m.partial_fit(Xtr, ytr, classes=np.arange(10))
        row = {"epoch": e + 1, "test": float(m.score(Xte, yte)), "mean_loss": float(np.mean(losses)),
               "max_batch_loss": float(np.max(losses)),
               "saturated": float((m.coef_.abs() >= m.c_max - 1e-6).float().mean()),
               "wall_s": time.time() - t0}
        print(json.dumps(row), flush=True)
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
