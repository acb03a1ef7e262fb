"""The command line: list, run (outputs, resume after a real SIGKILL), errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from gradfree.cli import main


def gradfree(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradfree", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_list_names_every_experiment(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ncm-split" in out
    for line in out.strip().splitlines():
        name, summary = line.split(maxsplit=1)
        assert summary.strip(), f"{name} has no summary"


def test_unknown_experiment_is_a_clear_error(capsys):
    assert main(["run", "no-such-thing", "--no-progress"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_run_quick_writes_results_report_and_figures(tmp_path):
    out = tmp_path / "ncm"
    assert main(["run", "ncm-split", "--quick", "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seeds"] == [0]
    assert results["results"]["digits"][0]["average_accuracy"] > 0.5
    assert (out / "report.md").read_text().startswith("# ncm-split")
    assert (out / "accuracy_matrices.png").stat().st_size > 1000
    # The same folder with other settings is refused instead of mixing two runs.
    assert main(["run", "ncm-split", "--quick", "--seeds", "2", "--out", str(out), "--no-progress"]) == 2


def test_seed_list_runs_those_seeds_and_names_them_in_the_report(tmp_path):
    out = tmp_path / "later"
    assert main(["run", "ncm-split", "--quick", "--seed-list", "1", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seeds"] == [1]
    assert "--seed-list 1" in (out / "report.md").read_text()
    # seed 1 alone is the same unit as seed 1 of a 2-seed run
    both = tmp_path / "both"
    assert main(["run", "ncm-split", "--quick", "--seeds", "2", "--out", str(both), "--no-progress"]) == 0
    seed1 = json.loads((both / "results.json").read_text())["results"]["digits"][1]
    assert results["results"]["digits"][0] == seed1


@pytest.mark.parametrize("text", ["1,1", "x", "-1", ""])
def test_bad_seed_list_is_a_usage_error(text, tmp_path, capsys):
    assert main(["run", "ncm-split", "--quick", "--seed-list", text, "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    assert "--seed-list" in capsys.readouterr().err


def test_seeds_and_seed_list_together_are_refused():
    with pytest.raises(SystemExit):
        main(["run", "ncm-split", "--seeds", "2", "--seed-list", "1"])


@pytest.mark.parametrize("kill_after", [2, 6])  # inside a stream; right after a finished unit
def test_killed_run_resumes_to_identical_results(tmp_path, kill_after):
    args = ["run", "ncm-split", "--quick", "--seeds", "2", "--no-progress"]
    clean = gradfree(*args, "--out", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    cut = tmp_path / "cut"
    killed = gradfree(*args, "--out", str(cut), env={"GRADFREE_KILL_AFTER_CHECKPOINTS": str(kill_after)})
    assert killed.returncode == -signal.SIGKILL
    assert not (cut / "results.json").exists()
    resumed = gradfree(*args, "--out", str(cut))
    assert resumed.returncode == 0, resumed.stderr
    assert (cut / "results.json").read_text() == (tmp_path / "clean" / "results.json").read_text()
