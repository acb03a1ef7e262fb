"""Reproducible experiments, one module each; run them with ``gradfree run NAME``."""

from gradfree.experiments.registry import ExperimentContext, all_experiments, experiment, get_experiment

__all__ = ["ExperimentContext", "all_experiments", "experiment", "get_experiment"]
