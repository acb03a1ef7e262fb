"""The resonance layers of :class:`gradfree.rmn.RMNClassifier` (the encoder): their learning - erosion
and homeostasis (sections 3-4 of the paper's "Mathematical Formulation"), on the torch loop, the
chunked numba kernel or the every-sample span kernel - and the forward pass that feeds the read-out.

A mixin of the estimator: it works on the estimator's parameters and fitted attributes.
"""

from __future__ import annotations

import numpy as np
import torch

from gradfree.rmn import kernels, span_kernels
from gradfree.rmn.layer import layer_output, normalise, resonate
from gradfree.rmn.patches import patch_features

CHUNK = 64  # samples per numba chunk (one GEMM each); measured in benchmarks/bench_rmn.py
SPAN_MAX = 64  # largest chunk of the every-sample homeostasis kernel


class ResonanceLayers:
    """Learning and forward pass of the layers (``weights_``, ``activity_``, ``plasticity_``, ``k_``)."""

    def _learn_layer(self, layer: int, H: torch.Tensor) -> torch.Tensor:
        """Run erosion (and homeostasis at its interval) over H; return what the layer hands on."""
        W, mean = self.weights_[layer], self.activity_[layer]
        plast, k = self.plasticity_[layer], self.k_[layer]
        hp, on = self._homeostasis_params(), self.homeostasis is not None
        B, interval = len(H), int(hp.interval)
        if self.eta == 0 and not on and self.representation == "resonance":
            return (H @ W.T).clamp_min_(0)                      # frozen layer: only the resonance
        if (on and interval == 1 and self.backend_ == "numba"
                and self._span_size(W.shape[1]) >= 1):
            return self._learn_layer_every_sample(layer, H)
        win = torch.empty(B, k, dtype=torch.long, device=self.device_)
        act = torch.empty(B, k, dtype=self.dtype, device=self.device_)
        Y = torch.empty(B, W.shape[1], dtype=self.dtype, device=self.device_)
        A = (torch.empty(B, W.shape[0], dtype=self.dtype, device=self.device_)
             if self.representation == "resonance" else None)
        pos = 0
        while pos < B:
            to_check = interval - (self.n_seen_ + pos) % interval
            m = min(CHUNK if self.backend_ == "numba" else B, to_check, B - pos)
            sl = slice(pos, pos + m)
            if self.backend_ == "numba":
                Hc = H[sl].contiguous()
                A0 = (Hc @ W.T).contiguous()                    # resonance at the chunk start (m, n)
                v = kernels.as_numpy_view
                kernels.erode_chunk_numba(v(W), v(Hc), v(A0), k, float(self.eta), v(plast),
                                          float(self.plasticity_decay), v(mean), float(hp.activity_decay),
                                          v(win[sl]), v(act[sl]), v(Y[sl]), self._erode_k(k))
                if A is not None:
                    A[sl] = A0                                  # the kernel wrote back the a used
            else:
                win[sl], act[sl], Y[sl] = kernels.erode_torch(
                    W, H[sl], k, self.eta, plast, self.plasticity_decay, mean, hp.activity_decay,
                    self._erode_k(k), None if A is None else A[sl])
            pos += m
            if on and (self.n_seen_ + pos) % interval == 0:
                self._thermal_noise(layer)
        if self.representation == "y":
            return Y
        if A is not None:
            return A
        return layer_output(W, win, act, "code")

    @staticmethod
    def _span_size(d: int) -> int:
        """Samples per chunk of the every-sample homeostasis kernel: ~sqrt(d) balances the m + 3 scalars
        drawn per idle neuron and sample against the d-dimensional draw per neuron and chunk."""
        return min(SPAN_MAX, max(4, round(d ** 0.5)), d - 3)

    def _learn_layer_every_sample(self, layer: int, H: torch.Tensor) -> torch.Tensor:
        """Erosion with homeostasis after every sample (the paper's rule), on the numba span kernel.

        Same law as erosion + ``_homeostasis`` after every sample (see ``span_kernels``: the chunk's inputs
        span S; noise components outside S are carried as two scalars per neuron and drawn as a vector
        only where w_i is read in full)."""
        W, mean, plast = self.weights_[layer], self.activity_[layer], self.plasticity_[layer]
        k, hp = self.k_[layer], self._homeostasis_params()
        B, (n, d) = len(H), W.shape
        dev, g, f32 = self.device_, self.rng_, self.dtype
        win = torch.empty(B, k, dtype=torch.long, device=dev)
        act = torch.empty(B, k, dtype=f32, device=dev)
        Y = torch.empty(B, d, dtype=f32, device=dev) if self.representation == "y" else None
        A = torch.empty(B, n, dtype=f32, device=dev)
        v = kernels.as_numpy_view
        span, pos = self._span_size(d), 0
        per_sample = float(n * (span + 2))                      # pool estimate, adapted as we go
        spare = torch.empty(0, dtype=f32, device=dev)           # normals drawn but not used yet
        while pos < B:
            m = min(span, B - pos)
            Q, R = torch.linalg.qr(H[pos:pos + m].T)            # x_t = Q R[:, t]; Q (d, m) orthonormal
            Xh = R.T.contiguous()
            C = (W @ Q).contiguous()                            # coordinates in S      (n, m)
            alpha = torch.empty(n, dtype=f32, device=dev)
            U = torch.empty(n, d, dtype=f32, device=dev)
            span_kernels.span_split_numba(v(W), v(C @ Q.T), v(alpha), v(U))  # the part outside S
            small = alpha < 1e-6
            if bool(small.any()):                               # w_i in S: any unit u_i orthogonal to S
                Z = torch.randn(int(small.sum()), d, generator=g, dtype=f32, device=dev)
                U[small] = normalise(Z - (Z @ Q) @ Q.T)
                alpha[small] = 0.0
            beta = torch.zeros(n, dtype=f32, device=dev)
            n_pool = int(m * per_sample * 1.1) + k * d + n * (span + 2)
            fresh = torch.randn(max(n_pool - len(spare), 0), generator=g, dtype=f32, device=dev)
            pool = torch.cat([spare, fresh]) if len(spare) else fresh
            seed = int(torch.randint(0, 2 ** 62, (1,), generator=g))
            chi = np.random.default_rng(seed).chisquare(d - m - 2, size=m * n + n).astype(np.float32)
            yq = torch.empty(m, m, dtype=f32, device=dev)
            yu = torch.empty(m, d, dtype=f32, device=dev)
            Qc = Q.contiguous()
            done, used, _ = span_kernels.homeostasis_chunk_numba(
                v(C), v(alpha), v(beta), v(U), v(Qc), v(Xh), k, float(self.eta), v(plast),
                float(self.plasticity_decay), v(mean), float(hp.activity_decay), float(hp.theta),
                float(hp.epsilon), v(pool), chi, v(win[pos:pos + m]), v(act[pos:pos + m]), v(yq), v(yu),
                self._erode_k(k), v(A[pos:pos + m]))
            per_sample = max(per_sample if done == 0 else used / done, 1.0)
            spare = pool[used:]                                 # independent of everything used so far
            n_noisy = int((beta > 0).sum())                     # draw the e_i never read in the chunk
            Z = torch.randn(n_noisy, d, generator=g, dtype=f32, device=dev)
            span_kernels.span_join_numba(v(W), v(C @ Q.T), v(alpha), v(U), v(beta), v(Z), v((Z @ Q) @ Q.T))
            if Y is not None:
                Y[pos:pos + done] = yu[:done] + yq[:done] @ Q.T
            pos += done
        if Y is not None:
            return Y
        if self.representation == "resonance":
            return A
        return layer_output(W, win, act, "code")

    def _thermal_noise(self, layer: int) -> None:
        """Thermal noise on neurons whose running activation is below theta (section 4)."""
        W, mean, plast = self.weights_[layer], self.activity_[layer], self.plasticity_[layer]
        hp = self._homeostasis_params()
        idle = torch.nonzero(mean < hp.theta).squeeze(1)        # (m,)
        if idle.numel() == 0:
            return
        noise = torch.randn(idle.numel(), W.shape[1], generator=self.rng_, device=self.device_,
                            dtype=self.dtype)
        if self.backend_ == "numba":                            # same rule, in place without gather/scatter
            v = kernels.as_numpy_view
            kernels.thermal_noise_numba(v(W), v(idle), v(noise), float(hp.epsilon), v(plast))
        else:
            W[idle] = normalise(W[idle] + hp.epsilon * plast[idle, None] * noise)    # w += eps N(0, I)

    def _hand_on(self, H: torch.Tensor) -> torch.Tensor:
        """y and the sparse code are renormalised between layers (the paper's unit inputs); the dense
        resonance vector is already made of cosines of a unit input and is handed on as it is."""
        return H if self.representation == "resonance" else normalise(H)

    def _erode_k(self, k: int) -> int:
        return k if self.erode_k is None else min(int(self.erode_k), k)

    def _patch_resonance(self, X: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Pooled resonance of the patch layer (B, n * pool_**2)."""
        return patch_features(X, self.weights_[0], tuple(self.image_shape_), int(self.receptive_field),
                              int(self.pool_), self.backend_, float(self.contrast_eps), dtype=dtype)

    def _forward(self, X: torch.Tensor, need_winners: bool = False,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Normalised read-out input (B, D) and the winners of every layer; ``dtype`` float64 makes a
        row's result independent of the batch it comes in (float32 products round by batch size)."""
        if self.receptive_field is not None:
            if need_winners:
                raise ValueError("winners() is defined for whole-input layers; a patch layer "
                                 "(receptive_field) has no k-WTA")
            return self._patch_resonance(X, dtype), []
        H, wins = normalise((X - self.input_mean_).to(dtype)), []
        for W, k in zip(self.weights_, self.k_):
            W = W.to(dtype)
            if self.representation == "resonance" and not need_winners:
                H = (H @ W.T).clamp_min_(0)                     # every a_i; k-WTA is not needed
                continue
            win, act = resonate(W, H, k)
            H = self._hand_on(layer_output(W, win, act, self.representation))
            wins.append(win)
        return H, wins
