"""EMNS population evolution on Ray actors that exchange only seeds, fitness values and the rate.

Every actor holds a copy of the parents (values, resistances, masks) and the training data. One
generation (``RayPopulation.step``, a drop-in for :func:`gradfree.emns.evolution.step_population`):

1. the driver draws the candidates' seeds from the model's ``rng_`` exactly as in-process;
2. each actor rebuilds its share of the candidates from (seed, parent index, mutation rate) - the
   OpenAI-ES seed trick - evaluates them, and returns their fitness values;
3. the driver selects exactly as in-process and tells every actor the new parents as a short list
   ("keep parent i" / "candidate from seed s of parent j"), which each actor (and the driver) rebuilds.

Messages per generation therefore hold ``lambda`` seeds, ``lambda`` fitness values, ``mu`` entries and
one float: their size does not depend on the number of parameters (``benchmarks/bench_distributed.py``
measures it). Since candidates are pure functions of their seeds and fitness is computed candidate by
candidate, results are identical to the in-process strategy for the same ``random_state``.

Fault tolerance: actors are created with ``max_restarts`` / ``max_task_retries``. A restarted actor
comes back with the initial parents and generation 0; on its next call it reports that it is behind,
and the driver sends it the log of past selections (a few integers per generation) to replay, so a
killed worker costs time, never the run. Structural changes (growth, connection forming, pruning) are
not distributed: ``fit_on_ray`` refuses them.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import torch

from gradfree.distributed.cluster import init_ray
from gradfree.emns.evolution import EvoState, update_rate
from gradfree.emns.mutation import draw_seeds, mutate, population_noise
from gradfree.emns.params import EMNSParams

# A selection entry: ("p", i) keeps parent i; ("c", seed, j) is the candidate of `seed` from parent j.
Choice = tuple


class StaleWorker(Exception):
    """Raised by an actor whose generation is behind the driver's (it was restarted)."""

    def __init__(self, generation: int) -> None:
        super().__init__(generation)
        self.generation = generation


def rebuild_parents(values: torch.Tensor, resistances: torch.Tensor, choice: list[Choice], mu: float,
                    p: EMNSParams) -> tuple[torch.Tensor, torch.Tensor]:
    """The new parents (M, n) from the old ones and a generation's selection list."""
    n = values.shape[1]
    out_v, out_r = [], []
    for entry in choice:
        if entry[0] == "p":
            out_v.append(values[entry[1]])
            out_r.append(resistances[entry[1]])
        else:
            _, seed, j = entry
            noise = population_noise([seed], n, values.device)[:, 0]  # (2, n)
            v, r = mutate(values[j], resistances[j], noise, mu, p)
            out_v.append(v)
            out_r.append(r)
    return torch.stack(out_v), torch.stack(out_r)


class PopulationWorker:
    """Ray actor body: evaluates candidates rebuilt from seeds; follows the driver's selections."""

    def __init__(self, values: torch.Tensor, resistances: torch.Tensor, masks: torch.Tensor,
                 sizes: list[int], evaluate: Any, params: EMNSParams, start_generation: int) -> None:
        torch.set_num_threads(1)
        self.values, self.resistances, self.masks, self.sizes = values, resistances, masks, sizes
        self.evaluate, self.params = evaluate, params
        self.generation = start_generation

    def fitness(self, generation: int, seeds: list[int], parents: list[int], mu: float) -> list[float]:
        if generation != self.generation:
            raise StaleWorker(self.generation)
        with torch.inference_mode():
            idx = torch.as_tensor(parents, dtype=torch.long)
            noise = population_noise(seeds, self.values.shape[1], self.values.device)
            v, _ = mutate(self.values[idx], self.resistances[idx], noise, mu, self.params)
            return self.evaluate(v, self.masks, self.sizes).tolist()

    def advance(self, generation: int, choice: list[Choice], mu: float) -> int:
        if generation != self.generation:
            raise StaleWorker(self.generation)
        with torch.inference_mode():
            self.values, self.resistances = rebuild_parents(self.values, self.resistances, choice, mu,
                                                            self.params)
        self.generation += 1
        return self.generation

    def catch_up(self, log: list[tuple[int, list[Choice], float]]) -> int:
        for generation, choice, mu in log:
            if generation == self.generation:
                self.advance(generation, choice, mu)
        return self.generation

    def pid(self) -> int:
        import os

        return os.getpid()


class RayPopulation:
    """Distributed drop-in for ``step_population``; create with the state it starts from."""

    def __init__(self, st: EvoState, evaluate: Any, p: EMNSParams, n_workers: int = 2,
                 address: str | None = None, max_restarts: int = 3) -> None:
        ray = init_ray(address)
        self.ray = ray
        self.start_generation = st.n_generations
        actor = ray.remote(max_restarts=max_restarts, max_task_retries=max_restarts, num_cpus=1)(
            PopulationWorker)
        refs = [ray.put(x) for x in (st.values.cpu(), st.resistances.cpu(), st.masks.cpu())]
        self.workers = [actor.remote(*refs, list(st.sizes), evaluate, p, st.n_generations)
                        for _ in range(n_workers)]
        self.log: list[tuple[int, list[Choice], float]] = []
        self.bytes_sent: list[int] = []  # per generation, driver <-> actors, pickled message sizes

    def _call(self, i: int, method: str, *args: Any) -> Any:
        """Call actor i; if it was restarted and is behind, replay the selection log, then retry."""
        ray = self.ray
        for _ in range(3):
            try:
                return ray.get(getattr(self.workers[i], method).remote(*args))
            except ray.exceptions.RayTaskError as exc:
                cause = exc.as_instanceof_cause()
                if not isinstance(cause, StaleWorker):
                    raise
                ray.get(self.workers[i].catch_up.remote(self.log))
        raise RuntimeError(f"worker {i} could not be brought up to date")

    def step(self, st: EvoState, evaluate: Any, p: EMNSParams, rng: torch.Generator, *, selection: str,
             lam: int, rate_rule: str, damping: float) -> float:
        """One generation, same arithmetic and random draws as ``step_population``."""
        M, n = st.values.shape
        gen, mu = st.n_generations, st.mutation_rate
        seeds = draw_seeds(rng, lam)
        parent = [c % M for c in range(lam)]
        shares = np.array_split(np.arange(lam), len(self.workers))
        msgs = [(gen, [seeds[c] for c in s], [parent[c] for c in s], mu) for s in shares]
        refs = [(i, m) for i, m in enumerate(msgs) if len(m[1])]
        results = [self._call(i, "fitness", *m) for i, m in refs]
        f = torch.tensor([x for r in results for x in r], dtype=st.fitness.dtype, device=st.fitness.device)
        st.n_evaluations += lam
        st.n_generations += 1
        par = torch.as_tensor(parent, device=st.fitness.device)
        success = float((f > st.fitness[par]).float().mean())
        best_before = float(st.fitness.max())
        pool: list[Choice] = [("c", seeds[c], parent[c]) for c in range(lam)]
        if selection == "plus":
            pool = [("p", i) for i in range(M)] + pool
            f = torch.cat([st.fitness, f])
        order = torch.sort(f, descending=True, stable=True).indices[:M].tolist()
        choice = [pool[k] for k in order]
        self.log.append((gen, choice, mu))
        for i in range(len(self.workers)):
            self._call(i, "advance", gen, choice, mu)
        st.values, st.resistances = rebuild_parents(st.values, st.resistances, choice, mu, p)
        st.fitness = f[order]
        self.bytes_sent.append(sum(len(pickle.dumps(m)) for m in msgs) + len(pickle.dumps(results))
                               + len(self.workers) * len(pickle.dumps((gen, choice, mu))))
        update_rate(st, p, rate_rule, float(st.fitness.max()) - best_before, success, damping)
        return success


def fit_on_ray(model: Any, X: Any, y: Any, n_workers: int = 2, address: str | None = None) -> Any:
    """``model.fit(X, y)`` with the population's evaluations spread over ``n_workers`` Ray actors.

    ``model`` is an ``EMNSRegressor`` / ``EMNSClassifier`` with a population selection ("plus" or
    "comma"); the fitted model is identical to ``model.fit(X, y)`` in-process.
    """
    if model.selection not in ("plus", "comma", "(1+lambda)", "(mu+lambda)", "(mu,lambda)"):
        raise ValueError("fit_on_ray needs a population selection ('plus' or 'comma')")
    if model.growth or model.connect or model.prune:
        raise ValueError("growth, connection forming and pruning are not distributed; switch them off")
    model._population_executor = lambda st, evaluate, p: RayPopulation(st, evaluate, p, n_workers, address)
    try:
        return model.fit(X, y)
    finally:
        del model._population_executor
