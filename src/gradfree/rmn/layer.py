"""Batched (inference-only) pieces of the RMN: resonance, k-WTA, layer output and read-out scores.

Learning is sequential and lives in :mod:`gradfree.rmn.kernels`; everything here is vectorised over the
batch and used for prediction and analysis.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F


def normalise(X: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length ("the input x is also a normalised direction vector", section 1)."""
    return F.normalize(X, dim=-1, eps=1e-12)


def resonate(W: torch.Tensor, X: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Winners and their activations for a batch: a = relu(X W^T), top-k per row. Returns (B, k) each."""
    A = (X @ W.T).clamp_min_(0)                                 # a_i = max(0, x . w_i)   (B, n)
    act, win = torch.topk(A, k, dim=1)                          # k-WTA                   (B, k)
    return win, act


def layer_output(W: torch.Tensor, win: torch.Tensor, act: torch.Tensor, representation: str) -> torch.Tensor:
    """What a layer hands on: y = sum_{i in W} a_i w_i (paper, (B, d)) or the sparse code (ours, (B, n)).

    On the CPU, y is a CSR sparse x dense product (k non-zeros per row): ~5x faster than the dense one.
    """
    B, k = win.shape
    if representation == "y" and W.device.type == "cpu":
        crow = torch.arange(0, B * k + 1, k, device=W.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            code = torch.sparse_csr_tensor(crow, win.reshape(-1), act.reshape(-1), size=(B, W.shape[0]))
            return code @ W                                     # y = sum a_i w_i          (B, d)
    code = torch.zeros(win.shape[0], W.shape[0], dtype=W.dtype, device=W.device)
    code.scatter_(1, win, act)                                  # a restricted to winners  (B, n)
    if representation == "y":
        return code @ W                                         # y = sum a_i w_i          (B, d)
    return code


def vote_scores(P: torch.Tensor, binding: torch.Tensor, Yn: torch.Tensor, vote_k: int,
                n_classes: int) -> torch.Tensor:
    """Overcomplete read-out: the vote_k most resonant *bound* prototypes vote for their class.

    A vote weighs 1 + cosine (so it is positive and a closer prototype counts more); classes nobody
    votes for score 0. Returns (B, C).
    """
    B = Yn.shape[0]
    scores = torch.zeros(B, n_classes, dtype=Yn.dtype, device=Yn.device)
    bound = binding >= 0
    n_bound = int(bound.sum())
    if n_bound == 0:
        return scores
    S = (Yn @ P.T).masked_fill(~bound[None, :], float("-inf"))  # resonance (B, M)
    s, top = torch.topk(S, min(vote_k, n_bound), dim=1)          # (B, v)
    return scores.scatter_add_(1, binding[top], 1.0 + s)
