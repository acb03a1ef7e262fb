"""Shared core: estimator base, device handling, persistence and estimator checks."""

from gradfree.core.base import (
    GradFreeClassifier,
    GradFreeEstimator,
    GradFreeRegressor,
    no_grad_learning,
    to_numpy,
)
from gradfree.core.device import resolve_device
from gradfree.core.io import load_estimator, save_estimator

__all__ = [
    "GradFreeClassifier",
    "GradFreeEstimator",
    "GradFreeRegressor",
    "load_estimator",
    "no_grad_learning",
    "resolve_device",
    "save_estimator",
    "to_numpy",
]
