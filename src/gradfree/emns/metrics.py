"""The paper's performance metrics (sec. 8.2), with the definitions the paper leaves open.

* **Adaptation speed**: evaluations until the training MSE first reaches a threshold (None if never).
* **Stability index**: variance of the performance (-MSE) over the trailing ``window`` history rows.
* **Modularity coefficient**: Newman's modularity Q of the undirected graph whose nodes are all
  neurons (inputs included) and whose edge weights are the effective weights |g * w| of present
  synapses, for the partition found by Newman's (2006) leading-eigenvector method with repeated
  bisection. Q is in [-1/2, 1); 0 means no more within-community weight than chance.
* **Resistance distribution**: a 20-bin histogram on [0, 1] and its Shannon entropy in bits
  (log2(20) = 4.32 is uniform, 0 is every resistance in one bin).
* **Hardware efficiency**: parameter mutations per second and evaluations per second (wall clock;
  operations per joule cannot be measured here).
"""

from __future__ import annotations

import numpy as np
import torch

from gradfree.emns.network import unpack, unpack_masks


def adaptation_speed(evaluations: list[int], fitness: list[float], mse_threshold: float) -> int | None:
    """First evaluation count at which -fitness (the MSE) <= ``mse_threshold``."""
    for e, f in zip(evaluations, fitness):
        if -f <= mse_threshold:
            return int(e)
    return None


def stability_index(fitness: list[float], window: int = 500) -> float:
    """Variance of the performance over the last ``window`` rows of the history."""
    tail = np.asarray(fitness[-window:], dtype=np.float64)
    return float(tail.var()) if tail.size else float("nan")


def resistance_entropy(resistances: torch.Tensor | np.ndarray, bins: int = 20) -> float:
    """Shannon entropy (bits) of the resistance histogram on [0, 1]."""
    r = resistances.detach().cpu().numpy() if isinstance(resistances, torch.Tensor) else resistances
    r = np.asarray(r)
    counts = np.histogram(r.ravel(), bins=bins, range=(0.0, 1.0))[0].astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def weight_graph(values: torch.Tensor, masks: torch.Tensor, sizes: list[int]) -> np.ndarray:
    """Symmetric adjacency (n_neurons, n_neurons) of |g * w| over present synapses of one individual."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    A = np.zeros((offsets[-1], offsets[-1]))
    layers = zip(unpack(values.reshape(1, -1), sizes), unpack_masks(masks, sizes))
    for l, ((W, _, G, *_), mk) in enumerate(layers):
        w = ((G[0] * W[0]).abs() * mk).double().cpu().numpy()  # (n_l+1, n_l)
        A[offsets[l + 1]:offsets[l + 2], offsets[l]:offsets[l + 1]] = w
    return A + A.T


def modularity_q(A: np.ndarray, labels: np.ndarray) -> float:
    """Newman's Q = (1/2m) sum_ij [A_ij - k_i k_j / 2m] delta(c_i, c_j)."""
    k = A.sum(1)
    two_m = k.sum()
    if two_m <= 0:
        return 0.0
    same = labels[:, None] == labels[None, :]
    return float(((A - np.outer(k, k) / two_m) * same).sum() / two_m)


def communities(A: np.ndarray) -> np.ndarray:
    """Leading-eigenvector partition (Newman 2006): bisect while the modularity increases."""
    k = A.sum(1)
    two_m = k.sum()
    labels = np.zeros(len(A), dtype=np.int64)
    if two_m <= 0:
        return labels
    B = A - np.outer(k, k) / two_m
    todo, next_label = [np.arange(len(A))], 1
    while todo:
        idx = todo.pop()
        if len(idx) < 2:
            continue
        Bg = B[np.ix_(idx, idx)]
        Bg = Bg - np.diag(Bg.sum(1))  # generalised modularity matrix of the subgraph
        vals, vecs = np.linalg.eigh(Bg)
        s = np.where(vecs[:, -1] >= 0, 1.0, -1.0)
        gain = s @ Bg @ s / (2 * two_m)
        if vals[-1] <= 1e-12 or gain <= 1e-12 or abs(s.sum()) == len(s):
            continue
        part = idx[s > 0]
        labels[part] = next_label
        next_label += 1
        todo += [part, idx[s < 0]]
    return labels


def modularity(values: torch.Tensor, masks: torch.Tensor, sizes: list[int]) -> float:
    """Modularity coefficient of one individual's effective-weight graph (see module docstring)."""
    A = weight_graph(values, masks, sizes)
    return modularity_q(A, communities(A))
