"""RMNClassifier: the Resonant Manifold Network (Cheng 2026) as a scikit-learn style estimator.

Paper mechanisms (section numbers of ``papers/rmn-resonant-manifold-network.md``), all defaults as there:

* neurons are unit vectors ``w_i`` (section 1), inputs are normalised to unit length;
* resonance ``a_i = max(0, x . w_i)``, k-WTA winners ``W = top-k(a)`` with k = 5 % of 1000 neurons,
  output ``y = sum_{i in W} a_i w_i`` passed to the next layer (section 2); ``n_neurons`` may be a
  tuple for stacked layers;
* erosion on winners ``w_i <- normalise(w_i + eta a_i x)`` (section 3);
* homeostasis: running mean of each neuron's activation; below ``theta`` the neuron receives thermal
  noise ``w_i <- normalise(w_i + epsilon N(0, I))`` (section 4);
* read-out ``"simple"``: one prototype per class, the true one rotates toward y, the others slightly
  away; read-out ``"overcomplete"`` (default, the paper's final version): 100 prototypes, binding
  lock, the top-5 most resonant prototypes vote.

Decisions the paper leaves open (ours, chosen before looking at results, not tuned to its numbers):

* ``eta = 0.05``; the running mean is an exponential average (``activity_decay = 0.01``, a time
  constant of 100 samples) of the *post-k-WTA* activation (a_i for winners, 0 otherwise), i.e. the
  "activation rate" of a neuron; ``theta = 0.01``; ``epsilon = 0.01``. Homeostasis is checked every
  ``homeostasis_interval = 100`` samples (per-sample noise on every idle neuron would cost O(n d) per
  sample); the running means start at 0 (every neuron starts idle). Noise is applied before
  renormalising, as for erosion.
* The read-out sees ``y / |y|``. Simple read-out rates: pull ``prototype_lr = 0.1``, push
  ``push_lr = 0.01``; prototypes start as random unit vectors; class = highest cosine.
* Binding: for a sample of class c, the ``vote_k`` most resonant prototypes *eligible* for c (bound to
  c, or unbound) are taken in order of resonance; an unbound one is bound to c; each rotates toward y
  with ``prototype_lr``. A prototype bound to another class is never touched (the binding lock).
  Prediction: the ``vote_k`` most resonant bound prototypes vote for their class with weight
  ``1 + cosine``.
* ``fit`` is ``max_iter`` online passes (shuffled by ``rng_`` when ``shuffle``); ``partial_fit`` is one
  pass in the given order, as the paper's online stream.

Extensions (ours, off by default, named so they are never silent):

* ``center_inputs``: subtract a frozen input mean (of the first data seen) before normalising; raw
  non-negative pixels otherwise all resonate with the same winners and the paper's model sits near
  chance on digits.
* ``representation="code"``: a layer hands on its sparse code (a_i on winners, 0 elsewhere; R^n)
  instead of y (R^d); the read-out then reads the last layer's code.
* ``prototype_cap``: at most this many prototypes bound per class (greedy binding otherwise lets the
  first tasks take the whole pool).
* ``plasticity_decay``: every neuron has a plasticity p_i (starts at 1) that scales its erosion step
  and its thermal noise; each win multiplies it by ``1 - plasticity_decay * a_i``, so much-used
  neurons consolidate (like EMNS resistance).
* ``recruit_threshold`` / ``pull_k``: a class binds a fresh prototype (set to y) only when none of its
  own resonates above the threshold, else pulls its ``pull_k`` best (online nearest-prototype learning
  instead of the paper's greedy top-k binding); ``erode_k``: only the strongest winners erode.
* ``RMNClassifier.consolidating()`` is the preset for real data. What we measured on split
  Fashion-MNIST (class-incremental, full data, one pass) is in ``gradfree run rmn-split``'s report; in
  short, Hebbian erosion does not help there: the best numbers come from frozen neurons
  (``consolidating(eta=0.0)``, random unit vectors + k-WTA code) and the read-out alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gradfree.core.base import GradFreeClassifier, no_grad_learning
from gradfree.rmn import kernels
from gradfree.rmn.layer import layer_output, normalise, resonate, vote_scores

CHUNK = 64  # samples per numba chunk (one GEMM each); measured in benchmarks/bench_rmn.py
PREDICT_BATCH = 4096


class RMNClassifier(GradFreeClassifier):
    """Resonant Manifold Network classifier (unit-vector neurons, k-WTA, erosion, prototype read-out).

    Parameters
    ----------
    n_neurons : int or tuple of int, default 1000
        Neurons per resonance layer; a tuple stacks layers.
    k : float or int, default 0.05
        Winners per layer: a fraction of the layer (float < 1) or a count (int).
    eta : float, default 0.05
        Erosion rate.
    homeostasis : bool, default True
    theta, epsilon, activity_decay, homeostasis_interval : homeostasis threshold, noise scale,
        running-mean rate and check interval (samples).
    readout : {"overcomplete", "simple"}, default "overcomplete"
    n_prototypes : int, default 100
        Overcomplete read-out size.
    vote_k : int, default 5
    prototype_lr, push_lr : float
        Prototype pull rate; push rate of the simple read-out.
    representation : {"y", "code"}, default "y"
        What a layer hands on ("code" is our extension).
    prototype_cap : int or None, default None
        Extension: most prototypes one class may bind.
    plasticity_decay : float, default 0.0
        Extension: use-dependent consolidation of neurons.
    pull_k : int or None, default None
        Prototypes pulled per sample (None: ``vote_k``, the paper's top-k).
    recruit_threshold : float or None, default None
        Extension: bind a new prototype (set to y) only when no prototype of the class resonates above
        this cosine; otherwise pull the class's own ``pull_k`` best. None: the paper's greedy binding.
    erode_k : int or None, default None
        Extension: only the ``erode_k`` most active winners erode (None: every winner, the paper).
    max_iter : int, default 1
        Passes over the data in ``fit``.
    shuffle : bool, default True
    center_inputs : bool, default False
        Extension: subtract the mean of the first data learned (``fit``'s X, or the first
        ``partial_fit`` call), frozen afterwards, before normalising. Non-negative pixels all point
        into one orthant, where every sample resonates with the same winners.
    backend : {"auto", "numba", "torch"}
    random_state : int, RandomState or None
    device : {"cpu", "cuda", "auto"}
    """

    def __init__(self, n_neurons: int | tuple[int, ...] = 1000, k: float = 0.05, eta: float = 0.05,
                 homeostasis: bool = True, theta: float = 0.01, epsilon: float = 0.01,
                 activity_decay: float = 0.01, homeostasis_interval: int = 100,
                 readout: str = "overcomplete", n_prototypes: int = 100, vote_k: int = 5,
                 prototype_lr: float = 0.1, push_lr: float = 0.01, representation: str = "y",
                 prototype_cap: int | None = None, plasticity_decay: float = 0.0, pull_k: int | None = None,
                 recruit_threshold: float | None = None, erode_k: int | None = None, max_iter: int = 1,
                 shuffle: bool = True, center_inputs: bool = False, backend: str = "auto",
                 random_state: Any = None, device: str = "cpu") -> None:
        self.n_neurons = n_neurons
        self.k = k
        self.eta = eta
        self.homeostasis = homeostasis
        self.theta = theta
        self.epsilon = epsilon
        self.activity_decay = activity_decay
        self.homeostasis_interval = homeostasis_interval
        self.readout = readout
        self.n_prototypes = n_prototypes
        self.vote_k = vote_k
        self.prototype_lr = prototype_lr
        self.push_lr = push_lr
        self.representation = representation
        self.prototype_cap = prototype_cap
        self.plasticity_decay = plasticity_decay
        self.pull_k = pull_k
        self.recruit_threshold = recruit_threshold
        self.erode_k = erode_k
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.center_inputs = center_inputs
        self.backend = backend
        self.random_state = random_state
        self.device = device

    @classmethod
    def consolidating(cls, **overrides: Any) -> RMNClassifier:
        """Our extension preset for real data ("RMN-consolidating"), keyword overrides on top.

        2000 neurons with a slow erosion (eta 0.01) read out through their sparse code; 1000
        prototypes, at most 100 per class; a new one is recruited (set to the sample's code) when none
        of the class resonates above 0.9, otherwise the class's best one is pulled (pull_k = 1); the
        nearest bound prototype decides (vote_k = 1); plasticity halves with every full-strength win;
        no homeostasis (its noise rewrites the neurons of old tasks once they fall idle).
        ``consolidating(eta=0.0)`` freezes the neurons entirely.
        """
        params: dict[str, Any] = dict(n_neurons=2000, eta=0.01, representation="code", n_prototypes=1000,
                                      prototype_cap=100, recruit_threshold=0.9, pull_k=1, vote_k=1,
                                      plasticity_decay=0.5, homeostasis=False)
        params.update(overrides)
        return cls(**params)

    # ------------------------------------------------------------------ parameters and state
    def _layer_sizes(self) -> tuple[int, ...]:
        sizes = (self.n_neurons,) if np.isscalar(self.n_neurons) else tuple(self.n_neurons)
        if not sizes or any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"n_neurons must be a positive int or a tuple of them, got {self.n_neurons!r}")
        return tuple(int(s) for s in sizes)

    def _check_params(self) -> None:
        sizes = self._layer_sizes()
        if self.readout not in ("overcomplete", "simple"):
            raise ValueError(f"readout must be 'overcomplete' or 'simple', got {self.readout!r}")
        if self.representation not in ("y", "code"):
            raise ValueError(f"representation must be 'y' or 'code', got {self.representation!r}")
        if self.backend not in ("auto", "numba", "torch"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {self.backend!r}")
        if not (isinstance(self.k, (int, float, np.integer, np.floating)) and self.k > 0):
            raise ValueError(f"k must be a fraction in (0, 1) or a positive count, got {self.k!r}")
        if any(self._k_for(n) > n for n in sizes):
            raise ValueError(f"k={self.k} exceeds the layer size {min(sizes)}")
        for name in ("eta", "epsilon", "prototype_lr", "push_lr", "theta"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.activity_decay <= 1 or not 0 <= self.plasticity_decay <= 1:
            raise ValueError("activity_decay and plasticity_decay must lie in [0, 1]")
        for name in ("n_prototypes", "vote_k", "max_iter", "homeostasis_interval"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.prototype_cap is not None and int(self.prototype_cap) < 1:
            raise ValueError(f"prototype_cap must be None or >= 1, got {self.prototype_cap!r}")

    def _k_for(self, n: int) -> int:
        return max(1, round(self.k * n)) if self.k < 1 else int(self.k)

    def _resolve_backend(self) -> str:
        if self.backend == "numba" and self.device_.type != "cpu":
            raise ValueError("backend='numba' runs on the CPU only; use backend='torch' on CUDA")
        if self.backend == "numba" and not kernels.HAVE_NUMBA:
            raise ValueError("backend='numba' needs numba installed (pip install numba)")
        if self.backend == "auto":
            return "numba" if kernels.HAVE_NUMBA and self.device_.type == "cpu" else "torch"
        return self.backend

    def _init_state(self, X: torch.Tensor) -> None:
        dev, g, d = self.device_, self.rng_, X.shape[1]
        self.input_mean_ = (X.mean(dim=0) if self.center_inputs
                            else torch.zeros(d, dtype=self.dtype, device=dev))
        self.weights_, self.activity_, self.plasticity_, self.k_ = [], [], [], []
        for n in self._layer_sizes():
            W = torch.randn(n, d, generator=g, device=dev, dtype=self.dtype)  # uniform on the sphere
            self.weights_.append(normalise(W).contiguous())
            self.activity_.append(torch.zeros(n, dtype=self.dtype, device=dev))
            self.plasticity_.append(torch.ones(n, dtype=self.dtype, device=dev))
            self.k_.append(self._k_for(n))
            d = d if self.representation == "y" else n
        C = len(self.classes_)
        M = C if self.readout == "simple" else int(self.n_prototypes)
        P = torch.randn(M, d, generator=g, device=dev, dtype=self.dtype)
        self.prototypes_ = normalise(P).contiguous()
        if self.readout == "simple":
            self.binding_ = torch.arange(C, device=dev)
        else:
            self.binding_ = torch.full((M,), -1, dtype=torch.long, device=dev)
        self.bound_counts_ = torch.bincount(self.binding_.clamp_min(0)[self.binding_ >= 0], minlength=C)
        self.n_seen_ = 0
        self.backend_ = self._resolve_backend()

    # ------------------------------------------------------------------ learning
    @no_grad_learning
    def fit(self, X: Any, y: Any) -> RMNClassifier:
        """Forget everything, then learn (X, y) online for ``max_iter`` passes."""
        self.__dict__.pop("n_features_in_", None)
        self._check_params()
        self._init_device()
        self._init_rng()
        Xt, yn = self._validate(X, y, reset=True)
        yi = self._encode_labels(yn, reset=True)
        self._init_state(Xt)
        for _ in range(int(self.max_iter)):
            order = (torch.randperm(len(Xt), generator=self.rng_, device=self.device_) if self.shuffle
                     else torch.arange(len(Xt), device=self.device_))
            self._learn(Xt[order], yi[order])
        self.n_iter_ = int(self.max_iter)
        return self

    @no_grad_learning
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> RMNClassifier:
        """One online pass over (X, y) in order; ``classes`` (all labels) is needed on the first call."""
        first = not self._is_fitted()
        if first:
            self._check_params()
            self._init_device()
            self._init_rng()
        Xt, yn = self._validate(X, y, reset=first)
        yi = self._encode_labels(yn, classes, reset=first)
        if first:
            self._init_state(Xt)
        self._learn(Xt, yi)
        self.n_iter_ = 1
        return self

    def _learn(self, X: torch.Tensor, c: torch.Tensor) -> None:
        H = normalise(X - self.input_mean_)
        for layer in range(len(self.weights_)):
            H = normalise(self._learn_layer(layer, H))
        self._learn_readout(H, c)
        self.n_seen_ += len(X)

    def _learn_layer(self, layer: int, H: torch.Tensor) -> torch.Tensor:
        """Run erosion (and homeostasis at its interval) over H; return what the layer hands on."""
        W, mean = self.weights_[layer], self.activity_[layer]
        plast, k = self.plasticity_[layer], self.k_[layer]
        B, interval = len(H), int(self.homeostasis_interval)
        win = torch.empty(B, k, dtype=torch.long, device=self.device_)
        act = torch.empty(B, k, dtype=self.dtype, device=self.device_)
        Y = torch.empty(B, W.shape[1], dtype=self.dtype, device=self.device_)
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
                                          float(self.plasticity_decay), v(mean), float(self.activity_decay),
                                          v(win[sl]), v(act[sl]), v(Y[sl]), self._erode_k(k))
            else:
                win[sl], act[sl], Y[sl] = kernels.erode_torch(
                    W, H[sl], k, self.eta, plast, self.plasticity_decay, mean, self.activity_decay,
                    self._erode_k(k))
            pos += m
            if self.homeostasis and (self.n_seen_ + pos) % interval == 0:
                self._homeostasis(layer)
        if self.representation == "y":
            return Y
        return layer_output(W, win, act, "code")

    def _homeostasis(self, layer: int) -> None:
        """Thermal noise on neurons whose running activation is below theta (section 4)."""
        W, mean, plast = self.weights_[layer], self.activity_[layer], self.plasticity_[layer]
        idle = torch.nonzero(mean < self.theta).squeeze(1)      # (m,)
        if idle.numel() == 0:
            return
        noise = torch.randn(idle.numel(), W.shape[1], generator=self.rng_, device=self.device_,
                            dtype=self.dtype)
        if self.backend_ == "numba":                            # same rule, in place without gather/scatter
            v = kernels.as_numpy_view
            kernels.thermal_noise_numba(v(W), v(idle), v(noise), float(self.epsilon), v(plast))
        else:
            W[idle] = normalise(W[idle] + self.epsilon * plast[idle, None] * noise)  # w += eps N(0, I)

    def _learn_readout(self, Yn: torch.Tensor, c: torch.Tensor) -> None:
        P, lr = self.prototypes_, float(self.prototype_lr)
        if self.backend_ == "numba":
            v = kernels.as_numpy_view
            Yc, cn = Yn.contiguous(), c.contiguous()
            if self.readout == "simple":
                kernels.readout_simple_numba(v(P), v(Yc), v(cn), lr, float(self.push_lr))
            elif self.recruit_threshold is not None:
                kernels.readout_recruit_numba(v(P), v(self.binding_), v(self.bound_counts_), v(Yc), v(cn), lr,
                                              self._pull_k(), self._cap(), float(self.recruit_threshold))
            else:
                kernels.readout_bind_numba(v(P), v(self.binding_), v(self.bound_counts_), v(Yc), v(cn), lr,
                                           self._pull_k(), self._cap())
        elif self.readout == "simple":
            kernels.readout_simple_torch(P, Yn, c, lr, float(self.push_lr))
        elif self.recruit_threshold is not None:
            kernels.readout_recruit_torch(P, self.binding_, self.bound_counts_, Yn, c, lr, self._pull_k(),
                                          self._cap(), float(self.recruit_threshold))
        else:
            kernels.readout_bind_torch(P, self.binding_, self.bound_counts_, Yn, c, lr, self._pull_k(),
                                       self._cap())

    def _erode_k(self, k: int) -> int:
        return k if self.erode_k is None else min(int(self.erode_k), k)

    def _pull_k(self) -> int:
        return int(self.vote_k if self.pull_k is None else self.pull_k)

    def _cap(self) -> int:
        return int(self.prototype_cap) if self.prototype_cap is not None else int(self.prototypes_.shape[0])

    # ------------------------------------------------------------------ inference
    def _forward(self, X: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Normalised read-out input (B, D) and the winners of every layer."""
        H, wins = normalise(X - self.input_mean_), []
        for W, k in zip(self.weights_, self.k_):
            win, act = resonate(W, H, k)
            H = normalise(layer_output(W, win, act, self.representation))
            wins.append(win)
        return H, wins

    @no_grad_learning
    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        out = []
        for start in range(0, len(X), PREDICT_BATCH):
            H, _ = self._forward(X[start:start + PREDICT_BATCH])
            if self.readout == "simple":
                out.append(H @ self.prototypes_.T)              # cosine to each class prototype
            else:
                out.append(vote_scores(self.prototypes_, self.binding_, H, int(self.vote_k),
                                       len(self.classes_)))
        return torch.cat(out)

    @no_grad_learning
    def winners(self, X: Any, layer: int = 0) -> np.ndarray:
        """Indices of the winning neurons of ``layer`` for each sample, shape (n_samples, k)."""
        Xt = self._validate(X, reset=False)
        return torch.cat([self._forward(Xt[s:s + PREDICT_BATCH])[1][layer]
                          for s in range(0, len(Xt), PREDICT_BATCH)]).cpu().numpy()

    def binding_distribution(self) -> np.ndarray:
        """Number of prototypes bound to each class (in the order of ``classes_``)."""
        return self.bound_counts_.cpu().numpy().copy()
