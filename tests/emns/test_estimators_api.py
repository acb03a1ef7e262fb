"""The public surface of gradfree.emns: what __all__ lists, one meaning per name, a runnable example on
everything users call, the rules the life cycle checks."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import gradfree.emns
from gradfree.emns import EMNSClassifier, EMNSMLPClassifier, EMNSRegressor, StructureParams

CALLED = ["EMNSOptimizer", "PolicySearch", "EMNSRegressor", "EMNSClassifier", "EMNSMLPClassifier",
          "EMNSMLPRegressor", "StructureParams", "make_params"]


def _modules():
    for info in pkgutil.walk_packages(gradfree.emns.__path__, "gradfree.emns."):
        yield importlib.import_module(info.name)


def test_all_is_the_public_api_only():
    names = set(gradfree.emns.__all__)
    assert set(CALLED) <= names
    internals = {"EvoState", "candidates", "apply_generation", "regenerate", "recombine_from_seeds",
                 "candidate_noise", "draw_seeds", "mutate", "PRESETS"}
    assert not names & internals


def test_one_name_means_one_thing_across_the_package():
    seen: dict[str, tuple[str, object]] = {}
    for mod in _modules():
        for name, value in vars(mod).items():
            if name.isupper() and isinstance(value, tuple):
                if name in seen and seen[name][1] != value:
                    pytest.fail(f"{name} is {seen[name][1]} in {seen[name][0]} but {value} in {mod.__name__}")
                seen.setdefault(name, (mod.__name__, value))


def test_everything_users_call_has_a_runnable_example():
    for name in CALLED:
        obj = getattr(gradfree.emns, name)
        assert ">>>" in (obj.__doc__ or ""), name
    for cls, presets in ((EMNSRegressor, ("paper", "tuned")),
                         (EMNSMLPClassifier, ("scale", "continual", "images", "images_weights"))):
        for preset in presets:
            assert ">>>" in getattr(cls, preset).__doc__, (cls.__name__, preset)


@pytest.mark.parametrize("params, match", [
    (dict(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes"),
    (dict(selection="comma", n_parents=20, population_size=16), "n_parents <= population_size"),
    (dict(recombination=17, population_size=16), "recombination"),
    (dict(rate_rule="csa"), "recombination >= 1"),
    (dict(constants="reference", mu_min=0.5), "mu_max"),
    (dict(structure=StructureParams(interval=0)), "interval"),
])
def test_rules_of_several_parameters_are_refused_before_any_state(params, match):
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    model = EMNSClassifier(max_evaluations=16, **params)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)
    assert not model.__sklearn_is_fitted__() and not hasattr(model, "device_")
