"""Baseline, not gradient-free: the same Wuxing network trained by exact gradient descent.

The gradient of the squared read-out error with respect to C is computed by autograd through the
Euler integration of the very same forward system (same wiring, read-out, clamp, loss, step and
clip). It is the yardstick for BSP ("BSP within 3 points of exact gradient descent on the same sparse
wiring"), so it lives beside the model but, like every backprop baseline, uses autograd.
"""

from __future__ import annotations

from typing import Any

import torch

from gradfree.wuxing.classifier import WuxingClassifier
from gradfree.wuxing.dynamics import forward_coeffs, integrate_functional
from gradfree.wuxing.floats import flush_denormals
from gradfree.wuxing.network import RunSpec


class ExactGradientWuxing(WuxingClassifier):
    """:class:`WuxingClassifier` whose C follows the exact gradient (autograd, a baseline)."""

    def _learn(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, whole: bool) -> ExactGradientWuxing:
        # no inference_mode here: autograd is the point of this baseline
        return self._passes(Xt, yi, first=first, epochs=int(self.epochs) if whole else 1)

    def _train_batch(self, X: torch.Tensor, yi: torch.Tensor, spec: RunSpec) -> float:
        g, loss = exact_gradient(self, X, yi, spec)
        with torch.no_grad():
            self.coef_.add_(g, alpha=-float(self.step)).clamp_(-float(self.c_max), float(self.c_max))
        self.n_iter_ += 1
        return loss


def exact_gradient(model: WuxingClassifier, X: torch.Tensor, yi: torch.Tensor, spec: RunSpec
                   ) -> tuple[torch.Tensor, float]:
    """(dL/dC (M,), L) of L = mean over the batch of 1/2 |one_hot(y) - read-out|^2, by autograd
    through the Euler integration of the fitted ``model``'s forward system."""
    n = lambda t: t.clone() if t.is_inference() else t  # noqa: E731  (a model trained by BSP holds them)
    w, n_pix = model.wiring_, model.wiring_.pix_src.numel()
    c = model.coef_.detach().clone().requires_grad_(True)
    target = torch.nn.functional.one_hot(n(yi), len(model.classes_)).to(model.dtype)
    X = n(X)
    with torch.enable_grad(), flush_denormals(X.device.type == "cpu"):  # restored on exit
        co = forward_coeffs(n(model.K1_), n(model.K2_), n(model.K3_), model.b_ref_)
        S, B = 5 * w.n_neurons, X.shape[0]
        xs = X.T.index_select(0, n(w.pix_src)) * (spec.input_scale * c[:n_pix, None])
        u = torch.zeros(S, B, dtype=X.dtype).index_add(0, n(w.pix_dst), xs)
        Xbar = integrate_functional(u, n(w.src), n(w.dst), c[n_pix:], co, shift=1, dt=spec.dt,
                                    steps=spec.steps, clamp=spec.clamp)
        y = Xbar.index_select(0, n(w.out_rows)).T / spec.input_scale
        loss = 0.5 * ((target - y) ** 2).sum(dim=1).mean()
        (g,) = torch.autograd.grad(loss, c)
    return g, float(loss.detach())


def update_alignment(model: WuxingClassifier, X: Any, y: Any) -> dict[str, float]:
    """Cosine between BSP's update direction (eq. 3.3, before the atan limit) and the exact descent
    direction -dL/dC on (X, y), for each backward system ("rest": eq. 2.5; "linearised": ours)."""
    import dataclasses

    import numpy as np

    from gradfree.wuxing.bsp import bsp_g1
    from gradfree.wuxing.network import backward_run

    Xt = model._validate(X, reset=False)
    yi = torch.as_tensor(model._label_index(np.asarray(y)), device=Xt.device)
    g, _ = exact_gradient(model, Xt, yi, model._spec())
    out = {}
    with torch.inference_mode():
        for backward in ("rest", "linearised"):
            spec = dataclasses.replace(model._spec(), backward=backward)
            st = model._forward(Xt, spec)
            err = torch.nn.functional.one_hot(yi, len(model.classes_)).to(model.dtype) - st.y
            backward_run(model.wiring_, model.coef_, (model.K1_, model.K2_, model.K3_), model.b_ref_, st,
                         err, spec)
            dc = bsp_g1(model.wiring_, Xt, st, spec).mean(dim=1)
            out[backward] = float(torch.nn.functional.cosine_similarity(dc, -g, dim=0))
    return out

