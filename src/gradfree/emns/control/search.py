"""``PolicySearch``: EMNS on any gymnasium environment, through the ask/tell engine.

Each generation the engine (:class:`~gradfree.emns.EMNSOptimizer`) asks for a population of policy
parameter vectors in antithetic pairs (``x + e`` and ``x - e``); every candidate runs ``episodes``
episodes, both members of a pair on the same environment seeds (common random numbers); the
candidates' returns, shaped, are told back (negated: the engine minimises). Observations are
normalised by running statistics of every state the population visited, frozen within a generation.
"""

from __future__ import annotations

import copy
import math
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from gradfree.core.base import seed_from
from gradfree.core.io import ModelFileError, load_estimator, register_estimator, save_estimator
from gradfree.core.schema import GENERATOR, HISTORY, SEED, Spec, integer, saved_state
from gradfree.emns.control.controller import Controller
from gradfree.emns.control.normalizer import RunningStats
from gradfree.emns.control.policies import POLICIES, PolicySpec
from gradfree.emns.control.rollout import Rollouts, TaskSpec, make_env, require_gymnasium
from gradfree.emns.control.structure import PolicyStructure
from gradfree.emns.control.structure import step as structure_step
from gradfree.emns.engine import STRATEGIES, EngineState
from gradfree.emns.optimizer import EMNSOptimizer
from gradfree.emns.structure import StructureParams

FITNESSES = ("return", "shifted")
SHAPINGS = ("none", "centred_ranks", "zscore")
BACKENDS = ("processes", "ray")
MIRRORED = tuple(n for n, s in STRATEGIES.items() if s.params.mirrored or s.selection == "gradient")
HISTORY_KEYS = ("env_steps", "episodes", "return_mean", "return_max", "seconds", "bytes")
#: engine options PolicySearch adds for a strategy unless ``options`` sets them: "scale"'s centre moved by
#: heavy-ball momentum at 12 mu_0 instead of the wide MLP's Adam (benchmarks/compare_emns_control_steps.py,
#: 3 seeds at 100k-500k steps: level with Adam at 0.375 mu_0 on CartPole, Swimmer and HalfCheetah, ahead on
#: LunarLander (209 vs 153) and Hopper (2,187 vs 478), one MountainCarContinuous seed of 8 unsolved;
#: docs/decisions.md)
CONTROL_OPTIONS = {"scale": {"centre": "momentum", "learning_rate": 12.0}}


def shape_fitness(f: np.ndarray, shaping: str) -> np.ndarray:
    """Shaped values to minimise from raw ones: ``"none"``, ``"centred_ranks"`` (Salimans et al. 2017,
    sec. 2.1: ranks mapped onto [-0.5, 0.5], ties by order) or ``"zscore"``."""
    if shaping == "centred_ranks":
        ranks = np.empty(f.size)
        ranks[np.argsort(f, kind="stable")] = np.arange(f.size)
        return ranks / max(f.size - 1, 1) - 0.5
    if shaping == "zscore":
        sd = f.std()
        return (f - f.mean()) / sd if sd > 0 else np.zeros_like(f)
    return f.astype(np.float64)


@register_estimator
class PolicySearch(BaseEstimator):
    """Evolve a policy for a gymnasium environment with the EMNS engine.

    Parameters
    ----------
    env_id : a registered gymnasium id (``"CartPole-v1"``, ``"HalfCheetah-v5"``, ...); Box (flat)
        observations, Discrete or Box actions.
    policy : ``"linear"`` (default, ARS's), ``"mlp"`` or ``"emns"`` (the paper's network)
        (:mod:`gradfree.emns.control.policies`).
    hidden : hidden layer sizes of ``"mlp"`` / ``"emns"`` (with ``structure``: the initial live widths).
    structure : growth, connection formation and pruning of the ``"emns"`` policy
        (:class:`~gradfree.emns.StructureParams`; None: a fixed network). The network is allocated at
        ``max_hidden`` neurons a hidden layer when growth is on, and the synapse mask says which part is
        alive (:mod:`gradfree.emns.control.structure`); ``layer_sizes_``, ``n_synapses_`` and
        ``structure_.events`` show what happened.
    max_env_steps : the budget: generations run until this many environment steps are spent.
    popsize : candidates per generation (even: antithetic pairs).
    sigma0 : the engine's initial mutation rate (the perturbation scale in normalised units).
    final_step : the centre's step at ``max_env_steps`` as a fraction of its first: the step falls
        linearly with the env steps spent (ours; 1.0, the default: constant). With 0.1, at 5 M steps,
        MountainCarContinuous stayed solved on 8 seeds of 8 (constant: 7) and LunarLander ended at
        268 instead of 228 (3 seeds); at 300k-500k steps it lost on every task (the step is cut too
        early): a schedule for long budgets (docs/decisions.md, "Annealed step"). Gradient strategies only.
    strategy : an engine strategy that samples antithetic pairs: ``"scale"`` (default: centred ranks,
        the centre moved along the search gradient (here by momentum, :data:`CONTROL_OPTIONS`), every
        step scaled by 1 - r), ``"activity"`` (raw differences,
        ARS-like), ``"blackbox"`` / ``"tuned"`` (the log-rank weighted mean of the better half, mu by
        cumulative step-size adaptation; ``"tuned"`` with a floor on mu). Chosen by measurement
        (docs/decisions.md): on LunarLander-v3 (300k steps, seed 0) "scale" reached 242, "tuned" 50,
        "blackbox" -28 (its mu collapses to 0 under noisy returns).
    episodes : episodes per candidate (its fitness is their mean).
    fitness : ``"return"`` or ``"shifted"`` (the return minus ``reward_shift`` per step: ARS's removal of
        the survival bonus, Mania et al. 2018 sec. 4.1).
    shaping : ``"none"``, ``"centred_ranks"`` or ``"zscore"`` applied to the fitness before ``tell``.
    normalize : running observation normalisation shared by the population (ARS V2).
    observation_indices : keep only these observation components (partial observability).
    history : the policy sees the last ``history`` observations (a memory window; 2 lets a linear
        policy difference positions into velocities).
    max_episode_steps, env_kwargs : passed to ``gymnasium.make``.
    options : engine options (:class:`gradfree.emns.engine.Strategy` / :class:`~gradfree.emns.EMNSParams`),
        over :data:`CONTROL_OPTIONS` (for ``"scale"``: the centre moved by momentum at 12 mu_0, measured
        for control).
    n_jobs : 1: episodes of a generation stepped together in this process; > 1: that many workers.
    backend : workers as ``"processes"`` or ``"ray"`` actors (:mod:`gradfree.emns.control.workers`).
    warm_start : ``fit`` continues a fitted search instead of starting over.
    random_state, progress : seed; a tqdm bar over environment steps.

    Examples
    --------
    >>> from gradfree.emns import PolicySearch
    >>> ps = PolicySearch("CartPole-v1", max_env_steps=30_000, random_state=0, progress=False).fit()
    >>> ps.evaluate(episodes=5, seed=100) > 150
    True
    """

    def __init__(self, env_id: str, *, policy: str = "linear", hidden: tuple[int, ...] = (16,),
                 max_env_steps: int = 1_000_000, popsize: int = 16, sigma0: float = 0.05,
                 final_step: float = 1.0, strategy: str = "scale", episodes: int = 1, fitness: str = "return",
                 reward_shift: float = 0.0, shaping: str = "none", normalize: bool = True,
                 observation_indices: tuple[int, ...] | None = None, history: int = 1,
                 max_episode_steps: int | None = None, env_kwargs: dict | None = None,
                 options: dict | None = None, structure: StructureParams | None = None, n_jobs: int = 1,
                 backend: str = "processes", warm_start: bool = False, random_state: Any = None,
                 progress: bool = True) -> None:
        self.env_id = env_id
        self.policy = policy
        self.hidden = hidden
        self.structure = structure
        self.max_env_steps = max_env_steps
        self.popsize = popsize
        self.sigma0 = sigma0
        self.final_step = final_step
        self.strategy = strategy
        self.episodes = episodes
        self.fitness = fitness
        self.reward_shift = reward_shift
        self.shaping = shaping
        self.normalize = normalize
        self.observation_indices = observation_indices
        self.history = history
        self.max_episode_steps = max_episode_steps
        self.env_kwargs = env_kwargs
        self.options = options
        self.n_jobs = n_jobs
        self.backend = backend
        self.warm_start = warm_start
        self.random_state = random_state
        self.progress = progress

    _saved_fields = {
        "seed_": SEED, "rng_": GENERATOR, "env_steps_": integer(0), "n_generations_": integer(0),
        "obs_stats_": saved_state(RunningStats), "history_": HISTORY,
        # the engine's declared fields, then EMNSOptimizer's own rules in _check_loaded_state
        "opt_state_": saved_state(EngineState),
        "opt_rng_": GENERATOR, "opt_best_": Spec("floats", finite=False),
        "structure_": saved_state(PolicyStructure, optional=True),  # only with ``structure``
    }

    @staticmethod
    def _upgrade_saved_params(params: dict[str, Any]) -> dict[str, Any]:
        """Files saved before ``final_step`` existed resume with the constant step they ran with."""
        return params if "final_step" in params else {**params, "final_step": 1.0}

    # ------------------------------------------------------------------ configuration
    def _check_params(self) -> None:
        def positive_int(name: str, low: int = 1) -> None:
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low):
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")

        if not isinstance(self.env_id, str) or not self.env_id:
            raise ValueError(f"env_id must be a gymnasium environment id (str), got {self.env_id!r}")
        for name, allowed in (("policy", POLICIES), ("fitness", FITNESSES), ("shaping", SHAPINGS),
                              ("backend", BACKENDS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        if self.strategy not in MIRRORED:
            raise ValueError(f"strategy must sample antithetic pairs: one of {list(MIRRORED)}, "
                             f"got {self.strategy!r}")
        for name in ("max_env_steps", "episodes", "history", "n_jobs"):
            positive_int(name)
        positive_int("popsize", 2)
        if self.popsize % 2:
            raise ValueError(f"popsize must be even (antithetic pairs), got {self.popsize}")
        if self.max_episode_steps is not None:
            positive_int("max_episode_steps")
        if not (isinstance(self.sigma0, (int, float)) and math.isfinite(self.sigma0) and self.sigma0 > 0):
            raise ValueError(f"sigma0 must be a finite number > 0, got {self.sigma0!r}")
        fs = self.final_step
        if not (isinstance(fs, (int, float)) and not isinstance(fs, bool) and 0 < fs <= 1):
            raise ValueError(f"final_step must be a number in (0, 1], got {fs!r}")
        if not (isinstance(self.reward_shift, (int, float)) and math.isfinite(self.reward_shift)):
            raise ValueError(f"reward_shift must be a finite number, got {self.reward_shift!r}")
        if self.policy != "linear" and not (isinstance(self.hidden, (tuple, list)) and len(self.hidden) >= 1
                                            and all(isinstance(h, int) and h >= 1 for h in self.hidden)):
            raise ValueError(f"hidden must be a non-empty tuple of layer sizes >= 1, got {self.hidden!r}")
        sp = self.structure
        if sp is not None:
            if not isinstance(sp, StructureParams):
                raise ValueError(f"structure must be a StructureParams or None, got {sp!r}")
            sp.check()
            if self.policy != "emns":
                raise ValueError(f"structure (growth, connection formation, pruning) needs policy='emns', "
                                 f"got policy={self.policy!r}")
            if sp.growth and max(self.hidden) > sp.max_hidden:
                raise ValueError(f"structure.max_hidden ({sp.max_hidden}) is below a hidden layer's initial "
                                 f"size {tuple(self.hidden)}")

    @property
    def _structured(self) -> bool:
        return self.structure is not None and self.structure.active

    def _task(self) -> TaskSpec:
        """Inspect the environment: its spaces decide the policy's sizes and the action mapping
        (cached while the parameters that shape it stay the same)."""
        key = repr([(k, v) for k, v in sorted(self.get_params().items())
                    if k not in ("warm_start", "progress", "n_jobs", "backend", "max_env_steps")])
        cached = getattr(self, "_task_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        task = self._inspect()
        self._task_cache = (key, task)
        return task

    def _inspect(self) -> TaskSpec:
        gym = require_gymnasium()
        self._check_params()
        try:
            env = make_env(TaskSpec(self.env_id, tuple(sorted((self.env_kwargs or {}).items())),
                                    max_episode_steps=self.max_episode_steps))
        except gym.error.Error as exc:
            raise ValueError(f"env_id {self.env_id!r}: {exc}") from None
        obs_space, act_space = env.observation_space, env.action_space
        env.close()
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"{self.env_id}: observations must be a flat Box (vector); got {obs_space}")
        if isinstance(act_space, gym.spaces.Discrete):
            discrete, n_out, low, high = True, int(act_space.n), (), ()
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            if not (np.isfinite(act_space.low).all() and np.isfinite(act_space.high).all()):
                raise ValueError(f"{self.env_id}: a continuous action space needs finite bounds; got "
                                 f"{act_space}")
            discrete, n_out = False, int(act_space.shape[0])
            low, high = tuple(map(float, act_space.low)), tuple(map(float, act_space.high))
        else:
            raise ValueError(f"{self.env_id}: actions must be Discrete or a flat Box; got {act_space}")
        n_obs = int(obs_space.shape[0])
        idx = self.observation_indices
        if idx is not None:
            idx = tuple(int(i) for i in idx)
            if not idx or len(set(idx)) != len(idx) or not all(0 <= i < n_obs for i in idx):
                raise ValueError(f"observation_indices must be distinct indices in [0, {n_obs}), "
                                 f"got {self.observation_indices!r}")
            n_obs = len(idx)
        hidden = () if self.policy == "linear" else tuple(int(h) for h in self.hidden)
        if self._structured and self.structure.growth:  # the capacity network
            hidden = (int(self.structure.max_hidden),) * len(hidden)
        spec = PolicySpec(self.policy, n_obs * self.history, n_out, hidden)
        shift = float(self.reward_shift) if self.fitness == "shifted" else 0.0
        return TaskSpec(self.env_id, tuple(sorted((self.env_kwargs or {}).items())), spec, idx,
                        int(self.history), discrete, low, high, self.max_episode_steps, shift)

    def _seeds(self) -> list[int]:
        """Seeds of the policy's initial values, the engine and the environments (from ``seed_``)."""
        return [int(s) for s in np.random.SeedSequence(self.seed_).generate_state(3)]

    def _new_optimizer(self, task: TaskSpec) -> EMNSOptimizer:
        init, opt_seed, _ = self._seeds()
        x0 = task.policy.initial(torch.Generator().manual_seed(init)).numpy()
        return EMNSOptimizer(x0, float(self.sigma0), popsize=int(self.popsize), strategy=self.strategy,
                             random_state=opt_seed, tolfun=None, tolx=None, tolstagnation=None,
                             options={**CONTROL_OPTIONS.get(self.strategy, {}), **(self.options or {})})

    def _init_state(self, task: TaskSpec) -> None:
        self.seed_ = seed_from(self.random_state)
        self.rng_ = torch.Generator().manual_seed(self._seeds()[2])
        self._opt = self._new_optimizer(task)
        self.env_steps_ = 0
        self.n_generations_ = 0
        self.obs_stats_ = RunningStats.empty(task.n_obs)
        self.history_ = {k: [] for k in HISTORY_KEYS}
        if self._structured:
            self.structure_ = PolicyStructure.initial(task.policy.sizes, [int(h) for h in self.hidden])
        elif hasattr(self, "structure_"):
            del self.structure_
        self._sync_saved()

    def _sync_saved(self) -> None:
        """Mirror the optimizer's state into the saved attributes (the same objects, no copy)."""
        o = self._opt
        self.opt_state_, self.opt_rng_ = o.state_, o.rng_
        self.opt_best_ = [float(o.fbest_), float(o.evals_best_)]

    def _optimizer(self, task: TaskSpec) -> EMNSOptimizer:
        """The live optimizer (rebuilt from the saved attributes after a load)."""
        if getattr(self, "_opt", None) is None:
            o = self._new_optimizer(task)
            o.state_, o.rng_ = self.opt_state_, self.opt_rng_
            o.fbest_, o.evals_best_ = self.opt_best_[0], int(self.opt_best_[1])
            o.xbest_ = None
            self._opt = o
        return self._opt

    # ------------------------------------------------------------------ learning
    def fit(self, n_generations: int | None = None) -> PolicySearch:
        """Run generations until ``max_env_steps`` are spent (or ``n_generations`` more); returns self.
        A fitted search continues where it stopped when ``warm_start`` is set."""
        task = self._task()
        if not (self.warm_start and hasattr(self, "opt_state_")):
            self._opt = None
            self._init_state(task)
        if n_generations is not None and not (isinstance(n_generations, int) and n_generations >= 0):
            raise ValueError(f"n_generations must be an integer >= 0 or None, got {n_generations!r}")
        opt = self._optimizer(task)
        pool = self._executor(task)
        bar = tqdm(total=self.max_env_steps, initial=min(self.env_steps_, self.max_env_steps),
                   disable=not self.progress, desc=f"EMNS {self.env_id}", unit="step")
        f_prev, done = None, 0
        try:
            while self.env_steps_ < self.max_env_steps and (n_generations is None or done < n_generations):
                t0 = time.perf_counter()
                f_prev = self._generation(task, opt, pool, f_prev)
                done += 1
                h = self.history_
                h["seconds"].append(time.perf_counter() - t0)
                bar.update(min(self.env_steps_, self.max_env_steps) - bar.n)
                bar.set_postfix(ret=f"{h['return_mean'][-1]:.1f}", best=f"{h['return_max'][-1]:.1f}")
        finally:
            bar.close()
            if pool is not None:
                self._last_pool_stats = (pool.bytes_sent, pool.bytes_received, pool.restarts)
                pool.close()
        return self

    def _executor(self, task: TaskSpec):
        if self.n_jobs == 1:
            self._rollouts = getattr(self, "_rollouts", None) or Rollouts(task)
            return None
        from gradfree.emns.control.workers import WorkerPool

        pool = WorkerPool(task, int(self.n_jobs), self.backend)
        self._pool = pool  # reachable for tests that kill a worker
        return pool

    def _generation(self, task: TaskSpec, opt: EMNSOptimizer, pool: Any, f_prev: np.ndarray | None
                    ) -> np.ndarray:
        X = opt.ask_tensor()  # (P, D), antithetic: rows k and k + P/2 are a pair
        P, E = X.shape[0], int(self.episodes)
        base = int(torch.randint(0, 2**31 - E * P, (1,), generator=self.rng_))
        seeds = [[base + (i % (P // 2)) * E + e for e in range(E)] for i in range(P)]
        mean, std = self._frozen_stats(task)
        masks = self._masks()
        if pool is None:
            reps = torch.arange(P).repeat_interleave(E)
            ret, fit, steps, stats = self._rollouts.run(X[reps], [s for r in seeds for s in r], mean, std,
                                                        masks)
            sent = 0
        else:
            before = pool.bytes_sent + pool.bytes_received
            snapshot = lambda: pickle.dumps((opt, masks))  # noqa: E731 - the driver after its ask
            ret, fit, steps, stats = pool.run(snapshot, f_prev, seeds, mean, std)
            sent = pool.bytes_sent + pool.bytes_received - before
        ret, fit = ret.reshape(P, E).mean(1), fit.reshape(P, E).mean(1)
        if self.normalize:
            self.obs_stats_.update(stats)
        f = shape_fitness(-fit, self.shaping)
        # the centre's step falls linearly from 1 to final_step over the budget (1.0: constant)
        fs = float(self.final_step)
        opt.state_.step_scale = max(fs, 1.0 - (1.0 - fs) * self.env_steps_ / self.max_env_steps)
        opt.tell(X, f)
        self._sync_saved()
        self.env_steps_ += int(steps.sum())
        self.n_generations_ += 1
        h = self.history_
        h["env_steps"].append(self.env_steps_)
        h["episodes"].append(P * E)
        h["return_mean"].append(float(ret.mean()))
        h["return_max"].append(float(ret.max()))
        h["bytes"].append(int(sent))
        if self._structured:
            probe = lambda: self._states(task, mean, std)  # noqa: E731 - run only when formation needs it
            changed = structure_step(self.structure_, self.structure, opt.state_, task.policy.sizes,
                                     opt.state_.n_evaluations, P, float(ret.mean()), probe, self.rng_)
            if changed and pool is not None:
                pool.close()  # the next generation starts its workers from the new structure
        return f

    def _frozen_stats(self, task: TaskSpec) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) the policies see: the running normaliser frozen, or the identity."""
        if self.normalize:
            return self.obs_stats_.frozen()
        return np.zeros(task.n_obs), np.ones(task.n_obs)

    def _masks(self) -> torch.Tensor | None:
        return self.structure_.masks if self._structured else None

    def _states(self, task: TaskSpec, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The policy inputs of one episode of the centre policy on a fresh seed (its steps count
        against the budget): the sample connection formation estimates mutual information on."""
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.rng_))
        rollouts, record = Rollouts(task), []
        try:
            steps = rollouts.run(torch.as_tensor(self.centre_)[None], [seed], mean, std, self._masks(),
                                 record)[2]
        finally:
            rollouts.close()
        self.env_steps_ += int(steps.sum())
        return np.concatenate(record)

    @property
    def layer_sizes_(self) -> list[int]:
        """The live network's layer sizes (inputs, hidden, outputs)."""
        task = self._task()
        return self.structure_.sizes(task.policy.sizes) if self._structured else task.policy.sizes

    @property
    def n_synapses_(self) -> int:
        """Present synapses of an ``"emns"`` policy (weights of a linear or MLP policy)."""
        task = self._task()
        if self._structured:
            return int(self.structure_.masks.sum())
        s = task.policy.sizes
        return sum(s[i] * s[i + 1] for i in range(len(s) - 1))

    # ------------------------------------------------------------------ using the result
    @property
    def centre_(self) -> np.ndarray:
        """The distribution's centre: the policy :meth:`evaluate` runs (D,)."""
        if not hasattr(self, "opt_state_"):
            raise AttributeError("PolicySearch is not fitted yet: call fit() first")
        return self.opt_state_.theta.cpu().numpy().astype(np.float64)

    def evaluate(self, episodes: int = 10, seed: int = 0, return_all: bool = False) -> Any:
        """Mean return of the centre policy over ``episodes`` fresh episodes (seeds ``seed``,
        ``seed + 1``, ...), the observation normaliser frozen; ``return_all``: the returns (episodes,)."""
        if not (isinstance(episodes, int) and episodes >= 1):
            raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
        task = self._task()
        x = torch.as_tensor(self.centre_)
        mean, std = self._frozen_stats(task)
        rollouts = Rollouts(task)
        try:
            ret = rollouts.run(x.expand(episodes, -1), [int(seed) + i for i in range(episodes)], mean, std,
                               self._masks())[0]
        finally:
            rollouts.close()
        return ret if return_all else float(ret.mean())

    def controller(self) -> Controller:
        """The centre policy for your own loop: ``act = ps.controller()``, then per episode
        ``act.reset()`` and ``action = act(observation)`` on raw observations (the normaliser frozen
        as :meth:`evaluate` freezes it). The same actions as :meth:`evaluate` on the same seeds.

        Examples
        --------
        >>> import gymnasium as gym
        >>> from gradfree.emns import PolicySearch
        >>> ps = PolicySearch("CartPole-v1", max_env_steps=30_000, random_state=0, progress=False).fit()
        >>> act, env = ps.controller(), gym.make("CartPole-v1")
        >>> obs, _ = env.reset(seed=100)
        >>> act.reset()
        >>> total, done = 0.0, False
        >>> while not done:
        ...     obs, reward, terminated, truncated, _ = env.step(act(obs))
        ...     total, done = total + reward, terminated or truncated
        >>> total == ps.evaluate(episodes=1, seed=100)
        True
        """
        task = self._task()
        mean, std = self._frozen_stats(task)
        return Controller(task, self.centre_, mean, std, self._masks())

    # ------------------------------------------------------------------ save and load
    def save(self, path: str | Path) -> Path:
        """Save to ``<path>.safetensors`` + ``<path>.json``; :meth:`load` then ``fit`` with
        ``warm_start`` continues exactly as the uninterrupted run."""
        return save_estimator(self, path)

    @classmethod
    def load(cls, path: str | Path) -> PolicySearch:
        """Load what :meth:`save` wrote (files are untrusted: every field is checked)."""
        return load_estimator(path, expected=cls)

    def _check_loaded_state(self) -> None:
        """The engine state fits the policy (EMNSOptimizer's checks) and the normaliser the observations."""
        task = self._task()
        if not isinstance(self.opt_state_, EngineState):
            raise ModelFileError("<policy search>", "opt_state_", "not an EMNS engine state")
        if len(self.opt_best_) != 2:
            raise ValueError("opt_best_ must hold [fbest, evals_best]")
        o = self._new_optimizer(task)
        o.state_, o.rng_ = self.opt_state_, self.opt_rng_
        o._check_loaded_state()
        if self.obs_stats_.mean.shape != (task.n_obs,):
            raise ValueError(f"obs_stats_ has {self.obs_stats_.mean.shape[0]} components, the task observes "
                             f"{task.n_obs}")
        if set(self.history_) != set(HISTORY_KEYS):
            raise ValueError(f"history_ must hold {list(HISTORY_KEYS)}")
        if self._structured != hasattr(self, "structure_"):
            raise ValueError("structure_ must be present exactly when the structure parameters are active")
        if self._structured:
            self.structure_.check(task.policy.sizes)
        self._opt = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for k in ("_rollouts", "_pool", "_opt", "_task_cache"):
            state.pop(k, None)
        return state

    def __deepcopy__(self, memo: dict) -> PolicySearch:
        new = copy.copy(self)
        new.__dict__ = copy.deepcopy(self.__getstate__(), memo)
        return new
