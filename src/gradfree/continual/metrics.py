"""Continual-learning metrics on an accuracy matrix ``R`` (docs/decisions.md; Lopez-Paz & Ranzato
2017, "Gradient Episodic Memory for Continual Learning", arXiv:1706.08840).

``R[t, u]`` is the accuracy on task ``u`` after training task ``t`` (0-based here; tasks 1..T in the
paper notation). With ``T`` tasks:

* average accuracy = mean of the last row, ``mean_u R[T, u]``;
* forgetting of task ``u < T`` = ``max_{u <= t < T} R[t, u] - R[T, u]`` (the best it ever was before
  the last task, minus where it ends);
* backward transfer ``BWT = 1/(T-1) * sum_{u < T} (R[T, u] - R[u, u])``.
"""

from __future__ import annotations

import numpy as np


def _check(R: np.ndarray) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"R must be a non-empty square T x T matrix, got shape {R.shape}")
    return R


def average_accuracy(R: np.ndarray) -> float:
    """Mean accuracy over all tasks after the last one was learned.

    Examples
    --------
    >>> R = [[0.9, 0.1, 0.0],       # R[t, u]: accuracy on task u after training task t
    ...      [0.7, 0.8, 0.1],
    ...      [0.6, 0.7, 0.9]]
    >>> round(average_accuracy(R), 3)                       # mean of the last row
    0.733
    """
    return float(_check(R)[-1].mean())


def forgetting(R: np.ndarray) -> np.ndarray:
    """Per-task forgetting for tasks 1..T-1 (length T-1).

    Examples
    --------
    >>> R = [[0.9, 0.1, 0.0],
    ...      [0.7, 0.8, 0.1],
    ...      [0.6, 0.7, 0.9]]
    >>> forgetting(R).round(3).tolist()                     # best before the last task minus the end
    [0.3, 0.1]
    """
    R = _check(R)
    T = R.shape[0]
    return np.array([R[u:T - 1, u].max() - R[T - 1, u] for u in range(T - 1)])


def backward_transfer(R: np.ndarray) -> float:
    """BWT: mean change on old tasks from just after learning them to the end (negative = forgetting).

    Examples
    --------
    >>> R = [[0.9, 0.1, 0.0],
    ...      [0.7, 0.8, 0.1],
    ...      [0.6, 0.7, 0.9]]
    >>> round(backward_transfer(R), 3)                      # ((0.6 - 0.9) + (0.7 - 0.8)) / 2
    -0.2
    """
    R = _check(R)
    T = R.shape[0]
    if T == 1:
        return 0.0
    return float(np.mean([R[T - 1, u] - R[u, u] for u in range(T - 1)]))
