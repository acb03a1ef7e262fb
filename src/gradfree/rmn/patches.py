"""Patch resonance: RMN neurons that look at small image patches (ours, an extension of the paper).

``RMNClassifier(receptive_field=p)`` turns the first resonance layer into a bank of ``n_neurons`` unit
vectors of dimension ``channels * p * p`` that resonate with every ``p x p`` patch of the image, the
same neurons at every position (as a convolution). A patch is contrast-normalised before it resonates
(its mean removed, divided by ``|patch - mean| + CONTRAST_EPS``), so the resonance is a soft cosine
``a = max(0, w . (x - mean) / (|x - mean| + eps))``: the paper's ``max(0, x . w)`` (section 2) with both
vectors of (nearly) unit length, ``eps`` keeping flat, noise-only patches near zero instead of
amplifying them to full length. The neurons have zero mean, so ``w . x == w . (x - mean)``.

The activations of each neuron are averaged over ``pool x pool`` blocks of positions (positions split
into nearly equal, non-overlapping blocks: block of row r is ``r * pool // L``), giving
``n_neurons * pool**2`` features for the read-out.

Why: on images, frozen random unit vectors over the whole image (the dense defaults) are exactly
random-feature LDA; patches shared over positions and pooled see local structure that survives small
shifts (measured in docs/results/rmn-split: 89 % vs 84 % on split Fashion-MNIST at 1000 features).

Two implementations of the same map, checked against each other in the tests: a numba kernel (CPU;
one sample at a time, so its (L*L, n) resonances stay in cache: ``RMNClassifier.patches()`` predicts
~60k samples/s at one thread on 28 x 28, benchmarks/bench_rmn.py; ``conv2d`` + pooling in torch made
~2-7k, its (B, n, L, L) intermediate does not fit in cache) and a torch path (CUDA, or without numba).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gradfree.rmn.kernels import HAVE_NUMBA, as_numpy_view, numba

CONTRAST_EPS = 0.1  # default; on Fashion-MNIST (pixels in [0, 1]) 0.03, 0.1 and 0.3 gave the same accuracy


def positions(size: int, p: int) -> int:
    """Patch positions along one axis (stride 1, no padding)."""
    return size - p + 1


def image_shape_of(n_features: int, image_shape: tuple[int, ...] | None, p: int) -> tuple[int, int, int]:
    """(channels, height, width) of X's rows: ``image_shape`` ((H, W) or (C, H, W)), or a square
    single-channel image; checked against the row length and the patch size p."""
    if image_shape is None:
        side = int(round(n_features ** 0.5))
        if side * side != n_features:
            raise ValueError(f"receptive_field needs images: {n_features} features are not a square image; "
                             "pass image_shape=(height, width) or (channels, height, width)")
        shape = (1, side, side)
    else:
        shape = tuple(int(v) for v in image_shape)
        shape = (1, *shape) if len(shape) == 2 else shape
        size = shape[0] * shape[1] * shape[2]
        if size != n_features:
            raise ValueError(f"image_shape {tuple(image_shape)} has {size} values, but X has {n_features} "
                             "features")
    if p > min(shape[1], shape[2]):
        raise ValueError(f"receptive_field={p} exceeds the image size {shape[1]} x {shape[2]}")
    return shape  # type: ignore[return-value]


def blocks(L: int, pool: int) -> torch.Tensor:
    """Block index of each of L positions: ``r * pool // L`` (pool <= L)."""
    return torch.arange(L) * pool // L


def zero_mean_unit(W: torch.Tensor) -> torch.Tensor:
    """Rows with their mean removed, scaled to unit length: neurons live in the patches' zero-mean space."""
    return F.normalize(W - W.mean(dim=1, keepdim=True), dim=1, eps=1e-12)


# ---------------------------------------------------------------------------------------------- torch
def patch_features_torch(X: torch.Tensor, W: torch.Tensor, shape: tuple[int, int, int], p: int,
                         pool: int, eps: float = CONTRAST_EPS) -> torch.Tensor:
    """Pooled patch resonance of X (B, C*H*W) for neurons W (n, C*p*p). Returns (B, n * pool * pool)."""
    C, H, Wd = shape
    B, n = X.shape[0], W.shape[0]
    img = X.reshape(B, C, H, Wd)
    S = F.conv2d(img, W.reshape(n, C, p, p))                    # w . x at every position (B, n, Lh, Lw)
    s1 = F.avg_pool2d(img, p, stride=1).sum(dim=1)              # sum x / p^2 over the patch   (B, Lh, Lw)
    s2 = F.avg_pool2d(img * img, p, stride=1).sum(dim=1)        # sum x^2 / p^2
    norm = ((s2 - s1 * s1 / C) * (p * p)).clamp_min(0).sqrt()   # |patch - mean|           (B, Lh, Lw)
    A = (S / (norm + eps)[:, None]).clamp_min_(0)               # soft cosine, rectified (B, n, Lh, Lw)
    Lh, Lw = A.shape[2:]
    Rh = F.one_hot(blocks(Lh, pool), pool).to(A)                # (Lh, pool)
    Rw = F.one_hot(blocks(Lw, pool), pool).to(A)
    pooled = torch.einsum("bnrc,rp,cq->bnpq", A, Rh.to(A.device), Rw.to(A.device))
    counts = Rh.sum(0)[:, None] * Rw.sum(0)[None, :]            # positions per block (pool, pool)
    return (pooled / counts.to(A.device)).reshape(B, n * pool * pool)


# ---------------------------------------------------------------------------------------------- numba
if HAVE_NUMBA:
    @numba.njit(cache=True, fastmath=True, nogil=True)
    def _patch_features_numba(X, Wt, C, H, Wd, p, pool, eps, out):  # pragma: no cover - compiled
        """X (B, C*H*Wd); Wt (C*p*p, n) zero-mean unit columns; out (B, n*pool*pool), overwritten.

        Per sample: the patches as rows of a (L*L, C*p*p) matrix, their contrast norms from box sums,
        one GEMM with the neurons (BLAS), then rectification and block averages - everything stays in
        cache. Flat indices are unsigned so numba skips its negative-index checks (measured 2.5x)."""
        B, n = X.shape[0], Wt.shape[1]
        Lh, Lw = H - p + 1, Wd - p + 1
        L2, m, P2 = Lh * Lw, C * p * p, pool * pool
        cell = np.empty(L2, dtype=np.int64)
        counts = np.zeros(P2, dtype=np.float32)
        for r in range(Lh):
            for c in range(Lw):
                cell[r * Lw + c] = (r * pool // Lh) * pool + c * pool // Lw
                counts[cell[r * Lw + c]] += 1.0
        Pm = np.empty((L2, m), dtype=np.float32)                 # patches as rows  (L*L, C*p*p)
        Pf = Pm.reshape(L2 * m)
        S = np.empty((L2, n), dtype=np.float32)
        h1 = np.empty((H, Lw), dtype=np.float32)                 # horizontal box sums of x, x^2
        h2 = np.empty((H, Lw), dtype=np.float32)
        inv = np.empty(L2, dtype=np.float32)
        acc = np.empty((P2, n), dtype=np.float32)
        zero = np.float32(0.0)
        for b in range(B):
            x = X[b]
            h1[:, :] = 0.0
            h2[:, :] = 0.0
            for ch in range(C):
                xc = x[ch * H * Wd: (ch + 1) * H * Wd]
                for r in range(Lh):
                    for i in range(p):
                        src0 = np.uint64((r + i) * Wd)
                        for c in range(Lw):
                            dst = np.uint64((r * Lw + c) * m + (ch * p + i) * p)
                            for q in range(p):
                                Pf[dst + np.uint64(q)] = xc[src0 + np.uint64(c + q)]
                for rr in range(H):
                    xr = xc[rr * Wd: (rr + 1) * Wd]
                    a1 = h1[rr]
                    a2 = h2[rr]
                    for q in range(p):
                        for c in range(Lw):
                            v = xr[c + q]
                            a1[c] += v
                            a2[c] += v * v
            for r in range(Lh):
                for c in range(Lw):
                    s1 = zero
                    s2 = zero
                    for i in range(p):
                        s1 += h1[r + i, c]
                        s2 += h2[r + i, c]
                    var = s2 - s1 * s1 / m                       # |patch - mean|^2
                    inv[r * Lw + c] = 1.0 / (np.sqrt(max(var, zero)) + eps)
            np.dot(Pm, Wt, S)                                    # w . x at every position (L*L, n)
            acc[:, :] = 0.0
            for pos in range(L2):
                iv = inv[pos]
                srow = S[pos]
                arow = acc[cell[pos]]
                for k in range(n):
                    a = srow[k] * iv
                    arow[k] += a if a > zero else zero
            o = out[b]
            for q in range(P2):
                cq = np.float32(1.0) / counts[q]
                for k in range(n):
                    o[k * P2 + q] = acc[q, k] * cq              # out's dtype: float32 or float64


def patch_features(X: torch.Tensor, W: torch.Tensor, shape: tuple[int, int, int], p: int, pool: int,
                   backend: str, eps: float = CONTRAST_EPS,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Pooled patch resonance (B, n * pool * pool): numba on the CPU (``backend="numba"``), else torch.

    ``dtype=torch.float64`` returns the same float32 values widened (the kernel writes them directly,
    sparing the read-out's float64 scoring a conversion pass)."""
    if backend != "numba":
        return patch_features_torch(X, W, shape, p, pool, eps).to(dtype)
    out = torch.empty(X.shape[0], W.shape[0] * pool * pool, dtype=dtype)
    C, H, Wd = shape
    _patch_features_numba(as_numpy_view(X.contiguous()), as_numpy_view(W.T.contiguous()), C, H, Wd, p, pool,
                          np.float32(eps), as_numpy_view(out))
    return out
