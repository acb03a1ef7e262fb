"""The mutation noise of a wide-MLP generation (:mod:`gradfree.emns.scale`), a pure function of the
generation's seed: fresh N(0, 1) draws or rows of one shared noise table (Salimans et al. 2017,
"Evolution Strategies as a Scalable Alternative to Reinforcement Learning", arXiv:1703.03864, sec.
2.1), for every parameter or, with ``rank`` r > 0, low-rank in the first layer (``noise_rank``, the
module docstring of :mod:`gradfree.emns.scale`).
"""

from __future__ import annotations

import math

import torch

from gradfree.emns.mlp_forward import n_params

TABLE_SIZE, TABLE_SEED = 2**24, 1234
_TABLES: dict = {}


def noise_length(sizes: list[int], rank: int = 0) -> int:
    """Noise values per mirrored pair: every parameter's, or with ``rank`` r > 0 the first layer's
    (hidden, in) weights replaced by U (r, in) and V (r, hidden)."""
    h, i = sizes[1], sizes[0]
    return n_params(sizes) - (h * i - rank * (h + i) if rank else 0)


def expand_noise(eps: torch.Tensor, sizes: list[int], rank: int) -> torch.Tensor:
    """Per-parameter noise (K, n) of compact low-rank noise (K, noise_length): first layer V^T U / sqrt(r)."""
    if not rank:
        return eps
    K, (h, i) = eps.shape[0], sizes[1::-1]
    U = eps[:, :rank * i].view(K, rank, i)
    V = eps[:, rank * i:rank * (i + h)].view(K, rank, h)
    W = torch.bmm(V.transpose(1, 2), U).view(K, h * i) / math.sqrt(rank)  # (K, h * in)
    return torch.cat([W, eps[:, rank * (i + h):]], dim=1)


def combine_noise(c: torch.Tensor, eps: torch.Tensor, sizes: list[int], rank: int) -> torch.Tensor:
    """``c @ expand_noise(eps)`` (n,) for weights ``c`` (K,), without expanding: the first layer's part
    is one (hidden, K r) x (K r, in) matmul."""
    if not rank:
        return c @ eps
    K, (h, i) = eps.shape[0], sizes[1::-1]
    U = eps[:, :rank * i].reshape(K * rank, i)
    V = (eps[:, rank * i:rank * (i + h)].view(K, rank, h) * c.view(K, 1, 1)).reshape(K * rank, h)
    return torch.cat([(V.T @ U).view(-1) / math.sqrt(rank), c @ eps[:, rank * (i + h):]])


def noise_table(n: int, device: torch.device) -> torch.Tensor:
    """(TABLE_SIZE - n + 1, n) view of the shared noise table: row ``o`` is table[o:o + n] (no copy)."""
    key = str(device)
    if key not in _TABLES:
        g = torch.Generator(device="cpu").manual_seed(TABLE_SEED)
        _TABLES[key] = torch.randn(TABLE_SIZE, generator=g).to(device)
    return _TABLES[key].unfold(0, n, 1)


def generation_noise(seed: int, K: int, n: int, N: int, batch_size: int, device: torch.device,
                     noise: str = "seeded") -> tuple[torch.Tensor, torch.Tensor | None]:
    """The generation's noise (K, n) and minibatch indices, a pure function of ``seed``."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    idx = torch.randint(0, N, (batch_size,), generator=g) if 0 < batch_size < N else None
    if noise == "table":
        if n > TABLE_SIZE // 2:
            raise ValueError(f'noise="table" needs n_params <= {TABLE_SIZE // 2}, got {n}')
        rows = torch.randint(0, TABLE_SIZE - n + 1, (K,), generator=g).to(device)
        eps = noise_table(n, device).index_select(0, rows)
    else:
        eps = torch.randn(K, n, generator=g).to(device)
    return eps, (idx.to(device) if idx is not None else None)


def _compact_sigma(sigma: torch.Tensor, sizes: list[int], rank: int) -> torch.Tensor:
    """Per-noise-value scale of low-rank noise: U carries the first layer's shared mu (1 - r), V 1."""
    h, i = sizes[1], sizes[0]
    s0 = sigma[:h * i]
    if not bool((s0 == s0[0]).all()):
        raise ValueError("noise_rank > 0 needs one resistance for all first-layer weights")
    return torch.cat([s0[:rank * i], torch.ones(rank * h, device=sigma.device), sigma[h * i:]])
