"""Evolvable Modular Neural Systems (Karahan 2025): every parameter mutates, scaled by a co-evolving
resistance, under an adaptive global mutation rate; evolvable aggregation and activation per neuron;
growth, connection formation and pruning.

Modules: :mod:`~gradfree.emns.params` (hyper-parameters, presets), :mod:`~gradfree.emns.network`
(flat-tensor state, batched forward), :mod:`~gradfree.emns.fast` (fused CPU kernel),
:mod:`~gradfree.emns.mutation` (the universal rule, seed-addressable noise, mutation-rate rules),
:mod:`~gradfree.emns.evolution` (explicit state, selection strategies), :mod:`~gradfree.emns.structure`
(sec. 6), :mod:`~gradfree.emns.metrics` (sec. 8.2), :mod:`~gradfree.emns.estimators`.
"""

from gradfree.emns.estimators import EMNSClassifier, EMNSRegressor
from gradfree.emns.evolution import EvoState, regenerate
from gradfree.emns.mutation import candidate_noise, mutate
from gradfree.emns.params import PRESETS, EMNSParams, make_params

__all__ = ["EMNSRegressor", "EMNSClassifier", "EMNSParams", "PRESETS", "make_params", "EvoState",
           "candidate_noise", "mutate", "regenerate"]
