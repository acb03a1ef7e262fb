"""Saving and loading estimators: tensors in safetensors, everything else in JSON beside them.

``save_estimator(est, path)`` writes ``<path>.safetensors`` and ``<path>.json``. It stores the
constructor parameters and every fitted attribute (public names ending in ``_``). Values are encoded
by type so that the round trip is exact:

* ``torch.Tensor`` and numeric ``np.ndarray``   -> safetensors (bit-exact), referenced from JSON;
* ``torch.Generator``                          -> its byte state in safetensors (RNG resumes exactly);
* ``np.random.Generator``                      -> its bit-generator state in JSON;
* dataclasses, dicts, lists, tuples            -> recursively, so explicit state objects survive;
* Python / NumPy scalars, strings, None         -> JSON (Python's float repr round-trips exactly).

Anything else raises ``TypeError`` naming the attribute, so a model never saves silently incomplete.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

FORMAT_VERSION = 1


def _split_path(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".safetensors")


def _qualname(obj_type: type) -> str:
    return f"{obj_type.__module__}:{obj_type.__qualname__}"


def _import(qualname: str) -> Any:
    module, _, name = qualname.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


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
        return {"__ndarray_json__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, torch.Generator):
        tensors[key] = value.get_state()
        return {"__generator__": key, "device": str(value.device)}
    if isinstance(value, np.random.Generator):
        return {"__np_generator__": value.bit_generator.state}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), f"{key}.{f.name}", tensors)
                  for f in dataclasses.fields(value)}
        return {"__dataclass__": _qualname(type(value)), "fields": fields}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return {"__items__": [[encode(k, f"{key}.k{i}", tensors), encode(v, f"{key}.v{i}", tensors)]
                                  for i, (k, v) in enumerate(value.items())]}
        return {"__dict__": {k: encode(v, f"{key}.{k}", tensors) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        items = [encode(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    raise TypeError(f"cannot save attribute {key!r} of type {type(value).__name__}")


def decode(obj: Any, tensors: dict[str, torch.Tensor], device: torch.device | None) -> Any:
    """Inverse of :func:`encode`. Tensors go to ``device`` if given, else to where they were saved."""
    if isinstance(obj, list):
        return [decode(v, tensors, device) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]].to(device or torch.device(obj["device"]))
    if "__ndarray__" in obj:
        return tensors[obj["__ndarray__"]].numpy().astype(np.dtype(obj["dtype"]), copy=False)
    if "__ndarray_json__" in obj:
        return np.asarray(obj["__ndarray_json__"], dtype=np.dtype(obj["dtype"]))
    if "__generator__" in obj:
        gen = torch.Generator(device=device or torch.device(obj["device"]))
        gen.set_state(tensors[obj["__generator__"]])
        return gen
    if "__np_generator__" in obj:
        state = obj["__np_generator__"]
        gen = np.random.Generator(getattr(np.random, state["bit_generator"])())
        gen.bit_generator.state = state
        return gen
    if "__device__" in obj:
        return torch.device(obj["__device__"])
    if "__dataclass__" in obj:
        cls = _import(obj["__dataclass__"])
        return cls(**{k: decode(v, tensors, device) for k, v in obj["fields"].items()})
    if "__dict__" in obj:
        return {k: decode(v, tensors, device) for k, v in obj["__dict__"].items()}
    if "__items__" in obj:
        return {decode(k, tensors, device): decode(v, tensors, device) for k, v in obj["__items__"]}
    if "__tuple__" in obj:
        return tuple(decode(v, tensors, device) for v in obj["__tuple__"])
    raise ValueError(f"unrecognised saved value: {sorted(obj)}")


def save_estimator(estimator: Any, path: str | Path) -> Path:
    """Write ``estimator`` to ``<path>.json`` + ``<path>.safetensors``; return the JSON path."""
    json_path, st_path = _split_path(path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    params = {k: encode(v, f"param.{k}", tensors) for k, v in estimator.get_params(deep=False).items()}
    state = {k: encode(v, k, tensors) for k, v in vars(estimator).items()
             if k.endswith("_") and not k.startswith("_")}
    meta = {"format": FORMAT_VERSION, "class": _qualname(type(estimator)), "params": params, "state": state}
    # Write to temporaries first so an interrupted save never leaves a half-written pair behind.
    tmp_st, tmp_json = st_path.with_name(st_path.name + ".tmp"), json_path.with_name(json_path.name + ".tmp")
    save_file(tensors, str(tmp_st))
    tmp_json.write_text(json.dumps(meta, indent=1))
    tmp_st.replace(st_path)
    tmp_json.replace(json_path)
    return json_path


def load_estimator(path: str | Path, device: str | torch.device | None = None,
                   expected: type | None = None) -> Any:
    """Load what :func:`save_estimator` wrote. ``expected`` guards against loading the wrong model."""
    json_path, st_path = _split_path(path)
    for p in (json_path, st_path):
        if not p.exists():
            raise FileNotFoundError(f"no saved model at {p}")
    meta = json.loads(json_path.read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{json_path}: unsupported format {meta.get('format')!r}")
    cls = _import(meta["class"])
    if expected is not None and not issubclass(cls, expected):
        raise ValueError(f"{json_path} holds a {cls.__name__}, not a {expected.__name__}")
    tensors = load_file(str(st_path))
    dev = torch.device(device) if device is not None else None
    params = {k: decode(v, tensors, dev) for k, v in meta["params"].items()}
    if dev is not None and "device" in params:
        params["device"] = str(dev)
    est = cls(**params)
    for name, value in meta["state"].items():
        setattr(est, name, decode(value, tensors, dev))
    if dev is not None and hasattr(est, "device_"):
        est.device_ = dev
    return est
