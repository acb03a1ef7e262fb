"""One unit of the bench: a (model, suite, seed), built, fitted, evaluated and measured.

The bench experiment (:mod:`gradfree.experiments.bench`) checkpoints each unit's record like any
experiment's unit. A unit that raises is recorded as an error (with the message) and the bench goes on.

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
from typing import Any

import numpy as np
import torch

from gradfree.experiments.bench.models import MODELS, Setting
from gradfree.experiments.bench.suites import SUITES, run_suite


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
def params_of(est: Any) -> dict:
    """The estimator's parameters as text: what identifies a unit's configuration."""
    return {k: repr(v) for k, v in sorted(est.get_params(deep=False).items())}


_WARM: set[tuple[str, str]] = set()


def _warm_up(model: str, config: Setting, data: dict) -> None:
    """Fit a throw-away instance on a few samples, untimed, once per (model, kind) and process."""
    key = (model, config.kind)
    if key in _WARM:
        return
    _WARM.add(key)
    try:
        est = MODELS[model].make(config)
        if hasattr(est, "epochs"):
            est.set_params(epochs=1)
        step = max(1, len(data["ytr"]) // 60)  # a spread of samples: data may be sorted by class
        est.fit(data["Xtr"][::step], data["ytr"][::step])
        est.predict(data["Xte"][:10])
    except Exception:  # noqa: BLE001 - a failing warm-up shows up in the timed unit instead
        pass


def setting(suite: str, seed: int, data: dict, quick: bool, device: str) -> Setting:
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
    config = setting(suite, seed, data, quick, device)
    rec: dict[str, Any] = {"model": model, "suite": suite, "seed": seed, "status": "ok", "error": None,
                           "metrics": {}, "extra": {}}
    try:
        _warm_up(model, config, data)
        if threads is not None:
            torch.set_num_threads(threads)
        est = entry.make(config)
        rec["params"] = params_of(est)
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


def machine_info(device: str) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": device}
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
