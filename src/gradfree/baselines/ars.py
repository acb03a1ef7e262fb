"""ARS V2-t, Augmented Random Search (Mania, Guy & Recht 2018, "Simple random search provides a
competitive approach to reinforcement learning", Algorithm 1, arXiv:1803.07055): a linear policy,
``n_directions`` antithetic perturbations per iteration, the ``top`` best directions kept (by the
larger of their two returns), the step divided by the standard deviation of the kept returns, states
normalised by running statistics. The episodes and the normaliser are handed in (the experiment gives
:class:`gradfree.emns.PolicySearch`'s rollouts and running statistics), so the two methods differ only
in the update rule, and this baseline imports no system.
"""

from __future__ import annotations

import math
import time

import torch

#: the keys of ``history_``, one value per iteration each
HISTORY_KEYS = ("env_steps", "episodes", "return_mean", "return_max", "seconds")


class ARS:
    """ARS V2-t (a baseline; backprop-free like everything here). ``fit()`` -> self, ``evaluate``,
    ``history_`` as :class:`~gradfree.emns.PolicySearch`'s.

    ``rollouts.run(params (n, D), seeds, mean, std)`` runs one episode per row and returns (returns,
    fitness returns, steps, observation statistics); ``stats`` has ``frozen() -> (mean, std)`` and
    ``update(observation statistics)``; ``n_params`` is the linear policy's size D.
    """

    def __init__(self, rollouts, stats, n_params: int, *, max_env_steps: int, n_directions: int = 8,
                 top: int = 4, step_size: float = 0.02, noise: float = 0.03, random_state: int = 0) -> None:
        if not 1 <= top <= n_directions:
            raise ValueError(f"top must be in [1, n_directions], got {top}")
        self.max_env_steps, self.N, self.b = max_env_steps, n_directions, top
        self.alpha, self.nu = step_size, noise
        self.rng = torch.Generator().manual_seed(random_state)
        self.M = torch.zeros(n_params, dtype=torch.float64)  # Algorithm 1: M_0 = 0
        self.stats, self.rollouts = stats, rollouts
        self.env_steps_ = 0
        self.history_ = {k: [] for k in HISTORY_KEYS}

    def fit(self, n_iterations: int | None = None) -> ARS:
        """Iterate until the budget is spent (or ``n_iterations`` more); returns self."""
        done = 0
        while self.env_steps_ < self.max_env_steps and (n_iterations is None or done < n_iterations):
            done += 1
            t0 = time.perf_counter()
            delta = torch.randn(self.N, self.M.numel(), generator=self.rng, dtype=torch.float64)
            rows = torch.cat([self.M + self.nu * delta, self.M - self.nu * delta])  # (2N, D)
            base = int(torch.randint(0, 2**30, (1,), generator=self.rng))
            seeds = [base + k for k in range(self.N)] * 2  # both signs of a direction: same episode seed
            ret, fit, steps, obs = self.rollouts.run(rows, seeds, *self.stats.frozen())
            r_pos, r_neg = torch.as_tensor(fit[:self.N]), torch.as_tensor(fit[self.N:])
            keep = torch.argsort(torch.maximum(r_pos, r_neg), descending=True, stable=True)[:self.b]  # V2-t
            sigma_r = float(torch.cat([r_pos[keep], r_neg[keep]]).std(unbiased=False)) or 1.0
            self.M += self.alpha / (self.b * sigma_r) * ((r_pos[keep] - r_neg[keep]) @ delta[keep])  # step 7
            self.stats.update(obs)  # step 8: the normaliser of every state seen in this iteration
            self.env_steps_ += int(steps.sum())
            h = self.history_
            for k, v in (("env_steps", self.env_steps_), ("episodes", 2 * self.N), ("seconds",
                         time.perf_counter() - t0), ("return_mean", float(ret.mean())),
                         ("return_max", float(ret.max()))):
                h[k].append(v)
        return self

    def evaluate(self, episodes: int = 10, seed: int = 0) -> float:
        """Mean return of the current policy ``M`` on fresh episodes (normaliser frozen)."""
        ret = self.rollouts.run(self.M.expand(episodes, -1), [seed + i for i in range(episodes)],
                                *self.stats.frozen())[0]
        return float(ret.mean())

    def state_dict(self) -> dict:
        """Everything but the rollouts and the statistics that :meth:`fit` changes, as JSON-able values
        (floats written in full, the generator's state as hex): :meth:`load_state_dict` continues the
        run exactly."""
        return {"M": self.M.tolist(), "rng": self.rng.get_state().numpy().tobytes().hex(),
                "env_steps_": self.env_steps_, "history_": {k: list(v) for k, v in self.history_.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s values (untrusted: each is checked, and nothing changes unless
        all pass; a bad one raises ``ValueError`` naming it)."""
        if not isinstance(state, dict) or set(state) != {"M", "rng", "env_steps_", "history_"}:
            raise ValueError("ARS state: must hold exactly M, rng, env_steps_ and history_")
        M = state["M"]
        if not (isinstance(M, list) and len(M) == self.M.numel() and all(_real(v) for v in M)):
            raise ValueError(f"ARS state: M must be {self.M.numel()} finite numbers")
        rng, size = state["rng"], self.rng.get_state().numel()
        try:
            raw = bytes.fromhex(rng) if isinstance(rng, str) and len(rng) == 2 * size else None
        except ValueError:
            raw = None
        if raw is None:
            raise ValueError(f"ARS state: rng must be {size} bytes in hex")
        steps, hist = state["env_steps_"], state["history_"]
        if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0):
            raise ValueError("ARS state: env_steps_ must be an integer >= 0")
        if not (isinstance(hist, dict) and set(hist) == set(HISTORY_KEYS)
                and all(isinstance(v, list) and all(_real(x) for x in v) for v in hist.values())
                and len({len(v) for v in hist.values()}) == 1):
            raise ValueError(f"ARS state: history_ must hold lists of finite numbers of one length under "
                             f"{list(HISTORY_KEYS)}")
        gen = torch.Generator()
        try:
            gen.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
        except RuntimeError as exc:
            raise ValueError(f"ARS state: rng is not a generator state ({exc})") from None
        self.M = torch.tensor(M, dtype=torch.float64)
        self.rng, self.env_steps_ = gen, steps
        self.history_ = {k: list(hist[k]) for k in HISTORY_KEYS}


def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
