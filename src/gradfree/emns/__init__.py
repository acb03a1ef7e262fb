"""Evolvable Modular Neural Systems (Karahan 2025): every parameter mutates, scaled by a co-evolving
resistance, under an adaptive global mutation rate; evolvable aggregation and activation per neuron;
growth, connection formation and pruning.

Faces: :class:`EMNSOptimizer` (ask/tell on any objective, :mod:`~gradfree.emns.optimizer`, over the
engine :mod:`~gradfree.emns.engine`), :class:`EMNSRegressor` / :class:`EMNSClassifier` (the paper's
network, :mod:`~gradfree.emns.estimators`), :class:`EMNSMLPClassifier` / :class:`EMNSMLPRegressor`
(the image-scale wide MLP, :mod:`~gradfree.emns.wide`).

Modules: :mod:`~gradfree.emns.params` (mutation constants), :mod:`~gradfree.emns.network`
(flat-tensor state, batched forward), :mod:`~gradfree.emns.fast` (fused CPU kernel),
:mod:`~gradfree.emns.mutation` (the universal rule, seed-addressable noise, mutation-rate rules),
:mod:`~gradfree.emns.evolution` (explicit state, selection strategies), :mod:`~gradfree.emns.scale`
(wide MLPs: batched mirrored population, ours), :mod:`~gradfree.emns.structure` (sec. 6),
:mod:`~gradfree.emns.metrics` (sec. 8.2), :mod:`~gradfree.emns.presets` (named configurations),
:mod:`~gradfree.emns.activity` (activity mutation).

Distributed populations (seed trick): every candidate's mutation is a pure function of an integer
seed drawn from the estimator's ``rng_`` (:func:`draw_seeds`). One generation split over workers:
the master draws ``seeds = draw_seeds(rng_, lam)``; each worker scores its share with
``evaluate(candidates(state, seeds, params, idx)[0], state.masks, state.sizes)``
(``gradfree.emns.fast.make_evaluator``); every worker then calls ``apply_generation(state, seeds,
fitness, params, evaluate, ...)`` with all lam fitness values and rebuilds only the winners from their
seeds - the same state as the in-process ``step_population``. Only seeds, fitness values and the
mutation rate travel. ``regenerate`` / ``recombine_from_seeds`` rebuild one candidate / parent.
"""

from gradfree.emns.control import PolicySearch
from gradfree.emns.engine import STRATEGIES, Strategy
from gradfree.emns.estimators import PAPER, EMNSClassifier, EMNSRegressor
from gradfree.emns.evolution import EvoState, apply_generation, candidates, recombine_from_seeds, regenerate
from gradfree.emns.mutation import candidate_noise, draw_seeds, mutate
from gradfree.emns.optimizer import EMNSOptimizer, EMNSResult
from gradfree.emns.params import PRESETS, EMNSParams, make_params
from gradfree.emns.presets import CONTINUAL, IMAGES, IMAGES_WEIGHTS, SCALE, TUNED
from gradfree.emns.structure import StructureParams
from gradfree.emns.wide import EMNSMLPClassifier, EMNSMLPRegressor

__all__ = ["EMNSOptimizer", "EMNSResult", "PolicySearch", "STRATEGIES", "Strategy",
           "EMNSRegressor", "EMNSClassifier", "EMNSMLPClassifier", "EMNSMLPRegressor", "StructureParams",
           "TUNED", "SCALE", "IMAGES", "IMAGES_WEIGHTS", "PAPER",
           "CONTINUAL", "EMNSParams", "PRESETS", "make_params", "EvoState",
           "candidate_noise", "draw_seeds", "mutate", "regenerate", "recombine_from_seeds", "candidates",
           "apply_generation"]
