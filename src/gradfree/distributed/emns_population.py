"""EMNS population evolution on Ray actors that exchange only seeds, fitness values and indices.

Every actor holds a copy of the evolution state (parents, resistances, masks, mutation rate) and the
training data. One generation (``RayPopulation.step``, a drop-in for
:func:`gradfree.emns.evolution.step_population`):

1. the driver draws the candidates' seeds from the model's ``rng_`` exactly as in-process;
2. each actor rebuilds its share of the candidates from their seeds (the OpenAI-ES seed trick) and
   returns their fitness values;
3. the driver sends every actor the generation's seeds and all fitness values; each actor, and the
   driver, runs :func:`gradfree.emns.evolution.apply_generation`, which rebuilds only the winners.

Messages per generation hold ``lambda`` seeds and ``lambda`` fitness values: their size does not
depend on the number of parameters (``benchmarks/bench_distributed.py`` measures it). The mutation
rate needs no message at all - every copy updates it by the same rule from the same fitness values.
Candidates are pure functions of their seeds and fitness is computed candidate by candidate, so
results are identical to the in-process strategy for the same ``random_state``.

Fault tolerance: actors are created with ``max_restarts`` / ``max_task_retries``. A restarted actor
comes back with the state it was created with; on its next call it reports that it is behind, and the
driver sends it the log of past generations (seeds and fitness values) to replay, so a killed worker
costs time, never the run. Structural changes (growth, connection forming, pruning) and restarts
are not distributed: ``fit_on_ray`` refuses them.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import torch

from gradfree.distributed.cluster import init_ray
from gradfree.emns.evolution import EvoState, apply_generation, candidates, generation_seeds
from gradfree.emns.params import EMNSParams
from gradfree.emns.wide import _WideBase

POPULATION_SELECTIONS = ("plus", "comma", "(1+lambda)", "(mu+lambda)", "(mu,lambda)")


class StaleWorker(Exception):
    """Raised by an actor whose generation is behind the driver's (it was restarted)."""

    def __init__(self, generation: int) -> None:
        super().__init__(generation)
        self.generation = generation


class PopulationWorker:
    """Ray actor body: scores candidates rebuilt from seeds; applies each generation's selection."""

    def __init__(self, st: EvoState, evaluate: Any, p: EMNSParams, options: dict) -> None:
        torch.set_num_threads(1)
        self.st, self.evaluate, self.p, self.options = st, evaluate, p, options

    def fitness(self, generation: int, seeds: list[int], idx: list[int]) -> list[float]:
        if generation != self.st.n_generations:
            raise StaleWorker(self.st.n_generations)
        with torch.inference_mode():
            v, _ = candidates(self.st, seeds, self.p, idx)
            return self.evaluate(v, self.st.masks, self.st.sizes).tolist()

    def apply(self, generation: int, seeds: list[int], f: list[float]) -> int:
        if generation != self.st.n_generations:
            raise StaleWorker(self.st.n_generations)
        with torch.inference_mode():
            apply_generation(self.st, seeds, torch.tensor(f, dtype=self.st.fitness.dtype), self.p,
                             self.evaluate, **self.options)
        return self.st.n_generations

    def catch_up(self, log: list[tuple[int, list[int], list[float]]]) -> int:
        for generation, seeds, f in log:
            if generation == self.st.n_generations:
                self.apply(generation, seeds, f)
        return self.st.n_generations


class RayPopulation:
    """Distributed drop-in for ``step_population``; create it with the state it starts from."""

    def __init__(self, st: EvoState, evaluate: Any, p: EMNSParams, n_workers: int = 2,
                 address: str | None = None, max_restarts: int = 3) -> None:
        self.ray = init_ray(address)
        self.n_workers, self.max_restarts = n_workers, max_restarts
        self.start = (st, evaluate, p)
        self.workers: list[Any] = []
        self.log: list[tuple[int, list[int], list[float]]] = []
        self.bytes_sent: list[int] = []  # per generation: pickled size of every message, both ways
        self.catch_ups = 0  # how often a restarted actor had to replay the log

    def _spawn(self, options: dict) -> None:
        st, evaluate, p = self.start
        actor = self.ray.remote(max_restarts=self.max_restarts, max_task_retries=self.max_restarts,
                                num_cpus=1)(PopulationWorker)
        self._refs = [self.ray.put(x) for x in (st, evaluate, p)]  # kept alive for actor restarts
        self.workers = [actor.remote(*self._refs, options) for _ in range(self.n_workers)]

    def _call(self, i: int, method: str, *args: Any) -> Any:
        """Call actor i; if it was restarted and is behind, replay the log, then call again."""
        ray = self.ray
        for _ in range(self.max_restarts + 1):
            try:
                return ray.get(getattr(self.workers[i], method).remote(*args))
            except ray.exceptions.RayTaskError as exc:
                if not isinstance(exc.as_instanceof_cause(), StaleWorker):
                    raise
                self.catch_ups += 1
                ray.get(self.workers[i].catch_up.remote(self.log))
        raise RuntimeError(f"worker {i} could not be brought up to date")

    def step(self, st: EvoState, evaluate: Any, p: EMNSParams, rng: torch.Generator, *, selection: str,
             lam: int, rate_rule: str, damping: float, recombine: int = 0) -> float:
        """One generation: same random draws, arithmetic and result as ``step_population``."""
        options = dict(selection=selection, rate_rule=rate_rule, damping=damping, recombine=recombine)
        if not self.workers:
            self._spawn(options)
        gen = st.n_generations
        seeds = generation_seeds(rng, lam, p)
        shares = [s.tolist() for s in np.array_split(np.arange(lam), len(self.workers))]
        pending = [(i, self.workers[i].fitness.remote(gen, seeds, s)) for i, s in enumerate(shares) if s]
        results = []
        for i, ref in pending:
            try:
                results.append(self.ray.get(ref))
            except self.ray.exceptions.RayTaskError:
                results.append(self._call(i, "fitness", gen, seeds, shares[i]))
        f = [x for r in results for x in r]
        self.log.append((gen, seeds, f))
        acks = [(i, w.apply.remote(gen, seeds, f)) for i, w in enumerate(self.workers)]
        f_t = torch.tensor(f, dtype=st.fitness.dtype, device=st.fitness.device)
        success = apply_generation(st, seeds, f_t, p, evaluate, **options)
        for i, ref in acks:
            try:
                self.ray.get(ref)
            except self.ray.exceptions.RayTaskError:
                self._call(i, "catch_up", self.log)
        msgs = [(gen, seeds, s) for s in shares] + results + [(gen, seeds, f)] * len(self.workers)
        self.bytes_sent.append(sum(len(pickle.dumps(m)) for m in msgs))
        return success


class MLPWorker:
    """Ray actor body for the wide MLP (``EMNSMLPClassifier`` / ``EMNSMLPRegressor``): scores its share
    of a generation's mirrored pairs, rebuilt from the generation's seed, and applies every
    generation's update from the gathered fitness."""

    def __init__(self, st: Any, p: Any, X: torch.Tensor, y: torch.Tensor) -> None:
        torch.set_num_threads(1)
        self.st, self.p, self.X, self.y = st, p, X, y

    def fitness(self, generation: int, seed: int, pairs: list[int], mask: Any) -> list[float]:
        from gradfree.emns import activity, scale

        if generation != self.st.n_generations:
            raise StaleWorker(self.st.n_generations)
        with torch.inference_mode():
            if self.p.mutate == "activities":  # (2 len(pairs), N) float32: one value per copy and sample
                return activity.evaluate(self.st, self.p, seed, self.X, self.y, mask, pairs).numpy()
            f, _ = scale.evaluate_generation(self.st, self.p, seed, self.X, self.y, mask, pairs=pairs)
            return f.tolist()

    def apply(self, generation: int, seed: int, f: list[float], mask: Any) -> int:
        from gradfree.emns import activity, scale

        if generation != self.st.n_generations:
            raise StaleWorker(self.st.n_generations)
        with torch.inference_mode():
            st, p = self.st, self.p
            if p.mutate == "activities":
                activity.apply(st, p, seed, self.X, self.y, torch.as_tensor(f))
                return st.n_generations
            eps = scale.draw_noise(st, p, seed, self.X.shape[0])
            scale.apply_update(self.st, self.p, torch.tensor(f, dtype=torch.float32), eps)
        return self.st.n_generations


class MLPRayPopulation:
    """Distributed drop-in for :func:`gradfree.emns.scale.generation`: the mirrored pairs are split over
    ``n_workers`` actors; messages hold the generation's seed, pair indices and fitness values only, so
    their size does not depend on the number of parameters (``benchmarks/bench_distributed.py``). With
    ``mutate="activities"`` a fitness value is one per mutated copy and sample: (2K, N) float32."""

    def __init__(self, st: Any, p: Any, X: torch.Tensor, y: torch.Tensor, n_workers: int = 2,
                 address: str | None = None) -> None:
        self.ray = init_ray(address)
        actor = self.ray.remote(num_cpus=1)(MLPWorker)
        refs = [self.ray.put(x) for x in (st, p, X, y)]
        self.workers = [actor.remote(*refs) for _ in range(n_workers)]
        self.bytes_sent: list[int] = []

    def close(self) -> None:
        """End the actors (the estimator calls it when its ``fit`` ends)."""
        for w in self.workers:
            self.ray.kill(w)
        self.workers = []

    def generation(self, st: Any, p: Any, seed: int, X: torch.Tensor, y: torch.Tensor,
                   mask: Any = None) -> float:
        from gradfree.emns import activity, scale

        K, gen = p.population_size // 2, st.n_generations
        shares = [s.tolist() for s in np.array_split(np.arange(K), len(self.workers))]
        calls = [(gen, seed, sh, mask) for sh in shares if sh]
        parts = self.ray.get([w.fitness.remote(*c) for w, c in zip(self.workers, calls)])
        plus = [part[:len(c[2])] for part, c in zip(parts, calls)]
        minus = [part[len(c[2]):] for part, c in zip(parts, calls)]
        if p.mutate == "activities":  # (2K, N): every + copy, then every - copy, as in-process
            f = np.concatenate(plus + minus)
            acks = [w.apply.remote(gen, seed, f, mask) for w in self.workers]
            ft = torch.as_tensor(f)
            activity.apply(st, p, seed, X, y, ft)
        else:
            f = [x for part in plus + minus for x in part]  # every + candidate, then every - candidate
            acks = [w.apply.remote(gen, seed, f, mask) for w in self.workers]
            eps = scale.draw_noise(st, p, seed, X.shape[0])
            ft = torch.tensor(f, dtype=torch.float32)
            scale.apply_update(st, p, ft, eps)
        self.ray.get(acks)
        msgs = calls + parts + [(gen, seed, f, mask)] * len(self.workers)
        self.bytes_sent.append(sum(len(pickle.dumps(m)) for m in msgs))
        return float(ft[torch.isfinite(ft)].mean())


def fit_on_ray(model: Any, X: Any, y: Any, n_workers: int = 2, address: str | None = None) -> Any:
    """``model.fit(X, y)`` with the population's evaluations spread over ``n_workers`` Ray actors.

    ``model`` is an ``EMNSRegressor`` / ``EMNSClassifier`` with a population selection ("plus" or
    "comma"), or an ``EMNSMLPClassifier`` / ``EMNSMLPRegressor``; the fitted model is identical to
    ``model.fit(X, y)`` in-process.
    """
    if isinstance(model, _WideBase):
        if model.shield or getattr(model, "class_mask", None) is not None:
            raise ValueError("fit_on_ray: shield and class_mask are not distributed; switch them off")
        model.set_population_executor(
            lambda st, p, Xt, yt: MLPRayPopulation(st, p, Xt, yt, n_workers, address))
        try:
            return model.fit(X, y)
        finally:
            model.set_population_executor(None)
    if model.selection not in POPULATION_SELECTIONS:
        raise ValueError(f"fit_on_ray needs a population selection {POPULATION_SELECTIONS}, "
                         f"got {model.selection!r}")
    if model._structure().active or model.restart_patience:
        raise ValueError("growth, connection forming, pruning and restarts are not distributed; "
                         "switch them off")
    model.set_population_executor(lambda st, evaluate, p: RayPopulation(st, evaluate, p, n_workers, address))
    try:
        return model.fit(X, y)
    finally:
        model.set_population_executor(None)
