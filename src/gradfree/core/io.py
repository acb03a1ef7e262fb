"""Saving and loading estimators: tensors in safetensors, everything else in JSON beside them.

``save_estimator(est, path)`` writes ``<path>.safetensors`` and ``<path>.json``. It stores the
constructor parameters and every fitted attribute (public names ending in ``_``). Values are encoded
by type so that the round trip is exact:

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
from typing import Any, TypeVar

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from gradfree.core import files, jsonfile
from gradfree.core.schema import FieldError, check_fields, fields_of

FORMAT_VERSION = 2

#: Caps on what a load reads: the JSON description and the tensors (a model larger than this is refused
#: unless ``load_estimator(..., max_bytes=)`` allows it).
MAX_JSON_BYTES = 16 * 2**20
MAX_TENSOR_BYTES = 4 * 2**30
#: the longest string a model file may hold (names, options, fingerprints are far shorter)
MAX_STRING = 4096

T = TypeVar("T", bound=type)

# The allow-list: the only types a file can make the loader construct ("module:qualname" -> type).
_KNOWN_TYPES: dict[str, type] = {}

# numpy bit generators a saved ``np.random.Generator`` may name.
_BIT_GENERATORS = {c.__name__: c for c in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                                           np.random.Philox, np.random.SFC64)}
# dtypes of arrays kept in JSON (labels): booleans, integers, floats, unicode strings.
_JSON_ARRAY_KINDS = "biufU"


class ModelFileError(ValueError):
    """A saved model or checkpoint that cannot be loaded; the message names the file and the field."""

    def __init__(self, file: str | Path, field: str, problem: str) -> None:
        field, problem = jsonfile.shorten(str(field), 120), jsonfile.shorten(str(problem), 400)
        self.file, self.field, self.problem = str(file), field, problem
        super().__init__(f"{file}: field {field!r}: {problem}")


def qualname(obj_type: type) -> str:
    """The name a type is saved under, ``module:qualname``."""
    return f"{obj_type.__module__}:{obj_type.__qualname__}"


def saveable(cls: T) -> T:
    """Class decorator: allow the loader to rebuild this dataclass (a model's explicit state object)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    _KNOWN_TYPES[qualname(cls)] = cls
    return cls


def register_estimator(cls: T) -> T:
    """Allow the loader to rebuild estimators of class ``cls`` (the estimator base does this itself)."""
    _KNOWN_TYPES[qualname(cls)] = cls
    return cls


def _split_path(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".safetensors")


# ------------------------------------------------------------------------------------------ saving
def encode(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Encode ``value`` as JSON, moving array data into ``tensors`` under names derived from ``key``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key, "device": str(value.device)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf" and value.dtype.itemsize <= 8 and value.dtype != np.uint16:
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
            return {"__ndarray__": key, "dtype": value.dtype.str}
        if value.dtype.kind not in _JSON_ARRAY_KINDS:
            raise TypeError(f"cannot save attribute {key!r}: arrays of dtype {value.dtype} are not supported")
        return {"__ndarray_json__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, torch.Generator):
        tensors[key] = value.get_state()
        return {"__generator__": key, "device": str(value.device)}
    if isinstance(value, np.random.Generator):
        return {"__np_generator__": value.bit_generator.state}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = qualname(type(value))
        if _KNOWN_TYPES.get(name) is not type(value):
            raise TypeError(f"cannot save attribute {key!r}: {name} is not marked @saveable")
        fields = {f.name: encode(getattr(value, f.name), f"{key}.{f.name}", tensors)
                  for f in dataclasses.fields(value)}
        return {"__dataclass__": name, "fields": fields}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return {"__items__": [[encode(k, f"{key}.k{i}", tensors), encode(v, f"{key}.v{i}", tensors)]
                                  for i, (k, v) in enumerate(value.items())]}
        return {"__dict__": {k: encode(v, f"{key}.{k}", tensors) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        items = [encode(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    raise TypeError(f"cannot save attribute {key!r} of type {type(value).__name__}")


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


# ------------------------------------------------------------------------------------------ loading
class _Decoder:
    """Inverse of :func:`encode`, on untrusted input: every problem is a ``ModelFileError``."""

    def __init__(self, file: Path, tensors: dict[str, torch.Tensor], device: torch.device | None) -> None:
        self.file, self.tensors, self.device = file, tensors, device

    def fail(self, field: str, problem: str) -> ModelFileError:
        return ModelFileError(self.file, field, problem)

    def _tensor(self, key: Any, field: str) -> torch.Tensor:
        if not isinstance(key, str) or key not in self.tensors:
            raise self.fail(field, f"refers to tensor {key!r}, which the .safetensors file does not hold")
        return self.tensors[key]

    def _device(self, name: Any, field: str) -> torch.device:
        if self.device is not None:
            return self.device
        return checked_device(name, self.file, field)

    def checked_decode(self, obj: Any, field: str) -> Any:
        """:meth:`decode`, with any failure of a library call on odd input turned into a ModelFileError."""
        try:
            return self.decode(obj, field)
        except ModelFileError:
            raise
        except (TypeError, ValueError, KeyError, RuntimeError, OverflowError, AttributeError) as exc:
            raise self.fail(field, f"cannot be decoded ({type(exc).__name__}: {exc})") from None

    def decode(self, obj: Any, field: str) -> Any:
        if isinstance(obj, str) and len(obj) > MAX_STRING:
            raise self.fail(field, f"a string of {len(obj):,} characters (at most {MAX_STRING:,} allowed)")
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.decode(v, f"{field}[{i}]") for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            raise self.fail(field, f"unexpected JSON value of type {type(obj).__name__}")
        tags = [k for k in obj if k.startswith("__")]
        if len(tags) != 1:
            raise self.fail(field, f"expected one type tag, found {sorted(obj)}")
        handler = _HANDLERS.get(tags[0])
        if handler is None:
            raise self.fail(field, f"unknown type tag {tags[0]!r}")
        return getattr(self, handler)(obj, field)

    def _saved_tensor(self, obj: dict, field: str) -> torch.Tensor:
        return self._tensor(obj["__tensor__"], field).to(self._device(obj.get("device"), field))

    def _ndarray(self, obj: dict, field: str) -> np.ndarray:
        dtype = self._dtype(obj.get("dtype"), field, "biuf")
        t = self._tensor(obj["__ndarray__"], field)
        try:
            return t.numpy().astype(dtype, copy=False)
        except (TypeError, RuntimeError, ValueError) as exc:
            raise self.fail(field, f"cannot be read as an array of {dtype}: {exc}") from None

    def _ndarray_json(self, obj: dict, field: str) -> np.ndarray:
        dtype = self._dtype(obj.get("dtype"), field, _JSON_ARRAY_KINDS)
        try:
            return np.asarray(obj["__ndarray_json__"], dtype=dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            raise self.fail(field, f"not an array of {dtype}: {exc}") from None

    def _dtype(self, name: Any, field: str, kinds: str) -> np.dtype:
        try:
            dtype = np.dtype(name) if isinstance(name, str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in kinds or dtype.hasobject:
            raise self.fail(field, f"unsupported array dtype {name!r}")
        return dtype

    def _generator(self, obj: dict, field: str) -> torch.Generator:
        state = self._tensor(obj["__generator__"], field)
        gen = torch.Generator(device=self._device(obj.get("device"), field))
        try:
            gen.set_state(state)
        except (RuntimeError, TypeError) as exc:
            raise self.fail(field, f"not a valid torch.Generator state ({exc})") from None
        return gen

    def _np_generator(self, obj: dict, field: str) -> np.random.Generator:
        state = obj["__np_generator__"]
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            raise self.fail(field, f"unknown numpy bit generator {name!r}; known: {sorted(_BIT_GENERATORS)}")
        bit_gen = _BIT_GENERATORS[name]()
        try:
            bit_gen.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self.fail(field, f"not a valid {name} state ({exc})") from None
        return np.random.Generator(bit_gen)

    def _saved_device(self, obj: dict, field: str) -> torch.device:
        return self._device(obj["__device__"], field)

    def _dataclass(self, obj: dict, field: str) -> Any:
        name = obj["__dataclass__"]
        cls = _KNOWN_TYPES.get(name) if isinstance(name, str) else None
        if cls is None or not dataclasses.is_dataclass(cls):
            raise self.fail(field, f"type {name!r} is not a gradfree state type; refusing to build it")
        fields = obj.get("fields")
        expected = {f.name for f in dataclasses.fields(cls) if f.init}
        if not isinstance(fields, dict) or set(fields) != expected:
            got = sorted(fields) if isinstance(fields, dict) else fields
            raise self.fail(field, f"{cls.__name__} needs fields {sorted(expected)}, the file has {got}")
        try:
            return cls(**{k: self.decode(v, f"{field}.{k}") for k, v in fields.items()})
        except ModelFileError:
            raise
        except (TypeError, ValueError) as exc:
            raise self.fail(field, f"invalid {cls.__name__}: {exc}") from None

    def _dict(self, obj: dict, field: str) -> dict:
        d = obj["__dict__"]
        if not isinstance(d, dict):
            raise self.fail(field, "a saved dict must be a JSON object")
        if any(len(k) > MAX_STRING for k in d):
            raise self.fail(field, f"a key longer than {MAX_STRING:,} characters")
        return {k: self.decode(v, f"{field}.{k[:40]}") for k, v in d.items()}

    def _items(self, obj: dict, field: str) -> dict:
        items = obj["__items__"]
        if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 for p in items):
            raise self.fail(field, "saved items must be a list of [key, value] pairs")
        out = {}
        for i, (k, v) in enumerate(items):
            key = self.decode(k, f"{field}.k{i}")
            try:
                out[key] = self.decode(v, f"{field}.v{i}")
            except TypeError:  # an unhashable key
                raise self.fail(f"{field}.k{i}", "a dict key must be hashable") from None
        return out

    def _tuple(self, obj: dict, field: str) -> tuple:
        items = obj["__tuple__"]
        if not isinstance(items, list):
            raise self.fail(field, "a saved tuple must be a JSON list")
        return tuple(self.decode(v, f"{field}[{i}]") for i, v in enumerate(items))


# type tag -> the _Decoder method that rebuilds it
_HANDLERS = {
    "__tensor__": "_saved_tensor", "__ndarray__": "_ndarray", "__ndarray_json__": "_ndarray_json",
    "__generator__": "_generator", "__np_generator__": "_np_generator", "__device__": "_saved_device",
    "__dataclass__": "_dataclass", "__dict__": "_dict", "__items__": "_items", "__tuple__": "_tuple",
}


def checked_device(name: Any, file: str | Path, field: str) -> torch.device:
    """A device named in a file, refused unless it exists on this machine."""
    try:
        if not isinstance(name, str):
            raise TypeError(name)
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError, OverflowError):
        raise ModelFileError(file, field, f"not a device: {name!r}") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ModelFileError(file, field, f"unsupported device {name!r} (cpu or cuda only)")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if (dev.index or 0) >= n:
        raise ModelFileError(file, field, f"saved on {name!r}, which this machine does not have "
                             f"({n} CUDA device(s)); load with device='cpu'")
    return dev


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
    dec = _Decoder(json_path, tensors, dev)
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
