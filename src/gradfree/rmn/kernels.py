"""Per-sample RMN learning steps, in two interchangeable backends.

The erosion rule is sequential: sample t's winners depend on the weights after sample t-1. Two
implementations of the same step are kept and checked against each other in the tests:

* ``torch`` - a plain per-sample loop of tensor ops; the reference, and the path used on CUDA;
* ``numba`` - a compiled loop over a chunk of samples (CPU). It starts from ``A0 = X_chunk @ W.T``
  (one GEMM for the chunk) and recomputes only the rows of neurons that already moved inside the
  chunk ("dirty" neurons), so each sample costs O(|dirty| d + n + k d) instead of O(n d). The result
  is the same sequential rule, not an approximation (only float rounding order differs).

Measured on the shared 2-core development machine (784-d, 1000 neurons, k = 50, one torch thread,
``benchmarks/bench_rmn.py``): erosion step alone ~15-18k samples/s with the numba chunk kernel, ~3-7k
with the torch loop (~10 op dispatches per sample), ~1k with a NumPy loop. ``backend="auto"`` picks
numba on the CPU when it is importable and torch otherwise (and always on CUDA).

All kernels take NumPy views of the model's CPU tensors and update them in place.
The kernel of homeostasis after every sample, which builds on these, is
:mod:`gradfree.rmn.span_kernels`.
"""

from __future__ import annotations

import numpy as np
import torch

try:  # numba is optional: without it every path runs on torch
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None
    HAVE_NUMBA = False

F32 = torch.float32


# ---------------------------------------------------------------------------------------------- torch
def erode_torch(W: torch.Tensor, X: torch.Tensor, k: int, eta: float, plast: torch.Tensor,
                plast_decay: float, mean: torch.Tensor, decay: float,
                erode_k: int | None = None,
                A_out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sequential erosion over the rows of X (B, d); W (n, d) unit rows, updated in place.

    Returns winners (B, k) long, their activations (B, k) and the outputs y (B, d) computed with the
    weights *before* each sample's update (eq. "y = sum a_i w_i" of section 2); ``A_out`` (B, n), if
    given, receives every neuron's resonance a.
    """
    B = X.shape[0]
    win = torch.empty(B, k, dtype=torch.long, device=W.device)
    act = torch.empty(B, k, dtype=W.dtype, device=W.device)
    Y = torch.empty(B, W.shape[1], dtype=W.dtype, device=W.device)
    for t in range(B):
        x = X[t]
        a = torch.relu(W @ x)                                   # a_i = max(0, x . w_i)   (n,)
        if A_out is not None:
            A_out[t] = a
        v, idx = torch.topk(a, k)                               # k-WTA                   (k,)
        w = W[idx]                                              # (k, d)
        Y[t] = v @ w                                            # y = sum_{i in W} a_i w_i
        mean.mul_(1.0 - decay)                                  # running mean of post-k-WTA activation
        mean[idx] += decay * v
        win[t], act[t] = idx, v
        if erode_k is not None and erode_k < k:                 # extension: only the strongest erode
            keep = v >= torch.topk(v, erode_k).values[-1]
            idx, v, w = idx[keep], v[keep], w[keep]
        w += (eta * plast[idx] * v)[:, None] * x                # erosion: w_i += eta a_i x
        W[idx] = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)   # re-normalisation
        if plast_decay:
            plast[idx] *= 1.0 - plast_decay * v                 # extension: plasticity falls with use
    return win, act, Y


def readout_simple_torch(P: torch.Tensor, Yn: torch.Tensor, c: torch.Tensor, lr: float, push: float) -> None:
    """Read-out A: the true prototype rotates toward y, every other one slightly away (per sample)."""
    C = P.shape[0]
    for t in range(Yn.shape[0]):
        step = torch.full((C,), -push, dtype=P.dtype, device=P.device)
        step[c[t]] = lr
        P += step[:, None] * Yn[t]
        P /= P.norm(dim=1, keepdim=True).clamp_min(1e-12)


def readout_bind_torch(P: torch.Tensor, binding: torch.Tensor, counts: torch.Tensor, Yn: torch.Tensor,
                       c: torch.Tensor, lr: float, vote_k: int, cap: int) -> None:
    """Read-out B: the vote_k most resonant prototypes eligible for class c (bound to c, or unbound while c
    holds fewer than ``cap``) are bound to c if free and rotate toward y. Others' prototypes are locked."""
    for t in range(Yn.shape[0]):
        ct = int(c[t])
        s = P @ Yn[t]                                           # resonance of every prototype (M,)
        free_ok = bool(counts[ct] < cap)
        eligible = (binding == ct) | ((binding < 0) & free_ok)
        s = s.masked_fill(~eligible, float("-inf"))
        n_elig = int(eligible.sum())
        if n_elig == 0:
            continue
        _, top = torch.topk(s, min(vote_k, n_elig))
        for j in top.tolist():                                  # in order of resonance
            if int(binding[j]) < 0:
                if int(counts[ct]) >= cap:
                    continue
                binding[j] = ct                                 # binding lock
                counts[ct] += 1
            p = P[j] + lr * Yn[t]
            P[j] = p / p.norm().clamp_min(1e-12)


def readout_recruit_torch(P: torch.Tensor, binding: torch.Tensor, counts: torch.Tensor, Yn: torch.Tensor,
                          c: torch.Tensor, lr: float, pull_k: int, cap: int, threshold: float) -> None:
    """Extension read-out: when no prototype of class c resonates above ``threshold`` (and c is under
    its cap), the first free prototype is bound to c and set to y; otherwise the pull_k most resonant
    prototypes of c rotate toward y. Prototypes of other classes are never touched."""
    for t in range(Yn.shape[0]):
        ct = int(c[t])
        own = binding == ct
        s = (P @ Yn[t]).masked_fill(~own, float("-inf"))
        n_own = int(own.sum())
        free = torch.nonzero(binding < 0)
        if (n_own == 0 or float(s.max()) < threshold) and int(counts[ct]) < cap and free.numel():
            j = int(free[0, 0])
            binding[j] = ct
            counts[ct] += 1
            P[j] = Yn[t]
            continue
        if n_own == 0:
            continue
        _, top = torch.topk(s, min(pull_k, n_own))
        p = P[top] + lr * Yn[t]
        P[top] = p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)


# ---------------------------------------------------------------------------------------------- numba
if HAVE_NUMBA:
    # fastmath without 'nnan'/'ninf' (the read-out masks with -inf): lets the dot products vectorise.
    _FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
    # The every-sample homeostasis kernel (gradfree.rmn.span_kernels) keeps the sums in program order:
    # with 'reassoc' its results changed from process to process (the vectorised sums depended on where
    # the arrays lay in memory), so a run was not reproducible bit for bit (docs/decisions.md, "Results
    # identical for any thread count"). It costs that kernel about a fifth of its speed.
    _EXACT = _FAST - {"reassoc"}

    @numba.njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
    def _rotate_row(M, i, g, v):  # pragma: no cover - compiled
        """M[i] <- normalise(M[i] + g v), in place: the one update every rule here makes."""
        nrm = np.float32(0.0)
        for q in range(M.shape[1]):
            x = M[i, q] + g * v[q]
            M[i, q] = x
            nrm += x * x
        nrm = np.sqrt(nrm)
        if nrm > 1e-12:
            for q in range(M.shape[1]):
                M[i, q] /= nrm

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def _topk_indices(a, k, out):  # pragma: no cover - compiled
        """Indices of the k largest entries of a (ties broken by the lowest index), in index order."""
        n = a.shape[0]
        kth = np.partition(a, n - k)[n - k]
        m = 0
        for i in range(n):
            if a[i] > kth:
                out[m] = i
                m += 1
        for i in range(n):
            if m >= k:
                break
            if a[i] == kth:
                out[m] = i
                m += 1

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def erode_chunk_numba(W, X, A0, k, eta, plast, plast_decay, mean, decay,
                          win_out, act_out, Y_out, erode_k):  # pragma: no cover - compiled
        """Sequential erosion over a chunk; A0 = X @ W.T at the chunk start (see module docstring)."""
        n, d = W.shape
        B = X.shape[0]
        dirty = np.zeros(n, np.bool_)
        dirty_list = np.empty(n, np.int64)
        n_dirty = 0
        a = np.empty(n, np.float32)
        idx = np.empty(k, np.int64)
        for t in range(B):
            x = X[t]
            for i in range(n):
                a[i] = A0[t, i]
            for j in range(n_dirty):                            # neurons that moved in this chunk
                i = dirty_list[j]
                s = np.float32(0.0)
                for q in range(d):
                    s += W[i, q] * x[q]
                a[i] = s
            for i in range(n):                                  # a_i = max(0, x . w_i)
                if a[i] < 0.0:
                    a[i] = 0.0
                A0[t, i] = a[i]                                 # hand back the resonance used
            _topk_indices(a, k, idx)                            # k-WTA
            for q in range(d):
                Y_out[t, q] = 0.0
            for m in range(k):
                i = idx[m]
                ai = a[i]
                win_out[t, m] = i
                act_out[t, m] = ai
                for q in range(d):                              # y = sum a_i w_i (before the update)
                    Y_out[t, q] += ai * W[i, q]
            for i in range(n):
                mean[i] *= 1.0 - decay
            thr = np.float32(0.0)
            if erode_k < k:                                     # extension: only the strongest erode
                thr = np.partition(act_out[t].copy(), k - erode_k)[k - erode_k]
            for m in range(k):
                i = idx[m]
                ai = a[i]
                mean[i] += decay * ai
                if ai <= 0.0 or ai < thr:
                    continue
                g = np.float32(eta * plast[i] * ai)
                _rotate_row(W, i, g, x)                         # erosion + re-normalisation
                if plast_decay > 0.0:
                    plast[i] *= 1.0 - plast_decay * ai
                if not dirty[i]:
                    dirty[i] = True
                    dirty_list[n_dirty] = i
                    n_dirty += 1
        return n_dirty

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def readout_simple_numba(P, Yn, c, lr, push):  # pragma: no cover - compiled
        C, D = P.shape
        for t in range(Yn.shape[0]):
            for j in range(C):
                g = lr if j == c[t] else -push
                _rotate_row(P, j, np.float32(g), Yn[t])

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def readout_bind_numba(P, binding, counts, Yn, c, lr, vote_k, cap):  # pragma: no cover - compiled
        M, D = P.shape
        s = np.empty(M, np.float32)
        nz = np.empty(D, np.int64)
        for t in range(Yn.shape[0]):
            ct = c[t]
            free_ok = counts[ct] < cap
            n_nz = 0                                            # a sparse code needs only its non-zeros
            for q in range(D):
                if Yn[t, q] != 0.0:
                    nz[n_nz] = q
                    n_nz += 1
            dense = 4 * n_nz > D                                # dense y: contiguous (vectorised) dot
            n_elig = 0
            for j in range(M):
                if binding[j] == ct or (binding[j] < 0 and free_ok):
                    acc = np.float32(0.0)
                    if dense:
                        for q in range(D):
                            acc += P[j, q] * Yn[t, q]
                    else:
                        for m in range(n_nz):
                            acc += P[j, nz[m]] * Yn[t, nz[m]]
                    s[j] = acc
                    n_elig += 1
                else:
                    s[j] = -np.inf
            kk = min(vote_k, n_elig)
            for _ in range(kk):                                 # selection in order of resonance
                best = -1
                for j in range(M):
                    if s[j] > -np.inf and (best < 0 or s[j] > s[best]):
                        best = j
                if best < 0:
                    break
                s[best] = -np.inf
                if binding[best] < 0:
                    if counts[ct] >= cap:
                        continue
                    binding[best] = ct                          # binding lock
                    counts[ct] += 1
                _rotate_row(P, best, np.float32(lr), Yn[t])


if HAVE_NUMBA:

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def readout_recruit_numba(P, binding, counts, Yn, c, lr, pull_k, cap, threshold):  # pragma: no cover
        M, D = P.shape
        s = np.empty(M, np.float32)
        nz = np.empty(D, np.int64)
        for t in range(Yn.shape[0]):
            ct = c[t]
            n_nz = 0
            for q in range(D):
                if Yn[t, q] != 0.0:
                    nz[n_nz] = q
                    n_nz += 1
            n_own = 0
            best = -np.inf
            first_free = -1
            for j in range(M):
                if binding[j] == ct:
                    acc = np.float32(0.0)
                    for m in range(n_nz):
                        acc += P[j, nz[m]] * Yn[t, nz[m]]
                    s[j] = acc
                    n_own += 1
                    if acc > best:
                        best = acc
                else:
                    s[j] = -np.inf
                    if binding[j] < 0 and first_free < 0:
                        first_free = j
            if (n_own == 0 or best < threshold) and counts[ct] < cap and first_free >= 0:
                binding[first_free] = ct                        # recruit: bind a free prototype at y
                counts[ct] += 1
                for q in range(D):
                    P[first_free, q] = Yn[t, q]
                continue
            for _ in range(min(pull_k, n_own)):
                b = -1
                for j in range(M):
                    if s[j] > -np.inf and (b < 0 or s[j] > s[b]):
                        b = j
                if b < 0:
                    break
                s[b] = -np.inf
                _rotate_row(P, b, np.float32(lr), Yn[t])

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def thermal_noise_numba(W, idle, noise, epsilon, plast):  # pragma: no cover - compiled
        """w_i <- normalise(w_i + epsilon p_i noise_j) for the idle neurons i = idle[j], in place."""
        for j in range(idle.shape[0]):
            i = idle[j]
            g = np.float32(epsilon * plast[i])
            _rotate_row(W, i, g, noise[j])


def as_numpy_view(t: torch.Tensor) -> np.ndarray:
    """Writable NumPy view sharing memory with a contiguous CPU tensor."""
    assert t.device.type == "cpu" and t.is_contiguous()
    return t.numpy()


_SPAN_KERNELS = ("homeostasis_chunk_numba", "span_split_numba", "span_join_numba")


def __getattr__(name: str):
    """The every-sample homeostasis kernels, whose home is :mod:`gradfree.rmn.span_kernels` (which
    builds on this module, so it is imported on first use)."""
    if name in _SPAN_KERNELS:
        from gradfree.rmn import span_kernels

        return getattr(span_kernels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
