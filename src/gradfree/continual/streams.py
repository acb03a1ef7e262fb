"""Task streams: split a labelled data set into a sequence of tasks, each a group of classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradfree.core.base import to_numpy


@dataclass(frozen=True)
class Task:
    """One task of a stream: its samples, the classes it holds, and a name for reports.

    Examples
    --------
    >>> import numpy as np
    >>> task = Task(X=np.zeros((4, 2)), y=np.array([0, 1, 1, 0]), classes=(0, 1), name="T1 [0, 1]")
    >>> len(task), task.classes
    (4, (0, 1))
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple
    name: str

    def __len__(self) -> int:
        return len(self.y)


def default_groups(labels: np.ndarray, n_tasks: int) -> list[list]:
    """Sorted labels cut into ``n_tasks`` consecutive groups of (nearly) equal size.

    Examples
    --------
    >>> default_groups([3, 1, 0, 2, 4, 1], n_tasks=2)      # 5 distinct labels: groups of 3 and 2
    [[0, 1, 2], [3, 4]]
    """
    labels = np.unique(labels)
    if not 1 <= n_tasks <= len(labels):
        raise ValueError(f"n_tasks must be in 1..{len(labels)} (the number of classes), got {n_tasks}")
    return [g.tolist() for g in np.array_split(labels, n_tasks)]


def class_incremental(X, y, n_tasks: int = 5, groups=None) -> list[Task]:
    """Split (X, y) into tasks by class group (default: 5 tasks of 2 classes for 10 classes).

    In the class-incremental scenario the model is never told which task a test sample comes from;
    the same tasks serve the task-incremental scenario (see :func:`run_stream`'s ``scenario``).
    Classes left out of every group are not part of the stream.

    Examples
    --------
    >>> import numpy as np
    >>> tasks = class_incremental(np.zeros((100, 3)), np.arange(100) % 10)   # 5 tasks of 2 classes
    >>> len(tasks), sorted(set(tasks[0].y.tolist()))
    (5, [0, 1])
    """
    X, y = to_numpy(X), np.asarray(to_numpy(y))
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    groups = default_groups(y, n_tasks) if groups is None else [list(g) for g in groups]
    seen: set = set()
    for g in groups:
        if not g:
            raise ValueError("every class group must hold at least one class")
        if seen & set(g):
            raise ValueError(f"classes {sorted(seen & set(g))} appear in more than one group")
        seen |= set(g)
    tasks = []
    for i, g in enumerate(groups):
        mask = np.isin(y, g)
        if not mask.any():
            raise ValueError(f"task {i + 1} (classes {g}) has no samples")
        tasks.append(Task(X[mask], y[mask], tuple(g), f"T{i + 1} {g}"))
    return tasks


def task_incremental(X, y, n_tasks: int = 5, groups=None) -> list[Task]:
    """Same split as :func:`class_incremental`; evaluate with ``run_stream(..., scenario="task")``.

    Examples
    --------
    >>> import numpy as np
    >>> tasks = task_incremental(np.zeros((60, 3)), np.arange(60) % 6, n_tasks=3)
    >>> [t.classes for t in tasks]
    [(0, 1), (2, 3), (4, 5)]
    """
    return class_incremental(X, y, n_tasks=n_tasks, groups=groups)
