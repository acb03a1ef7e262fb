"""What a saved model may hold: each saved type declares its fields, and a loaded file is checked
against the declaration before the model is rebuilt.

A declaration maps a field name to a :class:`Spec`: the kind of value, its dtype, its shape in terms
of named dimensions, whether it must be finite and the range of its values. Named dimensions tie the
fields together: ``sums_`` of shape ``("C", "d")`` beside ``counts_`` of shape ``("C",)``,
``classes_`` of length ``"C"`` and ``n_features_in_`` bound to ``"d"`` must all agree, so a count read
from a file can never be larger than what the stored tensors hold. A dimension written ``"h{i}"`` inside
a list item is formatted with the item's index (``"h{j}"`` with the index plus one), which describes a
chain of layers. Rules no declaration can say (indices inside a wiring, a chain's last size) live in
the model's ``_check_loaded_state`` hook.

Every problem is a ``ValueError`` naming the field; :mod:`gradfree.core.io` turns it into a
``ModelFileError`` that names the file too. :func:`describe` renders a declaration as a table row for
the documentation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

Dim = int | str

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("int8", "int16", "int32", "int64", "uint8")


class FieldError(ValueError):
    """A declared field that the value breaks; ``field`` names it (dotted path)."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field, self.problem = field_name, problem
        super().__init__(f"field {field_name!r}: {problem}")


@dataclass(frozen=True)
class Spec:
    """One field: ``kind`` is tensor | ndarray | int | float | bool | str | labels | generator | device |
    list | dict | state | floats | ints | any.

    ``dtype`` lists the allowed dtypes (tensors, arrays); ``shape`` gives each dimension as an int or a
    named dimension; ``low``/``high`` bound every value (inclusive); ``finite`` forbids NaN and infinity;
    ``dim`` binds an int field (or a list's length, or labels' count) to a named dimension; ``item`` is the
    spec of a list's items or a dict's values; ``state`` is the saved dataclass a ``state`` field holds and
    ``dims`` maps its dimension names onto the holder's; ``choices`` lists allowed values of a str field;
    ``optional`` fields may be absent and ``nullable`` ones None.
    """

    kind: str
    dtype: tuple[str, ...] = ()
    shape: tuple[Dim, ...] | None = None
    low: float | None = None
    high: float | None = None
    finite: bool = True
    dim: str | None = None
    item: Spec | None = None
    state: type | tuple[type, ...] | None = None
    dims: dict[str, str] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    optional: bool = False
    nullable: bool = False


# ------------------------------------------------------------------ short constructors
def tensor(*shape: Dim, dtype: tuple[str, ...] = ("float32",), **kw: Any) -> Spec:
    return Spec("tensor", dtype=dtype, shape=tuple(shape), **kw)


def ndarray(*shape: Dim, dtype: tuple[str, ...] = ("float32",), **kw: Any) -> Spec:
    return Spec("ndarray", dtype=dtype, shape=tuple(shape), **kw)


def integer(low: int | None = 0, high: int | None = None, **kw: Any) -> Spec:
    return Spec("int", low=low, high=high, **kw)


def real(low: float | None = None, high: float | None = None, **kw: Any) -> Spec:
    return Spec("float", low=low, high=high, **kw)


def list_of(item: Spec, dim: str | None = None, **kw: Any) -> Spec:
    return Spec("list", item=item, dim=dim, **kw)


def saved_state(cls: type | tuple[type, ...], *, optional: bool = False, **dims: str) -> Spec:
    return Spec("state", state=cls, dims=dict(dims), optional=optional)


def optional(specs: dict[str, Spec]) -> dict[str, Spec]:
    """The same declarations, each field allowed to be absent."""
    return {k: dataclasses.replace(s, optional=True) for k, s in specs.items()}


#: fields every estimator shares, by what ``GradFreeEstimator`` sets
DEVICE = Spec("device")
GENERATOR = Spec("generator")
SEED = integer(0, 2**32 - 1)
N_FEATURES = integer(1, dim="d")
CLASSES = Spec("labels", dim="C")
LOSS_CURVE = Spec("floats", finite=False)  # a diverged run's curve may hold inf; it is history only
#: a run's history (curves for plots; never read back into a computation)
HISTORY = Spec("dict", item=Spec("any"))
#: the fields of a model that draws random numbers (``GradFreeEstimator._init_rng``)
RNG = {"seed_": SEED, "rng_": GENERATOR}


# ------------------------------------------------------------------ checking
def _bounds(spec: Spec) -> str:
    low = f" >= {spec.low}" if spec.low is not None else ""
    high = f" <= {spec.high}" if spec.high is not None else ""
    return low + (" and" if low and high else "") + high


class _Checker:
    def __init__(self) -> None:
        self.dims: dict[str, int] = {}

    def bind(self, name: str, size: int, where: str) -> None:
        known = self.dims.setdefault(name, size)
        if known != size:
            raise FieldError(where, f"size {size} disagrees with {known} (dimension {name!r} elsewhere "
                             "in the file)")

    def fields(self, values: dict[str, Any], specs: dict[str, Spec], prefix: str) -> None:
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise FieldError(prefix + unknown[0], "is not a field of this type (unknown fields are refused)")
        for name, spec in specs.items():
            if name not in values:
                if not spec.optional:
                    raise FieldError(prefix + name, "is missing")
                continue
            self.value(values[name], spec, prefix + name, index=None)

    def value(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if v is None:
            if not spec.nullable:
                raise FieldError(where, "must not be None")
            return
        check = getattr(self, "_" + spec.kind)
        check(v, spec, where, index)

    def _dimname(self, d: Dim, index: int | None) -> Dim:
        if isinstance(d, str) and index is not None:
            return d.format(i=index, j=index + 1)
        return d

    def _shape(self, shape: tuple[int, ...], spec: Spec, where: str, index: int | None) -> None:
        if spec.shape is None:
            return
        if len(shape) != len(spec.shape):
            raise FieldError(where, f"must have {len(spec.shape)} dimension(s), has shape {tuple(shape)}")
        for size, d in zip(shape, spec.shape):
            d = self._dimname(d, index)
            if isinstance(d, int):
                if size != d:
                    raise FieldError(where, f"shape {tuple(shape)} should be {spec.shape}")
            else:
                self.bind(d, int(size), where)

    def _range(self, a: np.ndarray | torch.Tensor, spec: Spec, where: str) -> None:
        if a.numel() if isinstance(a, torch.Tensor) else a.size:
            t = torch.as_tensor(a) if not isinstance(a, torch.Tensor) else a
            if t.dtype == torch.bool:
                return
            t = t.detach().to("cpu", torch.float64)
            if spec.finite and not bool(torch.isfinite(t).all()):
                raise FieldError(where, "holds NaN or infinity")
            if spec.low is not None and bool((t < spec.low).any()):
                raise FieldError(where, f"holds values below {spec.low}")
            if spec.high is not None and bool((t > spec.high).any()):
                raise FieldError(where, f"holds values above {spec.high}")

    def _tensor(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, torch.Tensor):
            raise FieldError(where, f"must be a tensor, got {type(v).__name__}")
        dt = str(v.dtype).removeprefix("torch.")
        if spec.dtype and dt not in spec.dtype:
            raise FieldError(where, f"dtype {dt} is not one of {list(spec.dtype)}")
        self._shape(tuple(v.shape), spec, where, index)
        self._range(v, spec, where)

    def _ndarray(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, np.ndarray):
            raise FieldError(where, f"must be an array, got {type(v).__name__}")
        if spec.dtype and v.dtype.name not in spec.dtype:
            raise FieldError(where, f"dtype {v.dtype.name} is not one of {list(spec.dtype)}")
        self._shape(v.shape, spec, where, index)
        self._range(v, spec, where)

    def _int(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, int) or isinstance(v, bool):
            raise FieldError(where, f"must be an integer, got {type(v).__name__}")
        if (spec.low is not None and v < spec.low) or (spec.high is not None and v > spec.high):
            raise FieldError(where, f"must be an integer{_bounds(spec)}, got {v}")
        if spec.dim:
            self.bind(str(self._dimname(spec.dim, index)), v, where)

    def _float(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise FieldError(where, f"must be a number, got {type(v).__name__}")
        if spec.finite and not math.isfinite(v):
            raise FieldError(where, f"must be finite, got {v}")
        if (spec.low is not None and v < spec.low) or (spec.high is not None and v > spec.high):
            raise FieldError(where, f"must be a number{_bounds(spec)}, got {v}")

    def _bool(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, bool):
            raise FieldError(where, f"must be true or false, got {type(v).__name__}")

    def _str(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, str):
            raise FieldError(where, f"must be a string, got {type(v).__name__}")
        if spec.choices and v not in spec.choices:
            raise FieldError(where, f"must be one of {list(spec.choices)}, got {v[:40]!r}")

    def _labels(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, np.ndarray) or v.ndim != 1 or v.size < 1 or v.dtype.kind not in "biufU":
            raise FieldError(where, "must be a non-empty 1-D array of labels")
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            raise FieldError(where, "labels must be finite")
        if np.unique(v).size != v.size:
            raise FieldError(where, "labels must be distinct")
        if spec.dim:
            self.bind(spec.dim, v.size, where)

    def _generator(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, torch.Generator):
            raise FieldError(where, f"must be a torch.Generator, got {type(v).__name__}")

    def _device(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, torch.device):
            raise FieldError(where, f"must be a device, got {type(v).__name__}")

    def _list(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, (list, tuple)):
            raise FieldError(where, f"must be a list, got {type(v).__name__}")
        if spec.dim:
            self.bind(str(self._dimname(spec.dim, index)), len(v), where)
        assert spec.item is not None
        for i, item in enumerate(v):
            self.value(item, spec.item, f"{where}[{i}]", index=i)

    def _floats(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        self._list(v, Spec("list", item=Spec("float", finite=spec.finite, low=spec.low, high=spec.high),
                            dim=spec.dim), where, index)

    def _ints(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        item = Spec("int", low=spec.low, high=spec.high)
        self._list(v, Spec("list", item=item, dim=spec.dim), where, index)

    def _dict(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
            raise FieldError(where, "must be a mapping with string keys")
        assert spec.item is not None
        for k, item in v.items():
            self.value(item, spec.item, f"{where}.{k[:40]}", index=None)

    def _state(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        allowed = spec.state if isinstance(spec.state, tuple) else (spec.state,)
        if type(v) not in allowed:
            raise FieldError(where, f"must be a {' or a '.join(c.__name__ for c in allowed)}, "
                             f"got {type(v).__name__}")
        inner = _Checker()
        values = {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
        inner.fields(values, fields_of(type(v)), where + ".")
        hook = getattr(v, "_check_loaded", None)
        if hook is not None:
            try:
                hook()
            except FieldError as exc:
                raise FieldError(f"{where}.{exc.field}", exc.problem) from None
            except (ValueError, TypeError, IndexError) as exc:
                raise FieldError(where, str(exc)) from None
        for mine, theirs in spec.dims.items():
            if mine in inner.dims:
                self.bind(theirs, inner.dims[mine], f"{where} ({mine})")

    def _any(self, v: Any, spec: Spec, where: str, index: int | None) -> None:
        return None


def fields_of(cls: type) -> dict[str, Spec]:
    """The declared fields of a saved type (``_saved_fields``, merged along the class hierarchy)."""
    out: dict[str, Spec] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("_saved_fields", {}))
    return out


def check_fields(values: dict[str, Any], specs: dict[str, Spec], prefix: str = "") -> dict[str, int]:
    """Check ``values`` against ``specs``; return the named dimensions it bound. ``FieldError`` if not."""
    checker = _Checker()
    checker.fields(values, specs, prefix)
    return checker.dims


def describe(spec: Spec) -> str:
    """A one-line description of a field, for the documentation's table."""
    parts = [spec.kind]
    if spec.kind == "state" and spec.state is not None:
        states = spec.state if isinstance(spec.state, tuple) else (spec.state,)
        parts = [" or ".join(c.__name__ for c in states)]
    if spec.dtype:
        short = "float" if spec.dtype == FLOATS else "int"
        parts.append("/".join(spec.dtype) if len(spec.dtype) < 3 else short)
    if spec.shape is not None:
        parts.append("(" + ", ".join(str(d) for d in spec.shape) + ")")
    if spec.item is not None:
        parts.append("of " + describe(spec.item))
    if spec.dim:
        parts.append(f"= {spec.dim}")
    if spec.finite and spec.kind in ("tensor", "ndarray", "float", "floats"):
        parts.append("finite")
    if spec.low is not None or spec.high is not None:
        low = "-inf" if spec.low is None else f"{spec.low:g}"
        high = "inf" if spec.high is None else f"{spec.high:g}"
        parts.append(f"in [{low}, {high}]")
    if spec.choices:
        parts.append("one of " + "/".join(spec.choices))
    if spec.optional:
        parts.append("optional")
    if spec.nullable:
        parts.append("or None")
    return " ".join(parts)


def markdown_table(classes: list[type]) -> str:
    """The documentation's table: every saved field of each class, what is checked, and the class's
    cross-field rules (the first line of its ``_check_loaded_state`` docstring)."""
    lines = ["| model | field | checked |", "|---|---|---|"]
    seen_states: dict[str, type] = {}
    for cls in classes:
        for name, spec in fields_of(cls).items():
            lines.append(f"| {cls.__name__} | `{name}` | {describe(spec)} |")
            states = spec.state if isinstance(spec.state, tuple) else (spec.state,) if spec.state else ()
            seen_states.update({s.__name__: s for s in states})
        hook = getattr(cls, "_check_loaded_state", None)
        if hook is not None and hook.__doc__:
            lines.append(f"| {cls.__name__} | (together) | {hook.__doc__.strip().splitlines()[0]} |")
    for name in sorted(seen_states):
        state = seen_states[name]
        for field_name, spec in fields_of(state).items():
            lines.append(f"| {name} | `{field_name}` | {describe(spec)} |")
        hook = getattr(state, "_check_loaded", None)
        if hook is not None and hook.__doc__:
            lines.append(f"| {name} | (together) | {hook.__doc__.strip().splitlines()[0]} |")
    return "\n".join(lines) + "\n"
