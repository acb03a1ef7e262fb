"""Atomic JSON files and the checkpoint counter that lets tests kill a run at a chosen point.

Setting ``GRADFREE_KILL_AFTER_CHECKPOINTS=N`` makes the process SIGKILL itself right after its N-th
checkpoint is written: a real, uncatchable kill at a reproducible place, used by the resume tests.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

_count = 0


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to a temporary file and rename it over ``path``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    tmp.replace(path)


def checkpoint_written() -> None:
    """Call after every durable checkpoint; honours ``GRADFREE_KILL_AFTER_CHECKPOINTS``."""
    global _count
    _count += 1
    limit = os.environ.get("GRADFREE_KILL_AFTER_CHECKPOINTS")
    if limit and _count >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)
