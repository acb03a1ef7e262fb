"""A tanh MLP written out parameter by parameter: the independent computation the EMNS scale tests
compare the batched code against."""

from __future__ import annotations

import torch

from gradfree.emns import scale as S


def plain_mlp(theta: torch.Tensor, sizes: list[int], X: torch.Tensor) -> torch.Tensor:
    """Outputs (N, n_out) of one network ``theta`` (n,): tanh hidden layers, a linear output layer."""
    h, o = X, 0
    for k, (a, b) in enumerate(S.layer_shapes(sizes)):
        W, bias = theta[o:o + a * b].view(a, b), theta[o + a * b:o + a * b + a]
        o += a * b + a
        h = h @ W.T + bias
        h = torch.tanh(h) if k < len(sizes) - 2 else h
    return h
