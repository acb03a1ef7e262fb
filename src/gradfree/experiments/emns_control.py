"""EMNS on control tasks (gymnasium) beside ARS V2-t, EvoTorch's PGPE and SNES and NEAT, one run.

Tasks: CartPole-v1, LunarLander-v3, Swimmer-v5, Hopper-v5, HalfCheetah-v5; partial observability
(``CartPole-pos``: CartPole-v1 with the two velocities removed; the policy gets a memory window of the
last two observations, so a linear policy can difference positions into velocities) and sparse
reward (MountainCarContinuous-v0: 100 for reaching the flag, minus the action cost).

Every method gets the same environment-step budget per task and the same policy class (linear on
normalised observations, ARS's; NEAT evolves its own topology, the paper's comparison row), and
episodes are stepped by the same code (:class:`gradfree.emns.control.rollout.Rollouts`, except NEAT's
network, which is evaluated genome by genome). On NEAT's tasks ``emns-net`` is the paper's comparison
row from EMNS's side: the paper's network (aggregation and activation bases) starting with 4 hidden
neurons and grown (up to 16), connected and pruned by its rules (:mod:`gradfree.emns.control.structure`).
The centre policy (NEAT: the best genome) is
evaluated on ``EVAL_EPISODES`` fresh episodes at 1,000 env steps, doubling, and at every tenth of the
budget (not counted in the budget).
A unit is one (task, method, seed); it is checkpointed, so an interrupted or partial run resumes, and
EMNS's and ARS's curves save their progress inside a unit too
(:mod:`gradfree.experiments.emns_control_curves`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from gradfree.experiments import common
from gradfree.experiments.emns_control_config import (
    EMNS,
    EMNS_ANNEAL,
    EMNS_NET,
    EMNS_TASK,
    EVAL_EPISODES,
    METHODS,
    NEAT_TASKS,
    QUICK_TASKS,
    TASKS,
    TOPOLOGY_METHODS,
    unit_key,
)
from gradfree.experiments.emns_control_curves import ARSLearner, Curve, EMNSLearner, resumable_curve
from gradfree.experiments.emns_control_report import figures, report
from gradfree.experiments.registry import ExperimentContext, Option, experiment


def _search(task: str, budget: int, seed: int, net: bool = False, anneal: bool = False):
    """PolicySearch for ``task``: the linear policy (``EMNS`` with the task's ``EMNS_TASK``, with
    ``anneal`` ``EMNS_ANNEAL``) or the paper's network (``EMNS_NET``)."""
    from gradfree.emns import PolicySearch, StructureParams

    env_id, opts, _, _ = TASKS[task]
    cfg = dict(EMNS, **(EMNS_ANNEAL if anneal else {}))
    if net:
        cfg.update(policy=EMNS_NET["policy"], hidden=EMNS_NET["hidden"],
                   structure=StructureParams(**EMNS_NET["structure_kw"]))
    else:
        cfg.update(EMNS_TASK.get(task, {}))
    return PolicySearch(env_id, max_env_steps=budget, random_state=seed, progress=False, **cfg, **opts)


def run_emns(task: str, budget: int, seed: int, net: bool = False, size: dict | None = None,
             anneal: bool = False, folder: Path | None = None, root: Path | None = None) -> list:
    """EMNS's curve; ``size`` receives the final policy's present synapses and hidden widths; with
    ``folder`` (inside run folder ``root``) its progress is saved there and resumed from it."""
    learner = EMNSLearner(_search(task, budget, seed, net, anneal), EVAL_EPISODES, 10_000 + seed)
    points = resumable_curve(learner, budget, folder, root)
    if size is not None:
        size.update(synapses=learner.ps.n_synapses_, hidden=learner.ps.layer_sizes_[1:-1])
    return points


def run_ars(task: str, budget: int, seed: int, folder: Path | None = None, root: Path | None = None) -> list:
    """ARS V2-t's curve on EMNS's rollouts and normaliser (``folder``: as :func:`run_emns`)."""
    from gradfree.baselines.ars import ARS
    from gradfree.emns.control.normalizer import RunningStats
    from gradfree.emns.control.rollout import Rollouts

    spec = _search(task, budget, seed)._task()
    ars = ARS(Rollouts(spec), RunningStats.empty(spec.n_obs), spec.policy.n_params, max_env_steps=budget,
              random_state=seed)
    return resumable_curve(ARSLearner(ars, EVAL_EPISODES, 10_000 + seed), budget, folder, root)


def run_evotorch(name: str, task: str, budget: int, seed: int) -> list:
    """EvoTorch PGPE or SNES on the same linear policy, rollouts and shared normaliser."""
    from evotorch import Problem
    from evotorch.algorithms import PGPE, SNES

    from gradfree.emns.control.normalizer import RunningStats
    from gradfree.emns.control.rollout import Rollouts

    logging.getLogger("evotorch").setLevel(logging.WARNING)
    spec = _search(task, budget, seed)._task()
    ro, stats = Rollouts(spec), RunningStats.empty(spec.n_obs)
    rng = np.random.default_rng(seed)
    count = {"steps": 0, "episodes": 0}

    class Control(Problem):
        def _evaluate_batch(self, batch):
            X = batch.values.as_subclass(torch.Tensor).to(torch.float64)
            seeds = rng.integers(0, 2**31 - 1, size=X.shape[0]).tolist()
            _, fit, steps, obs = ro.run(X, seeds, *stats.frozen())
            stats.update(obs)
            count["steps"] += int(steps.sum())
            count["episodes"] += X.shape[0]
            batch.set_evals(torch.as_tensor(fit, dtype=torch.float32))

    torch.manual_seed(seed)
    prob = Control("max", solution_length=spec.policy.n_params, initial_bounds=(-0.0, 0.0),
                   dtype=torch.float32, seed=seed)
    c0 = torch.zeros(spec.policy.n_params)
    if name == "pgpe":
        algo = PGPE(prob, popsize=EMNS["popsize"], center_init=c0, center_learning_rate=0.02,
                    stdev_learning_rate=0.1, stdev_init=EMNS["sigma0"], optimizer="adam")
    else:
        algo = SNES(prob, popsize=EMNS["popsize"], center_init=c0, stdev_init=EMNS["sigma0"])

    def evaluate() -> float:
        c = algo.status["center"]
        c = c.as_subclass(torch.Tensor) if isinstance(c, torch.Tensor) else c.values
        n = EVAL_EPISODES
        return float(ro.run(c.to(torch.float64).expand(n, -1), [10_000 + seed + i for i in range(n)],
                            *stats.frozen())[0].mean())

    curve = Curve(budget, evaluate)
    while count["steps"] < budget:
        t0 = time.perf_counter()
        algo.step()
        curve.tick(count["steps"], count["episodes"], time.perf_counter() - t0,
                   force=count["steps"] >= budget)
    return curve.points


NEAT_CONFIG = """[NEAT]
fitness_criterion = max
fitness_threshold = 1e9
pop_size = 50
reset_on_extinction = True
no_fitness_termination = True

[DefaultGenome]
activation_default = tanh
activation_mutate_rate = 0.0
activation_options = tanh
aggregation_default = sum
aggregation_mutate_rate = 0.0
aggregation_options = sum
bias_init_mean = 0.0
bias_init_stdev = 1.0
bias_max_value = 30.0
bias_min_value = -30.0
bias_mutate_power = 0.5
bias_mutate_rate = 0.7
bias_replace_rate = 0.1
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient = 0.5
conn_add_prob = 0.5
conn_delete_prob = 0.5
enabled_default = True
enabled_mutate_rate = 0.01
feed_forward = True
initial_connection = full_direct
node_add_prob = 0.2
node_delete_prob = 0.2
num_hidden = 0
num_inputs = {n_in}
num_outputs = {n_out}
response_init_mean = 1.0
response_init_stdev = 0.0
response_max_value = 30.0
response_min_value = -30.0
response_mutate_power = 0.0
response_mutate_rate = 0.0
response_replace_rate = 0.0
weight_init_mean = 0.0
weight_init_stdev = 1.0
weight_max_value = 30
weight_min_value = -30
weight_mutate_power = 0.5
weight_mutate_rate = 0.8
weight_replace_rate = 0.1

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation = 20
species_elitism = 2

[DefaultReproduction]
elitism = 2
survival_threshold = 0.2
"""


def run_neat(task: str, budget: int, seed: int, workdir, size: dict | None = None) -> list:
    """neat-python (its XOR example's settings, population 50) on the raw observations; a genome's
    fitness is one episode's return; the budget counts every step of every genome. ``size`` receives
    the best genome's enabled connections and hidden nodes."""
    import neat

    from gradfree.core.files import write_text_atomic
    from gradfree.emns.control.rollout import make_env

    spec = _search(task, budget, seed)._task()
    path = workdir / f"neat-{task}.ini"
    write_text_atomic(path, NEAT_CONFIG.format(n_in=spec.n_obs, n_out=spec.policy.n_out), root=workdir)
    config = neat.Config(neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet,
                         neat.DefaultStagnation, str(path))
    pop = neat.Population(config, seed=seed)
    env = make_env(spec)
    rng = np.random.default_rng(seed)
    count = {"steps": 0, "episodes": 0, "best": None}

    def episode(net, s: int) -> tuple[float, int]:
        obs, _ = env.reset(seed=int(s))
        total, n, done = 0.0, 0, False
        while not done:
            obs, r, term, trunc, _ = env.step(int(np.argmax(net.activate(obs))))
            total, n, done = total + r, n + 1, term or trunc
        return total, n

    def evaluate() -> float:
        net = neat.nn.FeedForwardNetwork.create(count["best"], config)
        return float(np.mean([episode(net, 10_000 + seed + i)[0] for i in range(EVAL_EPISODES)]))

    curve = Curve(budget, evaluate)

    def fitness(genomes, cfg) -> None:
        t0 = time.perf_counter()
        for _, g in genomes:
            g.fitness, n = episode(neat.nn.FeedForwardNetwork.create(g, cfg), int(rng.integers(2**31 - 1)))
            count["steps"] += n
            count["episodes"] += 1
        count["best"] = max((g for _, g in genomes), key=lambda g: g.fitness)
        curve.tick(count["steps"], count["episodes"], time.perf_counter() - t0,
                   force=count["steps"] >= budget)

    while count["steps"] < budget:
        pop.run(fitness, 1)
    if size is not None:
        g = count["best"]
        size.update(synapses=sum(c.enabled for c in g.connections.values()),
                    hidden=[len(g.nodes) - spec.policy.n_out])
    return curve.points


#: the methods whose curves save their progress inside a unit (the others start a unit again)
RESUMABLE = ("emns", "emns-anneal", "emns-net", "ars")


def run_unit(task: str, method: str, budget: int, seed: int, workdir, folder: Path | None = None,
             root: Path | None = None) -> dict:
    """One unit's result; ``folder`` (inside run folder ``root``): where a ``RESUMABLE`` method's curve
    saves its progress."""
    size: dict = {}
    kw = dict(folder=folder, root=root)
    fn = {"emns": lambda t, b, s: run_emns(t, b, s, **kw),
          "emns-anneal": lambda t, b, s: run_emns(t, b, s, anneal=True, **kw),
          "emns-net": lambda t, b, s: run_emns(t, b, s, net=True, size=size, **kw),
          "ars": lambda t, b, s: run_ars(t, b, s, **kw),
          "neat": lambda t, b, s: run_neat(t, b, s, workdir, size)}.get(
        method, lambda t, b, s: run_evotorch(method, t, b, s))
    points = fn(task, budget, seed)
    out = {"points": points, "final": points[-1][3], "env_steps": points[-1][0], "seconds": points[-1][1]}
    if size:  # the topology methods: the final network's size
        out["size"] = size
    return out


def _installed(method: str) -> bool:
    import importlib.util

    return importlib.util.find_spec({"pgpe": "evotorch", "snes": "evotorch", "neat": "neat"}.get(
        method, "gymnasium")) is not None


OPTIONS = (Option("tasks", str, "tasks to run", choices=tuple(TASKS), many=True),
           Option("methods", str, "methods to run", choices=METHODS, many=True),
           Option("budget", int, "env steps per run (default: 5,000,000; --quick 4,000)", low=1000))




@experiment("emns-control", "EMNS policy search on gymnasium control tasks beside ARS V2-t, EvoTorch "
            "PGPE/SNES and NEAT (same env-step budget and policy class)", default_seeds=3, options=OPTIONS,
            report=report, figures=figures)
def run(ctx: ExperimentContext) -> dict:
    """One checkpointed unit per (task, method, seed); returns the results only."""
    with common.torch_threads(1):
        return _run(ctx)


def _run(ctx: ExperimentContext) -> dict:
    opts = ctx.options  # parsed values
    tasks = opts.get("tasks", list(QUICK_TASKS if ctx.quick else TASKS))
    methods = [m for m in opts.get("methods", METHODS) if _installed(m)]
    plan = [(t, m) for t in tasks for m in methods if m not in TOPOLOGY_METHODS or t in NEAT_TASKS]
    ctx.expect(len(plan) * len(ctx.seeds))
    results: dict = {"emns": EMNS, "emns_task": EMNS_TASK, "emns_net": EMNS_NET, "emns_anneal": EMNS_ANNEAL,
                     "eval_episodes": EVAL_EPISODES, "runs": {},
                     "budgets": {}}
    workdir = ctx.checkpoint_dir("neat-configs")
    for task, method in plan:
        budget = opts.get("budget", 4_000 if ctx.quick else TASKS[task][2])
        results["budgets"][task] = budget
        for seed in ctx.seeds:
            key = unit_key(task, method, budget, seed)
            results["runs"][key] = ctx.unit(key, lambda t=task, m=method, b=budget, s=seed, k=key: run_unit(
                t, m, b, s, workdir, ctx.checkpoint_dir(k) if m in RESUMABLE else None, ctx.out))
    return results
