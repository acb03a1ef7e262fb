"""A fused forward + MSE kernel (numba) for the CPU: the same network as :mod:`gradfree.emns.network`.

Why: the EMNS networks of the paper are tiny ([3, 8, 5, 1] has 347 parameters), so torch's per-op
overhead dominates a step. Measured on this project's 2-core machine (shared, under load), one
mutate + evaluate step of [3, 8, 5, 1] on 200 samples: torch (one thread) 0.73 ms, NumPy 0.85 ms,
this kernel 0.35-0.46 ms; per candidate of a batched (1+16) generation torch 0.48-0.85 ms, this
kernel 0.26-0.28 ms; with two torch threads on the loaded machine torch is ~100x slower still
(``benchmarks/bench_emns.py`` prints the current numbers). The kernel computes in float32, loops
over samples innermost, keeps no (P, N, n, m) intermediates and skips masked synapses. Results agree
with the torch path to float32 rounding (~1e-6 relative), not bit for bit: a run is reproducible
within one backend. Every sample runs the same scalar code, so predictions do not depend on a
sample's position in the batch (torch's SIMD sin/exp differ from their scalar tails by an ulp).

numba is optional: without it ``backend="auto"`` uses torch.
"""

from __future__ import annotations

import numpy as np
import torch

try:
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is optional
    HAVE_NUMBA = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        return lambda f: f


@njit(fastmath=True, cache=True)
def _forward_kernel(values, masks, sizes, XT):  # pragma: no cover - compiled
    """values (P, n_params), masks (n_syn,), sizes (L+1,), XT (n_in, N) -> outputs (P, n_out, N).

    Every sample is computed with the same scalar code, so a sample's output does not depend on its
    position in the batch (torch's vectorised sin/exp differ from their scalar tails by an ulp).
    """
    P = values.shape[0]
    N = XT.shape[1]
    L = sizes.shape[0] - 1
    out = np.empty((P, sizes[L], N), np.float32)
    a = np.empty((5, N), np.float32)
    for p in range(P):
        cur = XT
        o = 0  # parameter offset of the layer
        mo = 0  # mask offset of the layer
        for l in range(L):
            m = sizes[l]
            n = sizes[l + 1]
            nxt = np.empty((n, N), np.float32)
            for j in range(n):
                a[:] = 0.0
                for i in range(m):
                    k = j * m + i
                    if masks[mo + k] == 0.0:
                        continue
                    gw = values[p, o + 2 * n * m + k] * values[p, o + k]  # gain * weight
                    b = values[p, o + n * m + k]
                    for t in range(N):
                        s = gw * cur[i, t] + b  # sec. 3.2 synapse, clipped; float32 math throughout
                        s = min(max(s, np.float32(-10.0)), np.float32(10.0))
                        s2 = s * s
                        a[0, t] += s
                        a[1, t] += s2
                        a[2, t] += np.sqrt(abs(s))
                        a[3, t] += np.sin(s)
                        if s2 < np.float32(87.0):  # exp(-s^2) underflows beyond: skip the slow denormals
                            a[4, t] += np.exp(-s2)
                oa = o + 3 * n * m + j * 5
                oh = o + 3 * n * m + n * 5 + j * 5
                for t in range(N):
                    z = 0.0
                    for q in range(5):
                        z += values[p, oa + q] * a[q, t]  # sec. 3.1 aggregation
                    z = min(max(z, -5.0), 5.0)
                    sg = 1.0 / (1.0 + np.exp(-z))
                    y = (values[p, oh] * np.tanh(z) + values[p, oh + 1] * sg + values[p, oh + 2] * max(z, 0.0)
                         + values[p, oh + 3] * z * sg + values[p, oh + 4] * z)  # sec. 3.1 activation
                    nxt[j, t] = min(max(y, -5.0), 5.0)
            o += 3 * n * m + 10 * n
            mo += n * m
            cur = nxt
        out[p] = cur
    return out

def fitness_numba(values: torch.Tensor, masks: torch.Tensor, sizes: list[int], XT: np.ndarray,
                  YT: np.ndarray) -> torch.Tensor:
    """-MSE per individual (P,) computed by the fused kernel. XT (n_in, N), YT (n_out, N) float32 C-order."""
    out = _forward_kernel(values.contiguous().numpy(), masks.numpy(), np.asarray(sizes, dtype=np.int64), XT)
    f = -((out - YT[None]) ** 2).mean(axis=(1, 2), dtype=np.float32)
    return torch.nan_to_num(torch.from_numpy(np.asarray(f, dtype=np.float32)), nan=-torch.inf)


def forward_numba(values: torch.Tensor, masks: torch.Tensor, sizes: list[int],
                  X: torch.Tensor) -> torch.Tensor:
    """Outputs (P, N, n_out) of every individual, as :func:`gradfree.emns.network.forward`."""
    XT = np.ascontiguousarray(X.cpu().numpy().T)
    out = _forward_kernel(values.cpu().contiguous().numpy(), masks.cpu().numpy(),
                          np.asarray(sizes, dtype=np.int64), XT)
    return torch.from_numpy(out).transpose(1, 2).to(values.device)


def make_evaluator(X: torch.Tensor, Y: torch.Tensor, use_numba: bool):
    """``evaluate(values (P, n_params), masks, sizes) -> fitness (P,)`` on fixed data (X (N, in), Y (N, out)).

    What a worker needs to score candidates: the fused kernel on the CPU, the torch forward elsewhere.
    """
    if use_numba:
        XT = np.ascontiguousarray(X.cpu().numpy().T)
        YT = np.ascontiguousarray(Y.cpu().numpy().T)
        return lambda v, m, s: fitness_numba(v.cpu(), m.cpu(), s, XT, YT).to(v.device)
    from gradfree.emns.network import fitness

    return lambda v, m, s: fitness(v, m, s, X, Y)

