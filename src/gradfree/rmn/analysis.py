"""Analyses the RMN paper reports: task x neuron activation frequency, neuron overlap, dead neurons.

Definitions (ours, docs/decisions.md):

* winner set of task t: the neurons that win (are in the k-WTA set) on at least one sample of task t's
  evaluation data;
* overlap of tasks s and t: Jaccard index ``|A_s & A_t| / |A_s | A_t|`` of their winner sets; we
  report it for adjacent pairs (1-2, 2-3, ...) as the paper's table does, and the mean over *all*
  pairs s < t (the paper does not say which mean it reports);
* dead neurons: neurons that never win on the whole evaluation set.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np


def task_activation_frequency(model: Any, task_X: Sequence[Any], layer: int = 0) -> np.ndarray:
    """(T, n) fraction of task t's samples on which neuron i wins.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from gradfree.continual import class_incremental
    >>> from gradfree.rmn import RMNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> tasks = class_incremental(X[:600], y[:600], n_tasks=2)         # digits 0-4, then 5-9
    >>> model = RMNClassifier(n_neurons=50, random_state=0).fit(X[:600], y[:600])
    >>> freq = task_activation_frequency(model, [task.X for task in tasks])
    >>> freq.shape, freq.sum(axis=1).round(6).tolist()    # each sample: k = 5 % of 50 -> 2 winners
    ((2, 50), [2.0, 2.0])
    """
    n = model.weights_[layer].shape[0]
    rows = []
    for X in task_X:
        win = model.winners(X, layer=layer)                     # (N, k)
        rows.append(np.bincount(win.ravel(), minlength=n) / max(len(win), 1))
    return np.stack(rows)


def neuron_overlap(freq: np.ndarray) -> dict[str, Any]:
    """Jaccard overlaps of the tasks' winner sets from a (T, n) activation-frequency matrix.

    Examples
    --------
    >>> import numpy as np
    >>> freq = np.array([[0.5, 0.5, 0.0, 0.0],      # task 1 uses neurons 0, 1
    ...                  [0.0, 0.4, 0.6, 0.0],      # task 2 uses neurons 1, 2
    ...                  [0.0, 0.0, 0.0, 1.0]])     # task 3 uses neuron 3 only
    >>> overlap = neuron_overlap(freq)
    >>> overlap["adjacent"], round(overlap["mean"], 3), overlap["set_sizes"]
    ([0.3333333333333333, 0.0], 0.111, [2, 2, 1])
    """
    sets = freq > 0
    T = len(sets)

    def jac(a: np.ndarray, b: np.ndarray) -> float:
        union = np.logical_or(a, b).sum()
        return float(np.logical_and(a, b).sum() / union) if union else 0.0

    matrix = np.eye(T)
    for s, t in combinations(range(T), 2):
        matrix[s, t] = matrix[t, s] = jac(sets[s], sets[t])
    adjacent = [float(matrix[t, t + 1]) for t in range(T - 1)]
    pairs = [matrix[s, t] for s, t in combinations(range(T), 2)]
    return {"adjacent": adjacent, "mean": float(np.mean(pairs)) if pairs else 0.0,
            "matrix": matrix.tolist(), "set_sizes": sets.sum(axis=1).tolist()}


def dead_neurons(freq: np.ndarray) -> int:
    """Neurons that never win on any task's evaluation data.

    Examples
    --------
    >>> import numpy as np
    >>> dead_neurons(np.array([[0.5, 0.0, 0.1], [0.0, 0.0, 0.3]]))   # neuron 1 never wins
    1
    """
    return int((freq.sum(axis=0) == 0).sum())
