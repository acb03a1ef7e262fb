"""The wide MLP of EMNS at image scale, held as one flat parameter vector: its layout and its batched
forward passes (a population of networks at once; mirrored candidates that share the centre's
first-layer product, :func:`population_logits`). The generation that uses them is
:mod:`gradfree.emns.scale`.
"""

from __future__ import annotations

import math

import torch


def layer_shapes(sizes: list[int]) -> list[tuple[int, int]]:
    """(out, in) per layer."""
    return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]


def n_params(sizes: list[int]) -> int:
    return sum(o * i + o for o, i in layer_shapes(sizes))


def flops_per_candidate(sizes: list[int], n_samples: int) -> int:
    """Multiply-adds x 2 of one candidate's forward pass on ``n_samples`` samples (the matmul bound)."""
    return 2 * n_samples * sum(o * i for o, i in layer_shapes(sizes))


def unpack(theta: torch.Tensor, sizes: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Views (W (P, out, in), b (P, 1, out)) per layer of ``theta`` (P, n)."""
    P, o, out = theta.shape[0], 0, []
    for a, b in layer_shapes(sizes):
        W = theta[:, o:o + a * b].view(P, a, b)
        o += a * b
        out.append((W, theta[:, o:o + a].view(P, 1, a)))
        o += a
    return out


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1, in place on a fresh tensor: several times faster than torch.tanh on
    the CPU builds we measured."""
    return torch.sigmoid_(x.mul_(2.0)).mul_(2.0).sub_(1.0)


def forward(theta: torch.Tensor, sizes: list[int], X: torch.Tensor) -> torch.Tensor:
    """Outputs (P, N, n_out) of the networks ``theta`` (P, n) on ``X`` (N, n_in)."""
    h = X.unsqueeze(0).expand(theta.shape[0], -1, -1)
    layers = unpack(theta, sizes)
    for k, (W, b) in enumerate(layers):
        h = torch.baddbmm(b, h, W.transpose(1, 2))
        if k < len(layers) - 1:
            h = _tanh(h)
    return h


def population_logits(theta: torch.Tensor, delta: torch.Tensor, sizes: list[int],
                      X: torch.Tensor, rank: int = 0) -> torch.Tensor:
    """Outputs (2K, N, n_out) of the mirrored candidates ``theta + delta`` then ``theta - delta``.

    ``theta`` (n,), ``delta`` (K, n), or (K, noise_length(sizes, rank)) with ``rank`` > 0: the first
    layer's weight perturbation as U (r, in), V (r, hidden) (its scale already in U). The first layer is
    computed as ``X W^T +- X D^T``: one matmul for the centre and K for the perturbations instead of 2K;
    with ``rank`` > 0, ``X D^T = (X U^T) V / sqrt(r)``, one (N, in) x (in, K r) matmul for them all.
    """
    K, N = delta.shape[0], X.shape[0]
    (W0, b0), *_ = unpack(theta[None], sizes)
    hid, i = W0.shape[1], W0.shape[2]
    base = X @ W0[0].T + b0[0]  # (N, hid)
    if rank:
        U = delta[:, :rank * i].reshape(K * rank, i)
        V = delta[:, rank * i:rank * (i + hid)].view(K, rank, hid) / math.sqrt(rank)
        o = rank * (i + hid)
        XU = (X @ U.T).view(N, K, rank).transpose(0, 1)  # (K, N, r)
        pert = torch.baddbmm(delta[:, o:o + hid].view(K, 1, hid), XU, V)  # (K, N, hid)
        rest_delta = delta[:, o + hid:]
    else:
        D0, db0 = unpack(delta, sizes)[0]
        pert = torch.baddbmm(db0, X.unsqueeze(0).expand(K, -1, -1), D0.transpose(1, 2))  # (K, N, hid)
        rest_delta = delta[:, hid * i + hid:]
    h = torch.empty(2 * K, N, hid, dtype=base.dtype, device=base.device)  # + candidates, then -
    torch.add(base, pert, out=h[:K])
    torch.sub(base, pert, out=h[K:])
    h = _tanh(h)
    o1 = hid * i + hid  # the later layers' parameters only
    rest = torch.cat([theta[o1:] + rest_delta, theta[o1:] - rest_delta])
    layers = unpack(rest, sizes[1:])
    for k, (W, b) in enumerate(layers):
        h = torch.baddbmm(b, h, W.transpose(1, 2))
        if k < len(layers) - 1:
            h = _tanh(h)
    return h
