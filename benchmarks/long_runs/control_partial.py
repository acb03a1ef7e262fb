"""The emns-control report and curves over the units finished so far, gathered from run folders.

The full run (`gradfree run emns-control --seeds 3`: 7 tasks, 5 M env steps per unit) takes more CPU
than one session has, so it runs in parts, each a folder of its own (its `config.json` names the part's
tasks and methods). This writes the experiment's own table and figure (`emns_control_report.report` /
`figures`) over every finished unit of the given folders at the full budget, marked PARTIAL, so the
state of the run can be read and committed while it goes on:

    python benchmarks/long_runs/control_partial.py docs/results/emns-control/full-5m-* \
        --out docs/results/emns-control/full-5m-partial

Units are read as a resumed run reads them (checksummed, checked); a unit in several folders is the
same unit (the key names task, method, per-task setting, budget and seed) and is taken once. A unit of
another per-task setting than the experiment's (the Hopper units run before ``EMNS_TASK``) is left
out: it answers a different configuration.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from gradfree.experiments import emns_control_config as ec
from gradfree.experiments.cli_runner import render
from gradfree.experiments.registry import get_experiment, saved_units

#: a unit's key (emns_control_config.unit_key): task-method[_setting]-bBUDGET-seedSEED; longest method
#: names first
KEY = re.compile(r"^(?P<task>.+)-(?P<method>" + "|".join(sorted(ec.METHODS, key=len, reverse=True))
                 + r")(?P<setting>(?:_[A-Za-z0-9]+=[0-9.]+)*)-b(?P<budget>\d+)-seed(?P<seed>\d+)$")


def gather(folders: list[Path]) -> tuple[dict, list[int], list[str]]:
    """Results in the experiment's layout over the full-budget units of ``folders``; seeds; ids."""
    runs, budgets, seeds = {}, {}, set()
    for folder in folders:
        for unit_id, record in saved_units(folder).items():
            m = KEY.match(unit_id)
            if (not m or m["task"] not in ec.TASKS or int(m["budget"]) != ec.TASKS[m["task"]][2]
                    or m["setting"] != ec.setting_tag(m["task"], m["method"])):
                continue  # not a unit of the full run (at its budget and per-task settings)
            runs.setdefault(unit_id, record["result"])
            budgets[m["task"]] = int(m["budget"])
            seeds.add(int(m["seed"]))
    results = {"emns": ec.EMNS, "emns_task": ec.EMNS_TASK, "emns_net": ec.EMNS_NET,
               "emns_anneal": ec.EMNS_ANNEAL, "eval_episodes": ec.EVAL_EPISODES,
               "runs": dict(sorted(runs.items())), "budgets": budgets}
    return results, sorted(seeds), sorted(runs)


def per_seed(runs: dict) -> str:
    """A Markdown table of every task's and method's final return per seed (the report's rows are
    means over seeds)."""
    rows: dict[tuple[str, str], dict[int, float]] = {}
    for unit_id, result in runs.items():
        m = KEY.match(unit_id)
        rows.setdefault((m["task"], m["method"]), {})[int(m["seed"])] = float(result["final"])
    seeds = sorted({s for finals in rows.values() for s in finals})
    lines = ["| task | method | " + " | ".join(f"seed {s}" for s in seeds) + " |",
             "|---|---|" + "---|" * len(seeds)]
    order = sorted(rows, key=lambda tm: (list(ec.TASKS).index(tm[0]), ec.METHODS.index(tm[1])))
    for task, method in order:
        finals = rows[task, method]
        lines.append(f"| {task} | {method} | "
                     + " | ".join(f"{finals[s]:,.2f}" if s in finals else "" for s in seeds) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    results, seeds, ids = gather(a.folders)
    if not ids:
        raise SystemExit("no finished full-budget unit in " + ", ".join(map(str, a.folders)))
    exp = get_experiment("emns-control")
    config = {"experiment": "emns-control", "quick": False, "seeds": seeds, "device": "cpu", "options": {}}
    a.out.mkdir(parents=True, exist_ok=True)
    render(a.out, exp, config, results)
    report = a.out / "report.md"
    planned = len(seeds) * sum(1 for t in ec.TASKS for m in ec.METHODS
                               if m not in ec.TOPOLOGY_METHODS or t in ec.NEAT_TASKS)
    note = (f"**PARTIAL**: {len(ids)} of the full run's {planned} units (seeds {seeds}), gathered from "
            + ", ".join(f"`{f}`" for f in a.folders) + " by `benchmarks/long_runs/control_partial.py`; "
            "a task's row averages the seeds finished so far.\n\n")
    text = report.read_text()
    head, sep, rest = text.partition("\n# EMNS on control tasks")
    seeds_table = per_seed(results["runs"])
    report.write_text((head + "\n" + note + sep.lstrip("\n") + rest if sep else note + text)
                      + "\n\n## Final return per seed\n\n" + seeds_table + "\n")
    print(seeds_table)
    print(f"{report}: {len(ids)} units")


if __name__ == "__main__":
    main()
