"""EMNS's and ARS's emns-control curves saved inside a unit: a run interrupted at any save resumes to the
same evaluations as an uninterrupted one; damaged or foreign progress starts the curve again, named in
a warning; the ARS state refuses bad values."""

from __future__ import annotations

import copy
import json

import pytest

pytest.importorskip("gymnasium")

from gradfree.core.checkpoint import DamagedCheckpointWarning  # noqa: E402
from gradfree.experiments import emns_control_curves as cc  # noqa: E402
from gradfree.experiments.emns_control import _search  # noqa: E402

BUDGET = 20_000


def _emns(seed=0):
    return cc.EMNSLearner(_search("CartPole-v1", BUDGET, seed), 3, 10_000)


def _ars(seed=0):
    from gradfree.baselines.ars import ARS
    from gradfree.emns.control.normalizer import RunningStats
    from gradfree.emns.control.rollout import Rollouts

    spec = _search("CartPole-v1", BUDGET, seed)._task()
    ars = ARS(Rollouts(spec), RunningStats.empty(spec.n_obs), spec.policy.n_params, max_env_steps=BUDGET,
              random_state=seed)
    return cc.ARSLearner(ars, 3, 10_000)


def _no_seconds(points):
    return [[p[0], p[2], p[3]] for p in points]  # env steps, episodes, return (seconds are measured)


class _Stop(Exception):
    pass


def _interrupted(make, folder, after, monkeypatch):
    """Run until ``after`` saves were written, then stop as a killed process would."""
    calls = {"n": 0}

    def written():
        calls["n"] += 1
        if calls["n"] >= after:
            raise _Stop

    monkeypatch.setattr(cc, "checkpoint_written", written)
    with pytest.raises(_Stop):
        cc.resumable_curve(make(), BUDGET, folder, folder, save_every=0.0)
    monkeypatch.undo()


def _whole_and_stopped(make, tmp_path, after, monkeypatch):
    """An uninterrupted curve, and the folder of a run stopped after ``after`` saves."""
    whole = cc.resumable_curve(make(), BUDGET, None)
    folder = tmp_path / "unit"
    folder.mkdir()
    _interrupted(make, folder, after, monkeypatch)
    return whole, folder


@pytest.mark.parametrize("make", [_emns, _ars], ids=["emns", "ars"])
def test_an_interrupted_curve_resumes_to_the_same_evaluations(make, tmp_path, monkeypatch):
    whole, folder = _whole_and_stopped(make, tmp_path, 3, monkeypatch)
    saved = json.loads((folder / cc.PROGRESS).read_text())["payload"]
    assert 0 < saved["env_steps"] < BUDGET
    resumed = cc.resumable_curve(make(), BUDGET, folder, folder, save_every=0.0)
    assert _no_seconds(resumed) == _no_seconds(whole)
    searches = sorted(p.name for p in folder.iterdir() if p.name.startswith("search-"))
    i = json.loads((folder / cc.PROGRESS).read_text())["payload"]["index"]  # the final save's
    assert searches == ([] if make is _ars else [f"search-{i:06d}.json", f"search-{i:06d}.safetensors"])


@pytest.mark.parametrize("make", [_emns, _ars], ids=["emns", "ars"])
def test_damaged_progress_starts_the_curve_again(make, tmp_path, monkeypatch):
    whole, folder = _whole_and_stopped(make, tmp_path, 2, monkeypatch)
    path = folder / cc.PROGRESS
    path.write_text(path.read_text().replace('"env_steps": ', '"env_steps": 1', 1))  # checksum now wrong
    with pytest.warns(DamagedCheckpointWarning, match="progress.json"):
        again = cc.resumable_curve(make(), BUDGET, folder, folder, save_every=0.0)
    assert _no_seconds(again) == _no_seconds(whole)


def test_a_search_of_other_options_is_not_resumed(tmp_path, monkeypatch):
    folder = tmp_path / "unit"
    folder.mkdir()
    _interrupted(lambda: _emns(seed=1), folder, 2, monkeypatch)  # another seed: other options
    with pytest.warns(DamagedCheckpointWarning, match="other options"):
        cc.resumable_curve(_emns(), BUDGET, folder, folder, save_every=0.0)


def test_a_changed_search_file_is_not_resumed(tmp_path, monkeypatch):
    folder = tmp_path / "unit"
    folder.mkdir()
    _interrupted(_emns, folder, 2, monkeypatch)
    search = next(folder.glob("search-*.json"))
    search.write_text(search.read_text() + " ")
    with pytest.warns(DamagedCheckpointWarning, match="is not the search"):
        cc.resumable_curve(_emns(), BUDGET, folder, folder, save_every=0.0)


def test_ars_state_round_trip_and_refusals():
    a = _ars().ars
    a.fit(n_iterations=2)
    state = json.loads(json.dumps(a.state_dict()))
    b = _ars(seed=5).ars
    b.load_state_dict(state)
    b.stats = copy.deepcopy(a.stats)  # the observation statistics are the caller's (saved beside)
    a.fit(n_iterations=2)
    b.fit(n_iterations=2)
    assert a.M.tolist() == b.M.tolist() and a.history_["return_mean"] == b.history_["return_mean"]
    bad = [("M", state["M"][:-1], "M must be"), ("M", ["x"] * len(state["M"]), "M must be"),
           ("rng", state["rng"][:-2], "rng must be"), ("rng", "zz" * (len(state["rng"]) // 2), "rng must be"),
           ("env_steps_", -1, "env_steps_"), ("history_", {"env_steps": [1]}, "history_")]
    for field, value, match in bad:
        c = _ars().ars
        before = c.M.clone()
        with pytest.raises(ValueError, match=match):
            c.load_state_dict({**state, field: value})
        assert c.M.equal(before) and c.env_steps_ == 0  # nothing changed
