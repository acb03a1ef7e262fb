"""The paper-network estimators' defaults before and after the switch to TUNED, at the same budget
(5,000 evaluations per fit): ``(1+16)`` (``selection="plus"``, ``population_size=16``, the paper's
mutation; the constructor's defaults until they became TUNED) beside ``TUNED``
(:data:`gradfree.emns.TUNED`, now the constructor's defaults), both passed explicitly so the comparison
means the same whatever the defaults are.

Regression (``EMNSRegressor``): training R^2 on scikit-learn's ``check_regressors_train`` data (its
threshold is 0.5) and held-out R^2 on the diabetes data (442 patients, 10 features; a 75/25 split per
seed, targets standardised with the training part's mean and sd because the network clips its outputs
to +-5).

Classification (``EMNSClassifier``): training accuracy on ``check_classifiers_train``'s blobs, three
classes and two (its threshold is 0.83 on both), and held-out accuracy (75/25 split per seed,
stratified) on wine (178 x 13, 3 classes) and breast cancer (569 x 30, 2 classes), both standardised
with the training part's mean and sd (raw, their features reach 1,000s and the network clips each
synapse to +-10), and on digits 0-4 (901 x 64, raw pixels 0-16, 5 classes).

Input scaling (``--task input_scaling``, not part of "both"): TUNED with ``input_scaling`` None,
``"standard"`` (the defaults' since this measurement) and ``"maxabs"``, every data set above with raw
inputs (the estimator scales, the script does not; diabetes unscaled, ``load_diabetes(scaled=False)``).

    python benchmarks/compare_emns_defaults.py [--seeds 5]
        [--task both|regression|classification|input_scaling]

Prints one line per (task, configuration, seed) and a table of mean +- sd per task (the tasks not run
this time from the results file); writes ``benchmarks/results/emns_defaults.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_blobs,
    make_regression,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler, scale
from sklearn.utils import shuffle

from gradfree.emns import TUNED, EMNSClassifier, EMNSRegressor

#: the constructor's defaults before TUNED, spelled out
PLUS_16 = dict(selection="plus", population_size=16, n_parents=1, recombination=0, rate_rule="preset",
               resistance_rate=0.0, mutation_rate=None, mu_min=None, r_max=None, keep_best=False,
               mirrored=False, input_scaling=None)
#: both on raw inputs, as the defaults were when this was measured (the data are standardised here)
CONFIGS = {"(1+16), the old defaults": PLUS_16, "TUNED, the new defaults": dict(TUNED, input_scaling=None)}
BUDGET = 5000


def _regression(seed: int, kw: dict) -> dict:
    Xc, yc = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20,
                             random_state=42)  # check_regressors_train's data, scaled as it does
    Xc, yc = StandardScaler().fit_transform(Xc), scale(yc)
    check = EMNSRegressor(**kw, random_state=seed).fit(Xc, yc).score(Xc, yc)
    Xd, yd = load_diabetes(return_X_y=True)
    Xa, Xb, ya, yb = train_test_split(Xd, yd, test_size=0.25, random_state=seed)
    mu, sd = ya.mean(), ya.std()
    diabetes = EMNSRegressor(**kw, random_state=seed).fit(Xa, (ya - mu) / sd).score(Xb, (yb - mu) / sd)
    return {"check_train_r2": check, "diabetes_test_r2": diabetes}


def _held_out(X, y, seed: int, kw: dict, standardise: bool) -> float:
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    if standardise:
        sc = StandardScaler().fit(Xa)
        Xa, Xb = sc.transform(Xa), sc.transform(Xb)
    return EMNSClassifier(**kw, random_state=seed).fit(Xa, ya).score(Xb, yb)


def _classification(seed: int, kw: dict) -> dict:
    Xc, yc = make_blobs(n_samples=300, random_state=0)  # check_classifiers_train's data, as it makes it
    Xc, yc = shuffle(Xc, yc, random_state=7)
    Xc = StandardScaler().fit_transform(Xc)
    out = {"check_train_acc": EMNSClassifier(**kw, random_state=seed).fit(Xc, yc).score(Xc, yc)}
    Xb, yb = Xc[yc != 2], yc[yc != 2]
    out["check_binary_train_acc"] = EMNSClassifier(**kw, random_state=seed).fit(Xb, yb).score(Xb, yb)
    out["wine_test_acc"] = _held_out(*load_wine(return_X_y=True), seed, kw, True)
    out["breast_cancer_test_acc"] = _held_out(*load_breast_cancer(return_X_y=True), seed, kw, True)
    out["digits5_test_acc"] = _held_out(*load_digits(n_class=5, return_X_y=True), seed, kw, False)
    return out


def _input_scaling(seed: int, kw: dict) -> dict:
    """Every data set above as a user would pass it: the inputs raw (the script scales none of them;
    the regression targets are still standardised, the outputs being clipped to +-5)."""
    Xc, yc = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20,
                             random_state=42)
    yc = scale(yc)
    out = {"raw_check_train_r2": EMNSRegressor(**kw, random_state=seed).fit(Xc, yc).score(Xc, yc)}
    Xd, yd = load_diabetes(return_X_y=True, scaled=False)  # age, sex 1/2, bmi, blood pressure, ...
    Xa, Xb, ya, yb = train_test_split(Xd, yd, test_size=0.25, random_state=seed)
    mu, sd = ya.mean(), ya.std()
    out["raw_diabetes_test_r2"] = EMNSRegressor(**kw, random_state=seed).fit(
        Xa, (ya - mu) / sd).score(Xb, (yb - mu) / sd)
    Xc, yc = shuffle(*make_blobs(n_samples=300, random_state=0), random_state=7)
    out["raw_check_train_acc"] = EMNSClassifier(**kw, random_state=seed).fit(Xc, yc).score(Xc, yc)
    Xb2, yb2 = Xc[yc != 2], yc[yc != 2]
    out["raw_check_binary_train_acc"] = EMNSClassifier(**kw, random_state=seed).fit(
        Xb2, yb2).score(Xb2, yb2)
    out["raw_wine_test_acc"] = _held_out(*load_wine(return_X_y=True), seed, kw, False)
    out["raw_breast_cancer_test_acc"] = _held_out(*load_breast_cancer(return_X_y=True), seed, kw, False)
    out["digits5_test_acc"] = _held_out(*load_digits(n_class=5, return_X_y=True), seed, kw, False)
    return out


SCALINGS = {"TUNED, raw inputs": dict(TUNED, input_scaling=None),
            "TUNED, input_scaling='standard'": dict(TUNED, input_scaling="standard"),
            "TUNED, input_scaling='maxabs'": dict(TUNED, input_scaling="maxabs")}
#: task -> (what one seed measures, the configurations compared)
TASKS = {"regression": (_regression, CONFIGS), "classification": (_classification, CONFIGS),
         "input_scaling": (_input_scaling, SCALINGS)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--task", choices=["both", *TASKS], default="both",
                    help="both: regression and classification (the defaults' comparison)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "emns_defaults.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    tasks = ["regression", "classification"] if a.task == "both" else [a.task]
    out = Path(a.out)
    saved = json.loads(out.read_text()) if out.exists() else {}
    results = {k: v for k, v in saved.get("results", {}).items() if k in TASKS and k not in tasks}
    for task in tasks:
        measure, configs = TASKS[task]
        results.pop(task, None)
        for name, kw in configs.items():
            kw = dict(kw, max_evaluations=BUDGET)
            for seed in range(a.seeds):
                t = time.process_time()
                scores = measure(seed, kw)
                cpu = time.process_time() - t
                row = results.setdefault(task, {}).setdefault(name, {"cpu_s": []})
                for k, v in scores.items():
                    row.setdefault(k, []).append(round(float(v), 4))
                row["cpu_s"].append(round(cpu, 1))
                line = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                print(f"{task} {name:26s} seed {seed}: {line} ({cpu:.0f} s CPU)", flush=True)
    for task, rows in results.items():
        keys = [k for k in next(iter(rows.values())) if k != "cpu_s"] + ["cpu_s"]
        n = len(next(iter(rows.values()))["cpu_s"])
        print(f"\n{task} (seeds 0-{n - 1}, {BUDGET} evaluations, mean +- sd)")
        print("| configuration | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
        for name, row in rows.items():
            cells = " | ".join(f"{np.mean(row[k]):.3f} ± {np.std(row[k]):.3f}" for k in keys)
            print(f"| {name} | {cells} |")
    out.write_text(json.dumps({"max_evaluations": BUDGET, "results": results}, indent=1))


if __name__ == "__main__":
    main()
