"""The side-by-side bench: outputs, the model table's reasons, error capture, memory, kill-and-resume."""

from __future__ import annotations

import csv
import json
import mmap
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gradfree.experiments.bench import MODELS, SUITES, ModelEntry, run_bench
from gradfree.experiments.bench.units import PeakMemory

SMALL_SUITES = ["split-manifolds", "emns-classification", "emns-regression"]


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    run_bench(quick=True, seeds=2, out=out, progress=False, models=["ncm", "mlp-seq", "replay"],
              suites=SMALL_SUITES)
    return out


def test_csv_has_one_row_per_model_suite_seed_metric(bench_out):
    rows = list(csv.DictReader(open(bench_out / "results.csv")))
    ok = [r for r in rows if r["status"] == "ok"]
    keys = [(r["model"], r["suite"], r["seed"], r["metric"]) for r in ok]
    assert len(keys) == len(set(keys))
    # continual: 3 metrics x 2 seeds per stream model; small classification: 2 metrics x 2 seeds for ncm
    assert sum(1 for k in keys if k[:2] == ("ncm", "split-manifolds")) == 6
    assert {k[3] for k in keys if k[1] == "split-manifolds"} == {"average_accuracy", "mean_forgetting", "bwt"}
    assert sum(1 for k in keys if k[:2] == ("ncm", "emns-classification")) == 4
    for r in ok:
        assert float(r["wall_s"]) > 0 and float(r["cpu_s"]) > 0
        assert float(r["peak_mb"]) < 24 * 1024  # a unit's peak above its start, below the machine's memory
        assert r["mem_method"]
        assert np.isfinite(float(r["value"]))
    skipped = {(r["model"], r["suite"]): r["note"] for r in rows if r["status"] == "skipped"}
    assert skipped[("ncm", "emns-regression")] == "classifier: no real-valued output"
    assert "on one task it is the MLP" in skipped[("replay", "emns-classification")]


def test_markdown_figures_and_json(bench_out):
    md = (bench_out / "report.md").read_text()
    assert "±" in md and "*n/a: classifier: no real-valued output*" in md
    assert "Duration: " not in md and "wall s" not in md  # measurements: timings.md, not the report
    timings = (bench_out / "timings.md").read_text()
    assert "Duration: " in timings and "machine:" in timings and "| wall s | CPU s | peak MiB |" in timings
    assert (bench_out / "accuracy_matrices_split-manifolds.png").stat().st_size > 0
    assert (bench_out / "accuracy_vs_time.png").stat().st_size > 0
    meta = json.loads((bench_out / "bench.json").read_text())["meta"]
    assert meta["units"] == 2 * (3 + 1) and meta["duration_s"] > 0


def test_results_are_sensible(bench_out):
    recs = json.loads((bench_out / "bench.json").read_text())["records"]
    by = {(r["model"], r["suite"], r["seed"]): r for r in recs}
    # nearest class mean cannot forget orthogonal clusters; sequential fine-tuning does
    assert by[("ncm", "split-manifolds", 0)]["metrics"]["average_accuracy"] > 0.95
    assert by[("mlp-seq", "split-manifolds", 0)]["metrics"]["mean_forgetting"] > \
        by[("ncm", "split-manifolds", 0)]["metrics"]["mean_forgetting"]
    R = np.array(by[("replay", "split-manifolds", 1)]["extra"]["R"])
    assert R.shape == (5, 5) and np.all((R >= 0) & (R <= 1))


def test_every_model_and_suite_either_runs_or_says_why():
    for m, entry in MODELS.items():
        for s in SUITES:
            reason = entry.reason(s)
            assert reason is None or (isinstance(reason, str) and reason), (m, s)
    reg = ModelEntry("r", "a regressor", lambda s: None, task="regressor")
    assert reg.reason("split-digits") == "regressor: no class predictions"
    assert reg.reason("emns-regression") is None
    slow = ModelEntry("s", "slow", lambda s: None, too_slow=("fashion",), too_slow_quick=("digits",))
    assert slow.reason("digits") is None and slow.reason("digits", quick=True).startswith("too slow")
    assert slow.reason("fashion").startswith("too slow")


def test_a_failing_model_is_recorded_and_the_bench_goes_on(tmp_path, monkeypatch):
    def boom(setting):
        raise RuntimeError("deliberate")

    monkeypatch.setitem(MODELS, "boom", ModelEntry("boom", "always fails", boom))
    out = run_bench(quick=True, seeds=1, out=tmp_path, progress=False, models=["boom", "ncm"],
                    suites=["emns-classification"])
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert any(r["model"] == "boom" and r["status"] == "error" and "deliberate" in r["note"] for r in rows)
    assert any(r["model"] == "ncm" and r["status"] == "ok" for r in rows)
    assert "*error: RuntimeError: deliberate*" in (out / "report.md").read_text()
    # a failed unit is not checkpointed: a resumed bench tries it again
    assert not any("boom" in p.name for p in (out / "checkpoints").glob("*.json"))


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as mem:
        # 160 MiB of fresh pages, touched: an anonymous map, never memory a long test process's allocator
        # already holds (np.ones could reuse such pages, and then no peak shows)
        block = mmap.mmap(-1, 160 * 2**20)
        np.frombuffer(block, dtype=np.uint8)[:] = 1
        block.close()
    if mem.method != "vmhwm":
        pytest.skip("no /proc/self/clear_refs here: ru_maxrss cannot see a peak below an earlier one")
    assert 140 < mem.peak_mb < 400


def test_unknown_names_and_bad_seeds_raise(tmp_path):
    with pytest.raises(ValueError, match="models"):
        run_bench(quick=True, out=tmp_path, models=["nope"], progress=False)
    with pytest.raises(ValueError, match="seeds"):
        run_bench(quick=True, seeds=0, out=tmp_path / "b", progress=False)


BENCH_ARGS = ["bench", "--quick", "--seeds", "1", "--set", "models=ncm,mlp-seq",
              "--set", "suites=split-manifolds,emns-classification", "--no-progress"]


def test_killed_bench_resumes_to_identical_results(tmp_path):
    run = lambda out, env=None: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "gradfree", *BENCH_ARGS, "--out", str(out)], capture_output=True, text=True,
        env={**os.environ, **(env or {})})
    killed = run(tmp_path / "a", {"GRADFREE_KILL_AFTER_CHECKPOINTS": "2"})
    assert killed.returncode != 0  # SIGKILLed after two units
    assert not (tmp_path / "a" / "results.json").exists()
    assert run(tmp_path / "a").returncode == 0
    assert run(tmp_path / "b").returncode == 0
    a, b = (json.loads((tmp_path / p / "bench.json").read_text()) for p in "ab")
    assert a["meta"]["units_resumed"] == 2 and b["meta"]["units_resumed"] == 0
    assert "resumed from checkpoints" in (tmp_path / "a" / "timings.md").read_text()
    assert (tmp_path / "a" / "report.md").read_text() == (tmp_path / "b" / "report.md").read_text()
    assert (tmp_path / "a" / "results.json").read_text() == (tmp_path / "b" / "results.json").read_text()


def test_changed_model_configuration_is_not_resumed(tmp_path, monkeypatch):
    from gradfree.baselines import NearestClassMean

    kw = dict(quick=True, seeds=1, out=tmp_path, progress=False, models=["ncm"],
              suites=["emns-classification"])
    run_bench(**kw)
    cosine = ModelEntry("ncm", "cosine now", lambda s: NearestClassMean(metric="cosine"))
    monkeypatch.setitem(MODELS, "ncm", cosine)
    run_bench(**kw)
    meta = json.loads((tmp_path / "bench.json").read_text())["meta"]
    assert meta["units_resumed"] == 0


def test_thread_count_is_reapplied_before_every_unit(tmp_path, monkeypatch):
    """numba's OpenMP layer resets the thread count torch shares with it; the bench must undo that."""
    from gradfree.baselines import NearestClassMean

    seen: list[int] = []

    class Spy(NearestClassMean):
        def fit(self, X, y):
            seen.append(torch.get_num_threads())
            torch.set_num_threads(2)  # what a numba parallel kernel does to the shared OpenMP setting
            return super().fit(X, y)

    monkeypatch.setitem(MODELS, "spy", ModelEntry("spy", "changes the thread count", lambda s: Spy()))
    before = torch.get_num_threads()
    run_bench(quick=True, seeds=2, out=tmp_path, progress=False, models=["spy"],
              suites=["emns-classification"], threads=1)
    assert seen == [1, 1, 1]  # warm-up, seed 0, seed 1
    assert torch.get_num_threads() == before
