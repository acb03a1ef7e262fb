"""Run-folder files: atomic writes that stay inside the folder, and damage-tolerant checkpoint reads.

A run folder is untrusted: anyone may have unpacked it, cut a checkpoint off, emptied it, rewritten
it, or put a link, a FIFO, a directory or a huge file in its place. Writes go through
:func:`gradfree.core.files.write_bytes_atomic` (a fresh temporary renamed over the target: a link is
replaced, never followed; given ``root``, nothing lands outside the run folder). :func:`read_checkpoint`
reads only a regular file of bounded size and treats anything else, like any damage, as missing (it warns,
naming the file, and the caller recomputes that unit), so a resumed run still ends with the same results
as an uninterrupted one.

The SHA-256 stored beside a payload detects damage (a cut-off or corrupted file), not deliberate edits:
anyone who can write the folder can recompute it. Numbers derived from a checkpoint's raw results are
recomputed when it is read (:func:`gradfree.continual.runner.rederive`), so an edited checkpoint cannot
make a report disagree with itself, but it can change the raw results it holds.

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

from gradfree.core import files, jsonfile

#: the largest checkpoint read back (a bigger file is damaged)
MAX_CHECKPOINT_BYTES = 64 * 2**20

_count = 0


def write_json_atomic(path: str | Path, obj: Any, *, root: str | Path | None = None) -> None:
    """Write JSON atomically (readers never see half a file), never through a link, inside ``root``."""
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True), root=root)


def write_text_atomic(path: str | Path, text: str, *, root: str | Path | None = None) -> None:
    """Write ``text`` atomically, never through a link and (given ``root``) never outside it."""
    files.write_text_atomic(path, text, root=root)


class DamagedCheckpointWarning(UserWarning):
    """A checkpoint could not be read back; the unit it held is computed again."""


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def write_checkpoint(path: str | Path, payload: Any, *, root: str | Path | None = None) -> None:
    """Atomically write ``payload`` (JSON-able) with its SHA-256, so damage is detected on reading."""
    write_json_atomic(path, {"payload": payload, "sha256": _digest(payload)}, root=root)


def read_checkpoint(path: str | Path, valid: Callable[[Any], bool] | None = None) -> Any | None:
    """The payload :func:`write_checkpoint` stored in ``path``; None if it is missing or damaged.

    Damaged means not a regular file (a link, a FIFO, a directory, a device), larger than
    :data:`MAX_CHECKPOINT_BYTES`, unreadable, not JSON (or nested too deep, or with duplicate keys), a
    checksum that does not match, or a payload that ``valid`` rejects. It is reported with a
    :class:`DamagedCheckpointWarning` naming the file and then ignored, so the caller computes what it
    held again (and replaces it atomically).
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        obj = jsonfile.loads(files.read_bytes(path, MAX_CHECKPOINT_BYTES))
        if not isinstance(obj, dict) or set(obj) != {"payload", "sha256"}:
            ok, why = False, "not a gradfree checkpoint"
        elif obj["sha256"] != _digest(obj["payload"]):
            ok, why = False, "checksum mismatch: it was changed after it was written"
        else:
            ok, why = valid is None or bool(valid(obj["payload"])), "its content has the wrong shape"
    except (OSError, jsonfile.JSONLimitError) as exc:
        ok, why = False, jsonfile.shorten(f"{type(exc).__name__}: {exc}")
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        ok, why = False, jsonfile.shorten(f"its content has the wrong shape ({type(exc).__name__}: {exc})")
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
