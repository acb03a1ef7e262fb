"""The estimator base: validation, devices, seeding, persistence, and the shared checks on NCM."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest
import torch

from gradfree import NearestClassMean
from gradfree.core import GradFreeEstimator, resolve_device, schema
from gradfree.core.checks import (
    check_deterministic,
    check_no_autograd,
    check_save_load_roundtrip,
    run_sklearn_checks,
)
from gradfree.core.io import load_estimator, save_estimator, saveable


def test_ncm_passes_sklearn_checks():
    run_sklearn_checks(NearestClassMean())
    run_sklearn_checks(NearestClassMean(metric="cosine"))


def test_ncm_shared_checks(digits, tmp_path):
    X, y = digits
    check_no_autograd(NearestClassMean(), X, y)
    check_deterministic(NearestClassMean(), X, y)
    check_save_load_roundtrip(NearestClassMean().fit(X, y), X, tmp_path / "ncm")


def test_ncm_equals_independent_computation(blobs):
    X, y = blobs
    m = NearestClassMean().fit(X, y)
    means = np.stack([X[y == c].mean(0) for c in range(3)])
    expected = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(m.predict(X), expected)
    np.testing.assert_allclose(m.means_.numpy(), means, rtol=1e-5, atol=1e-6)


def test_partial_fit_in_pieces_equals_fit(blobs):
    X, y = blobs
    whole = NearestClassMean().fit(X, y)
    parts = NearestClassMean()
    for idx in np.array_split(np.random.default_rng(0).permutation(len(y)), 4):
        parts.partial_fit(X[idx], y[idx])
    np.testing.assert_allclose(np.sort(parts.classes_), whole.classes_)
    np.testing.assert_array_equal(parts.predict(X), whole.predict(X))


@pytest.mark.parametrize("bad, match", [
    (np.array([[np.nan, 1.0]]), "NaN"),
    (np.array([[np.inf, 1.0]]), "infinity"),
    (np.zeros((0, 2)), "0 sample"),
    (np.zeros(4), "2D array"),
])
def test_bad_input_raises_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        NearestClassMean().fit(bad, np.zeros(len(bad)))


def test_feature_count_change_between_partial_fits(blobs):
    X, y = blobs
    m = NearestClassMean().partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :4])


def test_unknown_labels_in_score_raise(blobs):
    X, y = blobs
    m = NearestClassMean().fit(X, y)
    with pytest.raises(ValueError, match="unknown labels"):
        m.score(X, y + 10)


def test_fixed_classes_reject_new_labels(blobs):
    X, y = blobs
    m = NearestClassMean().partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes"):
        NearestClassMean().partial_fit(X, y, classes=[0, 1])
    m.partial_fit(X[y == 2], y[y == 2])  # growth is allowed when classes were not fixed for it
    assert list(m.classes_) == [0, 1, 2]


def test_torch_input_and_string_labels(blobs):
    X, y = blobs
    labels = np.array(["a", "b", "c"])[y]
    m = NearestClassMean().fit(torch.from_numpy(X), labels)
    assert m.score(X, labels) > 0.9
    assert m.predict(X).dtype.kind == "U"


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@saveable
@dataclasses.dataclass(frozen=True)
class _State:
    w: torch.Tensor
    history: list
    note: str

    _saved_fields: ClassVar[dict] = {"w": schema.tensor(3), "history": schema.Spec("floats", finite=False),
                                     "note": schema.Spec("str")}


class _Toy(GradFreeEstimator):
    _saved_fields = {**schema.RNG, "state_": schema.saved_state(_State),
                     "mask_": schema.tensor(2, dtype=("bool",)),
                     "table_": schema.Spec("any"), "np_rng_": schema.Spec("any")}

    def __init__(self, alpha: float = 0.5, random_state=None, device="cpu"):
        self.alpha = alpha
        self.random_state = random_state
        self.device = device

    def fit(self, X, y=None):
        self._init_device()
        X = self._validate(X, reset=True)
        rng = self._init_rng()
        self.state_ = _State(torch.randn(3, generator=rng), [0.1, float("nan"), 1e-300], "x")
        self.mask_ = torch.tensor([True, False])
        self.table_ = {"a": np.arange(3, dtype=np.int16), "b": (1, 2.5)}
        self.np_rng_ = np.random.default_rng(3)
        return self


def test_save_load_roundtrip_of_every_kind_of_state(tmp_path):
    toy = _Toy(alpha=0.25, random_state=7).fit(np.ones((4, 2)))
    save_estimator(toy, tmp_path / "toy.json")
    back = load_estimator(tmp_path / "toy")
    assert back.alpha == 0.25 and back.random_state == 7
    assert torch.equal(back.state_.w, toy.state_.w)
    assert back.state_.history[0] == 0.1 and np.isnan(back.state_.history[1])
    assert back.state_.history[2] == 1e-300
    assert torch.equal(back.mask_, toy.mask_)
    assert back.table_["a"].dtype == np.int16 and back.table_["b"] == (1, 2.5)
    # The RNG continues where it left off.
    assert torch.equal(torch.rand(5, generator=back.rng_), torch.rand(5, generator=toy.rng_))
    assert back.np_rng_.random() == toy.np_rng_.random()


def test_load_refuses_wrong_class(tmp_path, blobs):
    X, y = blobs
    NearestClassMean().fit(X, y).save(tmp_path / "m")
    with pytest.raises(ValueError, match="not a _Toy"):
        _Toy.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        NearestClassMean.load(tmp_path / "nothing")


def test_unsaveable_state_is_refused(tmp_path):
    toy = _Toy().fit(np.ones((2, 2)))
    toy.weird_ = object()
    with pytest.raises(TypeError, match="weird_"):
        toy.save(tmp_path / "toy")
