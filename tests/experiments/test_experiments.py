"""Every registered experiment runs end to end in quick mode and writes its results, report and figures."""

from __future__ import annotations

import json

import pytest

from gradfree.experiments import all_experiments
from gradfree.experiments.cli_runner import rebuild_report, run_experiment

# The bench's quick form runs every model (about 90 s); here it runs a part of its table, and
# tests/bench covers the rest of it.
OPTIONS = {"bench": {"models": "ncm,mlp-seq", "suites": "split-manifolds,emns-classification"}}


@pytest.mark.parametrize("name", sorted(all_experiments()))
def test_quick_run_writes_results_report_and_figures(name, tmp_path):
    out = run_experiment(name, quick=True, seeds=1, out=tmp_path / name, progress=False,
                         options=OPTIONS.get(name))
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["experiment"] == name and results["results"]
    report = (out / "report.md").read_text()
    assert report.startswith(f"# {name}") and "Command: `gradfree run" in report
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 2000 for p in pngs)
    for png in pngs:  # the bench's measured figure is shown by its timings.md
        assert f"({png.name})" in report or f"({png.name})" in (out / "timings.md").read_text()
    # pure steps: report.md and every figure it shows rebuilt byte for byte from results.json alone
    assert all_experiments()[name].report is not None and all_experiments()[name].figures is not None
    shown = [p for p in pngs if f"({p.name})" in report]
    written = {p.name: p.read_bytes() for p in [out / "report.md", *shown]}
    for p in [out / "report.md", *shown]:
        p.unlink()
    rebuild_report(out)
    assert {p.name: p.read_bytes() for p in [out / "report.md", *shown]} == written
