"""Episodes of a whole generation stepped together: one gymnasium environment per episode, the
policy evaluated once per time step for every live episode (a batched tensor operation).

Measured here (``benchmarks/bench_emns_control.py``): stepping a list of plain environments and
batching only the policy is as fast as gymnasium's ``SyncVectorEnv`` (which steps the same list in
Python) and leaves out its autoreset bookkeeping; worker processes are the scale-out path
(:mod:`gradfree.emns.control.workers`).

Observation statistics are accumulated per candidate (sum, sum of squares, count, float64) in time
order, so the running normaliser merged from them is the same whether one process or several ran the
episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gradfree.emns.control.policies import PolicySpec


def require_gymnasium():
    """Import gymnasium or say how to install it."""
    try:
        import gymnasium
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("PolicySearch needs gymnasium: pip install 'gradfree[rl]'") from exc
    return gymnasium


@dataclass(frozen=True)
class TaskSpec:
    """Everything a process needs to build the environments and the policy (small; sent to workers)."""

    env_id: str
    env_kwargs: tuple = ()  # (name, value) pairs
    policy: PolicySpec | None = None
    obs_indices: tuple[int, ...] | None = None  # observation components kept (None: all)
    history: int = 1  # the policy sees the last ``history`` normalised observations
    discrete: bool = False
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    max_episode_steps: int | None = None
    reward_shift: float = 0.0  # subtracted from every reward for fitness (ARS's survival-bonus removal)

    @property
    def n_obs(self) -> int:
        """Size of one (selected) observation."""
        return self.policy.n_in // self.history


def make_env(task: TaskSpec):
    gym = require_gymnasium()
    kw = dict(task.env_kwargs)
    if task.max_episode_steps is not None:
        kw["max_episode_steps"] = task.max_episode_steps
    return gym.make(task.env_id, **kw)


class Rollouts:
    """A pool of environments that runs batches of episodes of given parameter vectors."""

    def __init__(self, task: TaskSpec) -> None:
        self.task, self.envs = task, []
        self._low = np.array(task.low, dtype=np.float64) if task.low else None
        self._high = np.array(task.high, dtype=np.float64) if task.high else None

    def _pool(self, n: int) -> list:
        while len(self.envs) < n:
            self.envs.append(make_env(self.task))
        return self.envs[:n]

    def run(self, params: torch.Tensor, seeds: list[int], mean: np.ndarray, std: np.ndarray,
            masks: torch.Tensor | None = None, record: list | None = None,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One episode per row of ``params`` (n, D), reset with ``seeds[i]``, observations normalised
        by the frozen ``mean``/``std`` (``masks``: an ``"emns"`` policy's present synapses; ``record``: a
        list that receives the policy's inputs (m, n_in) of every time step). Returns (returns (n,),
        fitness returns (n,) with the task's ``reward_shift`` subtracted per step, steps (n,),
        observation statistics (n, 2 o + 1): sum, sum of squares, count of the raw selected
        observations)."""
        t, n = self.task, params.shape[0]
        envs = self._pool(n)
        o, k = t.n_obs, t.history
        sel = None if t.obs_indices is None else list(t.obs_indices)
        policy = t.policy.bind(params, self._low, self._high, t.discrete, masks)
        # the live episodes, in order: their step methods, latest observations and candidates
        steps = [env.step for env in envs]
        obs = [env.reset(seed=int(s))[0] for env, s in zip(envs, seeds)]
        alive = np.arange(n)
        hist = np.zeros((n, k * o)) if k > 1 else None
        seen, who, rewards = [], [], []  # per time step: the observations fed to the policy, whose, rewards
        while steps:
            x = np.concatenate(obs, dtype=np.float64).reshape(len(obs), -1)  # flat Box observations
            if sel is not None:
                x = x[:, sel]
            seen.append(x)
            who.append(alive)
            z = (x - mean) / std
            if hist is not None:
                z = hist = np.concatenate([hist[:, o:], z], axis=1)
            if record is not None:
                record.append(z)
            obs, ended = [], []
            for j, (step, a) in enumerate(zip(steps, policy(z))):
                ob, r, term, trunc, _ = step(a)
                obs.append(ob)
                rewards.append(r)
                if term or trunc:
                    ended.append(j)
            if ended:  # drop the finished episodes (rare: at most n times per call)
                for j in reversed(ended):
                    del steps[j], obs[j]
                keep = np.delete(np.arange(alive.size), ended)
                alive = alive[keep]
                policy.keep(keep)
                if hist is not None:
                    hist = hist[keep]
        X, ids = np.concatenate(seen), np.concatenate(who)
        # per candidate, in time order (bincount adds in input order, as a running sum would)
        ret_a = np.bincount(ids, np.asarray(rewards, dtype=np.float64), minlength=n)
        steps_a = np.bincount(ids, minlength=n)
        stats = np.empty((n, 2 * o + 1))
        for c in range(o):
            stats[:, c] = np.bincount(ids, X[:, c], minlength=n)
            stats[:, o + c] = np.bincount(ids, X[:, c] * X[:, c], minlength=n)
        stats[:, -1] = steps_a
        return ret_a, ret_a - t.reward_shift * steps_a, steps_a, stats

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []
