"""``run_bench``: every model of the table on every suite it can run, per seed, checkpointed per unit.

A unit is one (model, suite, seed). Its result (metrics, accuracy matrix, wall time, peak memory,
the estimator's parameters) is written to ``out/checkpoints/<mode>/<model>__<suite>__seed<k>.json``
as soon as it finishes, so a killed bench resumes where it stopped; a checkpoint whose estimator
parameters differ from the current table is recomputed. A unit that raises is recorded as an error
(with the message) and the bench goes on.

Measurements: wall time is ``time.perf_counter`` around fitting and evaluating the model (the data are
loaded before); CPU time (``time.process_time``, all threads of the process) beside it, the steadier
of the two on a shared machine. Before its first unit in a process, each model is warmed up untimed
(fitted on ~60 training samples), so one-off costs (JIT compilation, lazy imports) do not land in one
unit's time. Peak memory is the rise of the process's resident-set high-water mark during
the unit: on Linux the kernel's ``VmHWM`` is reset before each unit (``/proc/self/clear_refs``), so the
number is the unit's own peak above the memory already held (``mem_method = "vmhwm"``); elsewhere it
falls back to ``resource.getrusage`` ``ru_maxrss``, which only rises when the unit beats every earlier
peak (``"ru_maxrss"``, a lower bound). On CUDA, ``torch.cuda.max_memory_allocated`` is recorded too.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gradfree.bench.models import MODELS, Setting
from gradfree.bench.report import write_outputs
from gradfree.bench.suites import SUITES, run_suite
from gradfree.core.checkpoint import checkpoint_written, read_checkpoint, write_checkpoint


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key.replace("%", "pct"))


# ---------------------------------------------------------------------------------------- memory
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak resident memory of one unit above what the process held when it started, in MiB."""

    def __enter__(self) -> PeakMemory:
        self.method = "ru_maxrss"
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            self.method = "vmhwm"
        except OSError:
            pass
        self.start_kb = _status_kb("VmRSS") if self.method == "vmhwm" else self._maxrss_kb()
        self.cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            self.cuda_start = torch.cuda.memory_allocated()
        return self

    @staticmethod
    def _maxrss_kb() -> int:
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r // 1024 if sys.platform == "darwin" else r  # bytes on macOS, KiB on Linux

    def __exit__(self, *exc: Any) -> None:
        end = _status_kb("VmHWM") if self.method == "vmhwm" else self._maxrss_kb()
        self.peak_mb = max(0.0, ((end or 0) - (self.start_kb or 0)) / 1024)
        self.peak_cuda_mb = None
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self.peak_cuda_mb = (torch.cuda.max_memory_allocated() - getattr(self, "cuda_start", 0)) / 2**20


# ---------------------------------------------------------------------------------------- units
def _params(est: Any) -> dict:
    return {k: repr(v) for k, v in sorted(est.get_params(deep=False).items())}


_WARM: set[tuple[str, str]] = set()


def _warm_up(model: str, setting: Setting, data: dict) -> None:
    """Fit a throw-away instance on a few samples, untimed, once per (model, kind) and process."""
    key = (model, setting.kind)
    if key in _WARM:
        return
    _WARM.add(key)
    try:
        est = MODELS[model].make(setting)
        if hasattr(est, "epochs"):
            est.set_params(epochs=1)
        step = max(1, len(data["ytr"]) // 60)  # a spread of samples: data may be sorted by class
        est.fit(data["Xtr"][::step], data["ytr"][::step])
        est.predict(data["Xte"][:10])
    except Exception:  # noqa: BLE001 - a failing warm-up shows up in the timed unit instead
        pass


def _setting(suite: str, seed: int, data: dict, quick: bool, device: str) -> Setting:
    s = SUITES[suite]
    return Setting(suite, s.kind, quick, seed, device, int(data["Xtr"].shape[1]),
                   int(len(np.unique(data["ytr"]))) if s.kind != "regression" else 0)


def run_unit(model: str, suite: str, seed: int, data: dict, *, quick: bool, device: str,
             threads: int | None = None) -> dict:
    """Build, fit and evaluate one model on one suite's data; never raises (errors are recorded).

    ``threads`` is re-applied after the warm-up and before timing: a library using OpenMP (numba's
    ``omp`` threading layer) can reset the process-wide thread count that torch shares with it.
    """
    entry, s = MODELS[model], SUITES[suite]
    setting = _setting(suite, seed, data, quick, device)
    rec: dict[str, Any] = {"model": model, "suite": suite, "seed": seed, "status": "ok", "error": None,
                           "metrics": {}, "extra": {}}
    try:
        _warm_up(model, setting, data)
        if threads is not None:
            torch.set_num_threads(threads)
        est = entry.make(setting)
        rec["params"] = _params(est)
        with PeakMemory() as mem:
            start, cpu = time.perf_counter(), time.process_time()
            rec["metrics"], rec["extra"] = run_suite(est, s, data, entry.continual)
            rec["wall_s"] = time.perf_counter() - start
            rec["cpu_s"] = time.process_time() - cpu
        rec.update(peak_mb=mem.peak_mb, peak_cuda_mb=mem.peak_cuda_mb, mem_method=mem.method)
    except Exception as exc:  # noqa: BLE001 - the bench records a failing model and goes on
        rec.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500],
                   traceback=traceback.format_exc()[-2000:])
    return rec


def _valid_record(rec: Any) -> bool:
    """The shape a unit record must have to be reused (anything else is computed again)."""
    return (isinstance(rec, dict) and isinstance(rec.get("status"), str)
            and isinstance(rec.get("metrics"), dict) and isinstance(rec.get("params"), dict))


def _expected_params(model: str, suite: str, seed: int, data: dict, quick: bool, device: str) -> dict | None:
    try:
        return _params(MODELS[model].make(_setting(suite, seed, data, quick, device)))
    except Exception:  # noqa: BLE001
        return None


def machine_info(device: str) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": device}
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# ---------------------------------------------------------------------------------------- the bench
def checkpoint_dir(out: str | Path, quick: bool, device: str) -> Path:
    """Where the unit checkpoints of a bench run with these settings live."""
    return Path(out) / "checkpoints" / _safe(("quick" if quick else "full") + f"-{device}")


def unit_path(ckpt_dir: Path, model: str, suite: str, seed: int) -> Path:
    """The checkpoint file of one (model, suite, seed) unit."""
    return ckpt_dir / f"{_safe(model)}__{_safe(suite)}__seed{seed}.json"


def run_bench(quick: bool = False, seeds: int = 3, out: str | Path = "runs/bench", device: str = "cpu",
              progress: bool = True, models: list[str] | None = None, suites: list[str] | None = None,
              threads: int | None = 1) -> Path:
    """Run the bench into ``out`` (resuming from its checkpoints); returns ``out``.

    Writes ``results.csv`` (one row per model, suite, seed and metric, with wall time and peak memory),
    ``bench.md`` (mean ± sd over seeds, with the reason wherever a model cannot run a suite),
    ``accuracy_matrices_<suite>.png``, ``accuracy_vs_time.png`` and ``bench.json`` (everything, plus
    the machine and the duration). ``models`` / ``suites`` restrict the run to a subset of the table.

    ``threads``: torch CPU threads during the bench (default 1, so every model is timed alike and
    timings do not collapse when the cores are shared: on a loaded 2-core machine two threads made an
    MLP fit 10-40x slower than one); ``None`` leaves torch's setting alone.
    """
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _run_bench(quick, seeds, Path(out), device, progress, models, suites, threads)
    finally:
        torch.set_num_threads(old_threads)


def _run_bench(quick: bool, seeds: int, out: Path, device: str, progress: bool, models: list[str] | None,
               suites: list[str] | None, threads: int | None) -> Path:
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    model_names = list(MODELS) if models is None else list(models)
    suite_names = list(SUITES) if suites is None else list(suites)
    for name, table in (*((m, MODELS) for m in model_names), *((s, SUITES) for s in suite_names)):
        if name not in table:
            raise ValueError(f"unknown name {name!r}; known: {', '.join(table)}")
    ckpt_dir = checkpoint_dir(out, quick, device)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    t0 = time.perf_counter()

    skipped = {(m, s): MODELS[m].reason(s, quick) for m in model_names for s in suite_names}
    todo = [(s, seed, m) for s in suite_names for seed in range(seeds) for m in model_names
            if skipped[(m, s)] is None]
    records: list[dict] = []
    resumed = 0
    bar = tqdm(total=len(todo), desc="bench", disable=not progress)
    for s in suite_names:
        for seed in range(seeds):
            units = [m for m in model_names if skipped[(m, s)] is None]
            if not units:
                continue
            data = SUITES[s].load(seed, quick)
            for m in units:
                bar.set_postfix_str(f"{m} / {s} / seed {seed}")
                path = unit_path(ckpt_dir, m, s, seed)
                rec = read_checkpoint(path, _valid_record)
                if rec is not None and (rec["status"] != "ok" or  # a failed unit is retried, and so is
                                        rec.get("params") != _expected_params(m, s, seed, data, quick,
                                                                              device)):
                    rec = None  # one whose model configuration changed since
                if rec is None:
                    rec = run_unit(m, s, seed, data, quick=quick, device=device, threads=threads)
                    write_checkpoint(path, rec)
                    checkpoint_written()
                else:
                    resumed += 1
                records.append(rec)
                bar.update(1)
    bar.close()
    duration = time.perf_counter() - t0
    # Every invocation into this folder is logged, so a resumed bench still states what the whole took.
    log_path = ckpt_dir / "invocations.json"
    log = read_checkpoint(log_path, lambda v: isinstance(v, list) and all(
        isinstance(x, dict) and isinstance(x.get("duration_s"), (int, float)) for x in v)) or []
    log.append({"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
                "duration_s": duration, "units_computed": len(todo) - resumed})
    write_checkpoint(log_path, log)
    meta = {"quick": quick, "seeds": seeds, "device": device, "models": model_names, "suites": suite_names,
            "started": log[-1]["started"], "duration_s": duration, "units": len(todo),
            "units_resumed": resumed,
            "invocations": log, "total_duration_s": sum(x["duration_s"] for x in log),
            "machine": {**machine_info(device), "torch_threads": threads or torch.get_num_threads()},
            "command": "gradfree bench" + (" --quick" if quick else "") + f" --seeds {seeds}"
                       + (f" --device {device}" if device != "cpu" else "")}
    write_outputs(out, records, skipped, meta)
    return out
