"""RMNClassifier: the Resonant Manifold Network as a scikit-learn style estimator.

Paper: Ran Cheng, "Resonant Manifold Network: A Physics-Inspired Approach to Continual Learning"
(2026; docs/papers.md); section numbers are those of its "Mathematical Formulation".
``RMNClassifier.paper()`` is the paper's configuration, and every paper experiment uses it:

* neurons are unit vectors ``w_i`` (section 1), inputs are normalised to unit length;
* resonance ``a_i = max(0, x . w_i)``, k-WTA winners ``W = top-k(a)`` with k = 5 % of 1000 neurons,
  output ``y = sum_{i in W} a_i w_i`` passed to the next layer (section 2); ``n_neurons`` may be a
  tuple for stacked layers;
* erosion on winners ``w_i <- normalise(w_i + eta a_i x)`` (section 3);
* homeostasis (``homeostasis=HomeostasisParams(...)``): running mean of each neuron's activation;
  below ``theta`` the neuron receives thermal noise ``w_i <- normalise(w_i + epsilon N(0, I))``, after
  every sample (section 4);
* read-out ``"simple"``: one prototype per class, the true one rotates toward y, the others slightly
  away; read-out ``"overcomplete"`` (the paper's final version): 100 prototypes, binding lock, the
  top-5 most resonant prototypes vote.

Decisions the paper leaves open (ours, docs/decisions.md, chosen before looking at results):

* ``eta = 0.05``; the running mean is an exponential average (``activity_decay = 0.01``, a time
  constant of 100 samples) of the *post-k-WTA* activation (a_i for winners, 0 otherwise), i.e. the
  "activation rate" of a neuron; ``theta = 0.01``; ``epsilon = 0.01``; the running means start at 0
  (every neuron starts idle). Noise is applied before renormalising, as for erosion.
* Homeostasis after every sample, done literally, draws n_idle x d Gaussians per sample (the torch
  backend does exactly that: ~240 samples/s at 784-d, 1000 neurons). The numba backend draws from the
  *same law* with ~sqrt(d) + 3 scalars per idle neuron and sample: inside a chunk of m ~ sqrt(d)
  samples every read of a neuron is a dot product with one of the chunk's inputs, so a neuron is
  carried as coordinates in the chunk's span S plus two scalars for its part orthogonal to S; the
  orthogonal noise direction is drawn only where the whole vector is read (when the neuron wins, and at
  the chunk's end), which rotational symmetry allows (details in :mod:`gradfree.rmn.span_kernels`). Exact:
  the joint distribution of every resonance, winner set, activation, y and the final weights. Not
  bit-identical: the random numbers (and float rounding) differ from the torch path's.
  ``HomeostasisParams(interval=n)``, n > 1 (a named option, ours) checks only every n samples: the
  fast path.
* The read-out sees ``y / |y|``. Simple read-out rates (``prototypes=PrototypeParams(...)``): pull
  ``lr = 0.1``, push ``push_lr = 0.01``; prototypes start as random unit vectors; class = highest
  cosine.
* Binding: for a sample of class c, the ``vote_k`` most resonant prototypes *eligible* for c (bound to
  c, or unbound) are taken in order of resonance; an unbound one is bound to c; each rotates toward y
  with ``lr``. A prototype bound to another class is never touched (the binding lock).
  Prediction: the ``vote_k`` most resonant bound prototypes vote for their class with weight
  ``1 + cosine``.
* ``fit`` is ``max_iter`` online passes (shuffled by ``rng_`` when ``shuffle``); ``partial_fit`` is one
  pass in the given order, as the paper's online stream.

The constructor's defaults (ours) are the configuration that learned best on real raw data
(``gradfree run rmn-split``): inputs centred (the mean of the first data, frozen) and normalised;
1000 resonance neurons, frozen (``eta = 0``, no homeostasis); the layer hands on its dense resonance
vector a (``representation="resonance"``) to the ``"discriminant"`` read-out: streaming class means
and a shared covariance with Ledoit-Wolf shrinkage (the statistics of streaming LDA, Hayes & Kanan
2020, accumulated by outer products: local, one pass, no replay, no task id). What we measured there:
letting the neurons erode makes the read-out's statistics mix features that have since moved, and
accuracy falls; the sparse k-WTA code is worse than the dense resonance. With these defaults the
layer's features are therefore those of frozen random unit vectors, identical to
``SLDAClassifier(random_features=1000)``'s for the same seed: RMN's own learning rules add nothing
on these data.

Extensions (ours, named so they are never silent):

* ``center_inputs``: subtract a frozen input mean (of the first data seen) before normalising; raw
  non-negative pixels otherwise all resonate with the same winners and the paper's model sits near
  chance on digits.
* ``representation="code"``: a layer hands on its sparse code (a_i on winners, 0 elsewhere; R^n)
  instead of y (R^d); ``"resonance"``: every a_i (dense, R^n, not renormalised).
* ``readout="discriminant"``: streaming LDA on what the last layer hands on (``shrinkage``).
* ``PrototypeParams(cap=...)``: at most this many prototypes bound per class (greedy binding otherwise
  lets the first tasks take the whole pool).
* ``plasticity_decay``: every neuron has a plasticity p_i (starts at 1) that scales its erosion step
  and its thermal noise; each win multiplies it by ``1 - plasticity_decay * a_i``, so much-used
  neurons consolidate (like EMNS resistance).
* ``PrototypeParams(recruit_threshold=..., pull_k=...)``: a class binds a fresh prototype (set to y)
  only when none of its own resonates above the threshold, else pulls its ``pull_k`` best (online
  nearest-prototype learning instead of the paper's greedy top-k binding); ``erode_k``: only the
  strongest winners erode.
* ``receptive_field`` / ``pool`` / ``image_shape``: the (single) layer's neurons resonate with every
  ``p x p`` patch of an image instead of the whole input, their activations averaged over
  ``pool x pool`` blocks of positions (:mod:`gradfree.rmn.patches`); frozen, read out by the
  discriminant. ``RMNClassifier.patches()`` is this configuration for images.
* ``RMNClassifier.consolidating()``: our earlier preset for real data, with a prototype read-out.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from gradfree.core.base import RANDOM_STATE, GradFreeClassifier, no_grad_learning
from gradfree.core.groups import ParamGroup
from gradfree.core.lda import LDA_FIELDS
from gradfree.core.schema import RNG, Spec, integer, list_of, optional, tensor
from gradfree.rmn import kernels
from gradfree.rmn.encoder import CHUNK, SPAN_MAX, ResonanceLayers  # noqa: F401 - CHUNK, SPAN_MAX re-exported
from gradfree.rmn.layer import normalise
from gradfree.rmn.params import (
    DEFAULT_PROTOTYPES,
    NO_HOMEOSTASIS,
    HomeostasisParams,
    PrototypeParams,
    upgrade_saved_params,
)
from gradfree.rmn.patches import CONTRAST_EPS, image_shape_of, positions, zero_mean_unit
from gradfree.rmn.readout import Readout

PREDICT_BATCH = 4096


class RMNClassifier(ResonanceLayers, Readout, GradFreeClassifier):
    """Resonant Manifold Network classifier (unit-vector neurons, k-WTA, erosion, prototype read-out).

    The defaults are our configuration for real data (frozen centred resonance layer + discriminant
    read-out; see the module docstring); ``RMNClassifier.paper()`` is the paper's configuration.

    Parameters
    ----------
    n_neurons : int or tuple of int, default 1000
        Neurons per resonance layer; a tuple stacks layers.
    k : float or int, default 0.05
        Winners per layer: a fraction of the layer (float < 1) or a count (int).
    eta : float, default 0.0
        Erosion rate (paper preset: 0.05).
    homeostasis : HomeostasisParams or None, default None
        Thermal noise on idle neurons (section 4): threshold ``theta``, noise scale ``epsilon``,
        running-mean rate ``activity_decay`` and check ``interval`` in samples (default 100, the fast
        option); None: off. Paper preset: ``HomeostasisParams(interval=1)``, after every sample as the
        paper states it.
    readout : {"discriminant", "overcomplete", "simple"}, default "discriminant"
        Paper preset: "overcomplete".
    prototypes : PrototypeParams or None, default None
        The prototype read-outs' options (None: their defaults): ``n`` prototypes (overcomplete, 100),
        ``vote_k`` voters (5), pull rate ``lr`` (0.1), push rate ``push_lr`` of the simple read-out
        (0.01), and our extensions ``cap`` (most prototypes one class may bind), ``recruit_threshold``
        (bind a new prototype, set to y, only when no prototype of the class resonates above this
        cosine; otherwise pull the class's own ``pull_k`` best; None: the paper's greedy binding) and
        ``pull_k`` (prototypes pulled per sample; None: ``vote_k``, the paper's top-k).
    representation : {"resonance", "y", "code"}, default "resonance"
        What a layer hands on ("y" is the paper's; "code" and "resonance" are our extensions).
    plasticity_decay : float, default 0.0
        Extension: use-dependent consolidation of neurons.
    erode_k : int or None, default None
        Extension: only the ``erode_k`` most active winners erode (None: every winner, the paper).
    shrinkage : float in [0, 1] or "auto", default "auto"
        Covariance shrinkage of the discriminant read-out ("auto": Ledoit-Wolf).
    max_iter : int, default 1
        Passes over the data in ``fit``.
    shuffle : bool, default True
    center_inputs : bool, default True
        Extension: subtract the mean of the first data learned (``fit``'s X, or the first
        ``partial_fit`` call), frozen afterwards, before normalising. Non-negative pixels all point
        into one orthant, where every sample resonates with the same winners. Not used by patch
        layers, which remove each patch's own mean.
    receptive_field : int or None, default None
        Extension (images): neurons of size ``channels * p * p`` resonate with every contrast-normalised
        ``p x p`` patch (stride 1), shared over positions; None: with the whole input (the paper).
        Needs one frozen layer (``eta=0``, no homeostasis) and ``representation="resonance"``.
    pool : int, default 7
        Patch layers: activations averaged over ``pool x pool`` blocks of positions (at most the number
        of positions per side), so the read-out sees ``n_neurons * pool**2`` features.
    contrast_eps : float, default 0.1
        Patch layers: a patch resonates as ``w . (x - mean) / (|x - mean| + contrast_eps)``, a cosine
        that keeps flat patches near zero; a large value turns the normalisation off.
    image_shape : tuple of int or None, default None
        Patch layers: ``(height, width)`` or ``(channels, height, width)`` of the flattened rows of X
        (channel-major); None: square single-channel images.
    backend : {"auto", "numba", "torch"}
    random_state : int, RandomState or None
    device : {"cpu", "cuda", "auto"}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = RMNClassifier(random_state=0).fit(X[:1200], y[:1200])
    >>> round(model.score(X[1200:], y[1200:]), 3)
    0.965
    >>> paper = RMNClassifier.paper(random_state=0).fit(X[:1200], y[:1200])
    >>> round(paper.score(X[1200:], y[1200:]), 3)       # the paper's rules on raw pixels
    0.099
    """

    _parameter_constraints = {
        "n_neurons": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "k": [Interval(Real, 0, None, closed="neither")],
        "eta": [Interval(Real, 0, None, closed="left")],
        "homeostasis": [HomeostasisParams, None],
        "readout": [StrOptions({"discriminant", "overcomplete", "simple"})],
        "prototypes": [PrototypeParams, None],
        "representation": [StrOptions({"resonance", "y", "code"})],
        "plasticity_decay": [Interval(Real, 0, 1, closed="both")],
        "erode_k": [Interval(Integral, 1, None, closed="left"), None],
        "shrinkage": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "center_inputs": ["boolean"],
        "receptive_field": [Interval(Integral, 1, None, closed="left"), None],
        "pool": [Interval(Integral, 1, None, closed="left")],
        "contrast_eps": [Interval(Real, 0, None, closed="neither")],
        "image_shape": [tuple, list, None],
        "backend": [StrOptions({"auto", "numba", "torch"})],
        "random_state": RANDOM_STATE,
        "device": [str],
    }

    def __init__(self, n_neurons: int | tuple[int, ...] = 1000, *, k: float = 0.05, eta: float = 0.0,
                 homeostasis: HomeostasisParams | None = None, readout: str = "discriminant",
                 prototypes: PrototypeParams | None = None, representation: str = "resonance",
                 plasticity_decay: float = 0.0, erode_k: int | None = None, shrinkage: float | str = "auto",
                 max_iter: int = 1, shuffle: bool = True, center_inputs: bool = True,
                 receptive_field: int | None = None, pool: int = 7,
                 contrast_eps: float = CONTRAST_EPS, image_shape: tuple[int, ...] | None = None,
                 backend: str = "auto", random_state: Any = None, device: str = "cpu") -> None:
        self.n_neurons = n_neurons
        self.k = k
        self.eta = eta
        self.homeostasis = homeostasis
        self.readout = readout
        self.prototypes = prototypes
        self.representation = representation
        self.plasticity_decay = plasticity_decay
        self.erode_k = erode_k
        self.shrinkage = shrinkage
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.center_inputs = center_inputs
        self.receptive_field = receptive_field
        self.pool = pool
        self.contrast_eps = contrast_eps
        self.image_shape = image_shape
        self.backend = backend
        self.random_state = random_state
        self.device = device

    @classmethod
    def paper(cls, **overrides: Any) -> RMNClassifier:
        """The paper's configuration (Cheng 2026, "Resonant Manifold Network", sections 1-4 and its
        experiment), keyword overrides on top; every experiment that reproduces the paper uses it.

        1000 neurons, k = 5 %, erosion on every winner, homeostasis after every sample
        (``HomeostasisParams(interval=1)``), y = sum a_i w_i handed on, raw inputs normalised to unit
        length (no centring), the overcomplete read-out (100 prototypes, binding lock, top-5 vote). Values the
        paper leaves open are ours (docs/decisions.md): eta 0.05, theta 0.01, epsilon 0.01, running
        mean rate 0.01, prototype rates 0.1 / 0.01.
        """
        params: dict[str, Any] = dict(
            n_neurons=1000, k=0.05, eta=0.05,
            homeostasis=HomeostasisParams(theta=0.01, epsilon=0.01, activity_decay=0.01, interval=1),
            readout="overcomplete",
            prototypes=PrototypeParams(n=100, vote_k=5, lr=0.1, push_lr=0.01, cap=None, pull_k=None,
                                       recruit_threshold=None),
            representation="y", plasticity_decay=0.0, erode_k=None, shrinkage="auto", max_iter=1,
            shuffle=True, center_inputs=False)
        params.update(overrides)
        return cls(**params)

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
        params: dict[str, Any] = dict(
            n_neurons=2000, eta=0.01, representation="code",
            prototypes=PrototypeParams(n=1000, cap=100, recruit_threshold=0.9, pull_k=1, vote_k=1),
            plasticity_decay=0.5, homeostasis=None, readout="overcomplete", center_inputs=False)
        params.update(overrides)
        return cls(**params)

    @classmethod
    def patches(cls, **overrides: Any) -> RMNClassifier:
        """Our preset for images ("RMN-patches"), keyword overrides on top.

        16 frozen neurons of 3 x 3 resonate with every contrast-normalised patch of the image; each
        neuron's activations are averaged over 8 x 8 blocks of positions (16 * 64 = 1024 features on
        28 x 28 images, 16 * 36 = 576 on 8 x 8, where 6 positions per side cap the blocks) and read out
        by the discriminant (streaming class means and shared covariance): local, one pass, no replay,
        no task id. Chosen on full Fashion-MNIST among 3-7 pixel patches, 12-64 neurons and 4-9 blocks
        (all 88.6-89.5 % at about 1000 features, seeds 0-1) as the fastest to predict at one thread;
        the ablation is in docs/results/rmn-split.
        Square single-channel images unless ``image_shape`` is given.
        """
        params: dict[str, Any] = dict(n_neurons=16, receptive_field=3, pool=8, eta=0.0, homeostasis=None,
                                      representation="resonance", readout="discriminant")
        params.update(overrides)
        return cls(**params)

    # ------------------------------------------------------------------ parameters and state
    #: layer l has n{l} unit-vector neurons over in{l} inputs; the read-out sees D features
    _saved_fields = {
        **RNG,
        "input_mean_": tensor("d"),
        "weights_": list_of(tensor("n{i}", "in{i}", low=-1.001, high=1.001), dim="L"),
        "activity_": list_of(tensor("n{i}"), dim="L"),
        "plasticity_": list_of(tensor("n{i}", low=0), dim="L"),
        "k_": Spec("ints", low=1, dim="L"),
        "n_seen_": integer(0),
        "n_iter_": integer(0),
        "backend_": Spec("str", choices=("numba", "torch")),
        "image_shape_": Spec("ints", low=1, optional=True),
        "pool_": integer(1, optional=True),
        **optional(LDA_FIELDS),
        "prototypes_": tensor("M", "D", optional=True),
        "binding_": tensor("M", dtype=("int64",), low=-1, optional=True),
        "bound_counts_": tensor("C", dtype=("int64",), low=0, optional=True),
    }

    def _check_loaded_state(self) -> None:
        """Layers, winners and read-out agree with the parameters and with each other."""
        sizes = self._layer_sizes()
        if [int(W.shape[0]) for W in self.weights_] != list(sizes):
            raise ValueError(f"weights_ hold layers of {[int(W.shape[0]) for W in self.weights_]} neurons, "
                             f"n_neurons is {self.n_neurons!r}")
        if any(k > n for k, n in zip(self.k_, sizes)):
            raise ValueError(f"k_ {self.k_} asks for more winners than a layer has neurons {list(sizes)}")
        d = int(self.n_features_in_)
        if self.receptive_field is not None:
            if not (hasattr(self, "image_shape_") and hasattr(self, "pool_")) or len(self.image_shape_) != 3:
                raise ValueError("a patch layer needs image_shape_ (3 ints) and pool_")
            C, H, Wd = self.image_shape_
            p = int(self.receptive_field)
            if C * H * Wd != d or self.pool_ > min(positions(H, p), positions(Wd, p)):
                raise ValueError("image_shape_ / pool_ do not match n_features_in_ and receptive_field")
            d = C * p * p
        D = d
        for W in self.weights_:
            if int(W.shape[1]) != D:
                raise ValueError(f"a layer of weights_ takes {int(W.shape[1])} inputs where {D} arrive")
            D = D if self.representation == "y" else int(W.shape[0])
        if self.receptive_field is not None:
            D = int(self.weights_[0].shape[0]) * int(self.pool_) ** 2
        self._check_loaded_readout(D)
        if self.backend_ == "numba" and not (kernels.HAVE_NUMBA and self.device_.type == "cpu"):
            self.backend_ = "torch"  # the same computation; numba is absent here (or the model is on CUDA)

    def _layer_sizes(self) -> tuple[int, ...]:
        sizes = (self.n_neurons,) if np.isscalar(self.n_neurons) else tuple(self.n_neurons)
        if not sizes or any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"n_neurons must be a positive int or a tuple of them, got {self.n_neurons!r}")
        return tuple(int(s) for s in sizes)

    @staticmethod
    def _upgrade_saved_params(params: dict[str, Any]) -> dict[str, Any]:
        """A file saved before the option groups existed: its flat options moved into them."""
        return upgrade_saved_params(params)

    def _homeostasis_params(self) -> HomeostasisParams:
        """The homeostasis constants (``homeostasis=None``: off; the running means still move)."""
        return ParamGroup.or_default(self.homeostasis, NO_HOMEOSTASIS)

    def _prototype_params(self) -> PrototypeParams:
        """The prototype read-out's options (``prototypes=None``: their defaults)."""
        return ParamGroup.or_default(self.prototypes, DEFAULT_PROTOTYPES)

    def _check_param_rules(self) -> None:
        """What the declared constraints cannot say: the option groups' fields, the entries of
        ``n_neurons`` and ``image_shape``, k against the layer sizes, and what a patch layer needs."""
        self._homeostasis_params().check()
        self._prototype_params().check()
        sizes = self._layer_sizes()
        if any(self._k_for(n) > n for n in sizes):
            raise ValueError(f"k={self.k} exceeds the layer size {min(sizes)}")
        if self.receptive_field is not None:
            if (len(sizes) != 1 or self.eta != 0 or self.homeostasis is not None
                    or self.representation != "resonance"):
                raise ValueError("receptive_field needs one frozen layer: an int n_neurons, eta=0, "
                                 "homeostasis=None and representation='resonance'")
            if self.image_shape is not None and (
                    len(self.image_shape) not in (2, 3)
                    or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in self.image_shape)):
                raise ValueError("image_shape must be (height, width) or (channels, height, width) of "
                                 f"positive ints, got {self.image_shape!r}")

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
        self.input_mean_ = (X.mean(dim=0) if self.center_inputs and self.receptive_field is None
                            else torch.zeros(d, dtype=self.dtype, device=dev))
        self.weights_, self.activity_, self.plasticity_, self.k_ = [], [], [], []
        if self.receptive_field is not None:
            p = int(self.receptive_field)
            C, H, Wd = self.image_shape_ = list(image_shape_of(d, self.image_shape, p))
            self.pool_ = min(int(self.pool), positions(H, p), positions(Wd, p))
            d = C * p * p                                        # a neuron sees one patch
        for n in self._layer_sizes():
            W = torch.randn(n, d, generator=g, device=dev, dtype=self.dtype)  # uniform on the sphere
            W = zero_mean_unit(W) if self.receptive_field is not None else normalise(W)
            self.weights_.append(W.contiguous())
            self.activity_.append(torch.zeros(n, dtype=self.dtype, device=dev))
            self.plasticity_.append(torch.ones(n, dtype=self.dtype, device=dev))
            self.k_.append(self._k_for(n))
            d = d if self.representation == "y" else n
        if self.receptive_field is not None:
            d = self.weights_[0].shape[0] * self.pool_ ** 2       # pooled resonances
        self.n_seen_ = 0
        self.backend_ = self._resolve_backend()
        self._init_readout(d)

    # ------------------------------------------------------------------ learning
    @no_grad_learning
    def _learn(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, whole: bool) -> RMNClassifier:
        """``fit`` (``whole``): from scratch, ``max_iter`` online passes (shuffled by ``rng_`` when
        ``shuffle``). ``partial_fit``: one online pass over (X, y) in order; ``classes`` (all labels) is
        needed on the first call."""
        if first:
            self._init_state(Xt)
        if not whole:
            self._learn_stream(Xt, yi)
            self.n_iter_ = 1
            return self
        for _ in range(int(self.max_iter)):
            order = (torch.randperm(len(Xt), generator=self.rng_, device=self.device_) if self.shuffle
                     else torch.arange(len(Xt), device=self.device_))
            self._learn_stream(Xt[order], yi[order])
        self.n_iter_ = int(self.max_iter)
        return self

    def _learn_stream(self, X: torch.Tensor, c: torch.Tensor) -> None:
        if self.receptive_field is not None:                    # frozen patch layer
            H = self._patch_resonance(X)
        else:
            H = normalise(X - self.input_mean_)
            for layer in range(len(self.weights_)):
                H = self._hand_on(self._learn_layer(layer, H))
        self._learn_readout(H, c)
        self.n_seen_ += len(X)

    _proba_from = "softmax"  # with readout="discriminant" the scores are log posteriors (+ a constant)

    def _has_proba(self) -> bool:
        return self.readout == "discriminant"

    @no_grad_learning
    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        out = []
        # The prototype read-outs score in float64, so a row's scores do not depend on its batch (the
        # discriminant read-out is computed in float64 inside lda_scores; whole-input layers stay float32
        # there, which keeps RMNClassifier()'s prediction speed).
        wide = self.readout != "discriminant" or self.receptive_field is not None
        dtype = torch.float64 if wide else torch.float32
        for start in range(0, len(X), PREDICT_BATCH):
            H, _ = self._forward(X[start:start + PREDICT_BATCH], dtype=dtype)
            out.append(self._readout_scores(H))
        return torch.cat(out)

    @no_grad_learning
    def winners(self, X: Any, layer: int = 0) -> np.ndarray:
        """Indices of the winning neurons of ``layer`` for each sample, shape (n_samples, k)."""
        Xt = self._validate(X, reset=False)
        return torch.cat([self._forward(Xt[s:s + PREDICT_BATCH], need_winners=True)[1][layer]
                          for s in range(0, len(Xt), PREDICT_BATCH)]).cpu().numpy()

    def binding_distribution(self) -> np.ndarray | None:
        """Number of prototypes bound to each class (in the order of ``classes_``); None for the
        discriminant read-out, which has no prototypes."""
        if self.readout == "discriminant":
            return None
        return self.bound_counts_.cpu().numpy().copy()
