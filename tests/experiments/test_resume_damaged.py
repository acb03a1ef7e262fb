"""A damaged checkpoint is treated as missing: named, recomputed, and the results stay byte-identical."""

from __future__ import annotations

import json

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
