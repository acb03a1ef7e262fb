"""A fused forward + MSE kernel (numba) for the CPU: the same network as :mod:`gradfree.emns.network`.

Why: the EMNS networks of the paper are tiny ([3, 8, 5, 1] has 347 parameters), so torch's per-op
overhead dominates a step. Measured on this project's 2-core machine (under load): forward + MSE of
one individual on 200 samples, torch 1.1 ms, this kernel 0.32 ms; 16 individuals 9.5 ms vs 5.1 ms
(``benchmarks/bench_emns.py`` prints the current numbers). It loops over samples innermost, keeps no
(P, N, n, m) intermediates and skips masked synapses. Results agree with the torch path to float32
rounding (~1e-7 relative), not bit for bit: a run is reproducible within one backend.

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
def _fitness_kernel(values, masks, sizes, XT, YT):  # pragma: no cover - compiled
    """values (P, n_params), masks (n_syn,), sizes (L+1,), XT (n_in, N), YT (n_out, N) -> -MSE (P,)."""
    P = values.shape[0]
    N = XT.shape[1]
    L = sizes.shape[0] - 1
    fit = np.empty(P, np.float32)
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
                        s = min(max(gw * cur[i, t] + b, -10.0), 10.0)  # sec. 3.2 synapse, clipped
                        s2 = s * s
                        a[0, t] += s
                        a[1, t] += s2
                        a[2, t] += np.sqrt(abs(s))
                        a[3, t] += np.sin(s)
                        if s2 < 87.0:  # exp(-s^2) underflows beyond; skipping it avoids slow denormals
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
        acc = 0.0
        for k in range(cur.shape[0]):
            for t in range(N):
                d = cur[k, t] - YT[k, t]
                acc += d * d
        fit[p] = -acc / (cur.shape[0] * N)
    return fit

def fitness_numba(values: torch.Tensor, masks: torch.Tensor, sizes: list[int], XT: np.ndarray,
                  YT: np.ndarray) -> torch.Tensor:
    """-MSE per individual (P,) computed by the fused kernel. XT (n_in, N), YT (n_out, N) float32 C-order."""
    v = values.numpy() if values.is_contiguous() else values.contiguous().numpy()
    f = _fitness_kernel(v, masks.numpy(), np.asarray(sizes, dtype=np.int64), XT, YT)
    return torch.nan_to_num(torch.from_numpy(f), nan=-torch.inf)
