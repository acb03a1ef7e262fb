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
    # The every-sample homeostasis kernel keeps the sums in program order: with 'reassoc' its results
    # changed from process to process (the vectorised sums depended on where the arrays lay in memory),
    # so a run was not reproducible bit for bit (docs/decisions.md, "Results identical for any thread
    # count"). It costs that kernel about a fifth of its speed.
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


# ------------------------------------------------------------------ homeostasis every sample (numba)
# The paper's homeostasis (section 4) gives every idle neuron (running activation below theta) fresh
# thermal noise after every sample: w_i <- normalise(w_i + epsilon N(0, I_d)). Done literally that is
# ~800 x 784 Gaussian draws per sample at 784-d / 1000 neurons (the torch path does exactly that). The
# kernel below draws from the same law with ~m + 3 scalars per idle neuron per sample (m = span size):
#
# Inside a chunk of m samples every read of a neuron is a dot product with one of the chunk's inputs, all
# of which lie in S = span(x_1..x_m) (orthonormal basis Q, d x m, from a QR of the chunk). Each neuron is
# held as w_i = Q c_i + alpha_i u_i + beta_i e_i with u_i, e_i unit vectors orthogonal to S and to each
# other. Erosion adds eta a_i x_t, which lies in S, so it only changes c_i. A noise vector z ~ N(0, I_d)
# splits into independent parts: Q g (g ~ N(0, I_m)), g1 u_i, g2 e_i and a remainder r orthogonal to all
# of them with |r|^2 ~ chi^2(d - m - 2). The new state is c += s g, alpha += s g1,
# beta = sqrt((beta + s g2)^2 + s^2 |r|^2) (s = epsilon p_i), then all three are renormalised. e_i is
# never read inside the chunk (it is orthogonal to every input), and by the rotational symmetry about
# S + u_i it is uniformly distributed on the unit sphere of (S + u_i)^perp, independent of every scalar.
# It is drawn ("materialised") only when it is needed: when the neuron wins (y reads the whole w_i) and
# at the end of the chunk. So resonances, winners, activations, y and the final weights have exactly the
# joint law of the literal rule; only the random numbers (and float rounding) differ.
if HAVE_NUMBA:

    @numba.njit(cache=True, nogil=True, fastmath=_EXACT, inline="always")
    def _materialise(Q, U, alpha, beta, i, pool, p):  # pragma: no cover - compiled
        """Draw e_i (uniform, orthogonal to S and u_i), fold beta_i e_i into u_i; returns the pool pointer."""
        d, m = Q.shape
        g = pool[p:p + d]
        e = g.copy()
        for j in range(m):                                      # e -= Q (Q^T g)
            s = np.float32(0.0)
            for q in range(d):
                s += Q[q, j] * g[q]
            for q in range(d):
                e[q] -= s * Q[q, j]
        s = np.float32(0.0)
        for q in range(d):
            s += e[q] * U[i, q]
        nrm = np.float32(0.0)
        for q in range(d):                                      # e -= (e . u) u; normalise
            e[q] -= s * U[i, q]
            nrm += e[q] * e[q]
        nrm = np.sqrt(nrm)
        a, b = alpha[i], beta[i]
        r = np.sqrt(a * a + b * b)
        if nrm > 1e-12 and r > 1e-30:
            for q in range(d):
                U[i, q] = (a * U[i, q] + b * e[q] / nrm) / r
            alpha[i] = r
        beta[i] = 0.0
        return p + d

    @numba.njit(cache=True, nogil=True, fastmath=_EXACT)
    def homeostasis_chunk_numba(C, alpha, beta, U, Q, Xh, k, eta, plast, plast_decay, mean, decay,
                                theta, epsilon, pool, chi, win_out, act_out, yq_out, yu_out,
                                erode_k, A_out):  # pragma: no cover - compiled
        """Erosion + per-sample homeostasis over the chunk whose inputs have coordinates Xh (T, m) in Q.

        Stops early (returns the number of samples done) when the random pools could run dry; returns
        (samples done, normals used, chi-square draws used)."""
        n, m = C.shape
        d = U.shape[1]
        T = Xh.shape[0]
        a = np.empty(n, np.float32)
        idx = np.empty(k, np.int64)
        p = 0
        pc = 0
        for t in range(T):
            if p + k * d + n * (m + 2) > pool.shape[0] or pc + n > chi.shape[0]:
                return t, p, pc
            for i in range(n):                                  # a_i = max(0, x . w_i), x = Q xh
                s = np.float32(0.0)
                for q in range(m):
                    s += C[i, q] * Xh[t, q]
                a[i] = s if s > 0.0 else np.float32(0.0)
                A_out[t, i] = a[i]
            _topk_indices(a, k, idx)                            # k-WTA
            for q in range(m):
                yq_out[t, q] = 0.0
            for q in range(d):
                yu_out[t, q] = 0.0
            for j in range(k):
                i = idx[j]
                ai = a[i]
                win_out[t, j] = i
                act_out[t, j] = ai
                if beta[i] > 0.0:                               # y reads all of w_i: draw e_i now
                    p = _materialise(Q, U, alpha, beta, i, pool, p)
                for q in range(m):                              # y = sum a_i w_i (before the update)
                    yq_out[t, q] += ai * C[i, q]
                g = ai * alpha[i]
                for q in range(d):
                    yu_out[t, q] += g * U[i, q]
            for i in range(n):
                mean[i] *= 1.0 - decay
            thr = np.float32(0.0)
            if erode_k < k:
                thr = np.partition(act_out[t].copy(), k - erode_k)[k - erode_k]
            for j in range(k):
                i = idx[j]
                ai = a[i]
                mean[i] += decay * ai
                if ai <= 0.0 or ai < thr:
                    continue
                g = np.float32(eta * plast[i] * ai)             # erosion: w_i += eta a_i x (x in S)
                nrm = alpha[i] * alpha[i]
                for q in range(m):
                    c = C[i, q] + g * Xh[t, q]
                    C[i, q] = c
                    nrm += c * c
                nrm = np.sqrt(nrm)
                if nrm > 1e-12:
                    for q in range(m):
                        C[i, q] /= nrm
                    alpha[i] /= nrm
                if plast_decay > 0.0:
                    plast[i] *= 1.0 - plast_decay * ai
            for i in range(n):                                  # homeostasis: idle neurons get noise
                if mean[i] >= theta:
                    continue
                s = np.float32(epsilon * plast[i])
                nrm = np.float32(0.0)
                for q in range(m):
                    c = C[i, q] + s * pool[p + q]
                    C[i, q] = c
                    nrm += c * c
                p += m
                al = alpha[i] + s * pool[p]
                b = beta[i] + s * pool[p + 1]
                p += 2
                b = np.sqrt(b * b + s * s * chi[pc])
                pc += 1
                nrm = np.sqrt(nrm + al * al + b * b)
                for q in range(m):
                    C[i, q] /= nrm
                alpha[i] = al / nrm
                beta[i] = b / nrm
        return T, p, pc

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def span_split_numba(W, CQ, alpha, U):  # pragma: no cover - compiled
        """U_i <- normalise(W_i - CQ_i), alpha_i <- |W_i - CQ_i| (CQ = Q Q^T W: the part in S)."""
        n, d = W.shape
        for i in range(n):
            s = np.float32(0.0)
            for q in range(d):
                r = W[i, q] - CQ[i, q]
                U[i, q] = r
                s += r * r
            s = np.sqrt(s)
            alpha[i] = s
            if s > 1e-6:
                for q in range(d):
                    U[i, q] /= s

    @numba.njit(cache=True, nogil=True, fastmath=_FAST)
    def span_join_numba(W, CQ, alpha, U, beta, Z, ZQ):  # pragma: no cover - compiled
        """W_i <- normalise(CQ_i + alpha_i U_i + beta_i e_i), e_i = unit part of Z_i orthogonal to S and U_i
        (ZQ = Q Q^T Z); rows of Z are consumed in order by the neurons with beta_i > 0."""
        n, d = W.shape
        e = np.empty(d, np.float32)
        r = 0
        for i in range(n):
            b = beta[i]
            if b > 0.0:
                s = np.float32(0.0)
                for q in range(d):
                    e[q] = Z[r, q] - ZQ[r, q]
                    s += e[q] * U[i, q]
                nrm = np.float32(0.0)
                for q in range(d):
                    e[q] -= s * U[i, q]
                    nrm += e[q] * e[q]
                r += 1
                b = b / max(np.sqrt(nrm), np.float32(1e-30))
            nrm = np.float32(0.0)
            al = alpha[i]
            for q in range(d):
                x = CQ[i, q] + al * U[i, q]
                if b > 0.0:
                    x += b * e[q]
                W[i, q] = x
                nrm += x * x
            nrm = np.sqrt(nrm)
            if nrm > 1e-12:
                for q in range(d):
                    W[i, q] /= nrm
