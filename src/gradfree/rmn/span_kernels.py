"""Homeostasis after every sample on the numba backend (``HomeostasisParams(interval=1)``).

The paper's homeostasis (section 4) gives every idle neuron (running activation below theta) fresh
thermal noise after every sample: w_i <- normalise(w_i + epsilon N(0, I_d)). Done literally that is
~800 x 784 Gaussian draws per sample at 784-d / 1000 neurons (the torch path does exactly that). The
kernel below draws from the same law with ~m + 3 scalars per idle neuron per sample (m = span size):

Inside a chunk of m samples every read of a neuron is a dot product with one of the chunk's inputs, all
of which lie in S = span(x_1..x_m) (orthonormal basis Q, d x m, from a QR of the chunk). Each neuron is
held as w_i = Q c_i + alpha_i u_i + beta_i e_i with u_i, e_i unit vectors orthogonal to S and to each
other. Erosion adds eta a_i x_t, which lies in S, so it only changes c_i. A noise vector z ~ N(0, I_d)
splits into independent parts: Q g (g ~ N(0, I_m)), g1 u_i, g2 e_i and a remainder r orthogonal to all
of them with |r|^2 ~ chi^2(d - m - 2). The new state is c += s g, alpha += s g1,
beta = sqrt((beta + s g2)^2 + s^2 |r|^2) (s = epsilon p_i), then all three are renormalised. e_i is
never read inside the chunk (it is orthogonal to every input), and by the rotational symmetry about
S + u_i it is uniformly distributed on the unit sphere of (S + u_i)^perp, independent of every scalar.
It is drawn ("materialised") only when it is needed: when the neuron wins (y reads the whole w_i) and
at the end of the chunk. So resonances, winners, activations, y and the final weights have exactly the
joint law of the literal rule; only the random numbers (and float rounding) differ.

The primitives and the fastmath flags are those of :mod:`gradfree.rmn.kernels`.
"""

from __future__ import annotations

import numpy as np

from gradfree.rmn.kernels import HAVE_NUMBA, numba

if HAVE_NUMBA:
    from gradfree.rmn.kernels import _EXACT, _FAST, _topk_indices

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
