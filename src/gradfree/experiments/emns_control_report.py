"""The emns-control experiment's report: the table of final returns, the goals each EMNS row meets or
misses (by how much), and the learning curves, computed from a results dict alone (so partial runs'
results can be reported too: ``benchmarks/long_runs/control_partial.py``)."""

from __future__ import annotations

import numpy as np

from gradfree.experiments.emns_control_config import METHODS, OURS, TASKS, unit_prefix
from gradfree.experiments.plots import figure, markdown_table


def _runs(results: dict, task: str, method: str) -> list[dict]:
    # results from before per-task settings recorded none
    prefix = unit_prefix(task, method, results["budgets"].get(task), results.get("emns_task", {}))
    return [v for k, v in results["runs"].items() if k.startswith(prefix)]


def _ran(results: dict) -> tuple[list[str], list[str]]:
    """The tasks and methods the results hold, in the tables' order."""
    tasks = [t for t in TASKS if t in results["budgets"]]
    return tasks, [m for m in METHODS if any(_runs(results, t, m) for t in tasks)]


def figures(results: dict, config: dict) -> list:
    """Return of the centre policy against env steps and against training time, per task."""
    tasks, methods = _ran(results)
    fig, axes = figure(2, len(tasks), size=(4.6, 3.2))
    for row, task in enumerate(tasks):
        for method in methods:
            runs = _runs(results, task, method)
            if not runs:
                continue
            P = _shared_points(runs)  # (seeds, n, 4)
            color = f"C{METHODS.index(method)}"  # one colour per method in every panel
            for col, x in ((0, P[..., 0].mean(0)), (1, P[..., 1].mean(0))):
                axes[row, col].plot(x, P[..., 3].mean(0), label=method, color=color)
                axes[row, col].fill_between(x, P[..., 3].min(0), P[..., 3].max(0), alpha=0.15, color=color)
        axes[row, 0].set(xlabel="env steps", ylabel="return (centre, fresh episodes)", title=task,
                         xscale="log")
        axes[row, 1].set(xlabel="training wall time (s)", title=task)
        axes[row, 0].axhline(TASKS[task][3], color="grey", lw=0.8, ls="--")
        axes[row, 0].legend(fontsize=7)
    fig.tight_layout()
    return [("curves", fig)]


def report(results: dict, config: dict) -> str:
    """The table of final returns and episodes to threshold, from the results alone."""
    tasks, methods = _ran(results)
    intro = (f"# EMNS on control tasks\n\nSeeds {config['seeds']}; every method has the task's env-step "
             "budget and a linear policy on normalised observations (NEAT: its own topologies; "
             "`emns-net`: the EMNS paper's network grown, connected and pruned by its rules; `emns-anneal`: "
             "EMNS with its step falling linearly to a tenth over the budget; the last "
             "column gives their final present synapses / hidden neurons, NEAT's of its best genome); "
             "returns are "
             f"the mean of {results['eval_episodes']} fresh episodes of the final policy, mean ± sd over "
             "seeds (min-max band in the figure). Wall times are training only, one core of a shared "
             "machine. Episodes to threshold: training episodes spent when an evaluation first reached the "
             "threshold (evaluations at 1,000 env steps, doubling, and every tenth of the budget, so this "
             "is an upper bound at that resolution).\n")
    for task, setting in sorted(results.get("emns_task", {}).items()):
        if task in tasks:
            intro += (f"\nOn {task} EMNS's linear rows (`emns`, `emns-anneal`) run a setting of their own: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(setting.items()))
                      + " (the peers keep one configuration on every task).\n")
    rows = []
    for task in tasks:
        for method in methods:
            runs = _runs(results, task, method)
            if not runs:
                continue
            final = np.asarray([r["final"] for r in runs])
            thr = TASKS[task][3]
            hit = [next((p[2] for p in r["points"] if p[3] >= thr), None) for r in runs]
            hits = [h for h in hit if h is not None]
            sizes = [r["size"] for r in runs if "size" in r]
            size = (f"{np.mean([z['synapses'] for z in sizes]):.0f} / "
                    f"{np.mean([sum(z['hidden']) for z in sizes]):.1f}" if sizes else "")
            rows.append([task, method, f"{np.mean([r['env_steps'] for r in runs]):,.0f}",
                         f"{final.mean():.1f} ± {final.std():.1f}",
                         f"{sum(f >= thr for f in final)}/{len(runs)}",
                         f"{np.mean(hits):,.0f} ({len(hits)}/{len(runs)})" if hits else "never",
                         f"{np.mean([r['seconds'] for r in runs]):.1f}", size])
    table = markdown_table(["task", "method", "env steps", "final return", "≥ threshold",
                            "episodes to threshold", "train s", "synapses / hidden"], rows)
    return intro + "\n" + table + "\n" + goals(results)


def _shared_points(runs: list[dict]) -> np.ndarray:
    """(seeds, n, 4): the runs' evaluations (env steps, seconds, episodes, return) that all of them
    reached."""
    n = min(len(r["points"]) for r in runs)
    return np.asarray([r["points"][:n] for r in runs], dtype=float)


def _mean_curve(runs: list[dict]) -> np.ndarray:
    """(n, 2): mean env steps and mean return over seeds at each evaluation every run shares."""
    P = _shared_points(runs)
    return np.stack([P[..., 0].mean(0), P[..., 3].mean(0)], axis=1)


def goals(results: dict) -> str:
    """The goals of the run for each linear EMNS row (``emns``, ``emns-anneal``), each met or short by
    how much, computed from the results alone: the final return against the task's threshold; at equal
    env steps (the evaluations every run shares) against the best peer; episodes to CartPole's
    threshold against NEAT; MountainCarContinuous solved on every seed where ARS or PGPE are not."""
    tasks, methods = _ran(results)
    peers = [m for m in methods if m not in OURS]
    ours = [m for m in ("emns", "emns-anneal") if m in methods]
    if not ours:
        return ""
    lines = ["## Goals", "", "EMNS's final return is the mean over seeds of each final policy's mean over "
             f"{results['eval_episodes']} fresh episodes (gymnasium's thresholds are defined on 100).", ""]
    for task in tasks:
        for me in ours:
            runs = _runs(results, task, me)
            if runs:
                lines.append(_task_goal(results, task, me, runs, peers))
    for me in ours:
        neat, emns = _runs(results, "CartPole-v1", "neat"), _runs(results, "CartPole-v1", me)
        if neat and emns:
            thr = TASKS["CartPole-v1"][3]
            ep = {m: [next((p[2] for p in r["points"] if p[3] >= thr), None) for r in rs]
                  for m, rs in ((me, emns), ("neat", neat))}
            if all(v is not None for vs in ep.values() for v in vs):
                a, b = np.mean(ep[me]), np.mean(ep["neat"])
                lines.append(f"- **Fewer episodes than NEAT to CartPole-v1's threshold** `{me}`: {a:,.0f} "
                             f"against {b:,.0f}: {'met' if a < b else 'not met'}")
    mc = "MountainCarContinuous-v0"
    for me in ours:
        if not _runs(results, mc, me):
            continue
        thr = TASKS[mc][3]
        solved = {m: sum(r["final"] >= thr for r in _runs(results, mc, m)) for m in [me] + peers
                  if _runs(results, mc, m)}
        n = {m: len(_runs(results, mc, m)) for m in solved}
        unsolved_peer = [m for m in ("ars", "pgpe") if m in solved and solved[m] < n[m]]
        lines.append(f"- **{mc} solved where ARS or PGPE are not** `{me}`: {solved[me]} of {n[me]} "
                     "seeds; " + ", ".join(f"{m} {solved[m]} of {n[m]}" for m in solved if m != me)
                     + (": met" if solved[me] == n[me] and unsolved_peer else ": not met"))
    return "\n".join(lines) + "\n"


def _task_goal(results: dict, task: str, me: str, runs: list[dict], peers: list[str]) -> str:
    thr = TASKS[task][3]
    final = float(np.mean([r["final"] for r in runs]))
    gap = thr - final
    close = 0 < gap < 0.05  # a return that one decimal would round up to the threshold
    verdict = "met" if gap <= 0 else f"short by {gap:.2g}" if close else f"short by {gap:,.1f}"
    seeds = f"{len(runs)} seed{'s' * (len(runs) > 1)}"
    text = (f"- **{task}** `{me}` ({seeds}): final {final:,.{3 if close else 1}f} against the threshold "
            f"{thr:,.0f}: {verdict}")
    rivals = {m: _runs(results, task, m) for m in peers if _runs(results, task, m)}
    if not rivals:
        return text
    mine = _mean_curve(runs)
    theirs = {m: _mean_curve(r) for m, r in rivals.items()}
    n = min([len(mine)] + [len(c) for c in theirs.values()])
    best = np.max([c[:n, 1] for c in theirs.values()], axis=0)
    ahead = mine[:n, 1] >= best
    top = max(rivals, key=lambda m: np.mean([r["final"] for r in rivals[m]]))
    top_final = float(np.mean([r["final"] for r in rivals[top]]))
    text += (f"; at or above the best peer at {int(ahead.sum())} of {n} shared evaluations "
             f"(the last at {mine[np.flatnonzero(ahead)[-1], 0]:,.0f} steps)" if ahead.any() else
             f"; below the best peer at all {n} shared evaluations")
    return text + (f"; final against the best peer ({top}, {top_final:,.1f}): "
                   + ("at or above" if final >= top_final else f"behind by {top_final - final:,.1f}"))
