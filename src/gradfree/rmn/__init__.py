"""Resonant Manifold Network (RMN): unit-vector neurons, k-WTA, Hebbian erosion, homeostasis and a
prototype read-out with binding lock. See :class:`RMNClassifier` and the paper (Ran Cheng, "Resonant
Manifold Network: A Physics-Inspired Approach to Continual Learning", 2026; docs/papers.md).
"""

from gradfree.rmn.analysis import dead_neurons, neuron_overlap, task_activation_frequency
from gradfree.rmn.model import RMNClassifier
from gradfree.rmn.params import HomeostasisParams, PrototypeParams

__all__ = ["HomeostasisParams", "PrototypeParams", "RMNClassifier", "dead_neurons", "neuron_overlap",
           "task_activation_frequency"]
