"""Evolvable Modular Neural Systems (Karahan 2025, https://github.com/theomgdev/EMNS, the paper
being that repository's README; docs/papers.md): every parameter mutates, scaled by a co-evolving
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
seed drawn from the estimator's ``rng_`` (:func:`gradfree.emns.mutation.draw_seeds`); a worker that
knows the seed rebuilds its candidate, so only seeds, fitness values and the mutation rate travel
(:mod:`gradfree.emns.evolution`: ``candidates``, ``apply_generation``, ``regenerate``;
``gradfree.distributed`` uses them).
"""

from gradfree.emns.control import PolicySearch
from gradfree.emns.engine import STRATEGIES, Strategy
from gradfree.emns.estimators import PAPER, EMNSClassifier, EMNSRegressor
from gradfree.emns.optimizer import EMNSOptimizer, EMNSResult
from gradfree.emns.params import EMNSParams, make_params
from gradfree.emns.presets import CONTINUAL, IMAGES, IMAGES_WEIGHTS, SCALE, TUNED
from gradfree.emns.structure import StructureParams
from gradfree.emns.wide import EMNSMLPClassifier, EMNSMLPRegressor

#: the public API: the faces (ask/tell, policy search, the estimators), what configures them (engine
#: strategies, structural options, mutation constants) and the named configurations
__all__ = ["EMNSOptimizer", "EMNSResult", "Strategy", "STRATEGIES", "PolicySearch",
           "EMNSRegressor", "EMNSClassifier", "EMNSMLPClassifier", "EMNSMLPRegressor",
           "StructureParams", "EMNSParams", "make_params",
           "PAPER", "TUNED", "SCALE", "CONTINUAL", "IMAGES", "IMAGES_WEIGHTS"]
