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
