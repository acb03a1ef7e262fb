"""Fuzzing genuine model files: whatever is edited, a load either refuses the file with a
``ModelFileError`` quickly, or gives a model whose predictions are known labels and whose
probabilities are finite and sum to one."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from gradfree.core import GradFreeClassifier
from gradfree.core.io import ModelFileError, load_estimator

from .saved_models import data, save_all

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    torch.set_num_threads(1)
    paths = save_all(tmp_path_factory.mktemp("fuzz-genuine"))
    leaves = {}
    for name, path in paths.items():
        meta = json.loads(path.with_suffix(".json").read_text())
        leaves[name] = sorted(_paths(meta), key=str)
    tensors = {name: sorted(load_file(str(p.with_suffix(".safetensors")))) for name, p in paths.items()}
    X, _ = data()
    for path in paths.values():  # warm up: what a genuine load and prediction cost is the baseline
        model = load_estimator(path)
        if hasattr(model, "ask"):
            model.ask()
            continue
        model.predict(X)
        if hasattr(model, "predict_proba"):
            model.predict_proba(X)
    return paths, leaves, tensors


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def rss_baseline(genuine):
    return _peak_rss_mb()


def _paths(obj, prefix=()):
    """Every place in a JSON document a value can be replaced (dict keys and list indices)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:8]):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.sampled_from([-1, 0, 1, 3, 10**9, 2**70, -(2**63)]),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1.5, 0.0, 1e-320]),
    st.sampled_from(["", "x" * 1000, "cuda", "numba", "__tensor__"]),
    st.just([]), st.just({}), st.just([1, 2]), st.just({"__tensor__": "nope"}),
    st.just({"__dataclass__": "os:system", "fields": {}}),
)
TENSOR_VALUES = [float("nan"), float("inf"), -float("inf"), 1e30, -1.0, 0.0]
DTYPES = [torch.float64, torch.float16, torch.int8, torch.int64, torch.bool, torch.uint8]


def _set(meta, path, value):
    node = meta
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _rehash(base):
    st_path = base.with_suffix(".safetensors")
    meta = json.loads(base.with_suffix(".json").read_text())
    meta["tensors_sha256"] = hashlib.sha256(st_path.read_bytes()).hexdigest()
    base.with_suffix(".json").write_text(json.dumps(meta))


@st.composite
def edits(draw, genuine):
    paths, leaves, tensors = genuine
    name = draw(st.sampled_from(sorted(paths)))
    kind = draw(st.sampled_from(["json", "tensor-value", "tensor-dtype", "tensor-shape", "truncate",
                                 "duplicate"]))
    if kind == "json":
        return name, kind, (draw(st.sampled_from(leaves[name])), draw(JSON_VALUES))
    if kind.startswith("tensor"):
        key = draw(st.sampled_from(tensors[name]))
        if kind == "tensor-value":
            return name, kind, (key, draw(st.sampled_from(TENSOR_VALUES)), draw(st.booleans()))
        if kind == "tensor-dtype":
            return name, kind, (key, draw(st.sampled_from(DTYPES)))
        return name, kind, (key, draw(st.sampled_from(["drop", "grow", "flatten", "scalar"])))
    if kind == "truncate":
        return name, kind, (draw(st.sampled_from([".json", ".safetensors"])), draw(st.floats(0, 0.999)))
    return name, kind, draw(st.sampled_from(leaves[name]))


def _apply(base, kind, what):
    if kind == "json":
        meta = json.loads(base.with_suffix(".json").read_text())
        _set(meta, *what)
        base.with_suffix(".json").write_text(json.dumps(meta))
    elif kind.startswith("tensor"):
        st_path = base.with_suffix(".safetensors")
        tensors = load_file(str(st_path))
        key = what[0]
        t = tensors[key]
        if kind == "tensor-value" and t.is_floating_point():
            value, everywhere = what[1], what[2]
            t = t.clone()
            if everywhere:
                t.fill_(value)
            elif t.numel():
                t.view(-1)[0] = value
        elif kind == "tensor-value":
            t = t.clone()
            if t.numel() and t.dtype not in (torch.bool, torch.uint8):
                t.view(-1)[0] = -1 if what[1] < 0 else 10**6
        elif kind == "tensor-dtype":
            t = t.to(what[1])
        else:
            shape = what[1]
            t = (t.reshape(-1)[:-1] if shape == "drop" and t.numel() else
                 torch.cat([t.reshape(-1), t.reshape(-1)[:1]]) if shape == "grow" and t.numel() else
                 t.reshape(-1) if shape == "flatten" else t.reshape(-1)[:1].reshape(()) if t.numel() else t)
        tensors[key] = t.contiguous()
        save_file(tensors, str(st_path))
        _rehash(base)
    elif kind == "truncate":
        suffix, frac = what
        f = base.with_suffix(suffix)
        raw = f.read_bytes()
        f.write_bytes(raw[: int(len(raw) * frac)])
        if suffix == ".safetensors":
            _rehash(base)
    else:  # duplicate a key: the same field twice in one JSON object
        path = what
        meta = json.loads(base.with_suffix(".json").read_text())
        node = meta
        for p in path[:-1]:
            node = node[p]
        if isinstance(node, dict):
            text = json.dumps(meta)
            key = json.dumps(path[-1])
            text = text.replace(key + ":", f"{key}: 0, {key}:", 1)
            base.with_suffix(".json").write_text(text)
        else:
            node.append(node[path[-1]])
            base.with_suffix(".json").write_text(json.dumps(meta))


# CI replays the same examples every run (a red CI must mean a regression); locally each run explores anew.
@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=os.environ.get("CI") == "true")
@given(data_=st.data())
def test_fuzzed_files_are_refused_or_predict_sanely(genuine, rss_baseline, tmp_path_factory, data_):
    """Also bounded: the process's peak memory never grows by 100 MB over a genuine load's."""
    paths, _, _ = genuine
    name, kind, what = data_.draw(edits(genuine))
    base = tmp_path_factory.mktemp("fuzz") / "m"
    for suffix in (".json", ".safetensors"):
        shutil.copyfile(paths[name].with_suffix(suffix), base.with_suffix(suffix))
    _apply(base, kind, what)
    X, y = data()
    start = time.perf_counter()
    try:
        model = load_estimator(base)
    except ModelFileError as exc:
        assert time.perf_counter() - start < 5.0
        assert _peak_rss_mb() - rss_baseline < 100, (name, kind, what)
        assert base.name in str(exc) and len(str(exc)) < 1000
        return
    assert time.perf_counter() - start < 5.0
    assert _peak_rss_mb() - rss_baseline < 100, (name, kind, what)
    if hasattr(model, "ask"):  # the ask/tell engine: finite candidates, and it takes their values
        cand = model.ask()
        assert cand.ndim == 2 and np.all(np.isfinite(cand)), (name, kind, what)
        model.tell(cand, (cand ** 2).sum(axis=1))
        return
    pred = np.asarray(model.predict(X))
    if isinstance(model, GradFreeClassifier):
        assert set(np.unique(pred).tolist()) <= set(model.classes_.tolist()), (name, kind, what)
        if hasattr(model, "predict_proba"):
            P = model.predict_proba(X)
            assert np.all(np.isfinite(P)), (name, kind, what)
            np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    else:
        assert pred.shape[0] == len(X) and np.all(np.isfinite(pred)), (name, kind, what)
