"""SET: sparse evolutionary training (Mocanu et al. 2018), a prune-and-regrow sparse backprop baseline.

Mocanu, Mocanu, Stone, Nguyen, Gibescu, Liotta, "Scalable training of artificial neural networks with
adaptive sparse connectivity inspired by network science", Nature Communications 9:2383 (2018).

The network starts as :class:`~gradfree.baselines.SparseMLPClassifier` does (a random mask per layer
at ``link_ratio``) and keeps that many connections per layer throughout. After every epoch, in each
layer, the fraction ``zeta`` of kept connections with the smallest |weight| is removed and the same
number of connections is regrown at random among the empty positions (the paper's rule; it removes
the smallest positive and the largest negative weights, i.e. the smallest magnitudes on each side,
which we take together). Regrown weights start uniform in ``+-init_scale / sqrt(fan_in)`` and their
Adam moments at zero.

Decisions (ours): Adam (the other backprop baselines' optimiser) instead of the paper's SGD with
momentum; the same per-layer link ratio as the fixed-mask baseline rather than the paper's
Erdos-Renyi scaling, so that both have exactly the same number of connections per layer; the output
layer is pruned and regrown like the others.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import torch
from sklearn.utils._param_validation import Interval

from gradfree.baselines.mlp import SparseMLPClassifier


class SETMLPClassifier(SparseMLPClassifier):
    """Backprop MLP whose sparse mask evolves: prune the smallest ``zeta`` of each layer, regrow at random.

    Parameters as :class:`~gradfree.baselines.SparseMLPClassifier`, plus ``zeta`` (fraction of each
    layer's connections replaced after every epoch; the paper's 0.3) and ``init_scale``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SETMLPClassifier(random_state=0).fit(X[:1200] / 16, y[:1200])
    >>> model.predict(X[1200:1203] / 16).shape
    (3,)
    """

    _parameter_constraints = {**SparseMLPClassifier._parameter_constraints,
                              "zeta": [Interval(Real, 0, 1, closed="left")],
                              "init_scale": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (256,), *, epochs: int = 5, lr: float = 1e-3,
                 batch_size: int = 128, weight_decay: float = 0.0, link_ratio: float = 0.1,
                 zeta: float = 0.3, init_scale: float = 1.0, random_state: Any = None,
                 device: str = "cpu") -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, epochs=epochs, lr=lr,
                         batch_size=batch_size, weight_decay=weight_decay, link_ratio=link_ratio,
                         random_state=random_state, device=device)
        self.zeta = zeta
        self.init_scale = init_scale

    def _end_epoch(self, weights: list[torch.Tensor], opt: torch.optim.Optimizer) -> None:
        """After every epoch, one prune-and-regrow step per layer (the masks the forward pass reads)."""
        self.masks_ = [m.clone() for m in self.masks_]  # ordinary tensors: updated in place below
        for w, mask in zip(weights, self.masks_):
            self._evolve(w, mask, opt.state.get(w, {}))

    def _evolve(self, w: torch.Tensor, mask: torch.Tensor, state: dict) -> None:
        """Remove the ``zeta`` smallest-|w| connections of one layer and regrow as many at random."""
        kept = mask.view(-1).nonzero().squeeze(1)
        k = int(float(self.zeta) * kept.numel())
        empty = (~mask).view(-1).nonzero().squeeze(1)
        k = min(k, empty.numel())
        if k == 0:
            return
        mag = (w.detach().view(-1)[kept]).abs()
        drop = kept[torch.topk(mag, k, largest=False).indices]
        grow = empty[torch.randperm(empty.numel(), generator=self.rng_, device=w.device)[:k]]
        mask.view(-1)[drop] = False
        mask.view(-1)[grow] = True
        fan_in = max(float(mask.sum()) / mask.shape[0], 1.0)
        bound = float(self.init_scale) / fan_in ** 0.5
        new = (torch.rand(k, generator=self.rng_, device=w.device, dtype=w.dtype) * 2 - 1) * bound
        flat = w.data.view(-1)
        flat[drop] = 0.0
        flat[grow] = new
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key].view(-1)[drop] = 0.0
                state[key].view(-1)[grow] = 0.0
