"""Every classifier's constructor defaults on raw scikit-learn digits (pixels 0-16), as a new user runs it.

Run: ``python benchmarks/bench_defaults.py [--seeds N]``; prints test accuracy (stratified 70/30 split per
seed) and fit time per model, and writes benchmarks/results/defaults.json. Chance is 10 %. The paper
presets (``.paper()``) are shown beside the defaults where a model has one.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from gradfree.baselines import MLPClassifier, NearestClassMean, SLDAClassifier
from gradfree.emns import EMNSMLPClassifier
from gradfree.rmn import RMNClassifier
from gradfree.wuxing import WuxingClassifier

MODELS = {
    "RMNClassifier()": lambda seed: RMNClassifier(random_state=seed),
    "RMNClassifier.paper()": lambda seed: RMNClassifier.paper(random_state=seed),
    "RMNClassifier.patches()": lambda seed: RMNClassifier.patches(random_state=seed),
    "EMNSMLPClassifier()": lambda seed: EMNSMLPClassifier(random_state=seed),
    "WuxingClassifier()": lambda seed: WuxingClassifier(random_state=seed),
    "NearestClassMean()": lambda seed: NearestClassMean(),
    "SLDAClassifier()": lambda seed: SLDAClassifier(random_state=seed),
    "MLPClassifier()": lambda seed: MLPClassifier(random_state=seed),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--models", nargs="*", default=list(MODELS))
    a = p.parse_args()
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)  # raw pixels 0..16
    rows = {}
    print(f"{'model':<24} {'test accuracy (%)':>20} {'fit s':>8}")
    for name in a.models:
        acc, secs = [], []
        for seed in range(a.seeds):
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
            model = MODELS[name](seed)
            start = time.perf_counter()
            model.fit(Xtr, ytr)
            secs.append(time.perf_counter() - start)
            acc.append(100 * model.score(Xte, yte))
        rows[name] = {"accuracy": acc, "fit_seconds": secs}
        print(f"{name:<24} {np.mean(acc):>13.1f} ± {np.std(acc):>4.1f} {np.mean(secs):>8.2f}", flush=True)
    out = Path(__file__).parent / "results" / "defaults.json"
    saved = json.loads(out.read_text()) if out.exists() else {"results": {}}
    saved["results"].update(rows)  # a run of some models keeps the others' rows
    out.write_text(json.dumps({"seeds": list(range(a.seeds)), "machine": platform.processor()
                               or platform.machine(), "results": saved["results"]}, indent=1))


if __name__ == "__main__":
    main()
