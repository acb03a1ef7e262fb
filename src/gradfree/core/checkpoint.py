"""Atomic JSON files, damage-tolerant checkpoint reads, and the counter that lets tests kill a run.

A checkpoint may be cut off, emptied or rewritten by anyone: :func:`read_checkpoint` treats a damaged
one as missing (it warns, naming the file, and the caller recomputes that unit), so a resumed run still
ends with the same results as an uninterrupted one.

Setting ``GRADFREE_KILL_AFTER_CHECKPOINTS=N`` makes the process SIGKILL itself right after its N-th
checkpoint is written: a real, uncatchable kill at a reproducible place, used by the resume tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

_count = 0


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to a temporary file and rename it over ``path``: readers never see half a file."""
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True))


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file and rename it over ``path``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


class DamagedCheckpointWarning(UserWarning):
    """A checkpoint could not be read back; the unit it held is computed again."""


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def write_checkpoint(path: str | Path, payload: Any) -> None:
    """Atomically write ``payload`` (JSON-able) with its SHA-256, so damage and edits are detected."""
    write_json_atomic(path, {"payload": payload, "sha256": _digest(payload)})


def read_checkpoint(path: str | Path, valid: Callable[[Any], bool] | None = None) -> Any | None:
    """The payload :func:`write_checkpoint` stored in ``path``; None if it is missing or damaged.

    Damaged means unreadable, not JSON, a checksum that does not match, or a payload that ``valid``
    rejects. It is reported with a :class:`DamagedCheckpointWarning` naming the file and then ignored,
    so the caller computes what it held again (and overwrites it atomically).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text())
        if not isinstance(obj, dict) or set(obj) != {"payload", "sha256"}:
            ok, why = False, "not a gradfree checkpoint"
        elif obj["sha256"] != _digest(obj["payload"]):
            ok, why = False, "checksum mismatch: it was changed after it was written"
        else:
            ok, why = valid is None or bool(valid(obj["payload"])), "its content has the wrong shape"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        ok, why = False, f"{type(exc).__name__}: {exc}"
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        ok, why = False, f"its content has the wrong shape ({type(exc).__name__}: {exc})"
    if ok:
        return obj["payload"]
    warnings.warn(f"{path}: damaged checkpoint ({why}); computing it again", DamagedCheckpointWarning,
                  stacklevel=2)
    return None


def checkpoint_written() -> None:
    """Call after every durable checkpoint; honours ``GRADFREE_KILL_AFTER_CHECKPOINTS``."""
    global _count
    _count += 1
    limit = os.environ.get("GRADFREE_KILL_AFTER_CHECKPOINTS")
    if limit and _count >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)
