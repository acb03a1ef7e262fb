"""A fitted policy for the user's own loop: raw observation in, action out.

:meth:`gradfree.emns.PolicySearch.controller` returns a :class:`Controller` that applies exactly what the
search's episodes apply to an observation (the kept components, the frozen normaliser, the memory
window, the policy, the action mapping), one observation at a time, so an episode stepped by hand takes
the same actions as :meth:`~gradfree.emns.PolicySearch.evaluate` on the same seed (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gradfree.emns.control.rollout import TaskSpec


class Controller:
    """The centre policy of a fitted search as a function of raw observations.

    Call :meth:`reset` at the start of every episode (it clears the memory window of a ``history > 1``
    search), then ``controller(observation)`` for each observation: an ``int`` for a Discrete action
    space, else a float64 array of the action's shape.
    """

    def __init__(self, task: TaskSpec, centre: np.ndarray, mean: np.ndarray, std: np.ndarray,
                 masks: torch.Tensor | None = None) -> None:
        low = np.array(task.low, dtype=np.float64) if task.low else None
        high = np.array(task.high, dtype=np.float64) if task.high else None
        params = torch.as_tensor(np.asarray(centre, dtype=np.float64))[None]  # (1, D)
        self._policy = task.policy.bind(params, low, high, task.discrete, masks)
        self._sel = None if task.obs_indices is None else list(task.obs_indices)
        self._mean, self._std = mean.copy(), std.copy()
        self._discrete, self._o, self._k = task.discrete, task.n_obs, task.history
        self._n_raw = None if task.obs_indices is None else max(task.obs_indices) + 1
        self.reset()

    def reset(self) -> None:
        """Start an episode: the memory window holds no observation yet (zeros, as in training)."""
        self._hist = np.zeros((1, self._k * self._o)) if self._k > 1 else None

    def __call__(self, observation: Any) -> Any:
        x = np.asarray(observation, dtype=np.float64).reshape(1, -1)  # flat Box observation (1, n)
        if self._sel is not None:
            if x.shape[1] < self._n_raw:
                raise ValueError(f"observation has {x.shape[1]} components; the policy keeps components "
                                 f"{self._sel}")
            x = x[:, self._sel]
        if x.shape[1] != self._o:
            raise ValueError(f"observation has {x.shape[1]} components, the policy expects {self._o}")
        z = (x - self._mean) / self._std
        if self._hist is not None:
            z = self._hist = np.concatenate([self._hist[:, self._o:], z], axis=1)
        a = self._policy(z)[0]
        return int(a) if self._discrete else np.array(a, dtype=np.float64)
