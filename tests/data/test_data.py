"""Data: the IDX reader (valid and corrupt files), image loaders, synthetic generators."""

from __future__ import annotations

import gzip
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradfree.data import (
    DatasetNotFoundError,
    emns_classification,
    emns_continual_tasks,
    emns_regression,
    emns_sine_regression,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    orthogonal_manifolds,
    parse_idx,
    read_idx,
)
from gradfree.data.images import FASHION_MNIST_DEBIAN_DIR

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    code = CODES[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(list(CODES)), shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
       seed=st.integers(0, 2**16), compress=st.booleans())
def test_idx_roundtrip(tmp_path_factory, dtype, shape, seed, compress):
    rng = np.random.default_rng(seed)
    arr = (rng.normal(size=shape) * 50).astype(dtype)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compress else "a.idx")
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if compress else data)
    back = read_idx(path)
    assert back.shape == arr.shape and back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, arr)


@settings(max_examples=200, deadline=None)
@given(header=st.binary(min_size=0, max_size=24), tail=st.binary(max_size=64))
def test_random_headers_are_refused_or_consistent(header, tail):
    """Arbitrary bytes either parse into an array whose size matches the bytes, or raise ValueError."""
    data = header + tail
    try:
        arr = parse_idx(data, "fuzz.idx")
    except ValueError as exc:
        assert "fuzz.idx" in str(exc)
    else:
        assert 4 + 4 * data[3] + arr.nbytes == len(data)


@pytest.mark.parametrize("mutate, problem", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x00", "trailing bytes"),
    (lambda b: b"\x01" + b[1:], "magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "type code"),
    (lambda b: b[:6], "truncated header"),
    (lambda b: b[:3] + b"\x00" + b[4:], "zero dimensions"),
])
def test_corrupt_idx_names_file_and_problem(tmp_path, mutate, problem):
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(mutate(idx_bytes(np.zeros((3, 2, 2), np.uint8))))
    with pytest.raises(ValueError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_is_a_value_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 4), np.uint8)))[:-6])
    with pytest.raises(ValueError, match=str(path)):
        read_idx(path)


def write_mnist_like(directory: Path, n: int = 20, compress: bool = True) -> None:
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for stem, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            data = idx_bytes(arr)
            if compress:
                (directory / (stem + ".gz")).write_bytes(gzip.compress(data))
            else:
                (directory / stem).write_bytes(data)


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_from_a_given_directory(tmp_path, compress):
    write_mnist_like(tmp_path, compress=compress)
    X, y = load_mnist("test", data_dir=tmp_path)
    assert X.shape == (20, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert y.dtype == np.int64


def test_missing_dataset_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GRADFREE_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz") as info:
        load_mnist()
    assert "download=True" in str(info.value) and str(tmp_path) in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="data_dir"):
        load_fashion_mnist(data_dir=tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist(split="validation", data_dir=tmp_path)


def test_gradfree_data_env_var(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    write_mnist_like(tmp_path / "mnist")
    monkeypatch.setenv("GRADFREE_DATA", str(tmp_path))
    assert load_mnist()[0].shape == (20, 784)


@pytest.mark.skipif(not FASHION_MNIST_DEBIAN_DIR.exists(),
                    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
def test_fashion_mnist_from_debian_package():
    start = time.perf_counter()
    X, y = load_fashion_mnist("train")
    elapsed = time.perf_counter() - start
    assert X.shape == (60000, 784) and y.shape == (60000,)
    assert np.bincount(y).tolist() == [6000] * 10
    assert X.dtype == np.float32 and X.min() == 0 and X.max() == 1
    assert elapsed < 10  # generous: the < 3 s goal is measured in benchmarks/bench_data.py
    Xt, yt = load_fashion_mnist("test")
    assert Xt.shape == (10000, 784)


def test_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.max() == 1 and sorted(set(y)) == list(range(10))


@pytest.mark.parametrize("cosine", [0.0, 0.3])
def test_manifold_centres_have_the_requested_cosine(cosine):
    X, y, c = orthogonal_manifolds(n_per_cluster=50, cosine=cosine, random_state=0)
    gram = c @ c.T
    np.testing.assert_allclose(np.diag(gram), 1, atol=1e-5)
    off = gram[~np.eye(10, dtype=bool)]
    np.testing.assert_allclose(off, cosine, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, atol=1e-5)
    # Each sample is closest to its own centre.
    assert np.mean((X @ c.T).argmax(1) == y) == 1.0


def test_manifolds_are_seeded_and_validated():
    a = orthogonal_manifolds(n_per_cluster=5, random_state=1)[0]
    b = orthogonal_manifolds(n_per_cluster=5, random_state=1)[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dim"):
        orthogonal_manifolds(n_clusters=10, dim=5)
    with pytest.raises(ValueError, match="cosine"):
        orthogonal_manifolds(cosine=1.0)


def test_emns_demos():
    X, y = emns_regression(random_state=0)
    X = X.astype(np.float64)
    assert X.shape == (200, 3) and y.shape == (200,)
    # Noise is additive with the requested standard deviation.
    assert abs(np.std(y - 0.5 * np.tanh(np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1]) + 0.2 * np.tanh(X[:, 2])))
               - 0.1) < 0.02
    X, y = emns_sine_regression(random_state=0)
    X = X.astype(np.float64)
    np.testing.assert_allclose(y, np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1]), rtol=1e-6)
    X, y = emns_classification(random_state=0)
    np.testing.assert_array_equal(y, X[:, 0] + X[:, 1] > 0)
    (X1, y1), (X2, y2) = emns_continual_tasks(random_state=0)
    np.testing.assert_allclose(y2, 0.5 * np.tanh(np.cos(X2[:, 1].astype(np.float64))), rtol=1e-12)
