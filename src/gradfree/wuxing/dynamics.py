"""Five-element neuron dynamics of the Wuxing network, batched over samples and neurons.

Forward system, eq. 2.3 / 3.1 (indices mod 5):
    dE_j/dt = K1 E_{j-1} - K2 E_j - K3 E_j E_{j-2} + input_j
Backward system, eq. 2.5 / 3.2 (same connections, reversed causal order):
    dÊ_j/dt = K1 Ê_{j+1} - K2 Ê_j - K3 Ê_j Ê_{j+2} + input_j
Fixed point, eq. 2.2: B0 = (K1 - K2) / K3 (1 at the defaults 1, 0.5, 0.5); signals eq. 2.4 / 2.6:
D = E - B0, D̂ = Ê - B̂0.

Decisions:

* K1, K2, K3 are per neuron (shape (N,)); the five elements of a neuron share them, so eq. 2.5's
  shifted K indices coincide and B̂0 = B0.
* Deviation form. The forward state is ``X = E - B_ref`` where ``B_ref`` is the fixed point of the
  *initial* K (so X is exactly zero at rest). Method 1 moves a neuron's own B0 by changing K1; its
  signal is still measured against ``B_ref``, so the moved fixed point shows up as a constant offset
  the neuron sends on (this is what makes fixed-point adjustment change the output). Expanding:
      dX_j = a1 X_{j-1} - a0 X_j - a2 X_{j-2} - k3 X_j X_{j-2} + c0 + input_j
  with a1 = K1, a0 = K2 + K3 B_ref, a2 = K3 B_ref, k3 = K3, c0 = B_ref (K1 - K2 - K3 B_ref).
  The backward state is ``D̂ = Ê - B0`` (the neuron's own fixed point, so D̂ is zero without error):
      dD̂_j = K1 D̂_{j+1} - K1 D̂_j - K3 B0 D̂_{j+2} - K3 D̂_j D̂_{j+2} + input_j.
  Linearised at B0 the backward matrix is the transpose of the forward one (tests check it).
* Option ``linearised``: the backward system uses the transposed Jacobian of the forward system at a
  given forward state (the end of the forward run) instead of the rest point.
* Positivity (``clamp=True``): E >= 0, i.e. X >= -B_ref and D̂ >= -B0, enforced after every step.
  Without it a strong negative drive makes E_j E_{j-2} blow up in finite time.
* Layout: states are rows, samples are columns: (S, B) with S = 5 N, row 5 n + j. Connections gather
  and scatter whole rows (``index_select`` / ``index_add_``), which keeps memory access contiguous.
* Time averages: ``mean_t X`` over the states after each step (the rectangle rule for (1/T) ∫ X dt).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gradfree.core.io import saveable
from gradfree.wuxing import kernels
from gradfree.wuxing.floats import flush_denormals


class WuxingDivergenceError(FloatingPointError):
    """A non-finite state appeared while integrating; the message names the step and likely cause."""


@saveable
@dataclass
class Coeffs:
    """Per-neuron coefficients of one system in deviation form, each (N, 1, 1).

    f_j = a1 X_{j∓1} - a0 X_j - a2 X_{j∓2} - k3 X_j X_{j∓2} (+ constant drive), minus for forward.
    """

    a1: torch.Tensor
    a0: torch.Tensor
    a2: torch.Tensor
    k3: torch.Tensor
    c0: torch.Tensor  # constant drive (forward only; zero at the initial K)
    lo: torch.Tensor  # positivity bound on the deviation (-B)


def fixed_point(K1: torch.Tensor, K2: torch.Tensor, K3: torch.Tensor) -> torch.Tensor:
    """eq. 2.2: B0 = (K1 - K2) / K3."""
    return (K1 - K2) / K3


def forward_coeffs(K1: torch.Tensor, K2: torch.Tensor, K3: torch.Tensor, b_ref: float) -> Coeffs:
    """Forward system (eq. 2.3) in deviation from ``b_ref``."""
    v = lambda t: t.reshape(-1, 1, 1)  # noqa: E731
    a0 = K2 + K3 * b_ref
    c0 = b_ref * (K1 - a0)
    return Coeffs(a1=v(K1), a0=v(a0), a2=v(K3 * b_ref), k3=v(K3), c0=v(c0),
                  lo=v(torch.full_like(K1, -b_ref)))


def backward_coeffs(K1: torch.Tensor, K2: torch.Tensor, K3: torch.Tensor) -> Coeffs:
    """Backward system (eq. 2.5) in deviation from each neuron's own fixed point B0 (eq. 2.6)."""
    v = lambda t: t.reshape(-1, 1, 1)  # noqa: E731
    b0 = fixed_point(K1, K2, K3)
    return Coeffs(a1=v(K1), a0=v(K2 + K3 * b0), a2=v(K3 * b0), k3=v(K3), c0=v(torch.zeros_like(K1)),
                  lo=v(-b0))


def rhs(X: torch.Tensor, u: torch.Tensor, gather: torch.Tensor, scatter: torch.Tensor, c: torch.Tensor,
        co: Coeffs, shift: int, lin: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Right-hand side, out of place (autograd-safe). X, u: (S, B); shift +1 forward, -1 backward.

    Each connection k adds ``c[k] * X[gather[k]]`` to row ``scatter[k]``. ``lin`` = (diag, off), each
    (N, 5, B): the linearised backward system's per-sample -X_j and -X_{j+2} coefficients.
    """
    S, B = X.shape
    Xv = X.view(S // 5, 5, B)  # (N, 5, B)
    drive = u.index_add(0, scatter, X.index_select(0, gather) * c[:, None]).view(S // 5, 5, B)
    s1, s2 = Xv.roll(shift, 1), Xv.roll(2 * shift, 1)  # X_{j-1}, X_{j-2} (forward)
    if lin is None:
        f = drive + co.a1 * s1 - co.a0 * Xv - (co.a2 + co.k3 * Xv) * s2
    else:
        f = drive + co.a1 * s1 - lin[0] * Xv - lin[1] * s2
    return f.reshape(S, B)


def _euler_step_(X: torch.Tensor, u: torch.Tensor, gather: torch.Tensor, scatter: torch.Tensor,
                 c: torch.Tensor, co: Coeffs, shift: int, dt: float,
                 lin: tuple[torch.Tensor, torch.Tensor] | None) -> None:
    """One explicit Euler step in place, with few passes over memory (the default fast path)."""
    S, B = X.shape
    Xv = X.view(S // 5, 5, B)
    d = u.index_add(0, scatter, X.index_select(0, gather).mul_(c[:, None]))  # (S, B) input drive
    dv = d.view(S // 5, 5, B)
    s2 = Xv.roll(2 * shift, 1)
    if lin is None:
        t = torch.addcmul(co.a2, co.k3, Xv)  # a2 + k3 X_j
        dv.addcmul_(t, s2, value=-1.0)
        dv.addcmul_(co.a0, Xv, value=-1.0)
    else:
        dv.addcmul_(lin[1], s2, value=-1.0)
        dv.addcmul_(lin[0], Xv, value=-1.0)
    dv.addcmul_(co.a1, Xv.roll(shift, 1))
    X.add_(d, alpha=dt)


def integrate(u: torch.Tensor, gather: torch.Tensor, scatter: torch.Tensor, c: torch.Tensor, co: Coeffs,
              *, shift: int, dt: float, steps: int, method: str = "euler", clamp: bool = True,
              lin: tuple[torch.Tensor, torch.Tensor] | None = None, check_every: int = 10,
              what: str = "forward", fused: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate from rest (X = 0) for ``steps`` steps under constant drive ``u`` (S, B).

    Returns (time average of X, final X), both (S, B). Raises :class:`WuxingDivergenceError` on a
    non-finite state, naming the first bad step. ``fused``: use the numba kernel where it applies.
    """
    S, B = u.shape
    plan = None
    if fused and method == "euler" and shift in (1, -1) and kernels.available(u.device, u.dtype):
        plan = kernels.plan_for(gather, scatter, S // 5)
    if plan is not None:
        flat = lambda t: t.reshape(-1)  # noqa: E731
        out = kernels.integrate_fused(u, plan, c, flat(co.a1), flat(co.a0), flat(co.a2), flat(co.k3),
                                      flat(co.lo), shift=shift, dt=dt, steps=steps, clamp=clamp, lin=lin)
        if out is not None:
            return out
        # non-finite: replay on the torch path, which names the first non-finite step
    with flush_denormals(u.device.type == "cpu"):  # the caller's float mode is restored on exit
        return _integrate_torch(u, gather, scatter, c, co, shift=shift, dt=dt, steps=steps, method=method,
                                clamp=clamp, lin=lin, check_every=check_every, what=what)


def _integrate_torch(u, gather, scatter, c, co, *, shift, dt, steps, method, clamp, lin, check_every, what
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The torch path of :func:`integrate` (any device, Euler or RK4)."""
    S, B = u.shape
    X = torch.zeros_like(u)
    acc = torch.zeros_like(u)
    lo = co.lo.expand(S // 5, 5, 1).reshape(S, 1)
    last_good, last_k = X.clone(), 0
    for k in range(steps):
        _step(X, u, gather, scatter, c, co, shift, dt, method, lin)
        if clamp:
            torch.maximum(X, lo, out=X)
        if (k + 1) % check_every == 0 or k + 1 == steps:
            if not bool(torch.isfinite(X).all()):
                bad = _first_bad_step(last_good, last_k, u, gather, scatter, c, co, shift, dt, method,
                                      lin, clamp, lo)
                raise WuxingDivergenceError(
                    f"non-finite state in the {what} run at integration step {bad} (t = {bad * dt:.2f}). "
                    f"Likely cause: {'the positivity clamp is off (clamp=False), so ' if not clamp else ''}"
                    "a strong drive made E_j E_{j-2} blow up; lower input_scale / error_scale / c_max, "
                    "or use a smaller dt (or integrator='rk4').")
            last_good, last_k = X.clone(), k + 1
        acc.add_(X)
    return acc.div_(steps), X


def _step(X, u, gather, scatter, c, co, shift, dt, method, lin) -> None:
    if method == "euler":
        _euler_step_(X, u, gather, scatter, c, co, shift, dt, lin)
        return
    f = lambda Z: rhs(Z, u, gather, scatter, c, co, shift, lin)  # noqa: E731
    k1 = f(X)
    k2 = f(X + 0.5 * dt * k1)
    k3 = f(X + 0.5 * dt * k2)
    k4 = f(X + dt * k3)
    X.add_(k1 + 2 * k2 + 2 * k3 + k4, alpha=dt / 6)


def _first_bad_step(X, k0, u, gather, scatter, c, co, shift, dt, method, lin, clamp, lo) -> int:
    """Replay from the last finite state one step at a time to name the first non-finite step."""
    X = X.clone()
    for k in range(k0, k0 + 10_000):
        _step(X, u, gather, scatter, c, co, shift, dt, method, lin)
        if clamp:
            torch.maximum(X, lo, out=X)
        if not bool(torch.isfinite(X).all()):
            return k + 1
    return k0 + 1


def integrate_functional(u: torch.Tensor, gather: torch.Tensor, scatter: torch.Tensor, c: torch.Tensor,
                         co: Coeffs, *, shift: int, dt: float, steps: int, clamp: bool = True
                         ) -> torch.Tensor:
    """Out-of-place Euler integration (autograd can differentiate it); returns the time average."""
    X = torch.zeros_like(u)
    acc = torch.zeros_like(u)
    S = u.shape[0]
    lo = co.lo.expand(S // 5, 5, 1).reshape(S, 1)
    for _ in range(steps):
        X = X + dt * rhs(X, u, gather, scatter, c, co, shift)
        if clamp:
            X = torch.maximum(X, lo)
        acc = acc + X
    return acc / steps


def linearised_coeffs(co: Coeffs, Xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(diag, off) of the transposed forward Jacobian at the forward state Xf (S, B), each (N, 5, B).

    Forward: ∂f_j/∂X_j = -(a0 + k3 X_{j-2}), ∂f_j/∂X_{j-2} = -(a2 + k3 X_j). Transposed, row j of the
    backward system gets -(a0 + k3 X_{j-2}) on D̂_j and -(a2 + k3 X_{j+2}) on D̂_{j+2}.
    """
    S, B = Xf.shape
    Xv = Xf.view(S // 5, 5, B)
    return co.a0 + co.k3 * Xv.roll(2, 1), co.a2 + co.k3 * Xv.roll(-2, 1)
