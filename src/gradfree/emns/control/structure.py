"""Growth, connection formation and pruning of an ``"emns"`` policy inside a network of fixed capacity.

The ask/tell engine searches a vector of fixed dimension, and the EMNS paper's structural changes
("Evolvable Modular Neural Systems", Karahan 2025, sec. 6, https://github.com/theomgdev/EMNS) change
the number of parameters. A policy search with ``structure`` therefore allocates the network at its
largest (``max_hidden`` neurons in every hidden layer when growth is on) and lets the synapse mask say
which part of it is alive:

* **live neurons**: the first ``widths[l]`` neurons of hidden layer ``l``; the others have no present
  synapse in or out, so their parameters do not change any output. The engine still perturbs them
  (their perturbations change no return, so the search gradient moves them by noise alone); whatever
  they drifted to is overwritten when they come alive.
* **growth** (sec. 6.1): after ``growth_patience`` evaluations without a generation whose mean return
  beat the best by more than ``growth_tol``, the next neuron of a hidden layer (chosen at random among
  those below ``max_hidden``) comes alive: its incoming synapses are re-initialised (w ~ N(0, 0.05),
  b = 0, g = 1, the standard aggregation and activation) and made present, its outgoing ones are
  re-initialised and left *dormant* (mask 0), so the policy's actions are unchanged at the moment of
  growth (as :func:`gradfree.emns.structure.grow`).
* **connection formation** (sec. 6.1): a dormant synapse between live neurons becomes present with
  probability ``connect_rate * MI / max MI``. MI is estimated (:func:`gradfree.emns.structure.
  mutual_information`) on the states of one episode of the centre policy, run for the purpose on a fresh
  seed; its steps count against the budget.
* **pruning** (sec. 6.2): a present synapse whose effective weight ``|g w|`` in the centre stays below
  ``prune_threshold`` for ``prune_patience`` consecutive checks becomes dormant.

Decisions ours: the paper measures a synapse on "the best individual"; a search that moves a centre
along a search gradient has the centre as its best estimate, so pruning and MI read the centre. Adam's
moments of every re-initialised parameter restart at zero. Checks run every ``interval`` evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from gradfree.core.io import saveable
from gradfree.core.schema import Spec, integer, list_of, real, tensor
from gradfree.emns import network
from gradfree.emns.engine import EngineState
from gradfree.emns.structure import StructureParams, mutual_information, prune_by_weight

#: event kinds in :attr:`PolicyStructure.events`
GROW, CONNECT, PRUNE = 0, 1, 2
EVENT_NAMES = ("grow", "connect", "prune")


@saveable
@dataclass
class PolicyStructure:
    """The live part of a capacity network: hidden widths, synapse masks, pruning counters, the
    stagnation record growth reads and a log of events ``[evaluations, kind, count]``."""

    widths: list[int]  # live neurons per hidden layer
    masks: torch.Tensor  # (S,) 1 = present synapse, laid out as network.unpack_masks
    prune_counts: torch.Tensor  # (S,) consecutive checks below the pruning threshold
    best: float = -float("inf")  # best generation-mean return so far
    stagnant: int = 0  # evaluations since ``best`` last improved
    checked: int = 0  # evaluations at the last check
    events: list = field(default_factory=list)

    _saved_fields: ClassVar[dict] = {
        "widths": Spec("ints", low=1),
        "masks": tensor("S", low=0, high=1),
        "prune_counts": tensor("S", low=0),
        "best": real(finite=False),
        "stagnant": integer(0),
        "checked": integer(0),
        "events": list_of(Spec("ints", low=0)),
    }

    def _check_loaded(self) -> None:
        if self.masks.shape != self.prune_counts.shape:
            raise ValueError("masks and prune_counts differ in shape")
        if not bool(((self.masks == 0) | (self.masks == 1)).all()):
            raise ValueError("masks must hold 0 or 1 only")
        if any(len(e) != 3 or e[1] > PRUNE for e in self.events):
            raise ValueError("events must be [evaluations, kind 0..2, count] triples")

    @classmethod
    def initial(cls, capacity: list[int], widths: list[int]) -> PolicyStructure:
        """Every synapse between live neurons present (the capacity network's sizes ``capacity``)."""
        live = [capacity[0], *widths, capacity[-1]]
        masks = torch.cat([_block(n, m, live[l + 1], live[l]).reshape(-1)
                           for l, (n, m) in enumerate(network.layer_shapes(capacity))])
        return cls(list(widths), masks, torch.zeros_like(masks))

    def sizes(self, capacity: list[int]) -> list[int]:
        """The live network's layer sizes."""
        return [capacity[0], *self.widths, capacity[-1]]

    def check(self, capacity: list[int]) -> None:
        """The structure fits the capacity network (after a load)."""
        if len(self.widths) != len(capacity) - 2 or any(w > c for w, c in zip(self.widths, capacity[1:-1])):
            raise ValueError(f"widths {self.widths} do not fit the hidden capacity {capacity[1:-1]}")
        if self.masks.shape != (network.n_synapses(capacity),):
            raise ValueError(f"masks hold {self.masks.shape[0]} synapses, the network has "
                             f"{network.n_synapses(capacity)}")


def _block(n: int, m: int, rows: int, cols: int) -> torch.Tensor:
    """(n, m) mask with ones in the top-left ``rows`` x ``cols``."""
    b = torch.zeros(n, m)
    b[:rows, :cols] = 1.0
    return b


def _reinit(st: EngineState, capacity: list[int], layer: int, sel: torch.Tensor,
            rng: torch.Generator) -> None:
    """Re-initialise the synapses ``sel`` (bool (n, m)) of ``layer`` (0-based) in the centre: w ~ N(0,
    0.05), b = 0, g = 1; Adam's moments of those parameters restart at zero."""
    W, B, G, _, _ = network.unpack(st.theta[None], capacity)[layer]
    k = int(sel.sum())
    W[0][sel] = (torch.randn(k, generator=rng) * network.W_STD).to(W.dtype)
    B[0][sel], G[0][sel] = 0.0, 1.0
    for moment in (st.m, st.v):
        for t in network.unpack(moment[None], capacity)[layer][:3]:
            t[0][sel] = 0.0


def grow(s: PolicyStructure, st: EngineState, capacity: list[int], layer: int, rng: torch.Generator) -> None:
    """Bring the next neuron of hidden ``layer`` (1-based) alive; the policy's actions are unchanged."""
    j, L = s.widths[layer - 1], len(capacity) - 1
    live = s.sizes(capacity)
    n, m = capacity[layer], capacity[layer - 1]
    incoming = torch.zeros(n, m, dtype=torch.bool)
    incoming[j, :live[layer - 1]] = True
    _reinit(st, capacity, layer - 1, incoming, rng)
    _, _, _, A, H = network.unpack(st.theta[None], capacity)[layer - 1]
    A[0, j] = torch.tensor(network.AGG_INIT, dtype=A.dtype)
    H[0, j] = torch.tensor(network.ACT_INIT, dtype=H.dtype)
    for moment in (st.m, st.v):
        for t in network.unpack(moment[None], capacity)[layer - 1][3:]:
            t[0, j] = 0.0
    if layer < L:  # outgoing synapses: fresh values, dormant
        outgoing = torch.zeros(capacity[layer + 1], n, dtype=torch.bool)
        outgoing[:live[layer + 1], j] = True
        _reinit(st, capacity, layer, outgoing, rng)
    network.unpack_masks(s.masks, capacity)[layer - 1][incoming] = 1.0
    s.widths[layer - 1] += 1


def connect(s: PolicyStructure, st: EngineState, capacity: list[int], states: Callable[[], np.ndarray],
            rate: float, rng: torch.Generator, bins: int = 8) -> int:
    """Make dormant synapses between live neurons present with probability rate * MI / max MI (MI of
    the centre policy's activities on the states (N, n_in) that ``states()`` records, called only when
    a dormant synapse exists); returns how many formed."""
    live = s.sizes(capacity)
    masks = network.unpack_masks(s.masks, capacity)
    candidates = [_block(n, m, live[l + 1], live[l]) * (1 - mk)
                  for l, ((n, m), mk) in enumerate(zip(network.layer_shapes(capacity), masks))]
    if not any(bool(c.any()) for c in candidates):
        return 0
    X = torch.as_tensor(states(), dtype=torch.float64)
    if len(X) < 2:
        return 0
    acts = network.forward(st.theta[None].to(torch.float64), s.masks.to(torch.float64), capacity, X,
                           return_hidden=True)
    mis = [mutual_information(acts[l][0], acts[l + 1][0], bins) * c for l, c in enumerate(candidates)]
    mi_max = max(float(mi.max()) for mi in mis)
    if mi_max <= 0:
        return 0
    formed = 0
    for l, (mi, c, mk) in enumerate(zip(mis, candidates, masks)):
        new = (torch.rand(c.shape, generator=rng, dtype=torch.float64) < rate * mi / mi_max) & (c > 0)
        if new.any():
            _reinit(st, capacity, l, new, rng)
            mk[new] = 1.0
            formed += int(new.sum())
    return formed


def prune(s: PolicyStructure, st: EngineState, capacity: list[int], threshold: float, patience: int) -> int:
    """Make dormant the present synapses whose |g w| in the centre stayed below ``threshold`` for
    ``patience`` consecutive checks; returns how many."""
    eff = torch.cat([(G[0] * W[0]).abs().reshape(-1) for W, _, G, _, _ in
                     network.unpack(st.theta[None], capacity)]).to(s.masks.dtype)
    s.masks, s.prune_counts, n_cut = prune_by_weight(eff, s.masks, s.prune_counts, threshold, patience)
    return n_cut


def step(s: PolicyStructure, sp: StructureParams, st: EngineState, capacity: list[int], evaluations: int,
         new_evaluations: int, mean_return: float, states: Callable[[], np.ndarray],
         rng: torch.Generator) -> bool:
    """After a generation: update the stagnation record and, every ``sp.interval`` evaluations, grow,
    form connections and prune (in that order). ``states()`` runs the centre policy for the MI
    estimate (called only when formation needs it). Returns whether the structure changed."""
    if mean_return > s.best + sp.growth_tol:
        s.best, s.stagnant = float(mean_return), 0
    else:
        s.stagnant += int(new_evaluations)
    if evaluations - s.checked < sp.interval:
        return False
    s.checked = int(evaluations)
    changed = False
    with torch.inference_mode():
        if sp.growth and s.stagnant >= sp.growth_patience:
            open_layers = [l + 1 for l, (w, c) in enumerate(zip(s.widths, capacity[1:-1])) if w < c]
            if open_layers:
                layer = open_layers[int(torch.randint(len(open_layers), (1,), generator=rng))]
                grow(s, st, capacity, layer, rng)
                s.events.append([int(evaluations), GROW, layer])
                s.stagnant, changed = 0, True
        if sp.connect:
            n = connect(s, st, capacity, states, sp.connect_rate, rng)
            if n:
                s.events.append([int(evaluations), CONNECT, n])
                changed = True
        if sp.prune:
            n = prune(s, st, capacity, sp.prune_threshold, sp.prune_patience)
            if n:
                s.events.append([int(evaluations), PRUNE, n])
                changed = True
    return changed
