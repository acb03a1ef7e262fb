"""RMNClassifier's option groups (HomeostasisParams, PrototypeParams): scikit-learn parameters,
validation, saved files (and files saved before the options were grouped)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.base import clone

from gradfree.core.io import ModelFileError
from gradfree.data import load_digits
from gradfree.rmn import HomeostasisParams, PrototypeParams, RMNClassifier

FLAT_HOMEOSTASIS = {"theta": "theta", "epsilon": "epsilon", "activity_decay": "activity_decay",
                    "interval": "homeostasis_interval"}
FLAT_PROTOTYPES = {"n": "n_prototypes", "vote_k": "vote_k", "lr": "prototype_lr", "push_lr": "push_lr",
                   "cap": "prototype_cap", "pull_k": "pull_k", "recruit_threshold": "recruit_threshold"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


def test_groups_are_parameters_that_clone_and_set():
    m = RMNClassifier.paper(prototypes=PrototypeParams(n=40, cap=3))
    c = clone(m)
    assert c.homeostasis == m.homeostasis and c.prototypes == PrototypeParams(n=40, cap=3)
    c.set_params(homeostasis=None, prototypes=PrototypeParams(vote_k=2))
    assert c.get_params()["homeostasis"] is None and c.prototypes.vote_k == 2
    assert m.prototypes.n == 40                             # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.homeostasis.theta = 1.0                           # type: ignore[misc]


@pytest.mark.parametrize("bad, match", [
    (dict(homeostasis=HomeostasisParams(epsilon=-0.1)), "epsilon"),
    (dict(homeostasis=HomeostasisParams(activity_decay=2.0)), "activity_decay"),
    (dict(prototypes=PrototypeParams(vote_k=0)), "vote_k"),
    (dict(prototypes=PrototypeParams(pull_k=1.5)), "pull_k"),
    (dict(homeostasis=PrototypeParams()), "homeostasis"),   # the wrong group
    (dict(prototypes={"n": 10}), "prototypes"),              # a dict is not a group
])
def test_bad_group_values_name_the_field(digits, bad, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        RMNClassifier.paper(n_neurons=30, **bad).fit(X, y)


def _flatten(meta: dict) -> None:
    """Rewrite a saved file's parameters as a file saved before the options were grouped held them."""
    p = meta["params"]
    h, pr = p.pop("homeostasis"), p.pop("prototypes")
    hf = h["fields"] if h else dataclasses.asdict(HomeostasisParams())
    pf = pr["fields"] if pr else dataclasses.asdict(PrototypeParams())
    p["homeostasis"] = h is not None
    p.update({old: hf[new] for new, old in FLAT_HOMEOSTASIS.items()})
    p.update({old: pf[new] for new, old in FLAT_PROTOTYPES.items()})


@pytest.mark.parametrize("make", [
    lambda: RMNClassifier.paper(n_neurons=40, homeostasis=HomeostasisParams(interval=3),
                                prototypes=PrototypeParams(n=20, vote_k=2, cap=4), random_state=0),
    lambda: RMNClassifier(n_neurons=40, random_state=0),
])
def test_files_saved_before_the_grouping_load(digits, tmp_path, make):
    X, y = digits
    m = make().fit(X, y)
    path = m.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    _flatten(meta)
    path.write_text(json.dumps(meta))
    loaded = RMNClassifier.load(tmp_path / "m")
    assert loaded.homeostasis == m.homeostasis                 # None (off) stays None
    assert loaded._prototype_params() == m._prototype_params()  # None (defaults) comes back spelt out
    assert {**loaded.get_params(), "prototypes": None} == {**m.get_params(), "prototypes": None}
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))


def test_a_crafted_group_is_refused_naming_the_file(digits, tmp_path):
    X, y = digits
    path = RMNClassifier.paper(n_neurons=30, random_state=0).fit(X, y).save(tmp_path / "m")
    meta = json.loads(path.read_text())
    meta["params"]["homeostasis"]["fields"]["interval"] = -5
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="interval") as info:
        RMNClassifier.load(tmp_path / "m")
    assert "m.json" in str(info.value)
    meta["params"]["homeostasis"] = {"__dataclass__": "gradfree.rmn.params:PrototypeParams",
                                     "fields": dataclasses.asdict(PrototypeParams())}
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="homeostasis"):
        RMNClassifier.load(tmp_path / "m")
