"""Policies as flat parameter vectors, evaluated for a whole population at once.

A policy maps a batch of (normalised) observations, one row per live episode, to actions, with each
row using its own parameter vector: ``act(params (n, D), obs (n, o)) -> (n, a)`` raw outputs. The
caller turns outputs into actions (:func:`to_actions`): the argmax for a discrete action space, the
output clipped to the bounds (``"linear"``, as ARS) or squashed into them by tanh (``"mlp"``,
``"emns"``) for a continuous one.

* ``"linear"``: ``y = W x`` (a, o), no bias (ARS, Mania et al. 2018); starts at zero.
* ``"mlp"``: ``y = W2 tanh(W1 x + b1) + b2``, ``hidden`` units per layer; hidden weights start
  at N(0, 1/fan_in) (drawn from the search's seed), the output layer at zero.
* ``"emns"``: the EMNS paper's network (evolvable aggregation and activation bases per neuron,
  synapse gain and bias; "Evolvable Modular Neural Systems", Karahan 2025, sec. 3) with the reference
  initialisation (:mod:`gradfree.emns.network`); a synapse mask (``masks``, all present by default)
  says which synapses exist, which is how growth and pruning act inside a network of fixed capacity
  (:mod:`gradfree.emns.control.structure`).

Rows are computed by elementwise products and sums over the last axis, so a row's output does not
depend on which other rows share its batch: a worker holding a share of the population computes the
same bits as the driver holding all of it.

The rollout loop evaluates the policy once per time step for a handful of rows, where a framework
call costs more than the arithmetic: :meth:`PolicySpec.bind` gives a :class:`BoundPolicy` that holds
the rows' weights as NumPy arrays, split per layer once per batch of episodes, and drops the rows of
finished episodes only when one ends (``"linear"`` and ``"mlp"`` run in NumPy, ``"emns"`` in torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gradfree.emns import network

POLICIES = ("linear", "mlp", "emns")


@dataclass(frozen=True)
class PolicySpec:
    """What a policy is: its kind, input and output sizes and hidden layers."""

    kind: str
    n_in: int
    n_out: int
    hidden: tuple[int, ...] = ()

    @property
    def sizes(self) -> list[int]:
        return [self.n_in, *self.hidden, self.n_out]

    @property
    def n_params(self) -> int:
        if self.kind == "linear":
            return self.n_out * self.n_in
        if self.kind == "mlp":
            s = self.sizes
            return sum(s[i + 1] * (s[i] + 1) for i in range(len(s) - 1))
        return network.n_params(self.sizes)

    def initial(self, rng: torch.Generator) -> torch.Tensor:
        """The starting centre (D,), float64."""
        if self.kind == "linear":
            return torch.zeros(self.n_params, dtype=torch.float64)
        if self.kind == "mlp":
            s, parts = self.sizes, []
            for i in range(len(s) - 1):
                m, n = s[i], s[i + 1]
                last = i == len(s) - 2
                w = torch.zeros(n, m) if last else torch.randn(n, m, generator=rng) / m ** 0.5
                parts += [w.reshape(-1), torch.zeros(n)]
            return torch.cat(parts).to(torch.float64)
        values, _, _ = network.init_network(self.sizes, 1, rng, torch.device("cpu"))
        return values[0].to(torch.float64)

    def act(self, params: torch.Tensor, obs: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs (n, n_out) for parameters (n, D) and observations (n, n_in); ``masks`` (S,):
        the present synapses of an ``"emns"`` policy (None: all)."""
        n = params.shape[0]
        if self.kind == "linear":
            W = params.view(n, self.n_out, self.n_in)
            return (W * obs[:, None, :]).sum(-1)  # (n, a, o) -> (n, a)
        if self.kind == "mlp":
            s, x, o = self.sizes, obs, 0
            for i in range(len(s) - 1):
                m, k = s[i], s[i + 1]
                W = params[:, o:o + k * m].view(n, k, m)
                b = params[:, o + k * m:o + k * m + k]
                o += k * m + k
                x = (W * x[:, None, :]).sum(-1) + b  # (n, k)
                if i < len(s) - 2:
                    x = torch.tanh(x)
            return x
        x = obs[:, None, :]  # (n, 1, m): one "sample" per individual
        masks = (torch.ones(network.n_synapses(self.sizes), dtype=obs.dtype) if masks is None
                 else masks.to(obs.dtype))
        for (W, B, G, A, H), mask in zip(network.unpack(params, self.sizes),
                                         network.unpack_masks(masks, self.sizes)):
            x = network._layer(x, W, B, G, A, H, mask)
        return x[:, 0, :]


    def bind(self, params: torch.Tensor, low: np.ndarray | None = None, high: np.ndarray | None = None,
             discrete: bool = False, masks: torch.Tensor | None = None) -> BoundPolicy:
        """The policies of the rows of ``params`` (n, D), ready to map observations to actions
        (``masks``: an ``"emns"`` policy's present synapses)."""
        return BoundPolicy(self, params, low, high, discrete, masks)


class BoundPolicy:
    """The policies of n parameter rows for a batch of episodes: ``policy(obs (m, n_in))`` returns the
    actions (m, ...) of the m rows still kept (:meth:`keep` drops the others), as NumPy arrays.

    For ``"linear"`` and ``"mlp"`` each layer's weights (n, k, m) and biases (n, k) are NumPy views of
    ``params`` made once, so a call is a few NumPy operations on small arrays (measured in
    ``benchmarks/bench_emns_control.py``: a torch call per operation cost more than the arithmetic).
    """

    def __init__(self, spec: PolicySpec, params: torch.Tensor, low: np.ndarray | None,
                 high: np.ndarray | None, discrete: bool, masks: torch.Tensor | None = None) -> None:
        self.spec, self.discrete, self.low, self.high, self.masks = spec, discrete, low, high, masks
        if masks is not None and spec.kind != "emns":
            raise ValueError(f"synapse masks apply to the 'emns' policy only, not {spec.kind!r}")
        self._half_range = None if low is None else 0.5 * (high - low)
        n = params.shape[0]
        if spec.kind == "emns":
            self.params, self.layers = params, None
            return
        P = np.ascontiguousarray(params.detach().cpu().numpy(), dtype=np.float64)
        s, o, layers = spec.sizes, 0, []
        for i in range(len(s) - 1):
            m, k = s[i], s[i + 1]
            W = P[:, o:o + k * m].reshape(n, k, m)
            b = P[:, o + k * m:o + k * m + k] if spec.kind == "mlp" else None
            o += k * m + (k if spec.kind == "mlp" else 0)
            layers.append((W, b))
        self.layers = layers

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (indices into the current rows, in order)."""
        if self.layers is None:
            self.params = self.params[torch.from_numpy(rows)]
        else:
            self.layers = [(W[rows], None if b is None else b[rows]) for W, b in self.layers]

    def outputs(self, obs: np.ndarray) -> np.ndarray:
        """Raw outputs (m, n_out) for observations (m, n_in) (``"linear"``, ``"mlp"``)."""
        x, last = obs, len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):
            x = np.einsum("nkj,nj->nk", W, x)  # (m, k, j) . (m, j) -> (m, k)
            if b is not None:
                x += b
            if i < last:
                x = np.tanh(x)
        return x

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions for observations (m, n_in): the argmax (discrete), clipped (linear) or squashed."""
        if self.layers is None:  # "emns": the network's torch code, actions mapped in torch
            with torch.inference_mode():
                out = self.spec.act(*_padded(self.params, torch.from_numpy(obs)), self.masks)[:len(obs)]
                low, high = (None, None) if self.discrete else map(torch.from_numpy, (self.low, self.high))
                return to_actions(out, "emns", self.discrete, low, high).numpy()
        out = self.outputs(obs)
        if self.discrete:
            return out.argmax(-1)
        if self.spec.kind == "linear":  # clip (np.clip's wrapper costs more than these two ufuncs)
            return np.minimum(np.maximum(out, self.low, out=out), self.high, out=out)
        # low + (tanh(out) + 1) * 0.5 * (high - low), in place (the 0.5 folded into the range: exact)
        t = np.tanh(out, out=out)
        t += 1.0
        t *= self._half_range
        t += self.low
        return t


#: rows of an "emns" batch are padded to a multiple of this: torch's element-wise kernels run a tensor in
#: SIMD blocks and its last ``numel % (2 x vector width)`` elements through a scalar loop, whose sigmoid,
#: exp, sin and sqrt round differently; with every tensor's size a multiple of 64 rows no element takes
#: the scalar path, so a row's actions are the same bits in any batch (workers, dropped episodes)
_ROW_BLOCK = 64


def _padded(params: torch.Tensor, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """params (n, D) and obs (n, n_in) with copies of their first row appended up to a multiple of
    ``_ROW_BLOCK`` rows."""
    pad = -len(obs) % _ROW_BLOCK
    if pad == 0:
        return params, obs
    return (torch.cat((params, params[:1].expand(pad, -1))), torch.cat((obs, obs[:1].expand(pad, -1))))


def to_actions(out: torch.Tensor, kind: str, discrete: bool, low: torch.Tensor | None,
               high: torch.Tensor | None) -> torch.Tensor:
    """Actions from raw outputs: argmax (discrete), clip (linear) or tanh squash into [low, high]."""
    if discrete:
        return out.argmax(-1)
    if kind == "linear":
        return torch.clamp(out, low, high)
    return low + (torch.tanh(out) + 1.0) * 0.5 * (high - low)
