"""Activity mutation (gradfree.emns.activity, ``mutate="activities"``): the weight steps it derives agree
with an independent computation of the fitness gradient, it learns raw digits, it refuses what it cannot
do, and it stays deterministic and autograd-free."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from gradfree.core.checks import check_deterministic, check_no_autograd, check_save_load_roundtrip
from gradfree.emns import IMAGES, EMNSClassifier, EMNSMLPClassifier
from gradfree.emns import activity as A
from gradfree.emns import scale as S

from .plain_mlp import plain_mlp


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    perm = np.random.RandomState(0).permutation(len(X))
    return X[perm][:1400], y[perm][:1400], X[perm][1400:], y[perm][1400:]


def _autograd_gradient(theta, sizes, X, y, kind):
    """The mean fitness's gradient by autograd, an independent check only (learning never uses it)."""
    with torch.enable_grad():
        th = theta.clone().requires_grad_(True)
        S.fitness_of(plain_mlp(th, sizes, X)[None], y, kind).sum().backward()
    return th.grad


@pytest.mark.parametrize("kind,regression", [("cross_entropy", False), ("mse", False), ("mse", True)])
def test_search_gradient_agrees_with_the_fitness_gradient(kind, regression):
    """Averaged over many mirrored activity mutations the estimate points along the true gradient of the
    mean fitness, on every layer of a two-hidden-layer network; it is unbiased up to O(mu^2)."""
    sizes, g = [6, 5, 4, 3], torch.Generator().manual_seed(0)
    theta = torch.randn(S.n_params(sizes), generator=g)
    X = torch.randn(40, 6, generator=g)
    y = torch.randn(40, 3, generator=g) if regression else torch.randint(0, 3, (40,), generator=g)
    want = _autograd_gradient(theta, sizes, X, y, kind)
    est, f = A.search_gradient(theta, sizes, X, y, K=4000, mu=0.01, g=g, fitness=kind)
    assert f.shape == (8000, 40)
    cos = float(est @ want / est.norm() / want.norm())
    assert cos > 0.98, cos
    assert abs(float(est.norm() / want.norm()) - 1.0) < 0.1
    o = 0
    for a, b in S.layer_shapes(sizes):  # every layer, not just the largest, is estimated
        sl = slice(o, o + a * b + a)
        o += a * b + a
        assert float(est[sl] @ want[sl] / est[sl].norm() / want[sl].norm()) > 0.95


def test_table_noise_is_a_view_of_the_shared_table():
    g = torch.Generator().manual_seed(3)
    parts = A._activity_noise(g, 4, 5, [3, 2], "table", torch.device("cpu"))
    assert [tuple(p.shape) for p in parts] == [(4, 5, 3), (4, 5, 2)]
    flat = torch.cat([p.reshape(-1) for p in parts])
    table = S.noise_table(1, torch.device("cpu"))[:, 0]
    o = int(torch.nonzero(table == flat[0])[0])
    torch.testing.assert_close(table[o:o + flat.numel()], flat)


def test_activity_mutation_learns_raw_digits(digits):
    Xtr, ytr, Xte, yte = digits
    m = EMNSMLPClassifier(mutate="activities", max_evaluations=6400, random_state=0).fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.9  # chance 0.10; weight mutation at the same budget ~0.9
    assert m.n_evaluations_ == 6400


def test_images_preset_mutates_activities_and_learns_digits(digits):
    Xtr, ytr, Xte, yte = digits
    assert IMAGES["mutate"] == "activities"
    m = EMNSMLPClassifier.images(max_evaluations=12_800, random_state=0).fit(Xtr, ytr)
    assert m.layer_sizes_ == [64, 64, 10] and m.score(Xte, yte) > 0.9  # chance 0.10


@pytest.mark.parametrize("noise", ["seeded", "table"])
def test_activity_mutation_is_deterministic_autograd_free_and_round_trips(noise, digits, tmp_path):
    Xtr, ytr, Xte, _ = digits
    est = EMNSMLPClassifier(mutate="activities", max_evaluations=640, population_size=16, noise=noise,
                            random_state=0)
    check_no_autograd(est, Xtr[:300], ytr[:300])
    check_deterministic(est, Xtr[:300], ytr[:300])
    loaded = check_save_load_roundtrip(est.fit(Xtr[:300], ytr[:300]), Xte, tmp_path / "act")
    assert loaded.mutate == "activities"


@pytest.mark.parametrize("bad", [dict(centre="recombine"), dict(centre="momentum"),
                                 dict(resistance_rate=0.1), dict(noise_rank=1)])
def test_activity_mutation_refuses_what_needs_per_parameter_noise(bad, digits):
    Xtr, ytr, _, _ = digits
    with pytest.raises(ValueError, match="activities"):
        EMNSMLPClassifier(mutate="activities", **bad).fit(Xtr[:50], ytr[:50])


def test_activity_mutation_needs_the_mlp_network_and_a_known_name(digits):
    Xtr, ytr, _, _ = digits
    with pytest.raises(TypeError, match="mutate"):  # the paper's network has no such parameter
        EMNSClassifier.paper(mutate="activities")
    with pytest.raises(ValueError, match="mutate"):
        EMNSMLPClassifier(mutate="neurons").fit(Xtr[:50], ytr[:50])
