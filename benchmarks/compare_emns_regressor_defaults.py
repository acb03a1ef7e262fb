"""``EMNSRegressor()``'s defaults beside ``EMNSRegressor.tuned()`` at the same budget (5,000 evaluations):
training R^2 on scikit-learn's ``check_regressors_train`` data (its threshold is 0.5) and held-out R^2
on the diabetes data (442 patients, 10 features; a 75/25 split per seed, targets standardised with the
training part's mean and sd because the paper's network clips its outputs to +-5).

    python benchmarks/compare_emns_regressor_defaults.py [--seeds 5]

Prints one line per (configuration, seed) and the mean +- sd; writes
``benchmarks/results/emns_regressor_defaults.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_diabetes, make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler, scale

from gradfree.emns import EMNSRegressor

CONFIGS = {"EMNSRegressor()": EMNSRegressor, "EMNSRegressor.tuned()": EMNSRegressor.tuned}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "emns_regressor_defaults.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    Xc, yc = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20,
                             random_state=42)  # check_regressors_train's data, scaled as it does
    Xc, yc = StandardScaler().fit_transform(Xc), scale(yc)
    Xd, yd = load_diabetes(return_X_y=True)
    results: dict = {}
    for name, make in CONFIGS.items():
        for seed in range(a.seeds):
            check = make(random_state=seed).fit(Xc, yc).score(Xc, yc)
            Xa, Xb, ya, yb = train_test_split(Xd, yd, test_size=0.25, random_state=seed)
            mu, sd = ya.mean(), ya.std()
            diabetes = make(random_state=seed).fit(Xa, (ya - mu) / sd).score(Xb, (yb - mu) / sd)
            row = results.setdefault(name, {"check_train_r2": [], "diabetes_test_r2": []})
            row["check_train_r2"].append(round(float(check), 4))
            row["diabetes_test_r2"].append(round(float(diabetes), 4))
            print(f"{name:24s} seed {seed}: check data training R^2 {check:.3f}, diabetes held-out R^2 "
                  f"{diabetes:.3f}", flush=True)
    for name, row in results.items():
        print(f"{name:24s} " + ", ".join(f"{k} {np.mean(v):.3f} +- {np.std(v):.3f}" for k, v in row.items()))
    Path(a.out).write_text(json.dumps({"seeds": a.seeds, "max_evaluations": 5000, "results": results},
                                      indent=1))


if __name__ == "__main__":
    main()
