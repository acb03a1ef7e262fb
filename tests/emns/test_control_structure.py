"""Growth, connection formation and pruning of an "emns" policy inside its capacity network: growth
leaves the actions unchanged, absent neurons change nothing, formation and pruning act only on live
synapses, and a structured search resumes exactly and runs the same on worker processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium")

from gradfree.emns import (  # noqa: E402
    PolicySearch,
    StructureParams,
    network,  # noqa: E402
)
from gradfree.emns.control import structure  # noqa: E402
from gradfree.emns.control.policies import PolicySpec  # noqa: E402
from gradfree.emns.engine import EngineState  # noqa: E402

CAP = [4, 6, 5, 2]  # inputs, two hidden layers of capacity 6 and 5, outputs
EVERYTHING = StructureParams(growth=True, connect=True, prune=True, interval=32, growth_patience=64,
                             max_hidden=6)
SMALL = dict(policy="emns", hidden=(2,), max_env_steps=20_000, popsize=8, random_state=1, progress=False)


def _state(rng: torch.Generator) -> EngineState:
    D = network.n_params(CAP)
    theta = network.init_network(CAP, 1, rng, torch.device("cpu"))[0][0].to(torch.float64)
    theta += 0.3 * torch.randn(D, generator=rng, dtype=torch.float64)  # a non-trivial centre
    z = torch.zeros(D, dtype=torch.float64)
    return EngineState(sizes=[D], theta=theta, resistances=z.clone(), r_floor=z.clone(),
                       m=torch.ones(D, dtype=torch.float64), v=torch.ones(D, dtype=torch.float64),
                       mutation_rate=0.1)


def _act(st: EngineState, s: structure.PolicyStructure, obs: torch.Tensor) -> torch.Tensor:
    spec = PolicySpec("emns", CAP[0], CAP[-1], tuple(CAP[1:-1]))
    return spec.act(st.theta.expand(len(obs), -1), obs, s.masks)


def test_initial_masks_connect_exactly_the_live_neurons():
    s = structure.PolicyStructure.initial(CAP, [2, 3])
    masks = network.unpack_masks(s.masks, CAP)
    assert [int(m.sum()) for m in masks] == [2 * 4, 3 * 2, 2 * 3]
    assert s.sizes(CAP) == [4, 2, 3, 2]


def test_growth_leaves_the_actions_unchanged_and_adds_one_live_neuron():
    rng = torch.Generator().manual_seed(0)
    st, s = _state(rng), structure.PolicyStructure.initial(CAP, [2, 3])
    obs = torch.randn(50, 4, generator=rng, dtype=torch.float64)
    before = _act(st, s, obs)
    with torch.inference_mode():
        for layer in (1, 2, 1):
            structure.grow(s, st, CAP, layer, rng)
    assert s.widths == [4, 4]
    torch.testing.assert_close(_act(st, s, obs), before, rtol=0, atol=0)
    # the grown neurons' Adam moments restart at zero, their incoming synapses are present
    W0 = network.unpack_masks(s.masks, CAP)[0]
    assert W0[2:4].sum() == 2 * 4 and W0[4:].sum() == 0
    m_W = network.unpack(st.m[None], CAP)[0][0][0]
    assert bool((m_W[2:4] == 0).all()) and bool((m_W[:2] == 1).all())


def test_absent_neurons_and_dormant_synapses_change_no_action():
    rng = torch.Generator().manual_seed(1)
    st, s = _state(rng), structure.PolicyStructure.initial(CAP, [2, 3])
    obs = torch.randn(30, 4, generator=rng, dtype=torch.float64)
    before = _act(st, s, obs)
    dead = torch.ones(network.n_params(CAP), dtype=torch.bool)  # every parameter that touches no live path
    live = s.sizes(CAP)
    for l, (W, B, G, A, H) in enumerate(network.unpack(dead[None], CAP)):
        mk = network.unpack_masks(s.masks, CAP)[l] > 0
        for t in (W, B, G):
            t[0][mk] = False
        if l < len(CAP) - 2:
            A[0, :live[l + 1]], H[0, :live[l + 1]] = False, False
        else:
            A[0], H[0] = False, False
    st.theta[dead] += torch.randn(int(dead.sum()), generator=rng, dtype=torch.float64) * 3
    torch.testing.assert_close(_act(st, s, obs), before, rtol=0, atol=0)


def test_connection_formation_only_between_live_neurons_and_pruning_of_weak_synapses():
    rng = torch.Generator().manual_seed(2)
    st, s = _state(rng), structure.PolicyStructure.initial(CAP, [2, 3])
    with torch.inference_mode():
        structure.grow(s, st, CAP, 1, rng)  # neuron 2 of layer 1: its synapses to layer 2 dormant
        states = torch.randn(400, 4, generator=rng, dtype=torch.float64).numpy()
        formed = structure.connect(s, st, CAP, lambda: states, rate=1.0, rng=rng)
    assert formed >= 1  # the most informative dormant synapse forms with probability 1
    allowed = structure.PolicyStructure.initial(CAP, s.widths).masks
    assert bool((s.masks <= allowed).all())  # nothing outside the live network
    # pruning: zero the weights of two present synapses; they go dormant after `patience` checks
    W = network.unpack(st.theta[None], CAP)[0][0][0]
    W[0, 0], W[1, 3] = 0.0, 0.0
    n = [structure.prune(s, st, CAP, threshold=1e-3, patience=2) for _ in range(2)]
    assert n == [0, 2]
    first = network.unpack_masks(s.masks, CAP)[0]
    assert first[0, 0] == 0 and first[1, 3] == 0


def test_a_stagnating_search_grows_and_every_event_is_logged():
    ps = PolicySearch("LunarLander-v3", structure=EVERYTHING, **SMALL).fit()
    kinds = {e[1] for e in ps.structure_.events}
    assert structure.GROW in kinds
    assert ps.layer_sizes_[1] > 2 and ps.layer_sizes_[1] <= 6
    assert ps.n_synapses_ == int(ps.structure_.masks.sum())
    assert ps.centre_.shape == (network.n_params([8, 6, 4]),)
    assert np.isfinite(ps.evaluate(episodes=2, seed=7))


def test_structured_search_resumes_exactly(tmp_path):
    whole = PolicySearch("LunarLander-v3", structure=EVERYTHING, **SMALL).fit()
    part = PolicySearch("LunarLander-v3", structure=EVERYTHING, **SMALL).fit(n_generations=20)
    part.save(tmp_path / "ps")
    back = PolicySearch.load(tmp_path / "ps").set_params(warm_start=True).fit()
    assert whole.structure_.events and back.structure_.events == whole.structure_.events
    np.testing.assert_array_equal(back.centre_, whole.centre_)
    assert back.history_["return_mean"] == whole.history_["return_mean"]


def test_worker_processes_match_in_process_across_structural_changes():
    local = PolicySearch("LunarLander-v3", structure=EVERYTHING, **SMALL).fit()
    far = PolicySearch("LunarLander-v3", structure=EVERYTHING, n_jobs=2, **SMALL).fit()
    assert local.structure_.events and far.structure_.events == local.structure_.events
    np.testing.assert_array_equal(far.centre_, local.centre_)
    assert far.history_["return_mean"] == local.history_["return_mean"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(policy="linear", structure=EVERYTHING), "needs policy='emns'"),
    (dict(policy="emns", hidden=(8,), structure=EVERYTHING), "max_hidden"),
    (dict(policy="emns", structure="grow"), "StructureParams"),
])
def test_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PolicySearch("CartPole-v1", max_env_steps=100, progress=False, **kwargs).fit()


def test_a_search_without_structure_saves_no_structure(tmp_path):
    ps = PolicySearch("CartPole-v1", policy="emns", hidden=(2,), max_env_steps=500, popsize=4,
                      random_state=0, progress=False).fit()
    assert not hasattr(ps, "structure_") and ps.layer_sizes_ == [4, 2, 2]
    ps.save(tmp_path / "plain")
    assert not hasattr(PolicySearch.load(tmp_path / "plain"), "structure_")
