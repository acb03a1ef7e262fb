"""One life cycle owned by the estimator base (scikit-learn's ``_fit_context``): every fit and
partial_fit checks the declared constraints once, then the multi-parameter rules, then the shared
prologue, then the model's ``_learn`` on validated tensors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from tests.core.test_estimator_contract import ESTIMATORS, _data, _make, ids

from gradfree.core import GradFreeEstimator, GradFreeRegressor

ON_LIFE_CYCLE = ESTIMATORS


def test_every_estimator_is_on_the_life_cycle():
    assert {"EMNSClassifier", "EMNSRegressor", "EMNSMLPClassifier", "EMNSMLPRegressor",
            "RMNClassifier", "WuxingClassifier"} <= {c.__name__ for c in ON_LIFE_CYCLE}
    for cls in ON_LIFE_CYCLE:
        params = inspect.signature(cls._learn).parameters.values()
        assert [p.name for p in params if p.kind is p.KEYWORD_ONLY] == ["first", "whole"], cls
        assert len(params) == 5, cls  # self, X, y (validated tensors), first, whole


@pytest.mark.parametrize("cls", ON_LIFE_CYCLE, ids=ids)
def test_no_estimator_overrides_the_life_cycle(cls):
    for name in ("fit", "partial_fit", "_life_cycle", "_check_params", "_init_rng", "_init_device"):
        owner = next(k for k in cls.__mro__ if name in vars(k))
        assert owner.__module__ == "gradfree.core.base", (cls.__name__, name, owner)


@pytest.mark.parametrize("cls", ON_LIFE_CYCLE, ids=ids)
def test_each_call_checks_constraints_once_then_rules_then_learns_on_tensors(cls, monkeypatch):
    X, y = _data()
    y = y.astype(float) if issubclass(cls, GradFreeRegressor) else y
    calls: list[str] = []
    model = _make(cls)
    orig_validate, orig_rules, orig_learn = model._validate_params, model._check_param_rules, model._learn

    def learn(Xt, yt, *, first, whole):
        assert isinstance(Xt, torch.Tensor) and isinstance(yt, torch.Tensor) and Xt.device == model.device_
        calls.append(f"learn first={first} whole={whole}")
        return orig_learn(Xt, yt, first=first, whole=whole)

    monkeypatch.setattr(model, "_validate_params", lambda: (calls.append("constraints"), orig_validate()))
    monkeypatch.setattr(model, "_check_param_rules", lambda: (calls.append("rules"), orig_rules()))
    monkeypatch.setattr(model, "_learn", learn)
    model.fit(X, y)
    kw = {} if issubclass(cls, GradFreeRegressor) else {"classes": np.unique(y)}
    model.partial_fit(X, y)
    model.fit(X, y)
    model2 = _make(cls)
    monkeypatch.setattr(model2, "_learn", lambda *a, **k: calls.append("first partial_fit") or model2)
    model2.partial_fit(X, y, **kw)
    assert calls == ["constraints", "rules", "learn first=True whole=True",
                     "constraints", "rules", "learn first=False whole=False",
                     "constraints", "rules", "learn first=True whole=True", "first partial_fit"]


@pytest.mark.parametrize("cls", ON_LIFE_CYCLE, ids=ids)
def test_a_bad_declared_parameter_is_refused_by_the_base_before_any_state(cls):
    X, y = _data()
    y = y.astype(float) if issubclass(cls, GradFreeRegressor) else y
    name = "device" if "random_state" not in cls._parameter_constraints else "random_state"
    model = _make(cls).set_params(**{name: object()})
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        model.fit(X, y)
    assert not model.__sklearn_is_fitted__() and not hasattr(model, "device_")


def test_the_base_is_abstract():
    with pytest.raises(NotImplementedError):
        GradFreeEstimator()._learn(torch.zeros(1, 1), torch.zeros(1), first=True, whole=True)
