"""Image data sets: scikit-learn's 8x8 digits, Fashion-MNIST and MNIST (IDX files).

Pixels come back as float32 in [0, 1], images flattened to rows; labels as int64.

Where the files are looked for, in order: ``data_dir`` if given, then ``$GRADFREE_DATA/<name>``, then
``~/.cache/gradfree/<name>``, and for Fashion-MNIST the Debian package's directory
(``apt-get install dataset-fashion-mnist`` puts the files in ``/usr/share/datasets/fashion-mnist``).
MNIST can be downloaded with ``load_mnist(download=True)`` when the machine is online; each file is
checked against its published SHA-256 before it is used.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from gradfree.core.files import write_bytes_atomic
from gradfree.data.idx import read_idx

FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
_PREFIX = {"train": "train", "test": "t10k"}


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are missing; the message says where to put them."""


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 samples, 64 features scaled to [0, 1], 10 classes).

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, X.dtype, float(X.max()), y[:5].tolist()
    ((1797, 64), dtype('float32'), 1.0, [0, 1, 2, 3, 4])
    """
    from sklearn.datasets import load_digits as _load

    X, y = _load(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


def digits_split(seed: int, test_size: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split every experiment and the bench use: stratified, ``test_size`` held out, drawn
    from ``seed``. Returns ``(X_train, X_test, y_train, y_test)``, pixels in [0, 1].

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = digits_split(seed=0)
    >>> X_train.shape, X_test.shape, y_train[:5].tolist()
    ((1257, 64), (540, 64), [6, 4, 4, 3, 2])
    """
    from sklearn.model_selection import train_test_split

    X, y = load_digits()
    return tuple(train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y))


def _candidate_dirs(name: str, data_dir: str | Path | None, extra: tuple[Path, ...] = ()) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    dirs = []
    if os.environ.get("GRADFREE_DATA"):
        dirs.append(Path(os.environ["GRADFREE_DATA"]).expanduser() / name)
    dirs.append(Path.home() / ".cache" / "gradfree" / name)
    return dirs + list(extra)


def _find(stem: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for fname in (stem + ".gz", stem):
            if (d / fname).is_file():
                return d / fname
    return None


def _load_idx_pair(name: str, split: str, dirs: list[Path], hint: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    stems = [f"{_PREFIX[split]}-images-idx3-ubyte", f"{_PREFIX[split]}-labels-idx1-ubyte"]
    paths = [_find(s, dirs) for s in stems]
    if None in paths:
        missing = [s + ".gz" for s, p in zip(stems, paths) if p is None]
        raise DatasetNotFoundError(
            f"{name} ({split}) not found: missing {', '.join(missing)}. Looked in: "
            f"{', '.join(str(d) for d in dirs)}. {hint}")
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{paths[0]} / {paths[1]}: images {images.shape} and labels {labels.shape} "
                         "do not form a data set")
    X = images.reshape(len(images), -1).astype(np.float32)
    X *= np.float32(1 / 255)
    return X, labels.astype(np.int64)


def load_fashion_mnist(split: str = "train", data_dir: str | Path | None = None,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (60,000 train / 10,000 test, 784 features in [0, 1], 10 classes).

    Examples
    --------
    With Debian's ``dataset-fashion-mnist`` installed (or the IDX files in ``data_dir``):

    >>> X, y = load_fashion_mnist("test")
    >>> X.shape, X.dtype, y[:5].tolist()
    ((10000, 784), dtype('float32'), [9, 2, 1, 1, 6])
    """
    dirs = _candidate_dirs("fashion-mnist", data_dir, (FASHION_MNIST_DEBIAN_DIR,))
    hint = ("Install Debian's package (`apt-get install dataset-fashion-mnist`) or put the four IDX files "
            "(train-images-idx3-ubyte.gz, ...) in one of those directories, or pass data_dir=.")
    return _load_idx_pair("Fashion-MNIST", split, dirs, hint)


def _download_mnist(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for fname, sha in MNIST_SHA256.items():
        dest = target / fname
        if dest.is_file() and _sha256(dest) == sha:
            continue
        with urllib.request.urlopen(MNIST_MIRROR + fname, timeout=60) as resp:  # noqa: S310
            data = resp.read()
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise ValueError(f"downloaded {fname} has SHA-256 {got}, expected {sha}; not saved")
        write_bytes_atomic(dest, data)  # never through a link placed at dest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_mnist(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
               ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST (60,000 / 10,000, 784 features in [0, 1]) from IDX files, optionally downloaded first.

    Examples
    --------
    Files are looked for in ``data_dir`` (here a folder holding a 3-image stand-in test split);
    ``load_mnist(download=True)`` fetches the real ones on a machine that is online.

    >>> import gzip, tempfile
    >>> import numpy as np
    >>> from pathlib import Path
    >>> tmp = tempfile.TemporaryDirectory()
    >>> def write_idx(name, a):          # IDX: 0, 0, type code 0x08 (uint8), ndim, big-endian sizes
    ...     header = bytes([0, 0, 0x08, a.ndim]) + np.array(a.shape, ">u4").tobytes()
    ...     (Path(tmp.name) / name).write_bytes(gzip.compress(header + a.tobytes()))
    >>> write_idx("t10k-images-idx3-ubyte.gz", np.full((3, 28, 28), 255, np.uint8))
    >>> write_idx("t10k-labels-idx1-ubyte.gz", np.array([7, 2, 1], np.uint8))
    >>> X, y = load_mnist("test", data_dir=tmp.name)
    >>> X.shape, float(X.max()), y.tolist()
    ((3, 784), 1.0, [7, 2, 1])
    >>> load_mnist("train", data_dir=tmp.name)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gradfree.data.images.DatasetNotFoundError: MNIST (train) not found: missing train-images-idx3-ubyte.gz...
    >>> tmp.cleanup()
    """
    dirs = _candidate_dirs("mnist", data_dir)
    if download and _find(f"{_PREFIX.get(split, 'train')}-images-idx3-ubyte", dirs) is None:
        _download_mnist(dirs[0] if data_dir is not None else Path.home() / ".cache" / "gradfree" / "mnist")
    hint = ("Put the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in one of those directories, pass "
            "data_dir=, or call load_mnist(download=True) on a machine that is online.")
    return _load_idx_pair("MNIST", split, dirs, hint)
