"""Forward and backward runs of a wired Wuxing network (eq. 3.1 and 3.2).

Decisions:

* pixels are sources without dynamics, held constant for the run and scaled by ``input_scale``;
  a pixel connection adds ``c * input_scale * x`` to its input element;
* the read-out of output neuron k is the time average of its read element's deviation, divided by
  ``input_scale`` so that targets (one-hot) and errors do not depend on the signal scale;
* backward run: the error ``error_scale * (target - output)`` drives the read elements of the
  backward system for the same duration; each connection carries ``c * D̂_dst`` back to its source.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gradfree.core.io import saveable
from gradfree.wuxing.dynamics import (
    backward_coeffs,
    forward_coeffs,
    integrate,
    linearised_coeffs,
)
from gradfree.wuxing.wiring import Wiring


@saveable
@dataclass(frozen=True)
class RunSpec:
    """How to integrate: step ``dt``, duration ``T``, integrator, positivity, signal scales.

    Examples
    --------
    >>> RunSpec().steps, RunSpec(dt=0.1, T=5.0).steps          # integration steps: T / dt
    (150, 50)
    """

    dt: float = 0.2
    T: float = 30.0
    integrator: str = "euler"
    clamp: bool = True
    input_scale: float = 0.1
    error_scale: float = 0.1
    backward: str = "rest"  # "rest" (eq. 2.5 at B0) | "linearised" (around the forward end state)

    @property
    def steps(self) -> int:
        return max(1, round(self.T / self.dt))


@saveable
@dataclass
class NetState:
    """What BSP needs from one forward + backward run (all (S, B) except y / err (B, n_out))."""

    Xbar: torch.Tensor  # forward time average, deviation from B_ref
    Xend: torch.Tensor  # forward end state
    y: torch.Tensor  # read-out / input_scale
    Dhat: torch.Tensor | None = None  # backward time average
    err: torch.Tensor | None = None


def forward_run(w: Wiring, c: torch.Tensor, K: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                b_ref: float, X: torch.Tensor, spec: RunSpec, what: str = "forward") -> NetState:
    """Run the forward system (eq. 3.1) on a batch X (B, n_in) from rest; read the outputs."""
    n_pix = w.pix_src.numel()
    S, B = 5 * w.n_neurons, X.shape[0]
    co = forward_coeffs(*K, b_ref)
    xs = X.T.index_select(0, w.pix_src) * (spec.input_scale * c[:n_pix, None])  # (Mp, B)
    u = torch.zeros(S, B, dtype=X.dtype, device=X.device).index_add_(0, w.pix_dst, xs)
    if bool((co.c0 != 0).any()):
        u.view(S // 5, 5, B).add_(co.c0)  # moved fixed points (method 1)
    Xbar, Xend = integrate(u, w.src, w.dst, c[n_pix:], co, shift=1, dt=spec.dt, steps=spec.steps,
                           method=spec.integrator, clamp=spec.clamp, what=what)
    y = Xbar.index_select(0, w.out_rows).T / spec.input_scale  # (B, n_out)
    return NetState(Xbar=Xbar, Xend=Xend, y=y)


def backward_run(w: Wiring, c: torch.Tensor, K: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                 b_ref: float, st: NetState, err: torch.Tensor, spec: RunSpec) -> NetState:
    """Inject ``error_scale * err`` (B, n_out) at the read elements; run eq. 3.2 backward in space."""
    n_pix = w.pix_src.numel()
    S, B = st.Xbar.shape
    co = backward_coeffs(*K)
    lin = None
    if spec.backward == "linearised":
        lin = linearised_coeffs(forward_coeffs(*K, b_ref), st.Xend)
    u = torch.zeros(S, B, dtype=err.dtype, device=err.device)
    u.index_copy_(0, w.out_rows, spec.error_scale * err.T)
    Dhat, _ = integrate(u, w.dst, w.src, c[n_pix:], co, shift=-1, dt=spec.dt, steps=spec.steps,
                        method=spec.integrator, clamp=spec.clamp, lin=lin, what="backward")
    st.Dhat, st.err = Dhat, err
    return st
