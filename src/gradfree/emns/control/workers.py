"""Rollouts on worker processes or Ray actors that hold a replica of the optimizer.

Each worker is built once from a snapshot of the driver's :class:`~gradfree.emns.EMNSOptimizer`
(right after the driver's ``ask``). Every generation it receives only the fitness values the driver
told for the previous generation, the environment seeds and the frozen normaliser of its share of
the candidates; it replays ``tell`` on its replica, ``ask`` s the new generation (the noise comes from
the replica's own copy of the seed generator, so the rows are the driver's), runs the episodes of its
share and returns returns, step counts and observation statistics. No message holds a parameter
vector, so the bytes per generation do not depend on the policy's size (measured:
``PolicySearch.history_["bytes"]``, ``benchmarks/bench_emns_control.py``).

A worker that dies (its process killed, its Ray actor lost) is rebuilt from a fresh snapshot of the
driver and its share re-run: every episode is a pure function of the rows and seeds, so the run is
the one an in-process search makes with the same ``random_state``.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
from typing import Any

import numpy as np
import torch

from gradfree.emns.control.rollout import Rollouts, TaskSpec


class RolloutWorker:
    """A replica of the optimizer plus a pool of environments (the body of a process or an actor)."""

    def __init__(self, task: TaskSpec, snapshot: bytes) -> None:
        torch.set_num_threads(1)
        self.rollouts = Rollouts(task)
        self.opt, self.masks = pickle.loads(snapshot)  # the optimizer and the policy's synapse masks

    def step(self, f_prev: np.ndarray | None, idx: list[int], seeds: list[int], mean: np.ndarray,
             std: np.ndarray) -> tuple:
        if f_prev is not None:
            self.opt.tell(self.opt.ask_tensor(), f_prev)
        X = self.opt.ask_tensor()
        rows = X[torch.as_tensor(idx)] if len(idx) != X.shape[0] else X
        return self.rollouts.run(rows, seeds, mean, std, self.masks)

    def ping(self) -> bool:
        return True


def _serve(conn: Any, task: TaskSpec, snapshot: bytes) -> None:  # pragma: no cover - child process
    worker = RolloutWorker(task, snapshot)
    while True:
        try:
            msg = conn.recv_bytes()
        except EOFError:
            return
        args = pickle.loads(msg)
        if args is None:
            return
        conn.send_bytes(pickle.dumps(worker.step(*args)))


class _Process:
    """One worker in a child process, talking over a pipe (the messages are what is measured)."""

    def __init__(self, task: TaskSpec, snapshot: bytes) -> None:
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, task, snapshot), daemon=True)
        self.proc.start()
        child.close()

    def submit(self, payload: bytes) -> None:
        try:
            self.conn.send_bytes(payload)
        except (BrokenPipeError, OSError):
            pass  # a dead worker: result() raises and the pool rebuilds it

    def result(self) -> bytes:
        return self.conn.recv_bytes()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()

    def close(self) -> None:
        try:
            self.conn.send_bytes(pickle.dumps(None))
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()


class _Actor:
    """One worker as a Ray actor (same protocol as :class:`_Process`)."""

    def __init__(self, task: TaskSpec, snapshot: bytes) -> None:
        ray = _ray()
        self.ray = ray
        cls = ray.remote(num_cpus=1)(_RayBody)
        self.actor = cls.remote(task, snapshot)
        self.ref = None

    def submit(self, payload: bytes) -> None:
        self.ref = self.actor.step.remote(payload)

    def result(self) -> bytes:
        return self.ray.get(self.ref)

    def kill(self) -> None:
        self.ray.kill(self.actor, no_restart=True)

    def close(self) -> None:
        self.ray.kill(self.actor, no_restart=True)


def _ray():
    """Ray, started locally on first use when no cluster is connected (``ray.init(address=...)``
    beforehand uses that cluster)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("backend='ray' needs Ray: pip install 'gradfree[distributed]'") from exc
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


class _RayBody:
    def __init__(self, task: TaskSpec, snapshot: bytes) -> None:
        self.worker = RolloutWorker(task, snapshot)

    def step(self, payload: bytes) -> bytes:
        return pickle.dumps(self.worker.step(*pickle.loads(payload)))


def _lost_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (EOFError, BrokenPipeError, ConnectionResetError, OSError)
    try:
        from ray.exceptions import RayActorError, WorkerCrashedError

        errors += (RayActorError, WorkerCrashedError)
    except ImportError:  # pragma: no cover - Ray not installed
        pass
    return errors


class WorkerPool:
    """``n`` workers (``backend`` "processes" or "ray"); :meth:`run` is one generation.

    ``bytes_sent`` / ``bytes_received`` accumulate the pickled messages (the whole traffic after the
    one-off snapshots); ``restarts`` counts rebuilt workers.
    """

    def __init__(self, task: TaskSpec, n: int, backend: str) -> None:
        self.task, self.n, self.backend = task, n, backend
        self.workers: list[Any] = []
        self.bytes_sent = self.bytes_received = self.restarts = 0

    def _new(self, snapshot: bytes) -> Any:
        return (_Actor if self.backend == "ray" else _Process)(self.task, snapshot)

    def run(self, snapshot: Any, f_prev: np.ndarray | None, seeds: list[list[int]], mean: np.ndarray,
            std: np.ndarray) -> tuple:
        """Episodes of every candidate (``seeds[i]`` its episodes' seeds), in candidate order.
        ``snapshot()`` gives the driver's pickled (optimizer after its ``ask``, synapse masks or None) for
        new workers; after a structural change the driver :meth:`close` s the pool, so the next call
        starts workers from a fresh snapshot."""
        P = len(seeds)
        shares = [list(c) for c in np.array_split(np.arange(P), min(self.n, P)) if len(c)]
        if not self.workers:
            snap = snapshot()
            self.workers = [self._new(snap) for _ in shares]
            f_prev = None
        payloads = []
        for idx in shares:
            reps = [i for i in idx for _ in seeds[i]]
            flat = [s for i in idx for s in seeds[i]]
            payloads.append((idx, reps, pickle.dumps((f_prev, reps, flat, mean, std))))
        for w, (_, _, p) in zip(self.workers, payloads):
            w.submit(p)
            self.bytes_sent += len(p)
        parts = []
        for k, (w, (idx, reps, p)) in enumerate(zip(self.workers, payloads)):
            try:
                out = w.result()
            except _lost_errors():
                self.restarts += 1
                w = self.workers[k] = self._new(snapshot())
                p = pickle.dumps((None, reps, [s for i in idx for s in seeds[i]], mean, std))
                w.submit(p)
                self.bytes_sent += len(p)
                out = w.result()
            self.bytes_received += len(out)
            parts.append(pickle.loads(out))
        return tuple(np.concatenate([part[j] for part in parts]) for j in range(4))

    def kill(self, k: int) -> None:
        """Kill worker ``k`` (for tests of recovery)."""
        self.workers[k].kill()

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.workers = []
