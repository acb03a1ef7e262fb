"""EMNS building blocks: the mutation rule, selection strategies, seeds, backends, structure (sec. 2, 6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from gradfree.emns import make_params
from gradfree.emns.evolution import (
    EvoState,
    generation_seeds,
    new_history,
    recombine_from_seeds,
    regenerate,
    step_population,
    step_single,
)
from gradfree.emns.fast import HAVE_NUMBA, fitness_numba
from gradfree.emns.mutation import adapt_rate_preset, candidate_noise, draw_seeds, mutate, population_noise
from gradfree.emns.network import fitness, forward, init_network, n_params, unpack, unpack_masks
from gradfree.emns.structure import form_connections, grow, mutual_information, prune

SIZES = [3, 8, 5, 1]
CPU = torch.device("cpu")


def _state(sizes=SIZES, P=1, seed=0, mu=0.1):
    g = torch.Generator().manual_seed(seed)
    v, r, m = init_network(list(sizes), P, g, CPU)
    v = v + 0.3 * torch.randn(v.shape, generator=g)  # away from the symmetric start
    return EvoState(sizes=list(sizes), values=v, resistances=r, masks=m,
                    fitness=torch.full((P,), -math.inf), mutation_rate=mu,
                    prune_counts=torch.zeros_like(m), history=new_history()), g


def _data(seed=0, n=64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g)
    return X, 0.5 * torch.tanh(torch.sin(X[:, :1]) + 0.5 * torch.cos(X[:, 1:2]))


def test_mutation_noise_std_is_mu_times_one_minus_r_per_parameter():
    """Sec. 2.1-2.2: over many seeds the change of parameter i has std mu * (1 - r_i) (and * factor for r)."""
    n, K, mu = 40, 3000, 0.05
    r = torch.linspace(0.3, 0.7, n)  # away from the bounds, so clipping never acts
    v = torch.randn(n)
    for preset in ("paper", "reference"):
        p = make_params(preset, mutation_rate=mu)
        dv = torch.stack([regenerate(v, r, s, mu, p)[0] - v for s in range(K)])  # (K, n)
        dr = torch.stack([regenerate(v, r, s, mu, p)[1] - r for s in range(K)])
        expect = mu * (1 - r)
        rel = 4.0 / math.sqrt(2 * K)  # ~4 standard errors of a std estimate
        assert torch.allclose(dv.std(0), expect, rtol=rel), (dv.std(0) / expect).aminmax()
        assert torch.allclose(dr.std(0), expect * p.resistance_factor, rtol=rel)
        assert dv.mean(0).abs().max() < 4 * expect.max() / math.sqrt(K)


@pytest.mark.parametrize("preset", ["paper", "reference"])
def test_resistances_and_values_stay_in_bounds(preset):
    p = make_params(preset, mutation_rate=5.0)  # huge steps: every bound is hit
    st, g = _state()
    v, r = st.values, st.resistances
    for s in range(50):
        v, r = mutate(v, r, candidate_noise(s, v.shape[1]).unsqueeze(1), 5.0, p)
        assert float(r.min()) >= p.r_min and float(r.max()) <= p.r_max
        assert float(v.abs().max()) <= p.value_clip
    if preset == "paper":
        assert float(r.max()) == p.r_max  # the bound was hit and held
    # r = 1 is absorbing under the paper's rule (the step mu * (1 - r) vanishes there)


def test_adaptive_rate_both_parameter_sets():
    paper, ref = make_params("paper"), make_params("reference")
    assert adapt_rate_preset(0.5, 0.1, paper) == pytest.approx(0.5 * 0.995)
    assert adapt_rate_preset(0.5, -0.1, paper) == pytest.approx(0.5 * 1.05)
    assert adapt_rate_preset(0.5, 0.0, paper) == pytest.approx(0.5 * 0.999)
    assert adapt_rate_preset(0.05, 0.0005, ref) == pytest.approx(0.05 * 0.999)  # inside the dead band
    assert adapt_rate_preset(0.05, 0.01, ref) == pytest.approx(0.05 * 0.98)
    assert adapt_rate_preset(0.1, -0.01, ref) == 0.1  # clipped to mu_max
    assert adapt_rate_preset(0.001, 0.01, ref) == 0.001  # clipped to mu_min


def _always(values):
    """An evaluator whose every new candidate is worse than everything before."""
    calls = {"n": 0, "shapes": []}

    def evaluate(v, m, s):
        calls["n"] += 1
        calls["shapes"].append(tuple(v.shape))
        return -torch.arange(1, v.shape[0] + 1, dtype=torch.float32) - calls["n"]

    return evaluate, calls


def test_none_accepts_every_mutation():
    st, g = _state()
    p = make_params("paper", mutation_rate=0.1)
    evaluate, _ = _always(st.values)
    st.fitness = torch.zeros(1)
    for _ in range(20):
        before_v, before_r, mu = st.values.clone(), st.resistances.clone(), st.mutation_rate
        seed = draw_seeds(_clone(g), 1)[0]
        kept = step_single(st, evaluate, p, g, selection="none", revert_prob=0.7, rate_rule="preset",
                           damping=3)
        exp_v, exp_r = regenerate(before_v[0], before_r[0], seed, mu, p)
        assert kept == 1.0
        assert torch.equal(st.values[0], exp_v) and torch.equal(st.resistances[0], exp_r)


def _clone(g: torch.Generator) -> torch.Generator:
    c = torch.Generator(device=g.device)
    c.set_state(g.get_state())
    return c


def test_revert_with_probability_one_never_keeps_a_worse_state():
    X, Y = _data()
    st, g = _state(mu=0.3)
    p = make_params("paper", mutation_rate=0.3)
    ev = lambda v, m, s: fitness(v, m, s, X, Y)  # noqa: E731
    st.fitness = ev(st.values, st.masks, st.sizes)
    trace = [float(st.fitness[0])]
    for _ in range(200):
        step_single(st, ev, p, g, selection="revert", revert_prob=1.0, rate_rule="preset", damping=3)
        trace.append(float(st.fitness[0]))
        assert torch.equal(st.fitness, ev(st.values, st.masks, st.sizes))  # fitness belongs to the state
    assert all(b >= a for a, b in zip(trace, trace[1:]))
    assert trace[-1] > trace[0]


@pytest.mark.parametrize("selection,M", [("plus", 1), ("plus", 3), ("comma", 3)])
def test_population_is_one_batched_pass_and_candidates_regenerate_from_seeds(selection, M):
    X, Y = _data()
    st, g = _state(P=M)
    p = make_params("paper", mutation_rate=0.1)
    calls = []

    def ev(v, m, s):
        calls.append(v.clone())
        return fitness(v, m, s, X, Y)

    st.fitness = fitness(st.values, st.masks, st.sizes, X, Y)
    for _ in range(5):
        parents_v, parents_r, mu = st.values.clone(), st.resistances.clone(), st.mutation_rate
        rng0 = _clone(g)
        best_before = float(st.fitness.max())
        calls.clear()
        step_population(st, ev, p, g, selection=selection, lam=6, rate_rule="success", damping=3)
        assert len(calls) == 1 and calls[0].shape == (6, st.values.shape[1])  # all lambda in one pass
        seeds = draw_seeds(rng0, 6)
        for c, s in enumerate(seeds):  # what a worker rebuilds from (seed, parent index, mu)
            v, _ = regenerate(parents_v[c % M], parents_r[c % M], s, mu, p)
            assert torch.equal(v, calls[0][c])
        if selection == "plus":
            assert float(st.fitness.max()) >= best_before  # elitist
        assert torch.all(st.fitness[:-1] >= st.fitness[1:])


def test_population_noise_matches_candidate_noise():
    seeds = [3, 99, 2**61]
    pn = population_noise(seeds, 17)
    for i, s in enumerate(seeds):
        assert torch.equal(pn[:, i], candidate_noise(s, 17))


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_numba_kernel_agrees_with_torch_forward():
    X, Y = _data(n=50)
    st, _ = _state(P=4)
    st.masks[::3] = 0.0
    ft = fitness(st.values, st.masks, st.sizes, X, Y)
    fn = fitness_numba(st.values, st.masks, st.sizes, np.ascontiguousarray(X.numpy().T),
                       np.ascontiguousarray(Y.numpy().T))
    torch.testing.assert_close(fn, ft, rtol=1e-4, atol=1e-6)


def test_growth_keeps_the_output_and_widens_the_next_layer():
    X, _ = _data()
    st, g = _state(P=3)
    before = forward(st.values, st.masks, st.sizes, X)
    n_before = n_params(st.sizes)
    grow(st, 1, g, r_init=0.1)
    assert st.sizes == [3, 9, 5, 1]
    assert st.values.shape == (3, n_params(st.sizes)) and st.values.shape[1] > n_before
    assert torch.equal(forward(st.values, st.masks, st.sizes, X), before)  # unchanged at growth
    W2 = unpack(st.values, st.sizes)[1][0]
    assert W2.shape == (3, 5, 9)  # next layer widened
    m1, m2 = unpack_masks(st.masks, st.sizes)[:2]
    assert torch.all(m1[-1] == 1) and torch.all(m2[:, -1] == 0)  # input active, outputs dormant
    r1 = unpack(st.resistances, st.sizes)[0]
    assert all(torch.all(t[:, -1] == 0.1) for t in r1)  # r_init for the new neuron
    grow(st, 2, g, r_init=0.1)
    assert st.sizes == [3, 9, 6, 1]
    assert torch.equal(forward(st.values, st.masks, st.sizes, X), before)
    with pytest.raises(ValueError):
        grow(st, 3, g, r_init=0.1)


def test_mutual_information_matches_an_independent_estimate():
    g = torch.Generator().manual_seed(1)
    pre = torch.randn(400, 3, generator=g)
    post = torch.stack([pre[:, 0] ** 2, torch.randn(400, generator=g)], dim=1)
    mi = mutual_information(pre, post, bins=8)  # (2, 3)

    def codes(a):
        return np.minimum(np.argsort(np.argsort(a)) * 8 // len(a), 7)

    for j in range(2):
        for i in range(3):
            ref = mutual_info_score(codes(pre[:, i].numpy()), codes(post[:, j].numpy()))
            assert float(mi[j, i]) == pytest.approx(ref, abs=1e-4)
    assert mi[0, 0] > 5 * mi[0, 1] and mi[0, 0] > 5 * mi[1, 0]


def test_connection_formation_follows_mutual_information_and_pruning_cuts_zero_weights():
    X, Y = _data(n=200)
    st, g = _state()
    st.fitness = fitness(st.values, st.masks, st.sizes, X, Y)
    st.masks[1::2] = 0.0  # half the synapses dormant
    dormant = st.masks == 0
    n = form_connections(st, X, g, rate=1.0, r_init=0.1)
    assert n >= 1 and int((st.masks[dormant] == 1).sum()) == n  # formed among the dormant ones only
    assert int(st.masks.sum()) == int((~dormant).sum()) + n
    assert form_connections(st, X, g, rate=0.0, r_init=0.1) == 0  # probability scales with the rate
    # pruning: set layer-1 weights of neuron 0 to zero; after `patience` checks they are cut
    st.masks[:] = 1.0
    W = unpack(st.values, st.sizes)[0][0]
    W[:, 0, :] = 0.0
    cut = [prune(st, threshold=1e-3, patience=3) for _ in range(3)]
    assert cut[:2] == [0, 0] and cut[2] >= 3
    assert torch.all(unpack_masks(st.masks, st.sizes)[0][0] == 0)


def test_metrics_agree_with_independent_computations():
    from gradfree.emns.metrics import (
        adaptation_speed,
        communities,
        modularity,
        modularity_q,
        resistance_entropy,
        stability_index,
        weight_graph,
    )
    nx = pytest.importorskip("networkx")
    # two cliques joined by one weak edge: the partition must split them, Q as networkx computes it
    A = np.zeros((8, 8))
    A[:4, :4] = 1.0
    A[4:, 4:] = 1.0
    np.fill_diagonal(A, 0)
    A[3, 4] = A[4, 3] = 0.1
    labels = communities(A)
    assert len(set(labels[:4])) == 1 and len(set(labels[4:])) == 1 and labels[0] != labels[4]
    G = nx.from_numpy_array(A)
    ref = nx.community.modularity(G, [set(np.flatnonzero(labels == c)) for c in np.unique(labels)])
    assert modularity_q(A, labels) == pytest.approx(ref, abs=1e-12)
    st, _ = _state()
    Aw = weight_graph(st.values[0], st.masks, st.sizes)
    assert Aw.shape == (17, 17) and np.allclose(Aw, Aw.T)
    assert -0.5 <= modularity(st.values[0], st.masks, st.sizes) < 1
    assert resistance_entropy(torch.full((100,), 0.33)) == 0.0
    assert resistance_entropy(torch.linspace(0, 0.999, 2000)) == pytest.approx(np.log2(20), abs=1e-3)
    assert adaptation_speed([1, 2, 3], [-0.5, -0.1, -0.01], 0.1) == 2
    assert adaptation_speed([1, 2], [-0.5, -0.4], 0.1) is None
    assert stability_index([1.0, 1.0, 3.0], window=2) == pytest.approx(1.0)


@pytest.mark.parametrize("opts", [dict(self_adaptive=True), dict(mirrored=True, resistance_rate=0.2)])
def test_recombination_parent_rebuilds_from_ranked_seeds(opts):
    X, Y = _data()
    st, g = _state()
    p = make_params("paper", mutation_rate=0.1, **opts)
    seen = []

    def ev(v, m, s):
        f = fitness(v, m, s, X, Y)
        seen.append(f)
        return f

    st.fitness = ev(st.values, st.masks, st.sizes)
    for _ in range(3):
        pv, pr, mu, rng0 = st.values[0].clone(), st.resistances[0].clone(), st.mutation_rate, _clone(g)
        seen.clear()
        step_population(st, ev, p, g, selection="comma", lam=8, rate_rule="success", damping=1.0, recombine=3)
        seeds = generation_seeds(rng0, 8, p)
        best = torch.sort(seen[0], descending=True, stable=True).indices[:3].tolist()
        v, r = recombine_from_seeds(pv, pr, [seeds[i] for i in best], mu, p, best)
        torch.testing.assert_close(st.values[0], v, rtol=0, atol=1e-6)
        torch.testing.assert_close(st.resistances[0], r, rtol=0, atol=1e-6)
        assert st.values.shape[0] == 1 and len(seen) == 2  # candidates in one pass + the new parent


@pytest.mark.parametrize("kw", [dict(selection="plus", M=1), dict(selection="plus", M=3),
                                dict(selection="comma", M=3), dict(selection="comma", M=1, recombine=3),
                                dict(selection="comma", M=1, recombine=3, mirrored=True),
                                dict(selection="comma", M=1, recombine=3, mirrored=True, rule="csa",
                                     resistance_rate=0.2)])
def test_generation_from_seeds_and_fitness_only_matches_in_process(kw):
    """What a distributed worker does: rebuild candidates from seeds, share only fitness values."""
    from gradfree.emns.evolution import apply_generation, candidates, generation_seeds, update_elite

    X, Y = _data()
    ev = lambda v, m, s: fitness(v, m, s, X, Y)  # noqa: E731
    p = make_params("paper", mutation_rate=0.1, self_adaptive=True, mirrored=kw.get("mirrored", False),
                    resistance_rate=kw.get("resistance_rate", 0.0))
    M, recombine, rule = kw["M"], kw.get("recombine", 0), kw.get("rule", "success")
    a, g = _state(P=M)
    a.fitness = ev(a.values, a.masks, a.sizes)
    update_elite(a, reset=True)
    b = EvoState(**{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in vars(a).items()})
    gb = _clone(g)
    for _ in range(4):
        step_population(a, ev, p, g, selection=kw["selection"], lam=6, rate_rule=rule, damping=1.0,
                        recombine=recombine)
        seeds = generation_seeds(gb, 6, p)
        halves = [ev(candidates(b, seeds, p, idx)[0], b.masks, b.sizes) for idx in ([0, 1, 2], [3, 4, 5])]
        apply_generation(b, seeds, torch.cat(halves), p, ev, selection=kw["selection"], rate_rule=rule,
                         damping=1.0, recombine=recombine)
        for name in ("values", "resistances", "fitness", "elite_values"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
        assert (a.path is None) == (rule != "csa") and (a.path is None or torch.equal(a.path, b.path))
        assert a.mutation_rate == b.mutation_rate and a.n_evaluations == b.n_evaluations


def test_mirrored_pairs_share_a_seed_and_mirror_the_value_step():
    """Mirrored sampling: candidates 2k and 2k+1 share a seed (so their resistances) and step in
    opposite directions from the same parent."""
    from gradfree.emns.evolution import candidates, generation_seeds

    p = make_params("paper", mutation_rate=0.1, mirrored=True)
    st, g = _state()
    seeds = generation_seeds(g, 7, p)
    assert seeds[0::2][:3] == seeds[1::2] and len(set(seeds)) == 4
    v, r = candidates(st, seeds, p)
    assert torch.equal(r[0], r[1]) and torch.equal(r[4], r[5])
    step = v - st.values
    assert torch.allclose(step[0], -step[1], atol=1e-6) and not torch.allclose(step[0], step[2])
    assert torch.equal(candidates(st, seeds, p, [5])[0][0], v[5])  # any subset rebuilds the same rows
    assert torch.equal(regenerate(st.values[0], st.resistances[0], seeds[5], 0.1, p, index=5)[0], v[5])


def test_resistance_rate_freezes_random_resistance_mutation_and_adapts_from_the_selected_noise():
    """Option resistance_rate: mutate leaves r alone (value noise still mu * (1 - r)); after selection
    the step scale 1 - r follows sep-CMA's diagonal rule, checked against NumPy."""
    from gradfree.emns.evolution import adapt_resistances, recombination_weights

    p = make_params("paper", mutation_rate=0.1, resistance_rate=0.3, r_max=0.95)
    st, _ = _state()
    noise = candidate_noise(3, st.values.shape[1]).unsqueeze(1)
    v, r = mutate(st.values, st.resistances, noise, 0.1, p)
    assert torch.equal(r, st.resistances)
    torch.testing.assert_close(v - st.values, noise[0] * 0.1 * (1 - st.resistances))
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4, 40, generator=g)
    z[:, :10] *= 3.0  # selected steps larger than expected there: the scale must grow (r falls)
    z[:, 10:20] *= 0.1  # smaller: the scale must shrink (r rises)
    r0 = torch.full((1, 40), 0.5)
    w = recombination_weights(4)[:, None]
    r1 = adapt_resistances(r0, z, w, p)
    zz = (w.numpy() * z.numpy() ** 2).sum(0)
    expect = np.clip(1 - 0.5 * np.exp(0.15 * (zz - 1)), 0.0, 0.95)
    np.testing.assert_allclose(r1[0].numpy(), expect, rtol=1e-5, atol=1e-6)
    assert (r1[0, :10] < 0.5).all() and (r1[0, 10:20] > 0.5).all()
    assert float(r1.min()) >= 0.0 and float(r1.max()) <= 0.95


def test_csa_grows_mu_on_a_straight_path_and_shrinks_it_on_a_random_one():
    """rate_rule="csa": consistent selected steps lengthen the evolution path (mu grows), steps that
    cancel shorten it (mu shrinks); one update agrees with the tutorial's eq. 31-32 written in NumPy."""
    from gradfree.emns.evolution import adapt_rate_csa, recombination_weights

    p = make_params("paper")
    w = recombination_weights(8)[:, None]
    n = 300
    straight, _ = _state()
    straight.mutation_rate = 0.1
    d = torch.ones(n)  # the weighted mean of 8 selected steps that all point the same way
    for _ in range(50):
        adapt_rate_csa(straight, d, w, p)
    assert straight.mutation_rate > 0.1
    zigzag, _ = _state()
    zigzag.mutation_rate = 0.1
    for t in range(50):
        adapt_rate_csa(zigzag, d * (-1) ** t * 0.1, w, p)
    assert zigzag.mutation_rate < 0.1
    # one step against NumPy
    one, _ = _state()
    one.mutation_rate = 0.2
    zw = torch.randn(n, generator=torch.Generator().manual_seed(2))
    adapt_rate_csa(one, zw, w, p)
    mueff = 1 / float((w * w).sum())
    cs = (mueff + 2) / (n + mueff + 5)
    ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    ps = math.sqrt(cs * (2 - cs) * mueff) * zw.numpy()
    chi = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
    expect = 0.2 * math.exp(cs / ds * (np.linalg.norm(ps) / chi - 1))
    assert one.mutation_rate == pytest.approx(expect, rel=1e-5)
    np.testing.assert_allclose(one.path.numpy(), ps, rtol=1e-5)
