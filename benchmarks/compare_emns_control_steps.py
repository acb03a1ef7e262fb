"""EMNS's step for control: ``PolicySearch``'s ``"scale"`` strategy at several learning rates (in units
of mu_0) of its centre's optimiser (Adam, or heavy-ball momentum with ``--centre momentum``), beside ARS
V2-t, on the tasks of ``gradfree run emns-control`` at reduced budgets.

The question it answers: at 150k steps EMNS barely left its starting policy on the MuJoCo tasks (10
generations of 16 episodes, each moving the centre by ~0.19 mu_0 per coordinate), while the peers moved
further. Every configuration here differs from the default only in ``options={"learning_rate": ...}``
(and ``"centre"``);
everything else is ``emns-control``'s (linear policy, 16 candidates, mu_0 = 0.05, observation
normalisation, the same evaluation: the centre policy's mean return over 10 fresh episodes).

    python benchmarks/compare_emns_control_steps.py [--seeds 0,1,2] [--tasks ...] [--rates 0.1875,0.75,1.875]
    python benchmarks/compare_emns_control_steps.py --centre momentum --rates 12,24 --no-ars
    python benchmarks/compare_emns_control_steps.py --centre momentum --rates 12,6 --no-ars \
        --tasks MountainCarContinuous-v0 --budget 5000000 --seeds 0,1,2,3,4,5,6,7
    python benchmarks/compare_emns_control_steps.py --centre momentum --rates 12 --final-step 0.1 --no-ars
    python benchmarks/compare_emns_control_steps.py --centre momentum --rates 12 --no-ars --tasks Hopper-v5 \
        --seeds 0 --budget 1000000 --options '{"resistance_rate": 0.2}'

One JSON line per (task, configuration, seed) is appended to ``--out`` (default
benchmarks/results/emns_control_steps.jsonl); a line already there is not run again, so the command
resumes after a kill. ``--table`` prints the mean ± sd per task and configuration from that file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gradfree.experiments import emns_control as ec

#: task -> env-step budget of this comparison (reduced: ~1-3 CPU-minutes per run here)
BUDGETS = {"CartPole-v1": 100_000, "MountainCarContinuous-v0": 300_000, "LunarLander-v3": 300_000,
           "Swimmer-v5": 500_000, "HalfCheetah-v5": 500_000, "Hopper-v5": 500_000}
DEFAULT_RATE = ec.EMNS.get("options", {}).get("learning_rate", 0.015 / 0.08)


def run(task: str, name: str, rate: float | None, budget: int, seed: int, centre: str = "adam",
        final_step: float = 1.0, extra: dict | None = None, search: dict | None = None) -> dict:
    t0 = time.process_time()
    if rate is None:
        points = ec.run_ars(task, budget, seed)
    else:
        saved, saved_task = dict(ec.EMNS), dict(ec.EMNS_TASK)
        ec.EMNS_TASK.clear()  # a row is a change from EMNS on every task, not from a per-task setting
        # the centre always named: PolicySearch's control default (momentum) would apply otherwise
        ec.EMNS["options"] = {**saved.get("options", {}), "learning_rate": rate, "centre": centre,
                              **(extra or {})}
        if final_step != 1.0:
            ec.EMNS["final_step"] = final_step
        ec.EMNS.update(search or {})
        try:
            points = ec.run_emns(task, budget, seed)
        finally:
            ec.EMNS.clear()
            ec.EMNS.update(saved)
            ec.EMNS_TASK.update(saved_task)
    return {"task": task, "config": name, "learning_rate": rate, "centre": centre,
            **({"final_step": final_step} if final_step != 1.0 else {}),
            **({"options": extra} if extra and rate is not None else {}),
            **({"search": search} if search and rate is not None else {}), "seed": seed,
            "budget": budget,
            "final": float(points[-1][3]), "curve": [[int(p[0]), round(float(p[3]), 2)] for p in points],
            "cpu_seconds": round(time.process_time() - t0, 1)}


def table(rows: list[dict]) -> str:
    """Mean ± sd (runs) of the final return per (task, budget) and configuration."""
    order = list(BUDGETS)
    keys = sorted({(r["task"], r["budget"]) for r in rows},
                  key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[0], k[1]))
    configs = sorted({r["config"] for r in rows}, key=lambda c: (c != "ars", c))
    out = ["| task (budget) | " + " | ".join(configs) + " |", "|---" * (len(configs) + 1) + "|"]
    for t, b in keys:
        cells = []
        for c in configs:
            v = [r["final"] for r in rows if r["task"] == t and r["budget"] == b and r["config"] == c]
            cells.append(f"{np.mean(v):.1f} ± {np.std(v):.1f} ({len(v)})" if v else "")
        out.append(f"| {t} ({b // 1000}k) | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default=",".join(BUDGETS))
    ap.add_argument("--rates", default=f"{DEFAULT_RATE},0.75,1.875")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--centre", default="adam", choices=("adam", "momentum"),
                    help="the centre's optimiser of the EMNS configurations")
    ap.add_argument("--no-ars", action="store_true")
    ap.add_argument("--final-step", type=float, default=1.0,
                    help="PolicySearch's final_step of the EMNS configurations (1: a constant step)")
    ap.add_argument("--options", default="", help="more engine options of the EMNS configurations, as "
                    "JSON (e.g. '{\"resistance_rate\": 0.2}': the co-evolving resistances on)")
    ap.add_argument("--search", default="", help="PolicySearch parameters of the EMNS configurations, as "
                    "JSON (e.g. '{\"popsize\": 32}')")
    ap.add_argument("--budget", type=int, default=None,
                    help="env steps of every run (default: the task's reduced budget above)")
    ap.add_argument("--out", default="benchmarks/results/emns_control_steps.jsonl")
    ap.add_argument("--table", action="store_true", help="only print the table of --out")
    a = ap.parse_args()
    out = Path(a.out)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    if a.table:
        print(table(rows))
        return
    torch.set_num_threads(1)
    configs = [] if a.no_ars else [("ars", None)]
    extra = json.loads(a.options) if a.options else {}
    tag = ("" if a.centre == "adam" else f" {a.centre}") + ("" if a.final_step == 1.0 else
                                                            f" anneal {a.final_step:g}")
    search = json.loads(a.search) if a.search else {}
    tag += "".join(f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}"
                   for k, v in sorted({**extra, **search}.items()))
    configs += [(f"emns{tag} lr {float(r):g}", float(r)) for r in a.rates.split(",")]
    done = {(r["task"], r["config"], r["seed"], r["budget"]) for r in rows}
    for seed in (int(s) for s in a.seeds.split(",")):
        for task in a.tasks.split(","):
            for name, rate in configs:
                budget = a.budget or BUDGETS[task]
                if (task, name, seed, budget) in done:
                    continue
                row = run(task, name, rate, budget, seed, a.centre, a.final_step if rate is not None else 1.0,
                          extra, search)
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                rows.append(row)
                print(f"{task} {name} seed {seed}: {row['final']:.1f} ({row['cpu_seconds']:.0f} s CPU)",
                      flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
