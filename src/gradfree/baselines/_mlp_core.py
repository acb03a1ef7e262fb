"""The one MLP core every backprop baseline shares: parameter init, sparse masks, forward pass.

The network is kept as plain tensors (``weights`` (out, in) and ``biases`` (out,) per layer, plus an
optional boolean ``mask`` per layer), not as an ``nn.Module``: the estimator stores them as fitted
attributes so the generic save/load is exact, and training wraps copies of them in an optimiser.

Decisions:

* initialisation is ``nn.Linear``'s (uniform in ``+-1/sqrt(fan_in)``), with ``fan_in`` the number of
  inputs a unit actually keeps under its mask, so a sparse layer starts at the same signal scale as a
  dense one;
* a sparse layer keeps ``round(link_ratio * n_in * n_out)`` connections (at least one input per unit):
  every unit first draws one input, the rest are drawn uniformly among the remaining positions;
  masked weights are zero and stay zero (their gradient is zero and Adam's decoupled state never moves
  them, and the forward pass multiplies by the mask anyway).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_mask(n_out: int, n_in: int, link_ratio: float, rng: torch.Generator,
                device: torch.device) -> torch.Tensor:
    """Boolean (n_out, n_in) mask with ``round(link_ratio * n_out * n_in)`` ones, >= 1 per row."""
    total = n_out * n_in
    k = min(total, max(n_out, round(link_ratio * total)))
    mask = torch.zeros(n_out, n_in, dtype=torch.bool, device=device)
    first = torch.randint(n_in, (n_out,), generator=rng, device=device)  # one input per unit
    mask[torch.arange(n_out, device=device), first] = True
    rest = (~mask).flatten().nonzero().squeeze(1)  # (total - n_out,)
    pick = rest[torch.randperm(rest.numel(), generator=rng, device=device)[: k - n_out]]
    mask.view(-1)[pick] = True
    return mask


def init_layers(sizes: list[int], rng: torch.Generator, device: torch.device, dtype: torch.dtype,
                link_ratio: float | None = None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor] | None]:
    """Weights, biases (and masks when ``link_ratio`` is given) for layer sizes ``[in, h1, ..., out]``."""
    weights, biases, masks = [], [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if link_ratio is None:
            fan_in = torch.full((n_out, 1), float(n_in), device=device)
        else:
            m = random_mask(n_out, n_in, link_ratio, rng, device)
            masks.append(m)
            fan_in = m.sum(1, keepdim=True).to(dtype)  # (n_out, 1)
        bound = 1.0 / fan_in.sqrt()
        w = (torch.rand(n_out, n_in, generator=rng, device=device, dtype=dtype) * 2 - 1) * bound
        b = (torch.rand(n_out, generator=rng, device=device, dtype=dtype) * 2 - 1) * bound.squeeze(1)
        if link_ratio is not None:
            w = w * masks[-1]
        weights.append(w)
        biases.append(b)
    return weights, biases, (masks if link_ratio is not None else None)


def forward(weights: list[torch.Tensor], biases: list[torch.Tensor], X: torch.Tensor,
            masks: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Logits (N, C): ReLU hidden layers, linear output."""
    h = X  # (N, d)
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        if masks is not None:
            w = w * masks[i]
        z = F.linear(h, w, b)  # (N, n_out)
        h = z if i == last else torch.relu(z)
    return h


def diagonal_fisher(weights: list[torch.Tensor], biases: list[torch.Tensor], X: torch.Tensor,
                    y: torch.Tensor, masks: list[torch.Tensor] | None = None, chunk: int = 1024
                    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Empirical diagonal Fisher: mean over samples of the squared per-sample log-likelihood gradient.

    Per-sample gradients of a linear layer are outer products ``delta_n a_n^T``, so the sum of their
    squares is ``(delta^2)^T (a^2)``: exact, one backward pass per chunk, no per-sample loop.
    """
    fw = [torch.zeros_like(w) for w in weights]
    fb = [torch.zeros_like(b) for b in biases]
    with torch.inference_mode(False), torch.enable_grad():
        ws = [w.detach().clone().requires_grad_(True) for w in weights]
        bs = [b.detach().clone() for b in biases]
        for s in range(0, len(X), chunk):
            xb, yb = X[s:s + chunk].clone(), y[s:s + chunk].clone()
            keep: list[torch.Tensor] = []  # layer inputs a_l
            zs_in = []  # pre-activations z_l
            h = xb
            for i, (w, b) in enumerate(zip(ws, bs)):
                w = w * masks[i] if masks is not None else w
                z = F.linear(h, w, b)  # (n, n_out)
                keep.append(h)
                zs_in.append(z)
                h = z if i == len(ws) - 1 else torch.relu(z)
            loss = F.cross_entropy(h, yb, reduction="sum")
            deltas = torch.autograd.grad(loss, zs_in)  # per-sample dL/dz, each (n, n_out)
            for i, (a, d) in enumerate(zip(keep, deltas)):
                fw[i] += (d.square().T @ a.square()).detach()
                fb[i] += d.square().sum(0).detach()
    n = max(len(X), 1)
    fw = [f / n * (masks[i] if masks is not None else 1) for i, f in enumerate(fw)]
    return fw, [f / n for f in fb]


def n_connections(weights: list[torch.Tensor], masks: list[torch.Tensor] | None) -> tuple[int, int]:
    """(kept, possible) connections over all layers."""
    possible = sum(w.numel() for w in weights)
    kept = possible if masks is None else int(sum(int(m.sum()) for m in masks))
    return kept, possible

