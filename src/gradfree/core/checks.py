"""Checks every gradfree estimator must pass; the test suite runs them on each model.

* :func:`run_sklearn_checks` - scikit-learn's ``check_estimator``, with the checks that cannot apply
  to a model listed (with the reason) by the caller;
* :func:`check_no_autograd` - fitting never builds a graph or calls backward, and no fitted tensor
  requires grad;
* :func:`check_save_load_roundtrip` - a loaded model predicts exactly what the saved one did and
  holds bit-identical state;
* :func:`check_deterministic` - the same ``random_state`` gives the same predictions, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator, estimator_checks_generator


def run_sklearn_checks(estimator: Any, expected_failed_checks: dict[str, str] | None = None) -> None:
    """Run scikit-learn's estimator checks; raise on the first unexpected failure.

    Each expected failure (check name -> why) is run too and must still fail: a check that has started
    to pass raises ``AssertionError`` ("stale expected failure"), so the list cannot go out of date.
    """
    expected = dict(expected_failed_checks or {})
    check_estimator(estimator, expected_failed_checks=expected, on_fail="raise")
    found = set()
    for est, check in estimator_checks_generator(estimator, legacy=True):
        name = getattr(check, "func", check).__name__
        if name not in expected:
            continue
        found.add(name)
        try:
            check(est)
        except Exception:  # noqa: BLE001 - any failure is the expected one
            continue
        raise AssertionError(f"stale expected failure: {name} now passes for {type(estimator).__name__} "
                             f"(listed because: {expected[name]}); remove it from the list")
    if set(expected) - found:
        raise AssertionError(f"not scikit-learn checks: {sorted(set(expected) - found)}")


@contextmanager
def _autograd_forbidden():
    def boom(*_: Any, **__: Any) -> None:
        raise AssertionError("autograd was called during learning")

    with mock.patch.object(torch.Tensor, "backward", boom), mock.patch("torch.autograd.backward", boom), \
            mock.patch("torch.autograd.grad", boom):
        yield


def _fitted_tensors(est: Any) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}

    def visit(name: str, v: Any) -> None:
        if isinstance(v, torch.Tensor):
            out[name] = v
        elif isinstance(v, torch.nn.Module):
            for n, p in v.named_parameters():
                out[f"{name}.{n}"] = p
        elif isinstance(v, dict):
            for k, vv in v.items():
                visit(f"{name}.{k}", vv)
        elif isinstance(v, (list, tuple)):
            for i, vv in enumerate(v):
                visit(f"{name}.{i}", vv)
        elif hasattr(v, "__dataclass_fields__"):
            for k in v.__dataclass_fields__:
                visit(f"{name}.{k}", getattr(v, k))

    for k, v in vars(est).items():
        if k.endswith("_"):
            visit(k, v)
    return out


def check_no_autograd(estimator: Any, X: Any, y: Any, fit: Callable[[Any], Any] | None = None) -> None:
    """Fit with autograd entry points patched to fail; then no fitted tensor may require grad."""
    est = clone(estimator)
    with _autograd_forbidden():
        (fit or (lambda e: e.fit(X, y)))(est)
        est.predict(X)
    tensors = _fitted_tensors(est)
    assert tensors, "the estimator holds no tensors after fit"
    grads = [k for k, t in tensors.items() if t.requires_grad]
    assert not grads, f"fitted tensors require grad: {grads}"


def _state_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and \
            bool(torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, torch.Generator):
        return torch.equal(a.get_state(), b.get_state())
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_state_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_state_equal(x, z) for x, z in zip(a, b))
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(_state_equal(getattr(a, k), getattr(b, k))
                                          for k in a.__dataclass_fields__)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def check_save_load_roundtrip(fitted: Any, X: Any, path: str | Path) -> Any:
    """Save, load, and require identical fitted state and predictions. Returns the loaded model."""
    fitted.save(path)
    loaded = type(fitted).load(path)
    for k, v in vars(fitted).items():
        if k.endswith("_") and not k.startswith("_"):
            assert hasattr(loaded, k), f"{k} was not restored"
            assert _state_equal(v, getattr(loaded, k)), f"{k} differs after load"
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(fitted.predict(X), loaded.predict(X))
    return loaded


def check_deterministic(estimator: Any, X: Any, y: Any) -> None:
    """Two fits with the same ``random_state`` predict identically."""
    a = clone(estimator).fit(X, y).predict(X)
    b = clone(estimator).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
