"""The wide-MLP EMNS population on 2 local Ray workers equals the in-process run, and its messages do not
grow with the number of parameters (seeds, pair indices and fitness values only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from gradfree.distributed.emns_population import MLPRayPopulation, fit_on_ray  # noqa: E402
from gradfree.emns import EMNSMLPClassifier  # noqa: E402


def _ray_fit(kw, X, y):
    holder = {}
    remote = EMNSMLPClassifier(**kw)  # what fit_on_ray does, keeping the population to read its messages
    remote.set_population_executor(
        lambda st, p, Xt, yt: holder.setdefault("pop", MLPRayPopulation(st, p, Xt, yt, 2)))
    return remote.fit(X, y), holder["pop"]


@pytest.mark.parametrize("noise_rank", [0, 2])
def test_two_workers_equal_in_process_and_ship_no_parameters(local_ray, noise_rank):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 20)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0)
    kw = dict(hidden_layer_sizes=(64,), population_size=10, max_evaluations=50, batch_size=64,
              noise_rank=noise_rank, random_state=0)
    local = EMNSMLPClassifier(**kw).fit(X, y)
    remote, pop = _ray_fit(kw, X, y)
    for name in ("theta", "resistances", "m", "v"):
        assert torch.equal(getattr(local.state_, name), getattr(remote.state_, name)), name
    np.testing.assert_array_equal(local.predict(X), remote.predict(X))
    # a generation's messages (seed, pair indices, fitness values) are smaller than one parameter vector
    n_params = local.state_.theta.numel()
    assert len(pop.bytes_sent) == 5 and max(pop.bytes_sent) < 4 * n_params / 2
    assert not pop.workers  # the actors were released when fit ended


def test_fit_on_ray_refuses_what_is_not_distributed(local_ray):
    with pytest.raises(ValueError):
        fit_on_ray(EMNSMLPClassifier.continual(shield=0.5), np.zeros((4, 2)), [0, 1, 0, 1])


def test_activity_mutation_on_two_workers_equals_in_process(local_ray):
    """mutate="activities": workers return one fitness value per mutated copy and sample; the run equals
    the in-process one and its messages depend on population and minibatch, not on the network's size."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 20)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0)
    kw = dict(hidden_layer_sizes=(64,), population_size=10, max_evaluations=50, batch_size=64,
              mutate="activities", noise="table", random_state=0)
    local = EMNSMLPClassifier(**kw).fit(X, y)
    remote, pop = _ray_fit(kw, X, y)
    for name in ("theta", "m", "v"):
        assert torch.equal(getattr(local.state_, name), getattr(remote.state_, name)), name
    np.testing.assert_array_equal(local.predict(X), remote.predict(X))
    _, wide = _ray_fit({**kw, "hidden_layer_sizes": (256,)}, X, y)
    assert len(pop.bytes_sent) == 5 and pop.bytes_sent == wide.bytes_sent
    assert max(pop.bytes_sent) < 4 * 10 * 64 * 4 + 4096  # (2K, N) float32: parts, and f to 2 workers
    assert not pop.workers
