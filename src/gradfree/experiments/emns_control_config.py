"""The emns-control experiment's tasks, methods and configurations (one place: the runner and the
report both read them)."""

from __future__ import annotations

#: task: (gymnasium id, PolicySearch options, env-step budget, reward threshold (gymnasium's; Hopper: ours))
TASKS: dict[str, tuple[str, dict, int, float]] = {
    "CartPole-v1": ("CartPole-v1", {}, 5_000_000, 475.0),
    "CartPole-pos": ("CartPole-v1", {"observation_indices": (0, 2), "history": 2}, 5_000_000, 475.0),
    "MountainCarContinuous-v0": ("MountainCarContinuous-v0", {}, 5_000_000, 90.0),
    "LunarLander-v3": ("LunarLander-v3", {}, 5_000_000, 200.0),
    "Swimmer-v5": ("Swimmer-v5", {}, 5_000_000, 360.0),
    "Hopper-v5": ("Hopper-v5", {"fitness": "shifted", "reward_shift": 1.0}, 5_000_000, 3000.0),
    "HalfCheetah-v5": ("HalfCheetah-v5", {}, 5_000_000, 4800.0),
}
QUICK_TASKS = ("CartPole-v1", "CartPole-pos")
METHODS = ("emns", "emns-anneal", "emns-net", "ars", "pgpe", "snes", "neat")
#: the EMNS rows (the others are the peers)
OURS = ("emns", "emns-anneal", "emns-net")
#: tasks of the paper's comparison row (sec. 9): NEAT and the EMNS network with growth and pruning
NEAT_TASKS = ("CartPole-v1", "LunarLander-v3")
TOPOLOGY_METHODS = ("emns-net", "neat")
#: EMNS's configuration for control (PolicySearch's defaults: "scale" strategy, 16 candidates, mu_0 0.05)
EMNS = dict(policy="linear", popsize=16, sigma0=0.05, strategy="scale")
#: EMNS's per-task changes to ``EMNS`` (its linear rows, "emns" and "emns-anneal"): Hopper-v5 with 32
#: candidates and half the noise, chosen by 1 M-step probes on Hopper alone (docs/decisions.md, "Hopper:
#: 32 candidates with half the noise"). The peers keep one configuration on every task.
EMNS_TASK: dict[str, dict] = {"Hopper-v5": dict(popsize=32, sigma0=0.025)}
#: the rows a per-task setting applies to
LINEAR_OURS = ("emns", "emns-anneal")
#: "emns-net": the paper's network (4 hidden neurons to start, up to 16) grown, connected and pruned by
#: its rules (sec. 6) with StructureParams' defaults otherwise: checks every 256 evaluations, growth
#: after 2,048 without improvement
EMNS_NET = dict(policy="emns", hidden=(4,), structure_kw=dict(growth=True, connect=True, prune=True,
                                                               max_hidden=16))
#: "emns-anneal" (ours): EMNS with the centre's step falling linearly to a tenth over the budget
#: (PolicySearch(final_step=0.1); docs/decisions.md, "Annealed step")
EMNS_ANNEAL = dict(final_step=0.1)
EVAL_EPISODES, N_EVALS = 10, 10


def setting_tag(task: str, method: str, emns_task: dict | None = None) -> str:
    """The mark a per-task setting puts in a unit's key (``""`` where the method runs as configured for
    every task), so a unit run under another setting is never taken for this one's; ``emns_task``:
    the settings a run recorded (default: ``EMNS_TASK``; results from before them: ``{}``).

    >>> setting_tag("Hopper-v5", "emns"), setting_tag("Hopper-v5", "ars"), setting_tag("Swimmer-v5", "emns")
    ('_popsize=32_sigma0=0.025', '', '')
    """
    setting = (EMNS_TASK if emns_task is None else emns_task).get(task) if method in LINEAR_OURS else None
    return "".join(f"_{k}={v}" for k, v in sorted(setting.items())) if setting else ""


def unit_prefix(task: str, method: str, budget: int, emns_task: dict | None = None) -> str:
    """The key of a (task, method, budget) unit up to its seed (``emns_task``: as :func:`setting_tag`)."""
    return f"{task}-{method}{setting_tag(task, method, emns_task)}-b{budget}-seed"


def unit_key(task: str, method: str, budget: int, seed: int, emns_task: dict | None = None) -> str:
    """A unit's key: task, method (with its per-task setting, :func:`setting_tag`), budget and seed.

    >>> unit_key("Hopper-v5", "emns-anneal", 5_000_000, 1)
    'Hopper-v5-emns-anneal_popsize=32_sigma0=0.025-b5000000-seed1'
    """
    return f"{unit_prefix(task, method, budget, emns_task)}{seed}"
