"""Interface wiring of a Wuxing network: five interfaces per neuron, one-to-one connections.

Decisions (docs/decisions.md, Wuxing; checked against the paper's link ratios):

* every dynamic neuron has 5 interfaces, one per element. A hidden neuron's interfaces are split at
  random into *inputs* (each connected one-to-one from an output interface of the layer below, or
  from a pixel for layer 1) and *outputs*. The sources arriving at a layer are spread evenly, ``q`` or
  ``q+1`` inputs per neuron;
* mode ``"fill"``: every remaining interface of a hidden neuron is an output (MODEL1, "all interfaces
  have inputs or outputs": link ratio 0.509 %); mode ``"one_out"``: exactly one output per hidden
  neuron, the rest unconnected (MODEL2, "leaving some neuron synapses unconnected": 0.379 %);
* pixels are sources without dynamics; each pixel fans out to ``fanout`` input interfaces of layer 1;
* an output neuron is read on one element (its output interface); the other four may take inputs;
* when more sources arrive at a layer than it has input interfaces (4 per neuron), a random subset
  of them is connected and the rest stay unconnected (never the case for MODEL1 / MODEL2);
* link ratio = connections / sum over adjacent layer pairs of n_l * n_{l+1} (inputs included);
* adders (the paper's proposed fix, option ``fan_in`` > 1): every input interface sums ``fan_in``
  connections. We keep the interface split of ``fan_in=1`` and draw ``fan_in`` independent random
  matchings of the same sources onto the same input interfaces (so an output interface then feeds
  ``fan_in`` destinations on average); link ratios grow ``fan_in``-fold. Repeated pairs are possible
  and kept (they are rare and act as one connection of summed weight);
* element-aware wiring (option, beyond the paper): the steady-state gain from an input element to
  another element of the same neuron depends on the offset ``(out - in) mod 5`` (0.78, 0.88, 0.49,
  0.05, -0.20 at the default K), so a random split wastes inputs three positions before an output.
  With ``element_aware=True`` each neuron uses the split (for its number of inputs) that maximises
  the mean |gain| from its inputs to its outputs, rotated at random.

State indexing: dynamic neurons of all layers are numbered consecutively (layer 1 first); element
``j`` of neuron ``n`` is state row ``5 * n + j``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import torch

from gradfree.core.io import saveable
from gradfree.core.schema import FieldError, Spec, tensor

#: the paper's layer sizes (inputs, hidden..., outputs)
MODEL1: tuple[int, ...] = (784, 839, 283, 96, 32, 10)
MODEL2: tuple[int, ...] = (784, 1048, 353, 119, 40, 10)
#: wiring settings that reproduce the paper's link ratios
PRESETS: dict[str, dict] = {
    "model1": {"sizes": MODEL1, "mode": "fill", "fanout": 4},
    "model2": {"sizes": MODEL2, "mode": "one_out", "fanout": 4},
}
#: inputs per layer-1 neuron in MODEL1 (fill) and MODEL2 (one_out); used by ``fanout="auto"``
_AUTO_FILL = {"fill": 784 * 4 / 839, "one_out": 784 * 4 / 1048}
MODES = ("fill", "one_out")


@saveable
@dataclass
class Wiring:
    """Connections of one network as index tensors (saved with the model).

    ``pix_src`` (Mp,) pixel index and ``pix_dst`` (Mp,) state row of the pixel connections;
    ``src`` / ``dst`` (Mh,) state rows of the neuron-to-neuron connections; ``out_rows`` (n_out,) the
    state rows that are read; ``pair_counts`` connections per adjacent layer pair.

    Examples
    --------
    >>> wiring = build_wiring((16, 8, 4))                  # 16 inputs, 8 hidden and 4 output neurons
    >>> wiring.n_neurons, wiring.pair_counts, round(wiring.link_ratio, 3)
    (12, [32, 8], 0.25)
    """

    sizes: list[int]
    pix_src: torch.Tensor
    pix_dst: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    out_rows: torch.Tensor
    pair_counts: list[int]

    _saved_fields: ClassVar[dict] = {
        "sizes": Spec("ints", low=1, dim="n_layers"),
        "pix_src": tensor("Mp", dtype=("int64",), low=0),
        "pix_dst": tensor("Mp", dtype=("int64",), low=0),
        "src": tensor("Mh", dtype=("int64",), low=0),
        "dst": tensor("Mh", dtype=("int64",), low=0),
        "out_rows": tensor("n_out", dtype=("int64",), low=0),
        "pair_counts": Spec("ints", low=0),
    }

    def _check_loaded(self) -> None:
        """Every index points inside the network the sizes describe (checked when a model is loaded)."""
        S = 5 * self.n_neurons
        if len(self.sizes) < 2 or len(self.pair_counts) != len(self.sizes) - 1:
            raise ValueError(f"sizes {self.sizes[:8]} and pair_counts {self.pair_counts[:8]} do not match")
        if sum(self.pair_counts) != self.n_connections or self.out_rows.numel() != self.sizes[-1]:
            raise ValueError("pair_counts / out_rows do not match the stored connections")
        bounds = (("pix_src", self.sizes[0]), ("pix_dst", S), ("src", S), ("dst", S), ("out_rows", S))
        for name, bound in bounds:
            t = getattr(self, name)
            if t.numel() and int(t.max()) >= bound:
                raise FieldError(name, f"holds an index >= {bound}, outside the network")

    @property
    def n_neurons(self) -> int:
        """Dynamic neurons (all layers after the input)."""
        return int(sum(self.sizes[1:]))

    @property
    def n_connections(self) -> int:
        return int(self.pix_src.numel() + self.src.numel())

    @property
    def link_ratios(self) -> list[float]:
        """Link ratio per adjacent layer pair (connections / n_l n_{l+1})."""
        return [c / (a * b) for c, a, b in zip(self.pair_counts, self.sizes[:-1], self.sizes[1:])]

    @property
    def link_ratio(self) -> float:
        """Overall link ratio: all connections / sum of n_l n_{l+1} (the paper's LR)."""
        full = sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        return sum(self.pair_counts) / full

    def to(self, device: torch.device | str) -> Wiring:
        t = {k: getattr(self, k).to(device) for k in ("pix_src", "pix_dst", "src", "dst", "out_rows")}
        return Wiring(sizes=list(self.sizes), pair_counts=list(self.pair_counts), **t)


def steady_gain(K1: float = 1.0, K2: float = 0.5, K3: float = 0.5) -> torch.Tensor:
    """Steady-state gain by offset ``(out - in) mod 5`` of one neuron linearised at B0 (float64, (5,)).

    Examples
    --------
    >>> steady_gain().round(decimals=3).tolist()        # K1=1, K2=K3=0.5: strongest one element on
    [0.78, 0.878, 0.488, 0.049, -0.195]
    """
    b0 = (K1 - K2) / K3
    S = torch.roll(torch.eye(5, dtype=torch.float64), 1, 0)  # (S x)_j = x_{j-1}
    A = K1 * S - (K2 + K3 * b0) * torch.eye(5, dtype=torch.float64) - K3 * b0 * S @ S
    G = torch.linalg.inv(-A)
    return torch.stack([G[d % 5, 0] for d in range(5)])


def _best_pattern(k: int, n_out: int | None, gain: torch.Tensor) -> list[int]:
    """Element order [inputs..., outputs..., unused...] maximising mean |gain| input -> output."""
    g = gain.abs().tolist()
    best, best_score = None, -1.0
    for ins in itertools.combinations(range(5), k):
        rest = [e for e in range(5) if e not in ins]
        outs_choices = [rest] if n_out is None else [list(o) for o in itertools.combinations(rest, n_out)]
        for outs in outs_choices:
            if not ins or not outs:
                score = 0.0
            else:
                score = sum(g[(o - i) % 5] for i in ins for o in outs) / (len(ins) * len(outs))
            if score > best_score:
                unused = [e for e in rest if e not in outs]
                best, best_score = [*ins, *outs, *unused], score
    assert best is not None
    return best


def _orders(n: int, k: torch.Tensor, kind: str, element_aware: bool, gain: torch.Tensor,
            gen: torch.Generator) -> torch.Tensor:
    """(n, 5) element order per neuron: inputs first (k[n] of them), then outputs, then unused."""
    if not element_aware:
        return torch.argsort(torch.rand(n, 5, generator=gen), dim=1)
    table = torch.zeros(5, 5, dtype=torch.long)
    for kk in range(5):
        n_out = None if kind == "fill" else 1  # the read-out layer is wired like one_out
        table[kk] = torch.tensor(_best_pattern(kk, n_out, gain))
    rot = torch.randint(0, 5, (n, 1), generator=gen)
    return (table[k] + rot) % 5


def build_wiring(sizes: tuple[int, ...] | list[int], mode: str = "fill", fanout: int | str = "auto",
                 fan_in: int = 1, element_aware: bool = False, gain: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> Wiring:
    """Random one-to-one interface wiring for layer ``sizes`` = (inputs, hidden..., outputs).

    Sources beyond a layer's 4 input interfaces per neuron are left unconnected.

    Examples
    --------
    >>> import torch
    >>> wiring = build_wiring((16, 8, 4), generator=torch.Generator().manual_seed(0))
    >>> wiring.pix_src.shape, wiring.src.shape, wiring.out_rows.shape   # pixel links, hidden links, reads
    (torch.Size([32]), torch.Size([8]), torch.Size([4]))
    >>> build_wiring((16, 8, 4), mode="sparse")                          # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of (...), got 'sparse'
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output layer, all >= 1; got {sizes}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if int(fan_in) < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    fanout = resolve_fanout(sizes, mode, fanout)
    gen = generator or torch.Generator().manual_seed(0)
    gain = steady_gain() if gain is None else gain
    pix_src, pix_dst, src, dst, pair_counts = [], [], [], [], []
    sources = torch.arange(sizes[0]).repeat_interleave(fanout)  # pixels, `fanout` copies each
    offset = 0
    out_rows = torch.empty(0, dtype=torch.long)
    for li, n in enumerate(sizes[1:], start=1):
        last = li == len(sizes) - 1
        cap = 4  # hidden: at least one output; output layer: one read element
        if sources.numel() > cap * n:  # more sources than input interfaces: the excess stay unconnected
            sources = sources[torch.randperm(sources.numel(), generator=gen)[:cap * n]]
        m = sources.numel()
        q, r = divmod(m, n)
        k = torch.full((n,), q, dtype=torch.long)
        k[torch.randperm(n, generator=gen)[:r]] += 1
        kind = "readout" if last else mode
        order = _orders(n, k, kind, element_aware, gain, gen)  # (n, 5)
        ins_mask = _rank_mask(order, k)  # inputs are the first k[n] elements of each order
        if last:
            out_rows = offset + 5 * torch.arange(n) + order[torch.arange(n), k]  # read element
        in_rows = offset + torch.nonzero(ins_mask.reshape(-1)).squeeze(1)  # (m,) state rows
        # fan_in independent random matchings of the sources onto the input interfaces
        for _ in range(int(fan_in)):
            perm = sources[torch.randperm(m, generator=gen)]
            dsts = in_rows[torch.randperm(m, generator=gen)]
            if li == 1:
                pix_src.append(perm)
                pix_dst.append(dsts)
            else:
                src.append(perm)
                dst.append(dsts)
        pair_counts.append(m * int(fan_in))
        if not last:
            n_out_if = 5 - k if mode == "fill" else torch.ones_like(k)
            rank = torch.argsort(order, dim=1)  # position of each element in the order
            out_mask = (rank >= k[:, None]) & (rank < (k + n_out_if)[:, None])
            sources = offset + torch.nonzero(out_mask.reshape(-1)).squeeze(1)
        offset += 5 * n
    cat = lambda xs: torch.cat(xs) if xs else torch.empty(0, dtype=torch.long)  # noqa: E731
    return Wiring(sizes=sizes, pix_src=cat(pix_src), pix_dst=cat(pix_dst), src=cat(src), dst=cat(dst),
                  out_rows=out_rows, pair_counts=pair_counts)


def _rank_mask(order: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(n, 5) mask of the elements whose position in ``order`` (n, 5) is < k[n]."""
    pos = torch.arange(5).expand_as(order)
    return torch.zeros_like(order, dtype=torch.bool).scatter(1, order, pos < k[:, None])


def resolve_fanout(sizes: list[int], mode: str, fanout: int | str) -> int:
    """``"auto"`` fills layer 1 as MODEL1 (fill) / MODEL2 (one_out) do: 3.74 / 2.99 inputs per neuron."""
    if fanout == "auto":
        return max(1, round(_AUTO_FILL[mode] * sizes[1] / sizes[0]))
    if isinstance(fanout, str) or int(fanout) < 1:
        raise ValueError(f"fanout must be a positive int or 'auto', got {fanout!r}")
    return int(fanout)
