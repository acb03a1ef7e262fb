"""Saving and loading estimators: tensors in safetensors, everything else in JSON beside them.

``save_estimator(est, path)`` writes ``<path>.safetensors`` and ``<path>.json``. It stores the
constructor parameters and every fitted attribute (public names ending in ``_``). Values are encoded
by type so that the round trip is exact (:mod:`gradfree.core.codec`):

* ``torch.Tensor`` and numeric ``np.ndarray``   -> safetensors (bit-exact), referenced from JSON;
* ``torch.Generator``                          -> its byte state in safetensors (RNG resumes exactly);
* ``np.random.Generator``                      -> its bit-generator state in JSON;
* registered dataclasses, dicts, lists, tuples  -> recursively, so explicit state objects survive;
* Python / NumPy scalars, strings, None         -> JSON (Python's float repr round-trips exactly).

Anything else raises ``TypeError`` naming the attribute, so a model never saves silently incomplete.

Files are untrusted (docs/untrusted-files.md). Loading constructs only types on an allow-list
(gradfree estimators, which register themselves, and the dataclasses marked :func:`saveable`); it never
imports or calls anything a file names. Both files are read as bounded regular files
(:mod:`gradfree.core.files`), the JSON with a nesting cap and no duplicate keys
(:mod:`gradfree.core.jsonfile`); the SHA-256 of the ``.safetensors`` file is recorded in the JSON and
checked before the tensors are parsed; every field is checked against the class's declaration
(:mod:`gradfree.core.schema`) before the model is rebuilt, and every error is a :class:`ModelFileError`
that names the file and the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from gradfree.core import files, jsonfile
from gradfree.core.codec import (  # noqa: F401 - re-exported: callers import them from here
    _KNOWN_TYPES,
    MAX_STRING,
    Decoder,
    ModelFileError,
    checked_device,
    encode,
    qualname,
    register_estimator,
    saveable,
)
from gradfree.core.schema import FieldError, check_fields, fields_of

FORMAT_VERSION = 2

#: Caps on what a load reads: the JSON description and the tensors (a model larger than this is refused
#: unless ``load_estimator(..., max_bytes=)`` allows it).
MAX_JSON_BYTES = 16 * 2**20
MAX_TENSOR_BYTES = 4 * 2**30


def _split_path(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".safetensors")


def save_estimator(estimator: Any, path: str | Path, *, root: str | Path | None = None) -> Path:
    """Write ``estimator`` to ``<path>.json`` + ``<path>.safetensors``; return the JSON path.

    Each file is written to a fresh temporary and renamed into place, never through a link at the
    target; given ``root`` (a run folder) nothing is written outside it (:mod:`gradfree.core.files`).
    The tensors go first, so an interrupted save leaves no JSON that points at missing tensors.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from gradfree.baselines import NearestClassMean
    >>> model = NearestClassMean().fit([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    >>> tmp = tempfile.TemporaryDirectory()
    >>> save_estimator(model, Path(tmp.name) / "ncm").name
    'ncm.json'
    >>> sorted(p.name for p in Path(tmp.name).iterdir())
    ['ncm.json', 'ncm.safetensors']
    >>> tmp.cleanup()
    """
    json_path, st_path = _split_path(path)
    tensors: dict[str, torch.Tensor] = {}
    params = {k: encode(v, f"params.{k}", tensors) for k, v in estimator.get_params(deep=False).items()}
    state = {k: encode(v, k, tensors) for k, v in vars(estimator).items()
             if k.endswith("_") and not k.startswith("_")}
    blob = save_tensors(tensors)
    meta = {"format": FORMAT_VERSION, "class": qualname(type(estimator)),
            "tensors_sha256": hashlib.sha256(blob).hexdigest(), "params": params, "state": state}
    files.write_bytes_atomic(st_path, blob, root=root)
    files.write_text_atomic(json_path, json.dumps(meta, indent=1), root=root)
    return json_path


def read_json(path: Path, what: str = "file", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file read as untrusted input (regular file, size cap, nesting cap, no duplicate
    keys), with an error that names it."""
    try:
        raw = files.read_bytes(path, max_bytes)
    except files.UnsafeFileError as exc:
        raise ModelFileError(path, "<whole file>", str(exc)) from None
    try:
        return jsonfile.loads(raw)
    except jsonfile.JSONLimitError as exc:
        raise ModelFileError(path, "<whole file>", f"not a valid JSON {what}: {exc}") from None


def requested_device(device: str | torch.device | None) -> torch.device | None:
    """The device a caller asked a model to be loaded onto, refused (``ValueError``) if absent here."""
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"not a device: {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {str(dev)!r} (cpu or cuda only)")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if dev.type == "cuda" and (dev.index or 0) >= n:
        raise ValueError(f"device={str(dev)!r} was asked for, but this machine has {n} CUDA device(s); "
                         "load with device='cpu'")
    return dev


#: Called before a class is looked up: the package root installs one that imports every gradfree
#: estimator module (a fixed list, never a name read from a file), so the allow-list is complete in a
#: fresh process whichever modules the caller imported. Core never imports the systems itself.
_CATALOG: list[Callable[[], None]] = []


def register_catalog(load_all: Callable[[], None]) -> None:
    """Install the function that imports (and so registers) every estimator class."""
    _CATALOG.append(load_all)


def _ensure_registry() -> None:
    for load_all in _CATALOG:
        load_all()


def _read_tensors(st_path: Path, json_path: Path, digest: Any, max_bytes: int) -> dict[str, torch.Tensor]:
    if not isinstance(digest, str):
        raise ModelFileError(json_path, "tensors_sha256", "missing: cannot check the tensors' integrity")
    try:
        blob = files.read_bytes(st_path, max_bytes)
    except files.UnsafeFileError as exc:
        raise ModelFileError(st_path, "<whole file>", str(exc)) from None
    if hashlib.sha256(blob).hexdigest() != digest:
        raise ModelFileError(st_path, "<whole file>", "checksum mismatch: the tensors were changed or "
                             f"damaged after saving (SHA-256 {digest[:12]}... expected by {json_path.name})")
    try:
        return load_tensors(blob)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(st_path, "<whole file>", f"not a valid safetensors file ({exc})") from None


def load_estimator(path: str | Path, device: str | torch.device | None = None,
                   expected: type | None = None, max_bytes: int = MAX_TENSOR_BYTES) -> Any:
    """Load what :func:`save_estimator` wrote, treating both files as untrusted.

    Both files must be regular files (not links, FIFOs or devices); the JSON is read with a size and
    nesting cap, the tensors with ``max_bytes`` and a SHA-256 check. ``expected`` (a class) is checked
    before the tensors are read. Every field is then checked against the class's declaration
    (:mod:`gradfree.core.schema`) before the model is rebuilt. Raises ``FileNotFoundError`` for a missing
    file, ``ValueError`` for a ``device`` this machine lacks and :class:`ModelFileError` (a
    ``ValueError``) naming the file and the field for anything wrong inside one.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from gradfree.baselines import NearestClassMean
    >>> X, y = load_digits(return_X_y=True)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save_estimator(NearestClassMean().fit(X, y), Path(tmp.name) / "ncm")
    >>> model = load_estimator(path, expected=NearestClassMean)    # refuses a file of another class
    >>> type(model).__name__, round(model.score(X, y), 3)
    ('NearestClassMean', 0.905)
    >>> load_estimator(Path(tmp.name) / "missing")               # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no saved model at .../missing.json
    >>> tmp.cleanup()
    """
    json_path, st_path = _split_path(path)
    dev = requested_device(device)
    for p in (json_path, st_path):
        if not p.exists() and not p.is_symlink():
            raise FileNotFoundError(f"no saved model at {p}")
    meta = read_json(json_path, "model file")
    if not isinstance(meta, dict):
        raise ModelFileError(json_path, "<whole file>", "must be a JSON object")
    _ensure_registry()
    name = meta.get("class")
    cls = _KNOWN_TYPES.get(name) if isinstance(name, str) else None
    if cls is None or dataclasses.is_dataclass(cls):
        raise ModelFileError(json_path, "class", f"{name!r} is not a gradfree estimator; refusing to load it")
    if expected is not None and not issubclass(cls, expected):
        raise ModelFileError(json_path, "class", f"holds a {cls.__name__}, not a {expected.__name__}")
    if meta.get("format") != FORMAT_VERSION:
        raise ModelFileError(json_path, "format", f"unsupported format {meta.get('format')!r} "
                             f"(this gradfree reads format {FORMAT_VERSION}; re-save the model)")
    unknown = sorted(set(meta) - {"format", "class", "tensors_sha256", "params", "state"})
    if unknown:
        raise ModelFileError(json_path, unknown[0], "unknown top-level field (refused)")
    for key in ("params", "state"):
        if not isinstance(meta.get(key), dict):
            raise ModelFileError(json_path, key, "missing or not a JSON object")
    specs = fields_of(cls)
    if not specs:
        raise ModelFileError(json_path, "class",
                             f"{cls.__name__} declares no saved fields; it cannot be loaded")
    unknown = sorted(set(meta["state"]) - set(specs))
    if unknown:  # refused before anything is decoded
        raise ModelFileError(json_path, f"state.{unknown[0]}", "is not a field of this type (unknown fields "
                             "are refused)")
    tensors = _read_tensors(st_path, json_path, meta.get("tensors_sha256"), max_bytes)
    dec = Decoder(json_path, tensors, dev)
    upgrade = getattr(cls, "_upgrade_saved_params", None)
    if upgrade is not None:  # options since grouped (gradfree.core.groups.regroup): a rewrite of the JSON
        meta["params"] = upgrade(meta["params"])
    known_params = set(cls._get_param_names())  # scikit-learn reads them off the constructor's signature
    if set(meta["params"]) != known_params:
        extra, missing = set(meta["params"]) - known_params, known_params - set(meta["params"])
        raise ModelFileError(json_path, "params", f"{cls.__name__} has no parameter(s) {sorted(extra)}"
                             if extra else f"missing parameter(s) {sorted(missing)}")
    params = {k: dec.checked_decode(v, f"params.{k}") for k, v in meta["params"].items()}
    if dev is not None and "device" in params:
        params["device"] = str(dev)
    try:
        est = cls(**params)
        if hasattr(est, "_check_params"):
            est._check_params()
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ModelFileError(json_path, "params", str(exc)) from None
    state = {k: dec.checked_decode(v, f"state.{k}") for k, v in meta["state"].items()}
    try:
        check_fields(state, specs, "state.")
    except FieldError as exc:
        raise ModelFileError(json_path, exc.field, exc.problem) from None
    for name_, value in state.items():
        setattr(est, name_, value)
    if dev is not None and hasattr(est, "device_"):
        est.device_ = dev
    _check_consistent(est, json_path)
    return est


def _check_consistent(est: Any, file: Path) -> None:
    """Fitted state that cannot predict (wrong shapes, missing pieces) is refused at load, not later."""
    hook = getattr(est, "_check_loaded_state", None)
    try:
        if hook is not None:
            hook()
    except FieldError as exc:
        raise ModelFileError(file, f"state.{exc.field}", exc.problem) from None
    except (ValueError, TypeError, IndexError, ArithmeticError) as exc:
        raise ModelFileError(file, "state", f"the fitted state is inconsistent ({exc})") from None
    try:
        n = getattr(est, "n_features_in_", None)
        if n is not None and hasattr(est, "predict"):
            est.predict(np.zeros((1, n), dtype=np.float32))
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here means the saved state is inconsistent
        raise ModelFileError(file, "state", f"the fitted state is inconsistent and cannot predict "
                             f"({type(exc).__name__}: {exc})") from None
