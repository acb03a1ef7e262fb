"""Fused CPU kernel (numba) for Euler integration of a wired network: the default on the CPU.

The torch path in :mod:`gradfree.wuxing.dynamics` makes ~12 passes over the whole (S, B) state per
step, and at MODEL1 sizes that state does not stay in cache. Here one kernel integrates a block of
``BLOCK`` samples through all steps with its state (S x BLOCK floats) resident in L2, vectorised over
the samples of the block and parallel over blocks. It computes exactly the same Euler scheme as
``dynamics._euler_step_`` (tests compare the two). Used when the device is the CPU, the integrator
is Euler and numba imports; otherwise the torch path runs (CUDA, RK4).
"""

from __future__ import annotations

import numpy as np
import torch

try:  # numba is optional: without it the torch path runs
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover
    numba = None

BLOCK = 32

if numba is not None:

    @njit(parallel=True, cache=True, fastmath=False, boundscheck=False)
    def _integrate_blocks(u, gather, scatter, c, a1, a0, a2, k3, lo, shift, dt, steps, clamp,
                          use_lin, lin_d, lin_o, out_mean, out_end):  # pragma: no cover - jitted
        S, B = u.shape
        N = S // 5
        M = gather.shape[0]
        nblk = (B + BLOCK - 1) // BLOCK
        inv = np.float32(1.0 / steps)
        for ib in prange(nblk):
            b0 = ib * BLOCK
            nb = min(B, b0 + BLOCK) - b0
            X = np.zeros((S, nb), dtype=np.float32)
            acc = np.zeros((S, nb), dtype=np.float32)
            d = np.empty((S, nb), dtype=np.float32)
            for _ in range(steps):
                for r in range(S):
                    for b in range(nb):
                        d[r, b] = u[r, b0 + b]
                for m in range(M):  # each connection adds c * X[src] to its destination row
                    g = gather[m]
                    s = scatter[m]
                    cm = c[m]
                    for b in range(nb):
                        d[s, b] += cm * X[g, b]
                for n in range(N):
                    A1 = a1[n]
                    A0 = a0[n]
                    A2 = a2[n]
                    K3 = k3[n]
                    for j in range(5):
                        r = 5 * n + j
                        r1 = 5 * n + (j - shift) % 5
                        r2 = 5 * n + (j - 2 * shift) % 5
                        if use_lin:
                            for b in range(nb):
                                d[r, b] += A1 * X[r1, b] - lin_d[r, b0 + b] * X[r, b] \
                                    - lin_o[r, b0 + b] * X[r2, b]
                        else:
                            for b in range(nb):
                                x = X[r, b]
                                d[r, b] += A1 * X[r1, b] - A0 * x - (A2 + K3 * x) * X[r2, b]
                for n in range(N):
                    L = lo[n] if clamp else np.float32(-np.inf)
                    for r in range(5 * n, 5 * n + 5):
                        for b in range(nb):
                            v = max(X[r, b] + dt * d[r, b], L)  # Euler step, positivity clamp
                            X[r, b] = v
                            acc[r, b] += v
            for r in range(S):
                for b in range(nb):
                    out_mean[r, b0 + b] = acc[r, b] * inv
                    out_end[r, b0 + b] = X[r, b]


def available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the fused kernel can run here (numba present, CPU, float32)."""
    return numba is not None and device.type == "cpu" and dtype == torch.float32


def integrate_fused(u: torch.Tensor, gather: torch.Tensor, scatter: torch.Tensor, c: torch.Tensor,
                    a1: torch.Tensor, a0: torch.Tensor, a2: torch.Tensor, k3: torch.Tensor, lo: torch.Tensor,
                    *, shift: int, dt: float, steps: int, clamp: bool,
                    lin: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Euler integration from rest; (time average, end state), both (S, B). Per-neuron args (N,)."""
    S, B = u.shape
    mean = torch.empty_like(u)
    end = torch.empty_like(u)
    f = lambda t: np.ascontiguousarray(t.detach().cpu().numpy())  # noqa: E731
    if lin is None:
        ld = lo_ = np.zeros((1, 1), dtype=np.float32)
    else:
        ld, lo_ = (f(t.reshape(S, B)) for t in lin)
    _integrate_blocks(f(u), f(gather), f(scatter), f(c), f(a1), f(a0), f(a2), f(k3), f(lo), int(shift),
                      np.float32(dt), int(steps), bool(clamp), lin is not None, ld, lo_,
                      mean.numpy(), end.numpy())
    return mean, end
