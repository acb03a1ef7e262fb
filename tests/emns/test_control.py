"""PolicySearch: learning on a control task, exact resume, workers identical to in-process (killed
workers included), bytes per generation independent of the policy size, spaces and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium")

from gradfree.core.io import ModelFileError  # noqa: E402
from gradfree.emns import PolicySearch  # noqa: E402
from gradfree.emns.control import workers  # noqa: E402
from gradfree.emns.control.normalizer import RunningStats  # noqa: E402
from gradfree.emns.control.search import shape_fitness  # noqa: E402

SMALL = dict(max_env_steps=4000, popsize=8, random_state=3, progress=False)


def test_learns_cartpole_well_above_random():
    ps = PolicySearch("CartPole-v1", max_env_steps=30_000, random_state=0, progress=False).fit()
    assert ps.env_steps_ >= 30_000 and len(ps.history_["env_steps"]) == ps.n_generations_
    assert set(ps.history_) == {"env_steps", "episodes", "return_mean", "return_max", "seconds", "bytes"}
    # a random policy averages ~22; the centre policy must balance far longer
    assert ps.evaluate(episodes=10, seed=1000) > 200


def test_evaluate_is_deterministic_and_freezes_the_normaliser():
    ps = PolicySearch("CartPole-v1", **SMALL).fit()
    count = ps.obs_stats_.count
    r = ps.evaluate(episodes=4, seed=5, return_all=True)
    assert r.shape == (4,) and ps.evaluate(episodes=4, seed=5) == pytest.approx(r.mean())
    assert ps.obs_stats_.count == count


def test_save_load_continues_exactly(tmp_path):
    whole = PolicySearch("CartPole-v1", **SMALL).fit()
    part = PolicySearch("CartPole-v1", **SMALL).fit(n_generations=3)
    assert part.n_generations_ == 3
    part.save(tmp_path / "ps")
    back = PolicySearch.load(tmp_path / "ps")
    back.set_params(warm_start=True).fit()
    assert back.n_generations_ == whole.n_generations_ > 3
    np.testing.assert_array_equal(back.centre_, whole.centre_)
    np.testing.assert_array_equal(back.obs_stats_.m2, whole.obs_stats_.m2)
    assert back.history_["return_mean"] == whole.history_["return_mean"]
    assert back.history_["env_steps"] == whole.history_["env_steps"]


def test_loader_refuses_a_damaged_normaliser(tmp_path):
    ps = PolicySearch("CartPole-v1", **SMALL).fit(n_generations=1)
    ps.obs_stats_.m2 = -np.ones(4)
    ps.save(tmp_path / "bad")
    with pytest.raises(ModelFileError, match="obs_stats_"):
        PolicySearch.load(tmp_path / "bad")


def _kill_before(monkeypatch, generation: int) -> None:
    """Kill worker 0 just before the pool runs ``generation`` (1-based)."""
    run, calls = workers.WorkerPool.run, []

    def killing_run(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == generation:
            self.kill(0)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(workers.WorkerPool, "run", killing_run)


def test_worker_processes_match_in_process_even_when_one_is_killed(monkeypatch):
    local = PolicySearch("CartPole-v1", **SMALL).fit()
    _kill_before(monkeypatch, 3)
    far = PolicySearch("CartPole-v1", n_jobs=2, **SMALL).fit()
    assert far._last_pool_stats[2] == 1  # one worker rebuilt
    np.testing.assert_array_equal(far.centre_, local.centre_)
    assert far.history_["return_mean"] == local.history_["return_mean"]


def test_bytes_per_generation_do_not_depend_on_the_parameter_count():
    small = PolicySearch("CartPole-v1", policy="mlp", hidden=(4,), n_jobs=2, **SMALL).fit(n_generations=3)
    big = PolicySearch("CartPole-v1", policy="mlp", hidden=(256,), n_jobs=2, **SMALL).fit(n_generations=3)
    assert big._opt.state_.theta.numel() > 30 * small._opt.state_.theta.numel()
    # after the first generation every message has the same layout: sizes differ by at most a few bytes
    # of pickled numbers, never by the parameter count
    for a, b in zip(small.history_["bytes"][1:], big.history_["bytes"][1:]):
        assert abs(a - b) < 64 and a < 4000


@pytest.mark.parametrize("policy", ["linear", "mlp", "emns"])
def test_continuous_actions_and_every_policy(policy):
    ps = PolicySearch("Pendulum-v1", policy=policy, hidden=(4,), max_env_steps=1600, popsize=4,
                      random_state=0, progress=False).fit()
    assert ps.n_generations_ == 2 and ps.env_steps_ == 1600  # 200-step episodes
    assert np.isfinite(ps.evaluate(episodes=2))


@pytest.mark.parametrize("kind, hidden, discrete", [("linear", (), True), ("linear", (), False),
                                                    ("mlp", (5, 3), False), ("mlp", (16,), True),
                                                    ("emns", (5, 3), False), ("emns", (4,), True)])
def test_a_rows_actions_do_not_depend_on_the_rows_beside_it(kind, hidden, discrete):
    """Workers hold a share of the population, and finished episodes leave the batch: a row's
    actions must be the same bits alone, in any batch and after rows beside it were dropped; the
    NumPy policies agree with the torch definition (PolicySpec.act) up to rounding. ("emns" runs the
    network's torch code on a batch padded to whole SIMD blocks, so no row meets the scalar tail loop
    whose sigmoid, exp and sin round differently.)"""
    import torch

    from gradfree.emns.control.policies import PolicySpec, to_actions

    rng = np.random.default_rng(0)
    spec = PolicySpec(kind, 17, 6, hidden)
    params = torch.from_numpy(rng.normal(size=(7, spec.n_params))) * (0.5 if kind == "emns" else 1.0)
    obs = rng.normal(size=(7, 17))
    low, high = -np.ones(6), 2 * np.ones(6)
    whole = spec.bind(params, low, high, discrete)(obs)
    for rows in ([3], [0, 6], [1, 2, 5]):
        np.testing.assert_array_equal(spec.bind(params[rows], low, high, discrete)(obs[rows]), whole[rows])
    kept = spec.bind(params, low, high, discrete)
    kept.keep(np.array([1, 4, 6]))
    kept.keep(np.array([0, 2]))
    np.testing.assert_array_equal(kept(obs[[1, 6]]), whole[[1, 6]])
    out = spec.act(params, torch.from_numpy(obs))
    ref = to_actions(out, kind, discrete, torch.from_numpy(low), torch.from_numpy(high)).numpy()
    np.testing.assert_allclose(whole, ref, rtol=1e-12, atol=1e-12)


def test_partial_observation_with_a_memory_window():
    ps = PolicySearch("CartPole-v1", observation_indices=(0, 2), history=2, **SMALL).fit(n_generations=2)
    assert ps.obs_stats_.mean.shape == (2,) and ps.centre_.shape == (2 * 2 * 2,)


def test_fitness_shift_and_shaping():
    ps = PolicySearch("CartPole-v1", fitness="shifted", reward_shift=1.0, shaping="centred_ranks",
                      **SMALL).fit(n_generations=1)
    assert ps.history_["return_mean"][0] > 0  # returns are recorded unshifted
    f = np.array([3.0, -1.0, 2.0, 2.0])
    np.testing.assert_allclose(shape_fitness(f, "centred_ranks"), [0.5, -0.5, -1 / 6, 1 / 6])
    z = shape_fitness(f, "zscore")
    assert abs(z.mean()) < 1e-12 and z.std() == pytest.approx(1.0)


def test_running_stats_agree_with_numpy():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(2.0, 3.0, size=(n, 3)) for n in (5, 17, 1)]
    st = RunningStats.empty(3)
    for c in chunks:
        st.update(np.concatenate([c.sum(0), (c * c).sum(0), [len(c)]])[None])
    allx = np.concatenate(chunks)
    mean, std = st.frozen()
    np.testing.assert_allclose(mean, allx.mean(0))
    np.testing.assert_allclose(std, allx.std(0))


@pytest.mark.parametrize("kwargs, match", [
    (dict(env_id="NoSuchEnv-v0"), "NoSuchEnv"),
    (dict(env_id="Blackjack-v1"), "observations must be a flat Box"),
    (dict(popsize=7), "even"),
    (dict(strategy="plus"), "antithetic"),
    (dict(policy="cnn"), "policy"),
    (dict(observation_indices=(0, 9)), "observation_indices"),
    (dict(final_step=0.0), "final_step"),
    (dict(final_step=1.5), "final_step"),
    (dict(final_step=True), "final_step"),
])
def test_clear_errors(kwargs, match):
    kw = {"env_id": "CartPole-v1", **SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        PolicySearch(**kw).fit()


def test_docstring_example_runs():
    import doctest

    from gradfree.emns.control import search

    assert doctest.testmod(search).failed == 0


def test_final_step_anneals_the_centre_step_and_resumes_exactly(tmp_path):
    const = PolicySearch("CartPole-v1", **SMALL).fit()
    assert const.opt_state_.step_scale == 1.0
    whole = PolicySearch("CartPole-v1", **SMALL, final_step=0.1).fit()
    before_last = whole.history_["env_steps"][-2]  # the schedule reads the steps spent before a generation
    assert whole.opt_state_.step_scale == pytest.approx(1 - 0.9 * before_last / SMALL["max_env_steps"])
    assert 0.1 <= whole.opt_state_.step_scale < 1.0
    assert not np.array_equal(whole.centre_, const.centre_)
    part = PolicySearch("CartPole-v1", **SMALL, final_step=0.1).fit(n_generations=3)
    part.save(tmp_path / "ps")
    back = PolicySearch.load(tmp_path / "ps").set_params(warm_start=True).fit()
    np.testing.assert_array_equal(back.centre_, whole.centre_)


def test_files_saved_before_final_step_resume_with_a_constant_step(tmp_path):
    import json

    ps = PolicySearch("CartPole-v1", **SMALL).fit(n_generations=2)
    path = ps.save(tmp_path / "old")
    meta = json.loads(path.read_text())
    del meta["params"]["final_step"]
    del meta["state"]["opt_state_"]["fields"]["step_scale"]
    path.write_text(json.dumps(meta))
    back = PolicySearch.load(tmp_path / "old")
    assert back.final_step == 1.0 and back.opt_state_.step_scale == 1.0


@pytest.mark.parametrize("env_id, kw", [
    ("CartPole-v1", {}),
    ("CartPole-v1", dict(observation_indices=(0, 2), history=2)),
    ("Pendulum-v1", dict(policy="mlp", hidden=(4,))),
    ("Pendulum-v1", dict(policy="emns", hidden=(4,), normalize=False)),
    ("MountainCarContinuous-v0", {}),
])
def test_controller_takes_the_actions_evaluate_takes(env_id, kw):
    import gymnasium as gym

    ps = PolicySearch(env_id, max_env_steps=3000, popsize=4, random_state=1, progress=False, **kw).fit()
    act, env = ps.controller(), gym.make(env_id)
    by_hand = []
    for seed in (7, 8):
        obs, _ = env.reset(seed=seed)
        act.reset()
        total, done = 0.0, False
        while not done:
            a = act(obs)
            assert isinstance(a, int) if env_id.startswith("CartPole") else a.shape == env.action_space.shape
            obs, r, term, trunc, _ = env.step(a)
            total, done = total + r, term or trunc
        by_hand.append(total)
    assert by_hand == ps.evaluate(episodes=2, seed=7, return_all=True).tolist()


def test_controller_refuses_an_observation_of_another_size():
    act = PolicySearch("CartPole-v1", **SMALL).fit(n_generations=1).controller()
    with pytest.raises(ValueError, match="3 components, the policy expects 4"):
        act(np.zeros(3))
