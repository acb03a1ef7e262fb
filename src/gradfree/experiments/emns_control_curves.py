"""Learning curves of the emns-control experiment, and their progress saved inside a unit.

A 5 M-step MuJoCo unit takes one to two hours of a core here, longer than what is left of a session at
times, so EMNS's and ARS's curves save their progress in the unit's own folder
(``ctx.checkpoint_dir(key)``) every ``save_every`` seconds and once more at the end: a run killed at any
point resumes from the last save and ends with the same evaluations (env steps, episodes, returns; only
the measured seconds differ) as an uninterrupted run. EvoTorch's and NEAT's curves start again (their
searchers' state has no safe file format here).

In the unit's folder:

* ``search-<k>.json`` / ``.safetensors`` - EMNS: the :class:`~gradfree.emns.PolicySearch` (saved and
  loaded by :mod:`gradfree.core.io`; it draws every random number from its own generators, saved with
  it bit-exactly);
* ``progress.json`` - the curve so far, the training seconds and episodes, and the learner's part: for
  EMNS the name and SHA-256 of its search file, for ARS its whole state (centre, generator, observation
  statistics, history), written atomically by :func:`gradfree.core.checkpoint.write_checkpoint` after
  the search file, so it never names a half-written one.

A damaged or foreign progress file or search file is named in a
:class:`~gradfree.core.checkpoint.DamagedCheckpointWarning` and the curve starts again.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gradfree.core.checkpoint import (
    DamagedCheckpointWarning,
    checkpoint_written,
    read_checkpoint,
    write_checkpoint,
)
from gradfree.core.io import save_estimator
from gradfree.experiments.emns_control_config import N_EVALS
from gradfree.experiments.epoch_units import file_sha256

PROGRESS = "progress.json"
SAVE_EVERY_S = 300.0  # seconds of wall time between two saves of a curve's progress
_SEARCH = re.compile(r"search-(\d{6,})\.(json|safetensors)")


class Curve:
    """Evaluations of the current policy (steps, training seconds, training episodes, return) when the
    budget spent first reaches each point of the schedule: 1,000 env steps doubling up to the budget
    (early learning) and every tenth of the budget."""

    def __init__(self, budget: int, evaluate: Callable[[], float]) -> None:
        early = [1000 * 2 ** k for k in range(32) if 1000 * 2 ** k < budget]
        self.schedule = sorted(set(early) | {budget * (i + 1) / N_EVALS for i in range(N_EVALS)})
        self.evaluate = evaluate
        self.points: list[list[float]] = []
        self.train_seconds = 0.0
        self.episodes = 0

    def tick(self, steps: int, episodes: int, seconds: float, force: bool = False) -> None:
        """After a generation (``seconds`` of training; ``steps`` and ``episodes`` spent in all so far):
        evaluate if a point of the schedule is reached (or ``force``)."""
        self.train_seconds += seconds
        self.episodes = episodes
        if (self.schedule and steps >= self.schedule[0]) or force:
            self.points.append([steps, self.train_seconds, self.episodes, self.evaluate()])
            self.schedule = [p for p in self.schedule if p > steps]

    def restore(self, points: list, train_seconds: float, episodes: int, steps: int) -> None:
        """Continue a saved curve at ``steps`` env steps spent."""
        self.points, self.train_seconds, self.episodes = [list(p) for p in points], train_seconds, episodes
        self.schedule = [p for p in self.schedule if p > steps]


class Learner:
    """What a resumable curve drives: one generation at a time, an evaluation, a save and a load."""

    env_steps: int

    def step(self) -> tuple[int, float]:
        """Run one generation; return its training episodes and seconds."""
        raise NotImplementedError

    def evaluate(self) -> float:
        raise NotImplementedError

    def save(self, folder: Path, index: int, root: Path) -> dict:
        """Write what :meth:`load` needs (files in ``folder``, or the returned JSON-able dict)."""
        raise NotImplementedError

    def load(self, folder: Path, saved: dict) -> None:
        """Restore what :meth:`save` wrote; anything wrong raises ``ValueError`` (or ``OSError``)."""
        raise NotImplementedError


def resumable_curve(learner: Learner, budget: int, folder: Path | None = None, root: Path | None = None,
                    save_every: float = SAVE_EVERY_S) -> list:
    """The learner's curve up to ``budget`` env steps; with ``folder``, resumed from and saved to it."""
    curve = Curve(budget, learner.evaluate)
    saves = 0
    if folder is not None:
        saves = _resume(learner, curve, folder)
    last = time.perf_counter()
    while learner.env_steps < budget:
        episodes, seconds = learner.step()
        done = learner.env_steps >= budget
        curve.tick(learner.env_steps, curve.episodes + episodes, seconds, force=done)
        if folder is not None and (done or time.perf_counter() - last >= save_every):
            saves += 1
            _save(learner, curve, folder, saves, root)
            last = time.perf_counter()
    return curve.points


def _save(learner: Learner, curve: Curve, folder: Path, index: int, root: Path | None) -> None:
    part = learner.save(folder, index, root)
    write_checkpoint(folder / PROGRESS, {"points": curve.points, "train_seconds": curve.train_seconds,
                                         "episodes": curve.episodes, "env_steps": learner.env_steps,
                                         "index": index, "learner": part}, root=root)
    _drop_searches(folder, keep=index)
    checkpoint_written()


def _resume(learner: Learner, curve: Curve, folder: Path) -> int:
    """Restore the learner and the curve from ``folder``; the index of the save resumed (0: none, a
    fresh start; a learner's ``load`` checks everything before it changes anything)."""
    saved = read_checkpoint(folder / PROGRESS, _valid_progress)
    if saved is not None:
        try:
            if saved["env_steps"] != saved["learner"].get("env_steps"):
                raise ValueError(f"{PROGRESS}: env_steps differs from the learner's")
            learner.load(folder, saved["learner"])
        except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:  # ModelFileError: ValueError
            warnings.warn(f"{folder}: damaged curve checkpoint ({exc}); computing the curve again",
                          DamagedCheckpointWarning, stacklevel=3)
            saved = None
    if saved is None:
        _drop_searches(folder, keep=None)
        return 0
    _drop_searches(folder, keep=saved["index"])
    curve.restore(saved["points"], saved["train_seconds"], saved["episodes"], saved["env_steps"])
    return saved["index"]


def _valid_progress(d: Any) -> bool:
    pts = d["points"]
    return (isinstance(pts, list) and all(isinstance(p, list) and len(p) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p) for p in pts)
        and _nonneg(d["train_seconds"]) and _count(d["episodes"]) and _count(d["env_steps"])
        and _count(d["index"]) and d["index"] >= 1 and isinstance(d["learner"], dict))


def _nonneg(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _drop_searches(folder: Path, keep: int | None) -> None:
    for path in folder.iterdir():
        m = _SEARCH.fullmatch(path.name)
        if m and int(m[1]) != keep:
            path.unlink()


# --------------------------------------------------------------------------- the two learners
class _FitLearner(Learner):
    """A learner whose ``model`` has ``env_steps_``, ``history_`` (episodes and seconds per generation)
    and ``evaluate(episodes, seed=...)``; subclasses say how to fit one generation (:meth:`_fit_one`)."""

    def __init__(self, model: Any, eval_episodes: int, eval_seed: int) -> None:
        self.model, self.eval_episodes, self.eval_seed = model, eval_episodes, eval_seed

    def _fit_one(self) -> None:
        raise NotImplementedError

    @property
    def env_steps(self) -> int:
        return self.model.env_steps_

    def step(self) -> tuple[int, float]:
        self._fit_one()
        return self.model.history_["episodes"][-1], self.model.history_["seconds"][-1]

    def evaluate(self) -> float:
        return self.model.evaluate(self.eval_episodes, seed=self.eval_seed)


class EMNSLearner(_FitLearner):
    """A :class:`~gradfree.emns.PolicySearch` (``search``, unfitted), one generation a step."""

    def __init__(self, search: Any, eval_episodes: int, eval_seed: int) -> None:
        super().__init__(search, eval_episodes, eval_seed)
        search.fit(n_generations=0)
        search.set_params(warm_start=True)

    @property
    def ps(self) -> Any:
        return self.model

    def _fit_one(self) -> None:
        self.model.fit(n_generations=1)

    def save(self, folder: Path, index: int, root: Path | None) -> dict:
        name = f"search-{index:06d}"
        path = save_estimator(self.ps, folder / name, root=root)
        return {"search": name, "sha256": file_sha256(path), "env_steps": self.env_steps}

    def load(self, folder: Path, saved: dict) -> None:
        name = saved["search"]
        if not (isinstance(name, str) and _SEARCH.fullmatch(name + ".json")):
            raise ValueError(f"{PROGRESS}: learner.search {name!r} is not a search file's name")
        if file_sha256(folder / f"{name}.json") != saved["sha256"]:
            raise ValueError(f"{name}.json is not the search {PROGRESS} was written with")
        loaded = type(self.ps).load(folder / name)
        if loaded.get_params() != self.ps.get_params():
            raise ValueError(f"{name}.json holds a search of other options than this unit's")
        if loaded.env_steps_ != saved["env_steps"]:
            raise ValueError(f"{name}.json has spent {loaded.env_steps_} env steps, {PROGRESS} says "
                             f"{saved['env_steps']}")
        self.model = loaded


class ARSLearner(_FitLearner):
    """The ARS V2-t baseline (``ars``) with its observation statistics (``ars.stats``), one iteration a
    step; its whole state is saved in the progress file (a few kilobytes of JSON)."""

    @property
    def ars(self) -> Any:
        return self.model

    def _fit_one(self) -> None:
        self.model.fit(n_iterations=1)

    def save(self, folder: Path, index: int, root: Path | None) -> dict:
        s = self.ars.stats
        return {"ars": self.ars.state_dict(), "env_steps": self.env_steps,
                "stats": {"count": s.count, "mean": s.mean.tolist(), "m2": s.m2.tolist()}}

    def load(self, folder: Path, saved: dict) -> None:
        st = saved["stats"]
        mean, m2 = (np.asarray(st[k], dtype=np.float64) for k in ("mean", "m2"))
        s = self.ars.stats
        if mean.shape != s.mean.shape or m2.shape != s.mean.shape:
            raise ValueError(f"{PROGRESS}: learner.stats holds {mean.shape} components, the task observes "
                             f"{s.mean.shape}")
        count = st["count"]
        if not (_nonneg(count) and np.isfinite(mean).all() and np.isfinite(m2).all() and (m2 >= 0).all()):
            raise ValueError(f"{PROGRESS}: learner.stats holds a negative, infinite or NaN value")
        self.ars.load_state_dict(saved["ars"])
        s.count, s.mean, s.m2 = float(count), mean, m2
