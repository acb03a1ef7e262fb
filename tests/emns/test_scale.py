"""EMNS at image scale (gradfree.emns.scale, ``EMNSMLPClassifier()`` = SCALE): batched evaluation agrees with
an independent computation, the preset learns raw digits, the paper's configuration is still reachable,
persistence and the continual shield keep their invariants."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from gradfree.core.checks import (
    check_deterministic,
    check_no_autograd,
    check_save_load_roundtrip,
    run_sklearn_checks,
)
from gradfree.emns import (
    IMAGES_WEIGHTS,
    PAPER,
    SCALE,
    TUNED,
    EMNSClassifier,
    EMNSMLPClassifier,
    EMNSMLPRegressor,
    EMNSRegressor,
)
from gradfree.emns import scale as S
from gradfree.emns.estimators import _EMNSBase

from .plain_mlp import plain_mlp

SMALL = dict(max_evaluations=640, population_size=16, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    perm = np.random.RandomState(0).permutation(len(X))
    return X[perm][:1400], y[perm][:1400], X[perm][1400:], y[perm][1400:]


def test_mirrored_batched_logits_equal_candidate_by_candidate_forward():
    sizes, g = [7, 5, 4, 3], torch.Generator().manual_seed(0)
    theta = torch.randn(S.n_params(sizes), generator=g)
    delta = 0.1 * torch.randn(6, S.n_params(sizes), generator=g)
    X = torch.randn(11, 7, generator=g)
    got = S.population_logits(theta, delta, sizes, X)
    cands = torch.cat([theta + delta, theta - delta])
    want = []
    for c in cands:  # plain per-candidate MLP, written out independently
        want.append(plain_mlp(c, sizes, X))
    torch.testing.assert_close(got, torch.stack(want), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(S.forward(cands, sizes, X), torch.stack(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rank", [1, 3])
def test_low_rank_mutation_equals_its_expanded_full_noise(rank):
    """noise_rank: the shared-product evaluation and the unexpanded update agree with the per-parameter
    noise V^T U / sqrt(r) written out in full; that noise has uncorrelated unit-variance entries."""
    sizes, g = [7, 5, 4, 3], torch.Generator().manual_seed(0)
    n, L = S.n_params(sizes), S.noise_length(sizes, rank)
    assert L == n - 5 * 7 + rank * (5 + 7)
    theta, eps = torch.randn(n, generator=g), torch.randn(6, L, generator=g)
    full = S.expand_noise(eps, sizes, rank)  # (6, n)
    U, V = eps[:, :rank * 7].view(6, rank, 7), eps[:, rank * 7:rank * 12].view(6, rank, 5)
    torch.testing.assert_close(full[:, :35].view(6, 5, 7), torch.einsum("krh,kri->khi", V, U) / rank ** 0.5)
    torch.testing.assert_close(full[:, 35:], eps[:, rank * 12:])
    sigma = torch.full((n,), 0.07)
    X = torch.randn(11, 7, generator=g)
    got = S.population_logits(theta, eps * S._compact_sigma(sigma, sizes, rank), sizes, X, rank)
    torch.testing.assert_close(got, S.population_logits(theta, full * sigma, sizes, X), rtol=1e-5, atol=1e-5)
    c = torch.randn(6, generator=g)
    torch.testing.assert_close(S.combine_noise(c, eps, sizes, rank), c @ full, rtol=1e-5, atol=1e-5)
    big = S.expand_noise(torch.randn(20_000, L, generator=g), sizes, rank)[:, :35]
    torch.testing.assert_close(big.var(0).mean(), torch.tensor(1.0), atol=0.03, rtol=0)
    assert torch.corrcoef(big[:, :6].T).triu(1).abs().max() < 0.05


def test_low_rank_mutation_learns_and_refuses_adapting_resistances(digits):
    Xtr, ytr, Xte, yte = digits
    m = EMNSMLPClassifier(noise_rank=1, max_evaluations=6400, random_state=0).fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.85  # chance 0.10
    for bad in (dict(resistance_rate=0.1), dict(shield=0.5)):
        with pytest.raises(ValueError, match="noise_rank"):
            EMNSMLPClassifier(noise_rank=2, **bad).fit(Xtr[:50], ytr[:50])


def test_fitness_matches_torch_losses_and_class_mask_reindexes():
    g = torch.Generator().manual_seed(1)
    out, y = torch.randn(4, 9, 5, generator=g), torch.randint(0, 5, (9,), generator=g)
    ce = torch.stack([torch.nn.functional.cross_entropy(o, y) for o in out])
    torch.testing.assert_close(S.fitness_of(out, y, "cross_entropy"), -ce)
    mse = ((out - torch.nn.functional.one_hot(y, 5)) ** 2).mean((1, 2))
    torch.testing.assert_close(S.fitness_of(out, y, "mse"), -mse)
    mask = torch.tensor([False, True, False, True, False])
    y2 = torch.tensor([1, 3, 3, 1])
    ce2 = torch.stack([torch.nn.functional.cross_entropy(o[:4][:, [1, 3]], torch.tensor([0, 1, 1, 0]))
                       for o in out])
    torch.testing.assert_close(S.fitness_of(out[:, :4], y2, "cross_entropy", mask), -ce2)
    r = S.centred_ranks(torch.tensor([3.0, -1.0, 7.0, 0.5]))
    torch.testing.assert_close(r, torch.tensor([1 / 6, -0.5, 0.5, -1 / 6]))


def test_default_classifier_learns_raw_digits_well_above_chance(digits):
    Xtr, ytr, Xte, yte = digits
    m = EMNSMLPClassifier(max_evaluations=6400, random_state=0).fit(Xtr, ytr)  # 100 generations
    assert m.score(Xte, yte) > 0.85  # chance 0.10; the full default budget reaches ~0.97
    assert m.n_evaluations_ == 6400 and m.layer_sizes_ == [64, 32, 10]
    p = m.predict_proba(Xte[:5])
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    assert (m.classes_[p.argmax(1)] == m.predict(Xte[:5])).all()


def test_images_weights_preset_learns_digits(digits):
    """IMAGES_WEIGHTS (the weight-mutation Fashion-MNIST preset) is SCALE with a wider layer and a slower
    schedule."""
    Xtr, ytr, Xte, yte = digits
    assert {k: IMAGES_WEIGHTS[k] for k in SCALE if k not in ("hidden_layer_sizes", "population_size",
                                                      "learning_rate", "max_evaluations")} \
        == {k: SCALE[k] for k in SCALE if k not in ("hidden_layer_sizes", "population_size", "learning_rate",
                                                     "max_evaluations")}
    m = EMNSMLPClassifier(**{**IMAGES_WEIGHTS, "max_evaluations": 12_800}, random_state=0).fit(Xtr, ytr)
    assert m.layer_sizes_ == [64, 64, 10] and m.score(Xte, yte) > 0.85  # chance 0.10


def test_recombine_centre_and_mse_fitness_also_learn(digits):
    Xtr, ytr, Xte, yte = digits
    m = EMNSMLPClassifier(centre="recombine", max_evaluations=6400, random_state=1).fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.8
    m = EMNSMLPClassifier(fitness="mse", learning_rate=0.03, max_evaluations=6400, random_state=1)
    m.fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.5


def test_paper_preset_is_the_papers_configuration_and_scale_the_default():
    base = {k: v.default for k, v in inspect.signature(_EMNSBase.__init__).parameters.items() if k != "self"}
    paper = EMNSClassifier.paper().get_params()
    assert paper == PAPER == EMNSRegressor.paper().get_params()
    assert EMNSRegressor().get_params() == base == EMNSClassifier().get_params()
    assert {k: base[k] for k in TUNED} == TUNED  # the paper network's defaults are TUNED
    # the paper's rule with every option beyond it off; the rest (network, budget, ...) as the defaults
    off = dict(selection="none", constants="paper", recombination=0, rate_rule="preset", resistance_rate=0.0,
               mutation_rate=None, mu_min=None, r_max=None, keep_best=False, mirrored=False,
               self_adaptive=False, restart_patience=0, structure=None, input_scaling=None)
    assert {k: PAPER[k] for k in off} == off
    assert {k: v for k, v in PAPER.items() if k not in off} == {k: v for k, v in base.items() if k not in off}
    default = EMNSMLPClassifier().get_params()
    scaled = EMNSMLPClassifier.scale().get_params()
    assert {k: default[k] for k in SCALE} == SCALE == {k: scaled[k] for k in SCALE}
    assert EMNSClassifier.paper(max_evaluations=7).max_evaluations == 7
    with pytest.raises(TypeError):  # the paper's network has no fitness option: nothing silently ignored
        EMNSClassifier.paper(fitness="cross_entropy")


def test_each_estimator_takes_only_what_it_uses():
    for cls in (EMNSClassifier, EMNSRegressor, EMNSMLPClassifier, EMNSMLPRegressor):
        assert len(cls._get_param_names()) <= 25, cls
    assert "fitness" not in EMNSMLPRegressor._get_param_names()  # regression fitness is -MSE
    assert "class_mask" not in EMNSMLPRegressor._get_param_names()


def test_no_autograd_deterministic_and_exact_resume(tmp_path, digits):
    Xtr, ytr = digits[0][:300], digits[1][:300]
    check_no_autograd(EMNSMLPClassifier(**SMALL), Xtr, ytr)
    check_deterministic(EMNSMLPClassifier(**SMALL), Xtr, ytr)
    full = EMNSMLPClassifier(**{**SMALL, "max_evaluations": 1280}).fit(Xtr, ytr)
    half = EMNSMLPClassifier(**SMALL).fit(Xtr, ytr)
    loaded = check_save_load_roundtrip(half, Xtr, tmp_path / "half")
    loaded.partial_fit(Xtr, ytr)
    for name in ("theta", "resistances", "m", "v"):
        assert torch.equal(getattr(full.state_, name), getattr(loaded.state_, name)), name
    assert full.state_.history == loaded.state_.history


def test_regressor_on_the_mlp_network_fits_a_smooth_function():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1])
    m = EMNSMLPRegressor(hidden_layer_sizes=(16,), population_size=32, max_evaluations=6400,
                         batch_size=128, random_state=0).fit(X, y)
    assert m.score(X, y) > 0.5  # R^2; the mean predictor has 0


def test_shield_floors_resistances_where_the_task_moved_the_parameters(digits):
    Xtr, ytr = digits[0], digits[1]
    t1, t2 = np.isin(ytr, [0, 1]), np.isin(ytr, [2, 3])
    m = EMNSMLPClassifier.continual(shield=0.9, max_evaluations=640, population_size=16, random_state=0)
    m.partial_fit(Xtr[t1], ytr[t1], classes=np.arange(10))
    st = m.state_
    floor = st.r_floor.clone()
    assert float(floor.max()) == pytest.approx(0.9) and float(floor.min()) >= 0.0
    assert torch.all(st.resistances >= floor)
    theta1 = st.theta.clone()
    m.partial_fit(Xtr[t2], ytr[t2])
    assert torch.all(m.state_.r_floor >= floor) and torch.all(m.state_.resistances >= m.state_.r_floor)
    # per unit of step allowed, the shielded parameters moved less on task 2
    move = (m.state_.theta - theta1).abs()
    hi, lo = floor > 0.5, floor < 0.1
    assert hi.any() and lo.any() and float(move[hi].mean()) < float(move[lo].mean())


def test_sklearn_checks_default_classifier():
    why = "float32 GEMM rounds differently for different batch sizes (scores differ by ~1e-7)"
    run_sklearn_checks(EMNSMLPClassifier(**SMALL), expected_failed_checks={
        "check_methods_subset_invariance": why})
