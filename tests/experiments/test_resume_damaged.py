"""A damaged checkpoint is treated as missing: named, recomputed, and the results stay byte-identical."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from gradfree.core.checkpoint import DamagedCheckpointWarning
from gradfree.experiments.cli_runner import run_experiment

ARGS = dict(quick=True, seeds=[0], progress=False)


def _damage_all(ckpt, how):
    units = sorted(ckpt.glob("*.json"))
    progress = sorted(ckpt.glob("*/progress.json"))
    models = sorted(ckpt.glob("*/model-*.safetensors"))
    assert units and progress and models
    for path in [*units, *progress]:
        text = path.read_text()
        if how == "truncate":
            path.write_text(text[: len(text) // 2])
        elif how == "empty":
            path.write_text("")
        elif how == "wrong-shape":
            path.write_text("5")
        elif how == "rewrite":  # valid JSON, plausible content, edited after writing
            obj = json.loads(text)
            obj["payload"] = {"result": 0.5, "seconds": 1.0} if "result" in obj["payload"] else {"rows": []}
            path.write_text(json.dumps(obj))
    for path in models:
        data = bytearray(path.read_bytes())
        data[-3] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    run_experiment("ncm-split", out=out, **ARGS)
    return (out / "results.json").read_text()


@pytest.mark.parametrize("how", ["truncate", "empty", "wrong-shape", "rewrite"])
def test_damaged_checkpoints_are_recomputed(tmp_path, clean, how):
    run_experiment("ncm-split", out=tmp_path, **ARGS)
    _damage_all(tmp_path / "checkpoints", how)
    (tmp_path / "results.json").unlink()
    with pytest.warns(DamagedCheckpointWarning, match="checkpoint") as record:
        run_experiment("ncm-split", out=tmp_path, **ARGS)
    assert any(str(tmp_path) in str(w.message) for w in record)
    assert (tmp_path / "results.json").read_text() == clean


def test_damaged_model_checkpoint_restarts_the_stream(tmp_path, clean):
    run_experiment("ncm-split", out=tmp_path, **ARGS)
    for unit in (tmp_path / "checkpoints").glob("*.json"):
        unit.unlink()  # the units are gone, the streams' own checkpoints remain
    for model in (tmp_path / "checkpoints").glob("*/model-*.safetensors"):
        model.write_bytes(model.read_bytes()[:100])
    with pytest.warns(DamagedCheckpointWarning, match="model checkpoint"):
        run_experiment("ncm-split", out=tmp_path, **ARGS)
    assert (tmp_path / "results.json").read_text() == clean


def test_damaged_config_is_rewritten(tmp_path, clean):
    run_experiment("ncm-split", out=tmp_path, **ARGS)
    (tmp_path / "config.json").write_text("{")
    with pytest.warns(DamagedCheckpointWarning):
        run_experiment("ncm-split", out=tmp_path, **ARGS)
    assert (tmp_path / "results.json").read_text() == clean


def _replace_with(path, kind, elsewhere):
    path.unlink()
    if kind == "directory":
        path.mkdir()
        (path / "inner.txt").write_text("x")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device-link":
        path.symlink_to("/dev/zero")
    elif kind == "oversized":  # sparse: large on paper, nothing on disk
        with open(path, "wb") as f:
            f.truncate(2 * 2**30)
    elif kind == "link-elsewhere":
        path.symlink_to(elsewhere)


@pytest.mark.parametrize("kind", ["directory", "fifo", "device-link", "oversized", "link-elsewhere"])
def test_special_files_in_place_of_checkpoints_are_recomputed(tmp_path, clean, kind):
    out, outside = tmp_path / "run", tmp_path / "outside.json"
    outside.write_text('{"untouched": true}')
    run_experiment("ncm-split", out=out, **ARGS)
    ckpt = out / "checkpoints"
    for path in [*ckpt.glob("*.json"), *ckpt.glob("*/progress.json"), *ckpt.glob("*/model-*.json")]:
        _replace_with(path, kind, outside)
    (out / "results.json").unlink()
    with pytest.warns(DamagedCheckpointWarning):
        run_experiment("ncm-split", out=out, **ARGS)
    assert (out / "results.json").read_text() == clean
    assert outside.read_text() == '{"untouched": true}'
    assert all(not p.is_symlink() for p in out.rglob("*"))


@pytest.mark.filterwarnings("ignore::gradfree.core.checkpoint.DamagedCheckpointWarning")
def test_nothing_is_written_through_links_or_outside_the_run_folder(tmp_path, clean):
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_experiment("ncm-split", out=out, **ARGS)
    names = ["report.md", "results.json", "run_info.json", "config.json", "accuracy_matrices.png"]
    for name in names:  # each output, and a temporary of it, becomes a link to a file elsewhere
        (elsewhere / name).write_text("theirs")
        (out / name).unlink()
        (out / name).symlink_to(elsewhere / name)
        (elsewhere / (name + ".tmp")).write_text("theirs")
        (out / (name + ".tmp")).symlink_to(elsewhere / (name + ".tmp"))
    shutil.rmtree(out / "checkpoints")
    (elsewhere / "ckpt").mkdir()
    (out / "checkpoints").symlink_to(elsewhere / "ckpt")  # a whole folder redirected elsewhere
    run_experiment("ncm-split", out=out, **ARGS)
    assert all(p.read_text() == "theirs" for p in elsewhere.glob("*") if p.is_file())
    assert not any((elsewhere / "ckpt").iterdir())
    assert (out / "results.json").read_text() == clean
    assert not (out / "results.json").is_symlink() and (out / "checkpoints").is_dir()


def test_edited_checkpoint_cannot_make_the_report_disagree_with_itself(tmp_path):
    run_experiment("ncm-split", out=tmp_path, **ARGS)
    for unit in (tmp_path / "checkpoints").glob("*.json"):
        obj = json.loads(unit.read_text())
        result = obj["payload"]["result"]
        result["R"] = [[1.0] * len(row) for row in result["R"]]  # every accuracy set to 100 %
        obj["sha256"] = hashlib.sha256(json.dumps(obj["payload"], sort_keys=True).encode()).hexdigest()
        unit.write_text(json.dumps(obj))
    run_experiment("ncm-split", out=tmp_path, **ARGS)
    for runs in json.loads((tmp_path / "results.json").read_text())["results"].values():
        for r in runs:
            assert r["average_accuracy"] == 1.0 and r["mean_forgetting"] == 0.0 and r["bwt"] == 0.0
