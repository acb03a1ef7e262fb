"""The bench's suites: which data, which split, which metrics, and how one model is run on them.

Suites and their data (``quick`` sizes in brackets; every split is drawn from the seed, so each seed is
a different split and a different model initialisation):

* continual, class-incremental, 5 tasks x 2 classes, no task id at test (``run_stream``):
  ``split-digits`` (sklearn digits, stratified 70/30 split), ``split-fashion`` (Fashion-MNIST: a
  stratified subset of 1000 [100] training images per class from the training set and 300 [50] per
  class from the test set, to stay practical on a 2-core machine), ``split-manifolds`` (10 orthogonal
  manifolds in 100-D, spread 0.05, 200 [60] samples per cluster, half for testing). Metrics: average
  accuracy (last row of R), mean forgetting over tasks 1..T-1, BWT (``gradfree.continual``).
* supervised: ``digits`` and ``fashion`` (same splits as above, all classes at once). Metric: test
  accuracy (and training accuracy).
* small tasks (the EMNS papers' demos): ``emns-regression`` (200 training samples, 200 test samples
  drawn with another seed; metric: test MSE, lower is better) and ``emns-classification`` (label
  ``x1 + x2 > 0``; test accuracy).

A model that is not a stream learner (``continual="joint"``) is fitted once on all tasks' training data
in a continual suite: its row is the joint-training upper bound, with average accuracy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradfree.continual import class_incremental, run_stream, task_accuracy


@dataclass(frozen=True)
class Suite:
    """One suite: ``kind`` is continual | supervised | regression | classification.

    Examples
    --------
    >>> suite = SUITES["digits"]
    >>> suite.kind, suite.main_metric, suite.higher_is_better
    ('supervised', 'accuracy', True)
    >>> {name: array.shape for name, array in suite.load(0, True).items()}   # load(seed, quick)
    {'Xtr': (1257, 64), 'ytr': (1257,), 'Xte': (540, 64), 'yte': (540,)}
    """

    name: str
    group: str  # continual | supervised | small
    kind: str
    summary: str
    main_metric: str
    load: Callable[[int, bool], dict]

    @property
    def higher_is_better(self) -> bool:
        return self.main_metric != "mse"


def _stratified(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    idx = [rng.choice(np.flatnonzero(y == c), min(per_class, int((y == c).sum())), replace=False)
           for c in np.unique(y)]
    return np.sort(np.concatenate(idx))


def _digits(seed: int, quick: bool) -> dict:
    from gradfree.data import digits_split

    Xtr, Xte, ytr, yte = digits_split(seed)
    return {"Xtr": Xtr, "ytr": ytr, "Xte": Xte, "yte": yte}


@functools.lru_cache(maxsize=1)
def _fashion_full() -> tuple[np.ndarray, ...]:
    """Read the IDX files once per process (both Fashion suites and every seed draw from them)."""
    from gradfree.data import load_fashion_mnist

    return (*load_fashion_mnist("train"), *load_fashion_mnist("test"))


def _fashion(seed: int, quick: bool) -> dict:
    rng = np.random.default_rng(seed)
    Xtr, ytr, Xte, yte = _fashion_full()
    tr = _stratified(ytr, 100 if quick else 1000, rng)
    te = _stratified(yte, 50 if quick else 300, rng)
    return {"Xtr": Xtr[tr], "ytr": ytr[tr], "Xte": Xte[te], "yte": yte[te]}


def _manifolds(seed: int, quick: bool) -> dict:
    from gradfree.data import orthogonal_manifolds

    X, y, _ = orthogonal_manifolds(n_clusters=10, dim=100, n_per_cluster=60 if quick else 200,
                                   spread=0.05, random_state=seed)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, len(idx) // 2, replace=False)] = True
    return {"Xtr": X[~test], "ytr": y[~test], "Xte": X[test], "yte": y[test]}


def _with_tasks(load: Callable[[int, bool], dict]) -> Callable[[int, bool], dict]:
    def wrapped(seed: int, quick: bool) -> dict:
        d = load(seed, quick)
        d["train_tasks"] = class_incremental(d["Xtr"], d["ytr"], n_tasks=5)
        d["test_tasks"] = class_incremental(d["Xte"], d["yte"], n_tasks=5)
        return d

    return wrapped


def _emns_regression(seed: int, quick: bool) -> dict:
    from gradfree.data import emns_regression

    Xtr, ytr = emns_regression(200, noise=0.1, random_state=seed)
    Xte, yte = emns_regression(200, noise=0.1, random_state=seed + 10_000)
    return {"Xtr": Xtr, "ytr": ytr, "Xte": Xte, "yte": yte}


def _emns_classification(seed: int, quick: bool) -> dict:
    from gradfree.data import emns_classification

    Xtr, ytr = emns_classification(200, random_state=seed)
    Xte, yte = emns_classification(200, random_state=seed + 10_000)
    return {"Xtr": Xtr, "ytr": ytr, "Xte": Xte, "yte": yte}


SUITES: dict[str, Suite] = {s.name: s for s in [
    Suite("split-digits", "continual", "continual", "class-incremental digits, 5 tasks x 2 classes",
          "average_accuracy", _with_tasks(_digits)),
    Suite("split-fashion", "continual", "continual", "class-incremental Fashion-MNIST subset, 5 x 2",
          "average_accuracy", _with_tasks(_fashion)),
    Suite("split-manifolds", "continual", "continual", "class-incremental orthogonal manifolds, 5 x 2",
          "average_accuracy", _with_tasks(_manifolds)),
    Suite("digits", "supervised", "supervised", "digits, all classes at once", "accuracy", _digits),
    Suite("fashion", "supervised", "supervised", "Fashion-MNIST subset, all classes at once", "accuracy",
          _fashion),
    Suite("emns-regression", "small", "regression", "EMNS demo regression, 3 features (MSE)", "mse",
          _emns_regression),
    Suite("emns-classification", "small", "classification", "EMNS demo x1 + x2 > 0", "accuracy",
          _emns_classification),
]}


def run_suite(model: Any, suite: Suite, data: dict, continual_mode: str = "stream") -> tuple[dict, dict]:
    """Fit and evaluate ``model`` on one suite's data; returns (metrics, extra) where extra may hold R."""
    if suite.kind == "continual":
        if continual_mode == "joint":
            model.fit(data["Xtr"], data["ytr"])
            accs = [task_accuracy(model, t) for t in data["test_tasks"]]
            return {"average_accuracy": float(np.mean(accs))}, {"task_accuracy": accs}
        res = run_stream(model, data["train_tasks"], data["test_tasks"], progress=False).to_dict()
        return ({"average_accuracy": res["average_accuracy"], "mean_forgetting": res["mean_forgetting"],
                 "bwt": res["bwt"]}, {"R": res["R"]})
    model.fit(data["Xtr"], data["ytr"])
    if suite.kind == "regression":
        mse = lambda X, y: float(np.mean((np.asarray(model.predict(X), float).ravel() - y) ** 2))  # noqa: E731
        return {"mse": mse(data["Xte"], data["yte"]), "train_mse": mse(data["Xtr"], data["ytr"])}, {}
    return {"accuracy": float(model.score(data["Xte"], data["yte"])),
            "train_accuracy": float(model.score(data["Xtr"], data["ytr"]))}, {}
