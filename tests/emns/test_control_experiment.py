"""The emns-control experiment: registered, --quick runs every installed method, and a second run
resumes every unit from its checkpoint with the same results."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gymnasium")

from gradfree.experiments.cli_runner import run_experiment  # noqa: E402
from gradfree.experiments.emns_control import TASKS, run_unit  # noqa: E402
from gradfree.experiments.registry import get_experiment  # noqa: E402


def test_registered_with_every_task():
    exp = get_experiment("emns-control")
    assert exp.default_seeds >= 3
    assert {"CartPole-v1", "CartPole-pos", "MountainCarContinuous-v0", "LunarLander-v3", "Swimmer-v5",
            "Hopper-v5", "HalfCheetah-v5"} <= set(TASKS)


def test_quick_run_reports_and_resumes(tmp_path):
    out = run_experiment("emns-control", quick=True, seeds=1, out=tmp_path / "run", progress=False,
                         options={"methods": "emns,ars"})
    results = json.loads((out / "results.json").read_text())["results"]
    assert len(results["runs"]) == 4  # two quick tasks x two methods
    for r in results["runs"].values():
        assert r["env_steps"] >= 4000 and r["points"] and len(r["points"][0]) == 4
    assert "| CartPole-pos | emns |" in (out / "report.md").read_text()
    again = run_experiment("emns-control", quick=True, seeds=1, out=tmp_path / "run", progress=False,
                           options={"methods": "emns,ars"})
    assert json.loads((again / "results.json").read_text())["results"] == results


@pytest.mark.parametrize("method", ["pgpe", "snes", "neat"])
def test_peer_units_run_on_the_same_budget(method, tmp_path):
    pytest.importorskip("neat" if method == "neat" else "evotorch")
    r = run_unit("CartPole-v1", method, 2000, 0, tmp_path)
    assert r["env_steps"] >= 2000 and len(r["points"]) >= 1


def _run(points):
    return {"points": points, "final": points[-1][3], "env_steps": points[-1][0], "seconds": points[-1][1]}


def test_goals_are_computed_from_the_results():
    from gradfree.experiments.emns_control_report import goals

    cp, mc = "CartPole-v1", "MountainCarContinuous-v0"
    runs = {  # points: [env steps, seconds, training episodes, return]
        f"{cp}-emns-b1000-seed0": _run([[100, 1, 10, 480.0], [1000, 2, 40, 500.0]]),
        f"{cp}-ars-b1000-seed0": _run([[100, 1, 12, 490.0], [1000, 2, 50, 450.0]]),
        f"{cp}-neat-b1000-seed0": _run([[100, 1, 50, 100.0], [1000, 2, 90, 476.0]]),
        f"{mc}-emns-b1000-seed0": _run([[100, 1, 5, 95.0], [1000, 2, 9, 95.0]]),
        f"{mc}-ars-b1000-seed0": _run([[100, 1, 5, 0.0], [1000, 2, 9, 0.0]]),
        f"{mc}-pgpe-b1000-seed0": _run([[100, 1, 5, 99.0], [1000, 2, 9, 99.0]]),
    }
    text = goals({"runs": runs, "budgets": {cp: 1000, mc: 1000}, "eval_episodes": 10})
    lines = {line.split("**")[1]: line for line in text.splitlines() if line.startswith("- **")}
    assert "threshold 475: met" in lines[cp]
    assert "at 1 of 2 shared evaluations" in lines[cp]  # 480 < 490, then 500 >= max(450, 476)
    assert "final against the best peer (neat, 476.0): at or above" in lines[cp]
    assert lines["Fewer episodes than NEAT to CartPole-v1's threshold"].endswith("10 against 90: met")
    assert "short" not in lines[mc] and "behind by 4.0" in lines[mc]
    assert lines[f"{mc} solved where ARS or PGPE are not"].endswith(": met")  # ARS never solved it


def test_a_return_just_below_the_threshold_is_not_rounded_to_it():
    from gradfree.experiments.emns_control_report import goals

    hc = "HalfCheetah-v5"
    runs = {f"{hc}-emns-b1000-seed0": _run([[1000, 2, 9, 4799.96]])}
    text = goals({"runs": runs, "budgets": {hc: 1000}, "eval_episodes": 10})
    assert "final 4,799.960 against the threshold 4,800: short by 0.04" in text and "met" not in text


def test_a_per_task_setting_reaches_the_search_and_marks_the_unit_key():
    from gradfree.experiments.emns_control import _search
    from gradfree.experiments.emns_control_config import EMNS, EMNS_TASK, unit_key

    for task, setting in EMNS_TASK.items():
        ps = _search(task, 1000, 0)
        assert {k: getattr(ps, k) for k in setting} == setting
        assert _search(task, 1000, 0, net=True).popsize == EMNS["popsize"]  # the network: no setting
        assert unit_key(task, "emns", 1000, 0) != unit_key(task, "emns", 1000, 0, emns_task={})
        assert unit_key(task, "ars", 1000, 0) == f"{task}-ars-b1000-seed0"  # the peers: no setting
    assert _search("Swimmer-v5", 1000, 0).popsize == EMNS["popsize"]


def test_the_report_reads_the_units_of_the_setting_the_results_recorded():
    from gradfree.experiments.emns_control_config import unit_key
    from gradfree.experiments.emns_control_report import _runs

    hop, setting = "Hopper-v5", {"Hopper-v5": {"popsize": 32, "sigma0": 0.025}}
    old, new = _run([[1000, 1, 9, 1.0]]), _run([[1000, 1, 9, 2.0]])
    runs = {unit_key(hop, "emns", 1000, 0, emns_task={}): old,
            unit_key(hop, "emns", 1000, 0, emns_task=setting): new}
    assert _runs({"runs": runs, "budgets": {hop: 1000}, "emns_task": setting}, hop, "emns") == [new]
    assert _runs({"runs": runs, "budgets": {hop: 1000}}, hop, "emns") == [old]  # results from before


def test_partial_report_takes_only_units_of_the_current_setting(tmp_path):
    import importlib.util
    from pathlib import Path

    from gradfree.experiments.emns_control_config import EMNS_TASK, TASKS, unit_key
    from gradfree.experiments.registry import ExperimentContext

    path = Path(__file__).parents[2] / "benchmarks" / "long_runs" / "control_partial.py"
    spec = importlib.util.spec_from_file_location("control_partial", path)
    cp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cp)
    task = next(iter(EMNS_TASK))
    budget = TASKS[task][2]
    ctx = ExperimentContext(tmp_path, show_progress=False)
    for emns_task, final in (({}, 1.0), (None, 2.0)):  # a unit of before the setting, one of it
        key = unit_key(task, "emns", budget, 0, emns_task=emns_task)
        ctx.unit(key, lambda f=final: _run([[budget, 1, 9, f]]))
    ctx.unit(unit_key(task, "ars", budget, 0), lambda: _run([[budget, 1, 9, 3.0]]))
    ctx.close()
    results, seeds, ids = cp.gather([tmp_path])
    assert ids == sorted([unit_key(task, "emns", budget, 0), unit_key(task, "ars", budget, 0)])
    assert "| 2.00 |" in cp.per_seed(results["runs"]) and "| 1.00 |" not in cp.per_seed(results["runs"])
