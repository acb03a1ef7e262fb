"""Genuine saved files of every estimator (and the variants whose saved fields differ), for the
untrusted-file tests: small settings, so the whole set fits in a few seconds."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from gradfree.core import GradFreeClassifier, GradFreeEstimator

SMALL = {
    "RMNClassifier": dict(n_neurons=64),
    "EMNSClassifier": dict(max_evaluations=40),
    "EMNSRegressor": dict(max_evaluations=40),
    "EMNSMLPClassifier": dict(max_evaluations=128), "EMNSMLPRegressor": dict(max_evaluations=128),
    "WuxingClassifier": dict(hidden_layer_sizes=(12,), epochs=1),
    "ExactGradientWuxing": dict(hidden_layer_sizes=(12,), epochs=1),
    "MLPClassifier": dict(epochs=2), "SparseMLPClassifier": dict(epochs=2), "EWCClassifier": dict(epochs=2),
    "ReplayClassifier": dict(epochs=2, buffer_size=20), "MLPRegressor": dict(epochs=2),
    "SETMLPClassifier": dict(epochs=2), "SLDAClassifier": dict(random_features=16),
}


def concrete_estimators() -> list[type]:
    """Every public estimator class gradfree defines (systems and baselines)."""
    from gradfree.core.io import _ensure_registry

    _ensure_registry()

    seen, todo = [], [GradFreeEstimator]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("gradfree.") and not sub.__module__.startswith("gradfree.core") \
                    and not sub.__name__.startswith("_"):
                seen.append(sub)
    return sorted(set(seen), key=lambda c: c.__name__)


def data(seed: int = 0, n: int = 60, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    return X, y


def make(cls: type, **kw):
    params = inspect.signature(cls).parameters
    small = {k: v for k, v in SMALL.get(cls.__name__, {}).items() if k in params}
    if "random_state" in params:
        small["random_state"] = 0
    return cls(**small, **kw)


def variants() -> dict[str, object]:
    """name -> an unfitted model: every class's small default, plus variants that save other fields."""
    from gradfree.rmn import RMNClassifier

    out = {cls.__name__: make(cls) for cls in concrete_estimators()}
    out["RMNClassifier-paper"] = RMNClassifier.paper(n_neurons=64, random_state=0)
    out["RMNClassifier-patches"] = RMNClassifier.patches(n_neurons=4, random_state=0)
    return out


def save_all(folder: Path) -> dict[str, Path]:
    """Fit every variant on small data and save it under ``folder``; name -> path (no suffix)."""
    from gradfree.emns import EMNSOptimizer

    X, y = data()
    paths = {}
    opt = EMNSOptimizer(np.ones(8), 0.5, random_state=0)  # the ask/tell engine, mid-run
    for _ in range(3):
        Xa = opt.ask()
        opt.tell(Xa, (Xa ** 2).sum(axis=1))
    opt.save(folder / "EMNSOptimizer")
    paths["EMNSOptimizer"] = folder / "EMNSOptimizer"
    for name, model in variants().items():
        target = y.astype(np.float64) if not isinstance(model, GradFreeClassifier) else y
        model.fit(X, target)
        model.save(folder / name)
        paths[name] = folder / name
    return paths
