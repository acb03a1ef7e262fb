"""Baselines every gradfree model is measured against (they live on the same estimator base)."""

from gradfree.baselines.ncm import NearestClassMean

__all__ = ["NearestClassMean"]
