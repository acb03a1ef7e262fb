"""Values of a model file: encoded by type for saving, rebuilt from untrusted JSON for loading.

:func:`encode` turns a value into JSON, moving array data into the tensors that go to safetensors;
:class:`Decoder` is its inverse on untrusted input, and constructs only the types on the allow-list
(gradfree estimators, which register themselves, and the dataclasses marked :func:`saveable`). Every
problem found while decoding is a :class:`ModelFileError` naming the file and the field. The files
themselves are written and read by :mod:`gradfree.core.io`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from gradfree.core import jsonfile

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


class Decoder:
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
        # a field declared optional (added after files were saved) may be absent: its default applies
        optional = {k for k, spec in getattr(cls, "_saved_fields", {}).items() if spec.optional}
        if not isinstance(fields, dict) or not expected - optional <= set(fields) <= expected:
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


# type tag -> the Decoder method that rebuilds it
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
