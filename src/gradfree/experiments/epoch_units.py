"""Long units that survive interruption: a learning curve checkpointed after every epoch.

``epoch_unit(ctx, key, make_model, train, evaluate, epochs)`` is ``ctx.unit(key, ...)`` for a curve
that trains a model epoch by epoch and measures a row after each epoch. After every epoch it writes,
in ``ctx.checkpoint_dir(key)``:

* ``model-e<k>.json`` / ``.safetensors`` - the model (:func:`gradfree.core.io.save_estimator`;
  a gradfree estimator draws every random number from its own ``rng_`` generator, whose state is saved
  with it bit-exactly);
* ``progress.json`` - the rows so far, the SHA-256 of that model file, torch's global RNG state (for
  code that draws from it) and the time spent (in total, and training time per epoch), written atomically by
  :func:`gradfree.core.checkpoint.write_checkpoint` after the model, so it never names a half-written
  model.

A run killed at any point resumes after the last finished epoch and ends with the same bytes in
``results.json`` as an uninterrupted run. A damaged progress file or model (cut off, emptied, edited) is
named in a :class:`~gradfree.core.checkpoint.DamagedCheckpointWarning` and treated as missing: the curve
is computed again from the start. The final model stays in the folder once the unit is done.

Each unit's training throughput (samples/s of ``train`` alone, and of the whole unit with evaluation
and checkpoints) goes to ``ctx.stats[key]``, which the runner writes to ``run_info.json``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gradfree.core.checkpoint import (
    DamagedCheckpointWarning,
    checkpoint_written,
    read_checkpoint,
    write_checkpoint,
)
from gradfree.core.files import read_bytes
from gradfree.core.io import save_estimator
from gradfree.experiments.registry import ExperimentContext

PROGRESS = "progress.json"
_MODEL = re.compile(r"model-e(\d{4,})\.(json|safetensors)")
_CLOCKS = ("train_s", "eval_s", "checkpoint_s", "load_sum")
# CPU time of training and the epochs it covers: optional, so progress files written before it was
# recorded still resume
_CPU_CLOCKS = ("train_cpu_s", "cpu_epochs")


def epoch_unit(ctx: ExperimentContext, key: str, make_model: Callable[[], Any],
               train: Callable[[Any], None], evaluate: Callable[[Any], dict],
               epochs: int, *, finish: Callable[[Any, list[dict]], Any] | None = None,
               samples_per_epoch: int | None = None, desc: str = "epochs") -> Any:
    """Run a resumable curve as unit ``key``; return ``finish(model, rows)`` (default: the rows).

    ``make_model()`` builds the untrained model (a gradfree estimator: saved by ``core.io``, loaded by
    its ``load``), ``train(model)`` trains it for one epoch, ``evaluate(model)`` returns the epoch's
    row (a JSON-able dict).
    ``samples_per_epoch`` (training samples per epoch) turns the training time into a throughput.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    folder = ctx.checkpoint_dir(key)

    def curve() -> Any:
        model, rows, clock, epoch_train_s = _resume(folder, make_model, epochs)
        for epoch in ctx.progress(range(len(rows) + 1, epochs + 1), desc=f"{desc} of {epochs}"):
            t0, c0 = time.perf_counter(), time.process_time()
            train(model)
            t1 = time.perf_counter()
            clock["train_cpu_s"] += time.process_time() - c0
            clock["cpu_epochs"] += 1
            rows.append(evaluate(model))
            t2 = time.perf_counter()
            save_estimator(model, folder / f"model-e{epoch:04d}", root=ctx.out)
            clock["train_s"] += t1 - t0
            epoch_train_s.append(round(t1 - t0, 3))
            clock["eval_s"] += t2 - t1
            clock["checkpoint_s"] += time.perf_counter() - t2
            clock["load_sum"] += os.getloadavg()[0]  # the machine's load, to read the speed against
            _write_progress(folder, rows, clock, epoch_train_s, ctx.out)
            checkpoint_written()
        return finish(model, rows) if finish is not None else rows

    result = ctx.unit(key, curve)
    saved = read_checkpoint(folder / PROGRESS, _valid_progress)
    if saved is not None:
        ctx.stats[key] = _throughput(saved["clock"], len(saved["rows"]), samples_per_epoch)
    return result


def _write_progress(folder: Path, rows: list[dict], clock: dict, epoch_train_s: list[float],
                    root: Path) -> None:
    """Name the new model in ``progress.json`` (atomically), then drop the previous epoch's model."""
    name = f"model-e{len(rows):04d}"
    write_checkpoint(folder / PROGRESS, {"rows": rows, "model": name,
                                         "model_sha256": file_sha256(folder / f"{name}.json"),
                                         "rng": _global_rng(), "clock": dict(clock),
                                         "epoch_train_s": epoch_train_s}, root=root)
    _drop_other_models(folder, keep=name)


def _resume(folder: Path, make_model: Callable[[], Any], epochs: int) -> tuple[Any, list[dict], dict, list]:
    """The model, rows, clock and each epoch's training seconds after the last finished epoch, or a
    fresh start."""
    fresh = make_model()
    clock = dict.fromkeys(_CLOCKS + _CPU_CLOCKS, 0.0)
    saved = read_checkpoint(folder / PROGRESS, _valid_progress)
    if saved is None or len(saved["rows"]) > epochs:
        _drop_other_models(folder, keep=None)
        return fresh, [], clock, []
    name = saved["model"]
    try:
        if file_sha256(folder / f"{name}.json") != saved["model_sha256"]:
            raise ValueError(f"{name}.json is not the model {PROGRESS} was written with")
        model = type(fresh).load(folder / name)
        _set_global_rng(saved["rng"])
    except (OSError, ValueError, RuntimeError, TypeError) as exc:  # ModelFileError is a ValueError
        warnings.warn(f"{folder}: damaged model checkpoint ({exc}); computing the curve again",
                      DamagedCheckpointWarning, stacklevel=3)
        _drop_other_models(folder, keep=None)
        return fresh, [], clock, []
    _drop_other_models(folder, keep=name)  # a model saved after the last progress file is not trusted
    clock.update({k: float(saved["clock"].get(k, 0.0)) for k in _CLOCKS + _CPU_CLOCKS})
    return model, list(saved["rows"]), clock, list(saved["epoch_train_s"])


def _valid_progress(d: Any) -> bool:
    rows, clock, rng = d["rows"], d["clock"], d["rng"]
    return (isinstance(rows, list) and len(rows) >= 1 and all(isinstance(r, dict) for r in rows)
            and d["model"] == f"model-e{len(rows):04d}" and isinstance(d["model_sha256"], str)
            and all(isinstance(clock[k], (int, float)) and clock[k] >= 0 for k in _CLOCKS)
            and all(isinstance(clock.get(k, 0), (int, float)) and clock.get(k, 0) >= 0 for k in _CPU_CLOCKS)
            and isinstance(rng["torch"], str) and len(d["epoch_train_s"]) == len(rows)
            and all(isinstance(t, (int, float)) for t in d["epoch_train_s"]))


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a regular file's bytes (read without following a link)."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


def _drop_other_models(folder: Path, keep: str | None) -> None:
    for path in folder.iterdir():
        m = _MODEL.fullmatch(path.name)
        if m and path.name.rsplit(".", 1)[0] != keep:
            path.unlink()


def _global_rng() -> dict:
    """torch's global generator state (hex): gradfree models draw only from their own ``rng_``, other
    torch code called inside a curve may draw from it. (NumPy's legacy global generator is not used in
    this code base; ruff's NPY002 keeps it that way.)"""
    return {"torch": torch.get_rng_state().numpy().tobytes().hex()}


def _set_global_rng(rng: dict) -> None:
    """Restore :func:`_global_rng`'s state; a malformed one raises ``ValueError``."""
    state = bytes.fromhex(rng["torch"])
    if len(state) != torch.get_rng_state().numel():
        raise ValueError(f"a torch RNG state has {torch.get_rng_state().numel()} bytes, the file holds "
                         f"{len(state)}")
    torch.set_rng_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))


def _throughput(clock: dict, epochs: int, samples_per_epoch: int | None) -> dict:
    """Seconds spent training, evaluating and checkpointing, summed over every process that ran the
    curve, the training samples per second of training alone (wall and process CPU time) and of the
    whole unit, and the machine's 1-minute load average after each epoch, averaged (what else ran
    beside the curve)."""
    out = {"epochs": epochs, **{k: round(float(clock[k]), 3) for k in _CLOCKS[:3]},
           "load_average_1m": round(float(clock["load_sum"]) / epochs, 2)}
    total = sum(float(clock[k]) for k in _CLOCKS[:3])
    if samples_per_epoch and clock["train_s"] > 0:
        n = samples_per_epoch * epochs
        out |= {"train_samples": n, "train_samples_per_s": round(n / float(clock["train_s"]), 1),
                "unit_samples_per_s": round(n / total, 1)}
        if clock.get("cpu_epochs", 0) > 0 and clock.get("train_cpu_s", 0) > 0:  # the process's CPU time:
            out["train_samples_per_cpu_s"] = round(  # less sensitive to what else runs than wall time
                samples_per_epoch * clock["cpu_epochs"] / float(clock["train_cpu_s"]), 1)
    return out


def curve_progress(out: str | Path) -> dict[str, dict]:
    """Every resumable curve in run folder ``out``, finished or not: its rows so far and its throughput
    (read from the progress files; a damaged one is warned about and left out)."""
    found = {}
    for path in sorted(Path(out, "checkpoints").glob(f"*/{PROGRESS}")):
        saved = read_checkpoint(path, _valid_progress)
        if saved is not None:
            rows = saved["rows"]
            found[path.parent.name] = {"rows": rows, **_throughput(saved["clock"], len(rows), None)}
    return found


def main(argv: list[str] | None = None) -> None:
    """``python -m gradfree.experiments.epoch_units RUN_FOLDER``: each curve's epochs and last row."""
    import argparse
    import json

    p = argparse.ArgumentParser(description="Where the resumable curves of a run folder stand.")
    p.add_argument("out", help="the run folder (--out of gradfree run)")
    for key, c in curve_progress(p.parse_args(argv).out).items():
        n = c["epochs"]
        print(f"{key}: {n} epochs, last {json.dumps(c['rows'][-1])}, training {c['train_s'] / n:.0f} "
              f"s/epoch, evaluation {c['eval_s'] / n:.0f} s/epoch, mean load {c['load_average_1m']}")


if __name__ == "__main__":
    main()
