"""Model files are untrusted: every attack and every kind of damage is a clear error that runs nothing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from gradfree import NearestClassMean
from gradfree.core.io import ModelFileError, load_estimator


@pytest.fixture
def saved(digits, tmp_path):
    X, y = digits
    NearestClassMean().fit(X, y).save(tmp_path / "m")
    return tmp_path / "m"


def _edit(path, change):
    meta = json.loads(path.with_suffix(".json").read_text())
    change(meta)
    path.with_suffix(".json").write_text(json.dumps(meta))


def _loads_fail(path, match, cls=NearestClassMean):
    with pytest.raises(ModelFileError, match=match) as info:
        cls.load(path)
    assert str(path.name) in str(info.value) or "safetensors" in str(info.value)
    return info.value


@pytest.mark.parametrize("where", ["params", "state"])
@pytest.mark.parametrize("target", ["subprocess:run", "os:system", "gradfree.core.io:ModelFileError"])
def test_named_callables_are_never_called(saved, tmp_path, where, target):
    pwned = tmp_path / "pwned"
    payload = {"__dataclass__": target, "fields": {"args": ["touch", str(pwned)]}}

    def change(meta):
        meta[where]["metric" if where == "params" else "counts_"] = payload

    _edit(saved, change)
    err = _loads_fail(saved, "not a gradfree state type")
    assert not pwned.exists()
    assert err.field in ("params.metric", "state.counts_")


def test_class_named_in_file_is_not_imported(saved, tmp_path, monkeypatch):
    pwned = tmp_path / "pwned"
    (tmp_path / "evil_module.py").write_text(f"open({str(pwned)!r}, 'w').close()\nclass Model: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _edit(saved, lambda meta: meta.update({"class": "evil_module:Model"}))
    _loads_fail(saved, "not a gradfree estimator")
    with pytest.raises(ModelFileError, match="class"):
        load_estimator(saved)  # no expected class: the allow-list still decides
    assert not pwned.exists() and "evil_module" not in sys.modules


def test_expected_class_checked_first(saved):
    from gradfree.baselines import MLPClassifier

    with pytest.raises(ModelFileError, match="not a MLPClassifier"):
        MLPClassifier.load(saved)


def test_numpy_generator_names_are_allow_listed(saved):
    _edit(saved, lambda meta: meta["state"].update(
        {"counts_": {"__np_generator__": {"bit_generator": "SeedSequence", "state": {}}}}))
    _loads_fail(saved, "unknown numpy bit generator")


def test_flipped_bit_in_tensors_is_detected(saved):
    st = saved.with_suffix(".safetensors")
    data = bytearray(st.read_bytes())
    data[-5] ^= 0x10
    st.write_bytes(bytes(data))
    _loads_fail(saved, "checksum mismatch")


@pytest.mark.parametrize("damage", [lambda t: t[: len(t) // 2], lambda t: "", lambda t: "[1, 2]"])
def test_truncated_or_wrong_json_names_the_file(saved, damage):
    js = saved.with_suffix(".json")
    js.write_text(damage(js.read_text()))
    with pytest.raises(ModelFileError, match="m.json"):
        NearestClassMean.load(saved)


@pytest.mark.parametrize("field, value, match", [
    ("n_features_in_", -3, "integer >= 1"),
    ("n_features_in_", "64", "must be an integer"),
    ("device_", {"__device__": "cuda:7"}, "does not have|not a device|cpu"),
    ("device_", {"__device__": "tpu"}, "not a device|unsupported"),
    ("classes_", {"__ndarray_json__": [1, 1], "dtype": "<i8"}, "distinct"),
    ("classes_", {"__ndarray_json__": [["x"]], "dtype": "|O"}, "dtype"),
    ("sums_", {"__tensor__": "nope", "device": "cpu"}, "does not hold"),
    ("predict", 3, "not a field"),
    ("means_", 3, "not a field"),
])
def test_absurd_state_fields_are_refused_by_name(saved, field, value, match):
    _edit(saved, lambda meta: meta["state"].update({field: value}))
    err = _loads_fail(saved, match)
    assert field in err.field


def test_inconsistent_shapes_are_refused_at_load(saved):
    _edit(saved, lambda meta: meta["state"].update({"n_features_in_": 5}))
    _loads_fail(saved, "disagrees with 5")


@pytest.mark.parametrize("params, match", [
    ({"metric": "euclidean", "device": "cpu", "foo": 1}, "no parameter"),
    ({"metric": "manhattan", "device": "cpu"}, "metric"),
    ({"device": "cpu"}, "missing parameter"),
])
def test_params_are_checked(saved, params, match):
    _edit(saved, lambda meta: meta.update({"params": params}))
    _loads_fail(saved, match)


def test_unknown_tags_and_formats(saved):
    _edit(saved, lambda meta: meta["state"].update({"counts_": {"__pickle__": "gASV"}}))
    _loads_fail(saved, "type tag")
    _edit(saved, lambda meta: meta.update({"format": 1}))
    _loads_fail(saved, "format")


def test_saved_files_have_ordinary_permissions(saved):
    modes = {p.suffix: p.stat().st_mode & 0o777 for p in saved.parent.iterdir()}
    assert modes[".safetensors"] == modes[".json"]


def test_round_trip_still_exact(saved, digits):
    X, _ = digits
    m = NearestClassMean.load(saved)
    np.testing.assert_array_equal(m.predict(X), NearestClassMean.load(saved).predict(X))
