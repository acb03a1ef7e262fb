"""Drive any estimator with ``partial_fit`` over a task stream and record the accuracy matrix.

``run_stream`` trains on each task in turn (``epochs`` calls of ``partial_fit``, the full label set
passed as ``classes=`` so fixed-capacity models can size themselves) and after each task measures
accuracy on every test task, filling ``R[t, u]``. Scenarios:

* ``"class"`` (class-incremental, default): ``predict`` over all classes, no task id at test;
* ``"task"`` (task-incremental): the task id is given at test, so the prediction is the best-scoring
  class among that task's classes (needs ``decision_function``).

With ``checkpoint_dir`` the model and the rows of ``R`` are saved after every task, and a call with
the same directory resumes after the last completed task, giving the same result as an uninterrupted
run (the model's RNG state is part of what is saved).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gradfree.continual.metrics import average_accuracy, backward_transfer, forgetting
from gradfree.continual.streams import Task
from gradfree.core.checkpoint import (
    DamagedCheckpointWarning,
    checkpoint_written,
    read_checkpoint,
    write_checkpoint,
)

SCENARIOS = ("class", "task")


@dataclass
class ContinualResult:
    """Accuracy matrix of a stream run and the metrics derived from it.

    Examples
    --------
    >>> import numpy as np
    >>> result = ContinualResult(np.array([[0.9, 0.0], [0.6, 0.8]]), task_names=["T1", "T2"])
    >>> round(result.average_accuracy, 3), result.forgetting.round(3).tolist(), round(result.bwt, 3)
    (0.7, [0.3], -0.3)
    """

    R: np.ndarray
    task_names: list[str]
    scenario: str = "class"
    model: Any = field(default=None, repr=False)

    @property
    def average_accuracy(self) -> float:
        return average_accuracy(self.R)

    @property
    def forgetting(self) -> np.ndarray:
        return forgetting(self.R)

    @property
    def bwt(self) -> float:
        return backward_transfer(self.R)

    def to_dict(self) -> dict:
        """JSON-able summary: the matrix, the task names and the metrics derived from the matrix."""
        return {"R": self.R.tolist(), "task_names": list(self.task_names), "scenario": self.scenario,
                **derived_metrics(self.R)}


def derived_metrics(R: np.ndarray) -> dict:
    """Every number a report derives from an accuracy matrix R (T x T)."""
    f = forgetting(R)
    return {"average_accuracy": average_accuracy(R), "forgetting": f.tolist(),
            "mean_forgetting": float(f.mean()) if len(f) else 0.0, "bwt": backward_transfer(R),
            "task1_final": float(R[-1, 0]),
            "task1_forgetting": float(R[:-1, 0].max() - R[-1, 0]) if len(R) > 1 else 0.0}


def rederive(result: Any) -> Any:
    """``result`` (JSON data) with the metrics of every stored accuracy matrix recomputed from it.

    A checkpoint's derived numbers are never trusted: wherever a dict holds ``"R"`` beside
    ``"average_accuracy"`` (a :meth:`ContinualResult.to_dict`), the metrics are rebuilt from ``R``, so an
    edited checkpoint cannot make a report disagree with itself. A malformed ``R`` is a ``ValueError``
    (the caller treats the checkpoint as damaged).
    """
    if isinstance(result, list):
        return [rederive(v) for v in result]
    if not isinstance(result, dict):
        return result
    out = {k: rederive(v) for k, v in result.items()}
    if "R" in out and "average_accuracy" in out:
        R = np.asarray(out["R"], dtype=np.float64)
        if R.ndim != 2 or R.shape[0] != R.shape[1] or R.size == 0 or not np.all((R >= 0) & (R <= 1)):
            raise ValueError("R is not a square matrix of accuracies in [0, 1]")
        out.update(derived_metrics(R))
    return out


def _valid_rows(rows: Any, n_tasks: int) -> bool:
    """A saved accuracy matrix prefix: row t has one accuracy in [0, 1] per task, at most n_tasks rows."""
    return (isinstance(rows, list) and len(rows) <= n_tasks and all(
        isinstance(r, list) and len(r) == n_tasks and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and 0.0 <= a <= 1.0 for a in r)
        for r in rows))


def task_accuracy(model: Any, task: Task, scenario: str = "class") -> float:
    """Accuracy of ``model`` on one task under the given scenario.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from gradfree.baselines import NearestClassMean
    >>> from gradfree.continual import class_incremental
    >>> X, y = load_digits(return_X_y=True)
    >>> tasks = class_incremental(X, y)
    >>> model = NearestClassMean().fit(X, y)
    >>> round(task_accuracy(model, tasks[1]), 3)                   # predict among all 10 classes
    0.889
    >>> round(task_accuracy(model, tasks[1], scenario="task"), 3)  # only among the task's classes 2, 3
    0.967
    """
    if scenario == "class":
        return float(np.mean(model.predict(task.X) == task.y))
    scores = np.asarray(model.decision_function(task.X))
    if scores.ndim == 1:
        scores = np.stack([-scores, scores], axis=1)
    allowed = np.isin(model.classes_, task.classes)
    scores = np.where(allowed[None, :], scores, -np.inf)
    return float(np.mean(model.classes_[scores.argmax(axis=1)] == task.y))


def run_stream(model: Any, train_tasks: Sequence[Task], test_tasks: Sequence[Task] | None = None, *,
               scenario: str = "class", epochs: int = 1, classes: Sequence | None = None,
               checkpoint_dir: str | Path | None = None, progress: bool = True,
               on_task_end: Callable[[int, Any], None] | None = None) -> ContinualResult:
    """Train ``model`` task by task with ``partial_fit``; return the accuracy matrix and metrics.

    ``test_tasks`` defaults to ``train_tasks`` (then R measures retention of what was trained on).
    ``on_task_end(t, model)`` is called after each task is learned and measured (e.g. for snapshots).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from gradfree.baselines import NearestClassMean
    >>> from gradfree.continual import class_incremental
    >>> X, y = load_digits(return_X_y=True)
    >>> train, test = class_incremental(X[:1200], y[:1200]), class_incremental(X[1200:], y[1200:])
    >>> result = run_stream(NearestClassMean(), train, test, progress=False)
    >>> result.R.shape, round(result.average_accuracy, 3)      # R[t, u]: task u after training task t
    ((5, 5), 0.88)
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if not train_tasks:
        raise ValueError("the stream has no tasks")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    test_tasks = list(train_tasks if test_tasks is None else test_tasks)
    if len(test_tasks) != len(train_tasks):
        raise ValueError(f"{len(train_tasks)} train tasks but {len(test_tasks)} test tasks")
    all_classes = np.unique(np.concatenate([np.asarray(t.classes) for t in train_tasks]) if classes is None
                            else np.asarray(classes))
    T = len(train_tasks)
    rows: list[list[float]] = []
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    saved = read_checkpoint(ckpt / "progress.json", lambda d: _valid_rows(d["rows"], T)) if ckpt else None
    if saved is not None:
        try:  # the model saved with the rows: after task t it is model-t, so the two always agree
            model = type(model).load(ckpt / f"model-{len(saved['rows'])}")
            rows = saved["rows"]
        except (FileNotFoundError, ValueError) as exc:  # a damaged model checkpoint: start the stream over
            warnings.warn(f"{ckpt}: damaged model checkpoint ({exc}); computing the stream again",
                          DamagedCheckpointWarning, stacklevel=2)
    bar = tqdm(range(len(rows), T), desc="tasks", disable=not progress, leave=False,
               initial=len(rows), total=T)
    for t in bar:
        task = train_tasks[t]
        for _ in range(epochs):
            model.partial_fit(task.X, task.y, classes=all_classes)
        rows.append([task_accuracy(model, u, scenario) for u in test_tasks])
        bar.set_postfix(acc=f"{np.mean(rows[-1][: t + 1]):.3f}")
        if ckpt is not None:
            model.save(ckpt / f"model-{t + 1}")
            write_checkpoint(ckpt / "progress.json", {"rows": rows})
            for old in ckpt.glob(f"model-{t}.*"):  # the previous task's model is no longer needed
                old.unlink()
            checkpoint_written()
        if on_task_end is not None:
            on_task_end(t, model)
    return ContinualResult(np.array(rows), [t.name for t in train_tasks], scenario, model)
