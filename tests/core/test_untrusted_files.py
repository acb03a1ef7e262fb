"""Model files are untrusted: crafted files cost bounded work, only regular files are read, every value
is checked, and the generic loader works in a fresh process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gradfree.core import schema
from gradfree.core.io import ModelFileError, load_estimator

from .saved_models import concrete_estimators, data, save_all

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    torch.set_num_threads(1)
    return save_all(tmp_path_factory.mktemp("genuine"))


def _copy(src: Path, dst: Path) -> Path:
    for suffix in (".json", ".safetensors"):
        dst.with_suffix(suffix).write_bytes(src.with_suffix(suffix).read_bytes())
    return dst


def _edit_json(path: Path, change) -> None:
    meta = json.loads(path.with_suffix(".json").read_text())
    change(meta)
    path.with_suffix(".json").write_text(json.dumps(meta))


def _edit_tensor(path: Path, key: str, change) -> None:
    """Change one stored tensor and recompute the checksum, as anyone editing a file can."""
    st = path.with_suffix(".safetensors")
    tensors = load_file(str(st))
    tensors[key] = change(tensors[key])
    save_file(tensors, str(st))
    _edit_json(path, lambda m: m.update(tensors_sha256=hashlib.sha256(st.read_bytes()).hexdigest()))


def _dynamics(**changes) -> dict:
    """WuxingClassifier's ``dynamics`` parameter as a file holds it, with ``changes``."""
    import dataclasses

    from gradfree.wuxing import DynamicsParams

    fields = {**dataclasses.asdict(DynamicsParams()), **changes}
    return {"__dataclass__": "gradfree.wuxing.params:DynamicsParams", "fields": fields}


def _refused(path: Path, match: str | None = None) -> ModelFileError:
    with pytest.raises(ModelFileError, match=match) as info:
        load_estimator(path)
    assert path.name in str(info.value)
    return info.value


def test_every_estimator_declares_its_fields_and_every_genuine_file_loads(genuine):
    for cls in concrete_estimators():
        assert schema.fields_of(cls), f"{cls.__name__} declares no saved fields"
    X, _ = data()
    for name, path in genuine.items():
        model = load_estimator(path)
        if hasattr(model, "ask"):  # the ask/tell engine: it proposes finite candidates
            assert np.all(np.isfinite(model.ask())), name
        else:
            assert np.asarray(model.predict(X)).shape[0] == len(X), name


# ---------------------------------------------------------------------------- values
def _set_state(field, value):
    return lambda meta: meta["state"].update({field: value})


@pytest.mark.parametrize("model, tensor, change, match", [
    ("NearestClassMean", "sums_", lambda t: t.fill_(float("nan")), "NaN"),
    ("NearestClassMean", "counts_", lambda t: -t, "below 0"),
    ("NearestClassMean", "sums_", lambda t: t.to(torch.int8), "dtype int8"),
    ("EMNSMLPClassifier", "state_.theta", lambda t: t.fill_(float("nan")), "NaN"),
    ("EMNSMLPClassifier", "x_scale_", lambda t: t.zero_(), "below"),
    ("RMNClassifier", "lda_m2_", lambda t: t.fill_(float("nan")), "NaN"),
    ("RMNClassifier", "lda_counts_", lambda t: -t, "below 0"),
    ("WuxingClassifier", "wiring_.src", lambda t: t.fill_(-3), "below 0"),
    ("WuxingClassifier", "wiring_.dst", lambda t: t + 10**6, "outside the network"),
    ("MLPClassifier", "weights_.0", lambda t: t[:-1], "disagrees"),
])
def test_edited_tensors_are_refused_by_name(genuine, tmp_path, model, tensor, change, match):
    path = _copy(genuine[model], tmp_path / "m")
    _edit_tensor(path, tensor, change)
    err = _refused(path, match)
    assert tensor.split(".")[0] in err.field


@pytest.mark.parametrize("model, change, match", [
    ("NearestClassMean", _set_state("n_features_in_", 10**9), "disagrees"),
    ("RMNClassifier", _set_state("k_", [10**9]), "more winners"),
    ("RMNClassifier", lambda m: m["params"].update(n_neurons=10**9), "n_neurons"),
    ("EMNSMLPClassifier", lambda m: m["state"]["state_"]["fields"].update(sizes=[16, 0, 4]), ">= 1"),
    ("EMNSMLPClassifier", lambda m: m["state"]["state_"]["fields"].update(sizes=[16, 10**9, 4]), "sizes"),
    ("WuxingClassifier", lambda m: m["state"]["wiring_"]["fields"].update(sizes=[16, 2 * 10**8, 4]),
     "sizes"),
    ("WuxingClassifier", lambda m: m["params"].update(dynamics=_dynamics(T=1e12)), "integration steps"),
    ("NearestClassMean", _set_state("extra_", 1), "not a field"),
    ("NearestClassMean", lambda m: m.update(surprise=1), "unknown top-level"),
    ("EMNSMLPClassifier", lambda m: m["state"]["state_"]["fields"].update(mutation_rate=float("nan")),
     "finite"),
])
def test_edited_fields_are_refused_by_name(genuine, tmp_path, model, change, match):
    path = _copy(genuine[model], tmp_path / "m")
    _edit_json(path, change)
    _refused(path, match)


def test_duplicate_keys_and_deep_or_huge_json_are_refused(genuine, tmp_path):
    path = _copy(genuine["NearestClassMean"], tmp_path / "m")
    text = path.with_suffix(".json").read_text()
    path.with_suffix(".json").write_text(text.replace('"state": {', '"state": {"n_features_in_": 3, ', 1))
    _refused(path, "duplicate key")
    path.with_suffix(".json").write_text("[" * 200_000 + "]" * 200_000)
    _refused(path, "nested")
    _copy(genuine["NearestClassMean"], path)
    _edit_json(path, lambda m: m["params"].update(metric="x" * 10_000_000))
    err = _refused(path, "metric")
    assert len(str(err)) < 1000


def test_load_onto_a_missing_cuda_device_says_so(genuine):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA device"):
        load_estimator(genuine["NearestClassMean"], device="cuda")


# ---------------------------------------------------------------------------- special files
@pytest.mark.parametrize("suffix", [".json", ".safetensors"])
@pytest.mark.parametrize("kind", ["dev-zero-link", "fifo", "directory", "link-to-genuine"])
def test_only_regular_files_are_read(genuine, tmp_path, suffix, kind):
    path = _copy(genuine["NearestClassMean"], tmp_path / "m")
    target = path.with_suffix(suffix)
    real = tmp_path / ("real" + suffix)
    real.write_bytes(target.read_bytes())
    target.unlink()
    if kind == "dev-zero-link":
        target.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        target.symlink_to(real)
    err = _refused(path)
    assert target.name in str(err)


# ---------------------------------------------------------------------------- bounded work
BOMB = textwrap.dedent("""
    import json, resource, sys, time
    import torch
    torch.set_num_threads(1)
    from gradfree.core.io import ModelFileError, load_estimator
    genuine, crafted = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter(); load_estimator(genuine); base = time.perf_counter() - t0
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + 100 * 2**20, hard))   # at most 100 MB more
    t0 = time.perf_counter()
    try:
        load_estimator(crafted)
        print(json.dumps({"outcome": "loaded"}))
    except ModelFileError as exc:
        print(json.dumps({"outcome": "refused", "seconds": time.perf_counter() - t0 - base,
                          "message": str(exc)[:300]}))
""")


@pytest.mark.parametrize("model, change", [
    ("NearestClassMean", _set_state("n_features_in_", 6 * 10**8)),
    ("WuxingClassifier", lambda m: m["state"]["wiring_"]["fields"].update(sizes=[16, 2 * 10**8, 6, 4])),
    ("WuxingClassifier", lambda m: m["params"].update(dynamics=_dynamics(T=1e12))),
    ("RMNClassifier", lambda m: m["params"].update(n_neurons=10**9)),
    ("EMNSMLPClassifier", lambda m: m["state"]["state_"]["fields"].update(sizes=[16, 10**9, 4])),
    ("MLPClassifier", lambda m: m["params"].update(hidden_layer_sizes={"__tuple__": [10**9]})),
    ("NearestClassMean", lambda m: m["params"].update(metric="x" * 10**7)),
    ("NearestClassMean", lambda m: m["state"].update(many_=[[[[[[[[0]]]]]]]] * 10**4)),
])
def test_crafted_files_cost_bounded_memory_and_time(genuine, tmp_path, model, change):
    path = _copy(genuine[model], tmp_path / "m")
    _edit_json(path, change)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", BOMB, str(genuine[model]), str(path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "refused"
    assert result["seconds"] < 1.0


# ---------------------------------------------------------------------------- fresh process
def test_generic_loader_works_in_a_fresh_process_for_every_class(genuine):
    code = textwrap.dedent("""
        import sys
        from gradfree.core.io import load_estimator
        for path in sys.argv[1:]:
            print(type(load_estimator(path)).__name__)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    paths = [str(p) for p in genuine.values()]
    run = subprocess.run([sys.executable, "-c", code, *paths], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = set(run.stdout.split())
    assert {cls.__name__ for cls in concrete_estimators()} <= loaded
