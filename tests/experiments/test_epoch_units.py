"""Per-epoch checkpoints inside a unit: a curve cut off at any epoch resumes there, to identical bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from gradfree.baselines import SparseMLPClassifier
from gradfree.core.checkpoint import DamagedCheckpointWarning, write_checkpoint
from gradfree.data import digits_split
from gradfree.experiments.cli_runner import run_experiment
from gradfree.experiments.epoch_units import PROGRESS, curve_progress, epoch_unit, main
from gradfree.experiments.registry import ExperimentContext

EPOCHS = 4
Xtr, Xte, ytr, yte = digits_split(0)
Xtr, ytr = Xtr[:300], ytr[:300]


class Cut(Exception):
    """Stands for a kill between two epochs."""


def _curve(out, cut_at: int | None = None, calls: list | None = None):
    """A 4-epoch curve of a small backprop MLP on digits (shuffling draws from its ``rng_``)."""
    ctx = ExperimentContext(out=out, show_progress=False)

    def train(model):
        if calls is not None:
            calls.append(model.n_iter_ if hasattr(model, "n_iter_") else 0)
        if cut_at is not None and len(calls) > cut_at:
            raise Cut
        model.partial_fit(Xtr, ytr, classes=list(range(10)))

    def evaluate(model):
        return {"test": float(model.score(Xte, yte)), "loss": float(model.loss_curve_[-1])}

    def make():
        return SparseMLPClassifier(hidden_layer_sizes=(32,), epochs=1, link_ratio=0.3, random_state=0)

    result = epoch_unit(ctx, "curve", make, train, evaluate, EPOCHS, samples_per_epoch=len(ytr),
                        finish=lambda m, rows: {"rows": rows, "weights": m.weights_[0].sum().item()})
    return result, ctx


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    result, ctx = _curve(tmp_path_factory.mktemp("clean"))
    return json.dumps(result)


@pytest.mark.parametrize("cut_at", [1, 2, 3])
def test_cut_curve_resumes_at_the_last_finished_epoch(tmp_path, clean, cut_at):
    calls: list = []
    with pytest.raises(Cut):
        _curve(tmp_path, cut_at, calls)
    progress = json.loads((tmp_path / "checkpoints" / "curve" / PROGRESS).read_text())["payload"]
    assert len(progress["rows"]) == cut_at
    assert curve_progress(tmp_path)["curve"]["rows"] == progress["rows"]  # a partial curve can be read
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "curve").glob("model-*")) == [
        f"model-e{cut_at:04d}.json", f"model-e{cut_at:04d}.safetensors"]  # only the last epoch's model
    calls.clear()
    result, ctx = _curve(tmp_path, None, calls)
    assert calls == list(range(cut_at, EPOCHS))  # training went on from the saved model, not from scratch
    assert json.dumps(result) == clean
    stats = ctx.stats["curve"]
    assert stats["epochs"] == EPOCHS and stats["train_samples"] == EPOCHS * len(ytr)
    assert stats["train_samples_per_s"] >= stats["unit_samples_per_s"] > 0
    assert stats["train_samples_per_cpu_s"] > 0


def test_progress_without_cpu_clock_still_resumes(tmp_path, clean):
    """Progress files written before the CPU-time clock existed resume instead of starting over."""
    with pytest.raises(Cut):
        _curve(tmp_path, 2, [])
    path = tmp_path / "checkpoints" / "curve" / PROGRESS
    payload = json.loads(path.read_text())["payload"]
    for key in ("train_cpu_s", "cpu_epochs"):
        del payload["clock"][key]
    write_checkpoint(path, payload)
    calls: list = []
    result, ctx = _curve(tmp_path, None, calls)
    assert calls == [2, 3] and json.dumps(result) == clean


def _damage(folder, how):
    if how == "progress-truncated":
        p = folder / PROGRESS
        p.write_text(p.read_text()[:200])
    elif how == "progress-edited":
        p = folder / PROGRESS
        obj = json.loads(p.read_text())
        obj["payload"]["rows"][0]["test"] = 1.0
        p.write_text(json.dumps(obj))
    elif how == "model-flipped":
        p = next(folder.glob("model-*.safetensors"))
        data = bytearray(p.read_bytes())
        data[-3] ^= 0xFF
        p.write_bytes(bytes(data))
    elif how == "model-missing":
        next(folder.glob("model-*.json")).unlink()
    elif how == "model-swapped":  # a valid model file, but not the one the progress file names
        p = next(folder.glob("model-*.json"))
        p.write_text(json.dumps(json.loads(p.read_text()), indent=2))
    elif how == "model-link":  # a link where the model was: never followed
        p = next(folder.glob("model-*.json"))
        p.unlink()
        p.symlink_to(folder / PROGRESS)
    elif how == "rng-wrong-size":
        p = folder / PROGRESS
        obj = json.loads(p.read_text())
        obj["payload"]["rng"]["torch"] = "00ff"
        write_checkpoint(p, obj["payload"])  # signed again: only the content is wrong


@pytest.mark.parametrize("how", ["progress-truncated", "progress-edited", "model-flipped", "model-missing",
                                 "model-swapped", "model-link", "rng-wrong-size"])
def test_damaged_epoch_checkpoint_is_recomputed(tmp_path, clean, how):
    with pytest.raises(Cut):
        _curve(tmp_path, 2, [])
    folder = tmp_path / "checkpoints" / "curve"
    _damage(folder, how)
    calls: list = []
    with pytest.warns(DamagedCheckpointWarning, match=str(folder)):
        result, _ = _curve(tmp_path, None, calls)
    assert calls == list(range(EPOCHS))  # started over
    assert json.dumps(result) == clean


def test_model_saved_after_the_last_progress_file_is_dropped(tmp_path, clean):
    """Killed between saving epoch 3's model and naming it in progress.json: epoch 3 is trained again."""
    with pytest.raises(Cut):
        _curve(tmp_path, 2, [])
    folder = tmp_path / "checkpoints" / "curve"
    for p in list(folder.glob("model-e0002.*")):
        (folder / p.name.replace("e0002", "e0003")).write_bytes(p.read_bytes())
    calls: list = []
    result, _ = _curve(tmp_path, None, calls)
    assert calls == [2, 3] and json.dumps(result) == clean
    assert sorted(p.name for p in folder.glob("model-*")) == ["model-e0004.json", "model-e0004.safetensors"]


def test_finished_unit_keeps_its_final_model_and_throughput(tmp_path, clean):
    _curve(tmp_path)
    folder = tmp_path / "checkpoints" / "curve"
    assert sorted(p.name for p in folder.glob("model-*")) == [f"model-e{EPOCHS:04d}.json",
                                                             f"model-e{EPOCHS:04d}.safetensors"]
    calls: list = []
    result, ctx = _curve(tmp_path, None, calls)  # resumed from the unit's own checkpoint
    assert calls == [] and json.dumps(result) == clean
    assert ctx.stats["curve"]["epochs"] == EPOCHS  # throughput still reported for a resumed unit


def test_progress_command_prints_each_curve(tmp_path, capsys):
    with pytest.raises(Cut):
        _curve(tmp_path, 3, [])
    main([str(tmp_path)])
    assert capsys.readouterr().out.startswith("curve: 3 epochs, last {")


WUXING = ["run", "wuxing-mnist", "--quick", "--seeds", "1", "--set", "parts=fig24", "--set",
          "digits_train=60", "--set", "digits_test=40", "--no-progress"]


def test_wuxing_curve_killed_mid_way_resumes_to_identical_results(tmp_path):
    """A real SIGKILL after the 2nd of 3 epochs of the first curve; the resumed run's results.json is
    byte-identical to an uninterrupted run's, and run_info.json gives every curve's throughput."""
    clean = tmp_path / "clean"
    run_experiment("wuxing-mnist", quick=True, seeds=[0], out=clean, progress=False,
                   options={"parts": "fig24", "digits_train": "60", "digits_test": "40"})
    cut = tmp_path / "cut"
    env = {"GRADFREE_KILL_AFTER_CHECKPOINTS": "2", "OMP_NUM_THREADS": "1"}
    gradfree = [sys.executable, "-m", "gradfree", *WUXING, "--out", str(cut)]
    killed = subprocess.run(gradfree, capture_output=True, text=True, env={**os.environ, **env})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    first = cut / "checkpoints" / "fig2-bsp-s0"
    assert len(json.loads((first / PROGRESS).read_text())["payload"]["rows"]) == 2  # killed mid-curve
    assert not (cut / "checkpoints" / "fig2-bsp-s0.json").exists()
    resumed = subprocess.run(gradfree, capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert (cut / "results.json").read_bytes() == (clean / "results.json").read_bytes()
    stats = json.loads((cut / "run_info.json").read_text())["unit_stats"]
    assert set(stats) == {p.stem for p in (cut / "checkpoints").glob("*.json")}
    assert all(s["epochs"] == 3 and s["train_samples_per_s"] > 0 for s in stats.values())
