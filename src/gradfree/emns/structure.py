"""Growth, connection formation and pruning (sec. 6), each a pure function of the evolution state.

Decisions the paper leaves open (ours, documented here):

* **Growth** (sec. 6.1): on stagnation a neuron is added to one hidden layer (chosen with ``rng``).
  Its incoming synapses get the reference initialisation (w ~ N(0, 0.05), b = 0, g = 1, standard
  aggregation/activation coefficients), every new parameter gets resistance ``r_init`` (0.1). The
  next layer is widened by one column; those outgoing synapses are created *dormant* (mask 0). With
  the paper's aggregation bases a present synapse can never be neutral (exp(-s^2) = 1 at s = 0), so
  dormancy is the only way to keep the network's output unchanged at the moment of growth. Dormant
  synapses become active through connection formation.
* **Connection formation** (sec. 6.1): every dormant synapse (i -> j) becomes active with probability
  ``rate * MI_ij / max MI`` where MI is estimated from the best individual's activity on the training
  data with an equal-frequency histogram (``bins`` per variable). A formed connection is
  re-initialised (w ~ N(0, 0.05), b = 0, g = 1, resistance r_init).
* **Pruning** (sec. 6.2): a present synapse whose effective weight |g * w| (best individual) stays
  below ``threshold`` for ``patience`` consecutive checks becomes dormant.

The structure (masks and sizes) is shared by the whole population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from gradfree.core.io import saveable
from gradfree.core.schema import Spec, integer, real
from gradfree.emns.evolution import EvoState
from gradfree.emns.network import W_STD, forward, layer_shapes, pack, unpack, unpack_masks


@saveable
@dataclass(frozen=True)
class StructureParams:
    """Growth, connection formation and pruning of the paper's network (sec. 6), checked every
    ``interval`` evaluations: growth after ``growth_patience`` evaluations without an improvement above
    ``growth_tol``, up to ``max_hidden`` neurons a layer; formation with probability
    ``connect_rate * MI / max MI``; pruning below ``prune_threshold`` for ``prune_patience`` checks.
    ``growth_tol`` also defines an improvement for ``restart_patience``.

    >>> from gradfree.data import emns_regression
    >>> from gradfree.emns import EMNSRegressor, StructureParams
    >>> X, y = emns_regression(random_state=0)
    >>> grow = StructureParams(growth=True, growth_patience=256, interval=128)
    >>> m = EMNSRegressor(structure=grow, max_evaluations=3000, random_state=0).fit(X, y)
    >>> m.layer_sizes_, [e["event"] for e in m.history_["events"]]
    ([3, 9, 5, 1], ['grow', 'grow'])
    """

    growth: bool = False
    connect: bool = False
    prune: bool = False
    interval: int = 256
    growth_patience: int = 2048
    growth_tol: float = 1e-5
    max_hidden: int = 32
    connect_rate: float = 0.1
    prune_threshold: float = 0.01
    prune_patience: int = 5

    _saved_fields: ClassVar[dict] = {
        "growth": Spec("bool"), "connect": Spec("bool"), "prune": Spec("bool"),
        **{name: integer(1) for name in ("interval", "growth_patience", "max_hidden", "prune_patience")},
        **{name: real(0, None) for name in ("growth_tol", "connect_rate", "prune_threshold")},
    }

    def _check_loaded(self) -> None:
        self.check()

    def check(self) -> StructureParams:
        if min(self.interval, self.growth_patience, self.max_hidden, self.prune_patience) < 1:
            raise ValueError(f"interval, growth_patience, max_hidden and prune_patience must be >= 1: {self}")
        if min(self.growth_tol, self.connect_rate, self.prune_threshold) < 0:
            raise ValueError(f"growth_tol, connect_rate and prune_threshold must be >= 0: {self}")
        return self

    @property
    def active(self) -> bool:
        return self.growth or self.connect or self.prune


def _cat_masks(blocks: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([b.reshape(-1) for b in blocks])


def grow(st: EvoState, layer: int, rng: torch.Generator, r_init: float) -> None:
    """Add one neuron to hidden ``layer`` (1..L-1); the network's outputs are unchanged."""
    L = len(st.sizes) - 1
    if not 1 <= layer < L:
        raise ValueError(f"can only grow a hidden layer (1..{L - 1}), got {layer}")
    dev = st.values.device
    P = st.values.shape[0]
    m = st.sizes[layer - 1]
    n_next = st.sizes[layer + 1]
    vals, res, masks = unpack(st.values, st.sizes), unpack(st.resistances, st.sizes), \
        unpack_masks(st.masks, st.sizes)
    counts = unpack_masks(st.prune_counts, st.sizes) if st.prune_counts is not None else None
    w_in = (torch.randn(1, 1, m, generator=rng, device=dev) * W_STD).expand(P, 1, m)
    w_out = (torch.randn(1, n_next, 1, generator=rng, device=dev) * W_STD).expand(P, n_next, 1)
    new_in = (w_in, torch.zeros(P, 1, m, device=dev), torch.ones(P, 1, m, device=dev),
              torch.tensor([1.0, 0, 0, 0, 0], device=dev).expand(P, 1, 5),
              torch.tensor([1.0, 0, 0, 0, 0], device=dev).expand(P, 1, 5))
    new_out = (w_out, torch.zeros(P, n_next, 1, device=dev), torch.ones(P, n_next, 1, device=dev))
    i, o = layer - 1, layer  # list indices of the grown layer and of the next one
    vals[i] = tuple(torch.cat([t, a], dim=1) for t, a in zip(vals[i], new_in))
    res[i] = tuple(torch.cat([t, torch.full_like(a, r_init)], dim=1) for t, a in zip(res[i], new_in))
    vals[o] = tuple(torch.cat([t, a], dim=2) for t, a in zip(vals[o][:3], new_out)) + vals[o][3:]
    res[o] = tuple(torch.cat([t, torch.full_like(a, r_init)], dim=2)
                   for t, a in zip(res[o][:3], new_out)) + res[o][3:]
    masks[i] = torch.cat([masks[i], masks[i].new_ones(1, m)], dim=0)
    masks[o] = torch.cat([masks[o], masks[o].new_zeros(n_next, 1)], dim=1)  # dormant outgoing synapses
    if counts is not None:
        counts[i] = torch.cat([counts[i], counts[i].new_zeros(1, m)], dim=0)
        counts[o] = torch.cat([counts[o], counts[o].new_zeros(n_next, 1)], dim=1)
        st.prune_counts = _cat_masks(counts)
    st.values, st.resistances, st.masks = pack(vals), pack(res), _cat_masks(masks)
    st.sizes = [*st.sizes[:layer], st.sizes[layer] + 1, *st.sizes[layer + 1:]]


def mutual_information(pre: torch.Tensor, post: torch.Tensor, bins: int = 8) -> torch.Tensor:
    """Histogram estimate of I(pre_i; post_j) in nats for all pairs: pre (N, m), post (N, n) -> (n, m)."""
    N = pre.shape[0]

    def codes(a: torch.Tensor) -> torch.Tensor:  # equal-frequency bins via ranks; ties share a bin
        ranks = torch.searchsorted(a.T.contiguous().sort(dim=1).values, a.T.contiguous(), right=False)
        return torch.nn.functional.one_hot((ranks * bins // N).clamp(max=bins - 1), bins).float()  # (v, N, K)

    cx, cy = codes(pre), codes(post)  # (m, N, K), (n, N, K)
    joint = torch.einsum("itk,jtl->jikl", cx, cy) / N  # (n, m, K, K)
    px = joint.sum(3, keepdim=True)
    py = joint.sum(2, keepdim=True)
    ratio = joint / (px * py).clamp_min(1e-12)
    return (joint * torch.log(ratio.clamp_min(1e-12))).sum((2, 3)).clamp_min(0.0)


def form_connections(st: EvoState, X: torch.Tensor, rng: torch.Generator, rate: float, r_init: float,
                     bins: int = 8) -> int:
    """Activate dormant synapses with probability rate * MI / max MI; returns how many formed."""
    best = int(st.fitness.argmax())
    acts = forward(st.values[best:best + 1], st.masks, st.sizes, X, return_hidden=True)
    mis = [mutual_information(acts[l][0], acts[l + 1][0], bins) for l in range(len(st.sizes) - 1)]
    masks = unpack_masks(st.masks, st.sizes)
    mi_max = max(float((mi * (1 - mk)).max()) for mi, mk in zip(mis, masks))
    if mi_max <= 0:
        return 0
    new = [((1 - mk) * torch.rand(mk.shape, generator=rng, device=mk.device)
            < rate * mi / mi_max * (1 - mk)).float() for mi, mk in zip(mis, masks)]  # (n, m) each
    flat_new = _cat_masks(new)
    n_new = int(flat_new.sum())
    if n_new:
        st.masks = torch.clamp(st.masks + flat_new, max=1.0)
        vals, res = unpack(st.values, st.sizes), unpack(st.resistances, st.sizes)
        for (W, B, G, *_), (rW, rB, rG, *_), nw in zip(vals, res, new):
            sel = nw.bool()
            W[:, sel] = torch.randn(int(sel.sum()), generator=rng, device=W.device) * W_STD
            B[:, sel], G[:, sel] = 0.0, 1.0
            rW[:, sel], rB[:, sel], rG[:, sel] = r_init, r_init, r_init
    return n_new


def prune_by_weight(eff: torch.Tensor, masks: torch.Tensor, counts: torch.Tensor, threshold: float,
                    patience: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Sec. 6.2 on flat tensors (S,): count the checks each present synapse's effective weight ``eff``
    stayed below ``threshold``; those at ``patience`` become dormant. Returns (masks, counts, number cut)."""
    near = (eff < threshold) & (masks > 0)
    counts = torch.where(near, counts + 1, torch.zeros_like(counts))
    cut = counts >= patience
    n_cut = int(cut.sum())
    if n_cut:
        masks = torch.where(cut, torch.zeros_like(masks), masks)
        counts = torch.where(cut, torch.zeros_like(counts), counts)
    return masks, counts, n_cut


def prune(st: EvoState, threshold: float, patience: int) -> int:
    """Make dormant the present synapses whose |g*w| stayed below ``threshold`` ``patience`` checks."""
    best = int(st.fitness.argmax())
    eff = torch.cat([(G[best] * W[best]).abs().reshape(-1) for W, _, G, *_ in unpack(st.values, st.sizes)])
    st.masks, st.prune_counts, n_cut = prune_by_weight(eff, st.masks, st.prune_counts, threshold, patience)
    return n_cut


def n_active(st: EvoState) -> int:
    """Number of present synapses."""
    return int(st.masks.sum())


def effective_weights(values: torch.Tensor, masks: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """|g * w| * mask per layer, (n, m) each, of one individual ``values`` (n_params,)."""
    return [(G[0] * W[0]).abs() * mk for (W, _, G, *_), mk in
            zip(unpack(values[None], sizes), unpack_masks(masks, sizes))]


__all__ = ["grow", "form_connections", "prune", "prune_by_weight", "mutual_information", "effective_weights",
           "n_active", "layer_shapes"]
