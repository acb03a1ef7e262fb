"""Backward signal propagation (BSP, eq. 3.3-3.5) and the fixed-point method (method 1, our reading).

BSP, per connection from source element i to destination element i+1 and per sample:
    G1 = (1/T ∫ D_i dt / input_scale) * (1/T ∫ D̂_{i+1} dt / error_scale)        # eq. 3.3
    G2 = atan(G1 * kt) / kt                                                    # eq. 3.4
    c <- clip(c + step * mean_batch G2, -c_max, c_max)                         # eq. 3.5
Normalising the integrals by T and by the two signal scales (our choice) makes ``kt`` and ``step``
independent of them; for small signals G1 is then -dL/dc of L = 1/2 |target - y|^2 (tests check it).
For a pixel connection the source signal is the pixel itself.

Method 1 (fixed points) is only referenced by the paper (arXiv 2411.14468, "distributed PID"). **Our
reading**: each neuron moves its own fixed point B0 = (K1 - K2)/K3 through K1, driven by the same kind
of local product of forward and backward signals as BSP. K1 enters eq. 2.3 as K1 E_{j-1}, so its
causal quantity is
    G_K = sum_j (1/T ∫ E_{j-1} dt) * (1/T ∫ D̂_j dt / error_scale),
expressed for the offset b = (B0 - B_ref) / input_scale (dB0/dK1 = 1/K3, so G_b = K3 s G_K), limited
by the same atan, averaged over the batch, and applied as a PID controller across batches:
    b <- clip(b + step * (kp P + ki I + kd (P - P_prev)), -max_offset, max_offset),   K1 = K1_0 + K3 s b,
with P = mean_batch atan(G_b kt)/kt and I a leaky sum of P (decay ``pid_decay``). This first reading is
``FixedPointParams(rule="offset")`` (the default; :mod:`gradfree.wuxing.params`).

**Second reading** (``rule="k123"``), from what we could find of the cited method's published
versions: "A Neural Network Training Method Based on Distributed PID Control" (arXiv:2411.14468;
Symmetry 17(7):1129, 2025) has each neuron adjust its own parameters from local comparisons of the
forward and backward signals passing through it, and reports that one update rule applied to all of
K1, K2 and K3 is unstable because the three are strongly coupled, hence a separate rule for each; the
present paper (Sec. 3) calls its coefficient adjustment the "improved differential control" of that
PID scheme. We found no equations of that text (only its abstract and summaries), so: each of K1, K2,
K3 gets its own causal quantity, the product of the forward factor it multiplies in eq. 2.3 with the
backward signal (:func:`fp_directions_k123`), its own PID state, and its own bound ``max_offset``
(units of ``input_scale``; K3 stays > 0 and K1 > K2, so the fixed point of eq. 2.2 stays positive). With
``method="mixed"`` BSP on C acts as the D part, as the paper says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from gradfree.core.io import saveable
from gradfree.core.schema import tensor
from gradfree.wuxing.network import NetState, RunSpec
from gradfree.wuxing.wiring import Wiring


def limit(G1: torch.Tensor, kt: float) -> torch.Tensor:
    """eq. 3.4: G2 = atan(G1 kt) / kt."""
    return torch.atan(G1 * kt).div_(kt)


def bsp_g1(w: Wiring, X: torch.Tensor, st: NetState, spec: RunSpec) -> torch.Tensor:
    """eq. 3.3 per connection and sample, (M, B): pixel connections first, then neuron connections."""
    assert st.Dhat is not None
    inv_e = 1.0 / spec.error_scale
    g_pix = X.T.index_select(0, w.pix_src) * st.Dhat.index_select(0, w.pix_dst).mul_(inv_e)
    g_hid = st.Xbar.index_select(0, w.src).mul_(1.0 / spec.input_scale) * \
        st.Dhat.index_select(0, w.dst).mul_(inv_e)
    return torch.cat([g_pix, g_hid])


def bsp_direction(w: Wiring, X: torch.Tensor, st: NetState, spec: RunSpec, kt: float) -> torch.Tensor:
    """Mean over the batch of G2 (eq. 3.4), (M,): the coefficient change per unit step."""
    return limit(bsp_g1(w, X, st, spec), kt).mean(dim=1)


def fp_direction(st: NetState, K3: torch.Tensor, b_ref: float, spec: RunSpec, kt: float) -> torch.Tensor:
    """Method 1 causal quantity per neuron (our reading), limited and batch-averaged, (N,).

    Expressed for the neuron's fixed-point offset in units of ``input_scale`` (b = (B0 - B_ref) / s,
    dB0/dK1 = 1/K3), so that, like BSP's, the step does not depend on the signal scale.
    """
    assert st.Dhat is not None
    S, B = st.Xbar.shape
    E_prev = st.Xbar.view(S // 5, 5, B).roll(1, 1) + b_ref  # (N, 5, B) time-average E_{j-1}
    G = (E_prev * st.Dhat.view(S // 5, 5, B)).sum(dim=1) / spec.error_scale  # (N, B): -dL/dK1
    G.mul_(K3[:, None] * spec.input_scale)  # -dL/db
    return limit(G, kt).mean(dim=1)


def fp_directions_k123(st: NetState, b_ref: float, spec: RunSpec, kt: float
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Method 1, second reading (``rule="k123"``): one causal quantity per neuron parameter, (N,) each.

    K1, K2 and K3 enter eq. 2.3 as K1 E_{j-1}, -K2 E_j and -K3 E_j E_{j-2}, so, with Ē the time-averaged
    element values and D̂ the backward signal (both as in eq. 3.3),
        G_K1 = sum_j Ē_{j-1} D̂_j,   G_K2 = -sum_j Ē_j D̂_j,   G_K3 = -sum_j Ē_j Ē_{j-2} D̂_j,
    each for a change of K in units of ``input_scale``, limited by eq. 3.4's atan and batch-averaged.
    """
    assert st.Dhat is not None
    S, B = st.Xbar.shape
    E = st.Xbar.view(S // 5, 5, B) + b_ref  # (N, 5, B) time-averaged element values
    D = st.Dhat.view(S // 5, 5, B) * (spec.input_scale / spec.error_scale)
    g1 = (E.roll(1, 1) * D).sum(dim=1)
    g2 = -(E * D).sum(dim=1)
    g3 = -(E * E.roll(2, 1) * D).sum(dim=1)
    return tuple(limit(g, kt).mean(dim=1) for g in (g1, g2, g3))  # type: ignore[return-value]


@saveable
@dataclass
class PIDState:
    """Explicit state of the per-neuron PID controller of method 1."""

    integral: torch.Tensor  # (N,)
    prev: torch.Tensor  # (N,)

    _saved_fields: ClassVar[dict] = {"integral": tensor("N"), "prev": tensor("N")}


def pid_update(P: torch.Tensor, state: PIDState, kp: float, ki: float, kd: float, decay: float
               ) -> torch.Tensor:
    """PID output for proportional signal P (N,); updates ``state`` in place."""
    state.integral.mul_(decay).add_(P)
    out = kp * P + ki * state.integral + kd * (P - state.prev)
    state.prev.copy_(P)
    return out
