"""JSON from untrusted files: bounded nesting, no duplicate keys, short error messages.

Python's parser recurses once per nesting level (a 200,000-deep array is a ``RecursionError``) and
keeps the last of two equal keys silently; here both are refused before anything is built.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

#: The deepest nesting a gradfree file needs is well under this.
MAX_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: no backtracking stack
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


class JSONLimitError(ValueError):
    """The text is not JSON a gradfree file can hold (too deep, duplicate keys, not JSON at all)."""


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting of JSON text, strings skipped (linear time, no recursion)."""
    skeleton = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    if skeleton.size == 0:
        return 0
    return int(np.cumsum(_OPEN[skeleton], dtype=np.int64).max(initial=0))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise JSONLimitError(f"duplicate key {shorten(key, 60)!r}")
        out[key] = value
    return out


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON ``raw``; :class:`JSONLimitError` for nesting deeper than ``max_depth``, a duplicate key
    or anything that is not JSON (the message is short whatever the input)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    depth = nesting_depth(data)
    if depth > max_depth:
        raise JSONLimitError(f"nested {depth} levels deep (at most {max_depth} allowed)")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise JSONLimitError(f"not valid JSON: {shorten(str(exc))}") from None
