"""Reader for the IDX format (MNIST, Fashion-MNIST), gzip-compressed or raw, with strict validation.

Layout: two zero bytes, a type code, the number of dimensions ``n``, then ``n`` big-endian int32
sizes, then the data in big-endian order. A file whose header is malformed, whose type code is
unknown, or whose length does not match its declared shape is refused with a ``ValueError`` that
names the file and the problem, so a truncated download never becomes silently wrong data.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

# type code -> big-endian dtype
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes (already decompressed). ``name`` is used in error messages.

    Examples
    --------
    >>> parse_idx(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))   # uint8, 1 dimension of size 3
    array([7, 8, 9], dtype=uint8)
    >>> parse_idx(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7]), name="labels.idx")
    Traceback (most recent call last):
    ...
    ValueError: labels.idx: file truncated: shape (3,) of uint8 needs 11 bytes, found 9
    """
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name}: bad magic number (first two bytes must be zero, got {data[:2].hex()})")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        raise ValueError(f"{name}: unknown IDX data type code 0x{code:02x}")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if any(s >= 2**31 for s in shape):
        raise ValueError(f"{name}: dimension sizes {shape} are negative or absurd")
    dtype = IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{name}: file {what}: shape {shape} of {dtype.name} needs {expected} bytes, "
                         f"found {len(data)}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else arr


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw; detected from the content) into a NumPy array.

    Examples
    --------
    With Debian's ``dataset-fashion-mnist`` installed:

    >>> labels = read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    >>> labels.shape, labels.dtype, labels[:5].tolist()
    ((10000,), dtype('uint8'), [9, 2, 1, 1, 6])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    return parse_idx(_read_bytes(path), name=str(path))
