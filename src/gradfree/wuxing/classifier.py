"""WuxingClassifier: a sparse network of five-element ODE neurons trained by BSP (and/or method 1).

Per mini-batch: a forward run from rest (eq. 3.1) gives the read-out y (time average of each output
neuron's read element / input_scale); the error ``onehot - y`` drives the backward system (eq. 3.2);
then BSP moves the connection coefficients (eq. 3.3-3.5) and/or method 1 moves the neurons' fixed
points through K1 (our reading, see :mod:`gradfree.wuxing.bsp`). Class = argmax of y.

Decisions the paper leaves open (docs/decisions.md, Wuxing): wiring and read-out
(:mod:`gradfree.wuxing.wiring`), signal scales and normalisation of G1 (:mod:`gradfree.wuxing.bsp`),
coefficients initialised uniform in [-c_init, c_init] (divided by sqrt(fan_in) with adders). Values the
paper does not give (input_scale 0.05, step 5, c_init 1.5, c_max 1.5, kt 1, batch 32, 20 epochs,
max_offset 0.1) were chosen on digits. Mixed method: method 2's step is 25 % of method 1's, as in the
paper (``step`` is method 2's step; method 1's, ``FixedPointParams.step``, defaults to ``step / 0.25``).

**The defaults are not the paper's configuration** (that is :meth:`WuxingClassifier.paper`); they are
what learns best on raw data among our named options (measured on scikit-learn's digits; the numbers
and the divergence trace behind the last point are in docs/decisions.md, Wuxing):

* ``scale_inputs="max"``: X is divided by its largest |x|, fitted at the first fit (``x_scale_``);
* ``element_aware=True``, ``fan_in=3`` (adders; the link ratio triples);
* **the stabilised update**, ``backward="linearised"`` + ``max_delta=0.1``: eq. 2.5's backward system at
  rest is the forward system's adjoint only near rest, so once coefficients grow the paper's update
  stops being a descent direction and eq. 3.4's atan limit lets a coefficient jump by step * pi / 2 per
  batch; the backward system linearised around the forward state keeps the direction, and a per-batch
  trust region bounds the step. It bounds excursions rather than ruling them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from gradfree.core.base import RANDOM_STATE, GradFreeClassifier, no_grad_learning
from gradfree.core.groups import ParamGroup
from gradfree.core.schema import LOSS_CURVE, RNG, integer, real, saved_state, tensor
from gradfree.wuxing.bsp import PIDState, bsp_direction, fp_direction, fp_directions_k123, pid_update
from gradfree.wuxing.dynamics import fixed_point
from gradfree.wuxing.network import NetState, RunSpec, backward_run, forward_run
from gradfree.wuxing.params import (
    DEFAULT_DYNAMICS,
    DEFAULT_FIXED_POINT,
    DynamicsParams,
    FixedPointParams,
    upgrade_saved_params,
)
from gradfree.wuxing.wiring import MODES, Wiring, build_wiring

METHODS = ("bsp", "fixed_point", "mixed")
SCALINGS = ("max", "none")
#: the most integration steps (T / dt) a loaded model may ask for: its load-time check runs one forward pass
MAX_LOAD_STEPS = 20_000


class WuxingClassifier(GradFreeClassifier):
    """Wuxing network classifier (Jiang, "connection coefficients ... BSP").

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Hidden layers; inputs = n_features, outputs = n_classes. MODEL1: ``MODEL1[1:-1]``.
    wiring : {"fill", "one_out"}
        Interface split of hidden neurons (MODEL1 uses "fill", MODEL2 "one_out").
    fanout : int or "auto"
        Input interfaces each pixel feeds ("auto": as many as MODEL1/MODEL2 fill layer 1; 4 for them).
    fan_in : int
        Adders: connections summed per input interface (1 = the paper's MODEL1/2; default 3).
    element_aware : bool
        Beyond the paper (default on): choose each neuron's input/output split by steady-state gain.
    dynamics : DynamicsParams or None
        The neuron's ODE and its integration (None: the defaults): initial neuron parameters ``K1``,
        ``K2``, ``K3`` (paper: 1, 0.5, 0.5 -> B0 = 1), step ``dt`` (0.2), duration ``T`` (30),
        ``integrator`` ("euler" | "rk4") and ``clamp`` (positivity E >= 0, on).
    input_scale, error_scale : float
        Signal scales of the pixels and of the injected error (``None``: = input_scale).
    method : {"bsp", "fixed_point", "mixed"}
        Method 2 (the paper's BSP on C), method 1 (fixed points through K1, our reading), both.
    step : learning step of method 2 (method 1's defaults to step / 0.25).
    kt : float
        atan limiter of eq. 3.4.
    c_init, c_max : initial coefficient range and clip bound of C.
    fixed_point : FixedPointParams or None
        Method 1's options (None: the defaults): its ``step`` (None: ``step / 0.25``), PID gains ``pid``
        (kp, ki, kd) = (1, 0, 0), leak ``pid_decay`` of I (0.9), bound ``max_offset`` on a neuron's
        fixed-point offset |B0 - B_ref| in units of input_scale (0.1), and ``rule``: ``"offset"`` (the
        fixed point moved through K1, first reading) or ``"k123"`` (a separate rule for each of K1, K2,
        K3, second reading, from the cited PID paper; :mod:`gradfree.wuxing.bsp`).
    backward : {"rest", "linearised"}
        Backward system at B0 (eq. 2.5, the paper's) or linearised around each sample's forward end
        state (ours, the default: part of the stabilised update, see below).
    max_delta : float or None
        Trust region of the stabilised update: no coefficient moves more than this per batch (None:
        unbounded, the paper's eq. 3.5 with only the atan limit, which allows step * pi / 2 per batch).
    scale_inputs : {"max", "none"}
        Input scaling fitted at the first ``fit`` / ``partial_fit`` and saved (``x_scale_``): ``"max"``
        divides X by its largest |x| (raw digits 0-16 -> [0, 1]; [0, 1] data is left as it is).
    batch_size, epochs, shuffle, random_state, device : training loop settings.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = WuxingClassifier(hidden_layer_sizes=(20,), epochs=2, random_state=0)
    >>> model = model.fit(X[:300], y[:300])
    >>> model.predict(X[300:303]).shape, model.link_ratio_ < 1
    ((3,), True)
    """

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "wiring": [StrOptions(set(MODES))],
        "fanout": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "fan_in": [Interval(Integral, 1, None, closed="left")],
        **{flag: ["boolean"] for flag in ("element_aware", "shuffle")},
        "dynamics": [DynamicsParams, None],
        **{pos: [Interval(Real, 0, None, closed="neither")] for pos in ("input_scale", "kt", "c_max")},
        **{nonneg: [Interval(Real, 0, None, closed="left")] for nonneg in ("step", "c_init")},
        "error_scale": [Interval(Real, 0, None, closed="neither"), None],
        "max_delta": [Interval(Real, 0, None, closed="neither"), None],
        "method": [StrOptions(set(METHODS))],
        "fixed_point": [FixedPointParams, None],
        "backward": [StrOptions({"rest", "linearised"})],
        "scale_inputs": [StrOptions(set(SCALINGS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "random_state": RANDOM_STATE,
        "device": [str],
    }

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (200, 62, 20), *, wiring: str = "fill",
                 fanout: int | str = "auto", fan_in: int = 3, element_aware: bool = True,
                 dynamics: DynamicsParams | None = None, input_scale: float = 0.05,
                 error_scale: float | None = None, method: str = "bsp", step: float = 5.0, kt: float = 1.0,
                 c_init: float = 1.5, c_max: float = 1.5, fixed_point: FixedPointParams | None = None,
                 backward: str = "linearised", max_delta: float | None = 0.1, scale_inputs: str = "max",
                 batch_size: int = 32, epochs: int = 20, shuffle: bool = True, random_state: Any = None,
                 device: str = "cpu") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.wiring = wiring
        self.fanout = fanout
        self.fan_in = fan_in
        self.element_aware = element_aware
        self.dynamics = dynamics
        self.input_scale = input_scale
        self.error_scale = error_scale
        self.method = method
        self.step = step
        self.kt = kt
        self.c_init = c_init
        self.c_max = c_max
        self.fixed_point = fixed_point
        self.backward = backward
        self.max_delta = max_delta
        self.scale_inputs = scale_inputs
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ presets
    @classmethod
    def paper(cls, model: str = "model1", **overrides: Any) -> WuxingClassifier:
        """The paper's configuration: MODEL1 (or ``"model2"``) wiring, BSP with eq. 2.5's backward
        system at rest and eq. 3.5's update (no trust region), no adders, random interface split."""
        from gradfree.wuxing.wiring import PRESETS

        pre = PRESETS[model]
        kw: dict[str, Any] = dict(hidden_layer_sizes=tuple(pre["sizes"][1:-1]), wiring=pre["mode"],
                                  fanout=pre["fanout"], fan_in=1, element_aware=False, backward="rest",
                                  max_delta=None)
        return cls(**{**kw, **overrides})

    @classmethod
    def goal(cls, **overrides: Any) -> WuxingClassifier:
        """gradfree's extensions at a link ratio under 1 % (0.82 % on 784 inputs, 10 classes): MODEL2's
        layer sizes with every interface used (``wiring="fill"``), element-aware interface split,
        adders of fan-in 2 and the stabilised update (the defaults), trained by BSP."""
        from gradfree.wuxing.wiring import MODEL2

        kw: dict[str, Any] = dict(hidden_layer_sizes=tuple(MODEL2[1:-1]), wiring="fill", fanout=4,
                                  fan_in=2, element_aware=True)
        return cls(**{**kw, **overrides})

    # ------------------------------------------------------------------ saved state
    #: M connections (Mp from pixels + Mh between neurons) over N dynamic neurons
    _saved_fields = {
        **RNG,
        "x_scale_": real(np.finfo(np.float32).tiny, None),
        "wiring_": saved_state(Wiring, Mp="Mp", Mh="Mh", n_out="C"),
        "coef_": tensor("M"),
        "K1_": tensor("N"),
        "K2_": tensor("N"),
        "K3_": tensor("N", low=np.finfo(np.float32).tiny),
        "b_ref_": real(),
        "pid_state_": saved_state(PIDState, N="N"),
        "pid_state_k2_": saved_state(PIDState, optional=True, N="N"),
        "pid_state_k3_": saved_state(PIDState, optional=True, N="N"),
        "n_iter_": integer(0),
        "loss_curve_": LOSS_CURVE,
    }

    def _check_loaded_state(self) -> None:
        """The wiring matches the parameters and the stored tensors, and one prediction stays bounded."""
        w = self.wiring_
        sizes = [int(self.n_features_in_), *map(int, self.hidden_layer_sizes), len(self.classes_)]
        if list(w.sizes) != sizes:
            raise ValueError(f"wiring_ has layer sizes {w.sizes[:8]}, the parameters say {sizes}")
        if self.K1_.numel() != w.n_neurons or self.coef_.numel() != w.n_connections:
            raise ValueError("K1_/coef_ do not match the wiring's neurons / connections")
        if self._spec().steps > MAX_LOAD_STEPS:
            raise ValueError(f"T / dt = {self._spec().steps} integration steps per run, more than the "
                             f"{MAX_LOAD_STEPS} a loaded model may take")
        dyn, fp = self._dynamics(), self._fixed_point()
        if (fp.rule == "k123") != hasattr(self, "pid_state_k2_") or \
                hasattr(self, "pid_state_k2_") != hasattr(self, "pid_state_k3_"):
            raise ValueError("pid_state_k2_ / pid_state_k3_ are stored exactly when fixed_point.rule='k123'")
        bound = max(float(self.c_max), float(self.c_init))
        if float(self.coef_.abs().max()) > bound * (1 + 1e-6):
            raise ValueError(f"coef_ holds coefficients beyond c_max = {bound} (training clips to it)")
        if not bool(((self.K1_ > self.K2_) & (self.K3_ > 0)).all()):
            raise ValueError("K1_ > K2_ and K3_ > 0 must hold for every neuron (a positive fixed point)")
        # method 1 moves K1 by at most K3 * input_scale * max_offset (offset rule) and each K by at most
        # input_scale * max_offset (k123 rule) away from the parameters; anything further was not trained
        step = float(fp.max_offset) * float(self.input_scale)
        lim = step * max(1.0, abs(float(dyn.K3)) + step) * (1 + 1e-5) + 1e-6
        pairs = (("K1_", self.K1_, dyn.K1), ("K2_", self.K2_, dyn.K2), ("K3_", self.K3_, dyn.K3))
        for name, K, K0 in pairs:
            if float((K.double() - float(K0)).abs().max()) > lim:
                raise ValueError(f"{name} lies further than {lim:.3g} from {name[:-1]} = {K0}: method 1 "
                                 "never moves it that far")

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _upgrade_saved_params(params: dict[str, Any]) -> dict[str, Any]:
        """A file saved before the option groups existed: its flat options moved into them."""
        return upgrade_saved_params(params)

    def _dynamics(self) -> DynamicsParams:
        """The neuron's ODE and its integration (``dynamics=None``: their defaults)."""
        return ParamGroup.or_default(self.dynamics, DEFAULT_DYNAMICS)

    def _fixed_point(self) -> FixedPointParams:
        """Method 1's options (``fixed_point=None``: their defaults)."""
        return ParamGroup.or_default(self.fixed_point, DEFAULT_FIXED_POINT)

    def _check_param_rules(self) -> None:
        """The option groups' fields, and a positive fixed point: K3 > 0 and K1 > K2 (eq. 2.3)."""
        self._dynamics().check()
        self._fixed_point().check()

    def _spec(self) -> RunSpec:
        es = self.input_scale if self.error_scale is None else self.error_scale
        dyn = self._dynamics()
        return RunSpec(dt=float(dyn.dt), T=float(dyn.T), integrator=dyn.integrator, clamp=bool(dyn.clamp),
                       input_scale=float(self.input_scale), error_scale=float(es), backward=self.backward)

    def _init_model(self, n_in: int, n_out: int) -> None:
        sizes = [n_in, *[int(h) for h in self.hidden_layer_sizes], n_out]
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.rng_, device=self.device_))
        gen = torch.Generator().manual_seed(seed)  # the wiring is drawn on the CPU, then moved
        self.wiring_ = build_wiring(sizes, mode=self.wiring, fanout=self.fanout, fan_in=self.fan_in,
                                    element_aware=self.element_aware, generator=gen).to(self.device_)
        M, N = self.wiring_.n_connections, self.wiring_.n_neurons
        u = torch.rand(M, generator=self.rng_, device=self.device_, dtype=self.dtype)
        # connection coefficients C, (M,); with adders the sum of fan_in inputs keeps the same spread
        self.coef_ = (2 * u - 1) * (float(self.c_init) / float(self.fan_in) ** 0.5)
        full = lambda v: torch.full((N,), float(v), dtype=self.dtype, device=self.device_)  # noqa: E731
        dyn = self._dynamics()
        self.K1_, self.K2_, self.K3_ = full(dyn.K1), full(dyn.K2), full(dyn.K3)
        self.b_ref_ = float(fixed_point(torch.tensor(dyn.K1), torch.tensor(dyn.K2), torch.tensor(dyn.K3)))
        z = lambda: PIDState(integral=torch.zeros_like(self.K1_), prev=torch.zeros_like(self.K1_))  # noqa: E731
        self.pid_state_ = z()
        if self._fixed_point().rule == "k123":  # one controller per parameter
            self.pid_state_k2_, self.pid_state_k3_ = z(), z()
        self.n_iter_ = 0
        self.loss_curve_: list[float] = []

    @property
    def link_ratio_(self) -> float:
        """Overall link ratio of the fitted wiring."""
        return self.wiring_.link_ratio

    # ------------------------------------------------------------------ input scaling
    def _validate(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        """Validate as the base class does, then scale X by the fitted ``x_scale_``.

        ``reset=True`` (the first ``fit`` / ``partial_fit``) fits ``x_scale_`` on that X:
        ``scale_inputs="max"`` maps the largest |x| to 1 (raw digits 0-16 -> [0, 1]; Fashion-MNIST's
        [0, 1] stays as it is), ``"none"`` keeps X as given. It is saved with the model.
        """
        out = super()._validate(X, y, reset=reset)
        Xt = out[0] if isinstance(out, tuple) else out
        if reset:
            top = float(Xt.abs().max()) if Xt.numel() else 0.0
            self.x_scale_ = 1.0 / top if self.scale_inputs == "max" and top > 0 else 1.0
        scale = getattr(self, "x_scale_", 1.0)
        if scale != 1.0:
            Xt = Xt * scale
        return (Xt, out[1]) if isinstance(out, tuple) else Xt

    # ------------------------------------------------------------------ learning
    @no_grad_learning
    def _learn(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, whole: bool) -> WuxingClassifier:
        """``fit``: a fresh network trained for ``epochs`` passes; ``partial_fit``: one pass (the first
        call builds the network: pass every label in ``classes``)."""
        return self._passes(Xt, yi, first=first, epochs=int(self.epochs) if whole else 1)

    def _passes(self, Xt: torch.Tensor, yi: torch.Tensor, *, first: bool, epochs: int) -> WuxingClassifier:
        if first:
            self._init_model(Xt.shape[1], len(self.classes_))
        spec, n, bs = self._spec(), Xt.shape[0], int(self.batch_size)
        for _ in range(epochs):
            order = torch.randperm(n, generator=self.rng_, device=self.device_) if self.shuffle else \
                torch.arange(n, device=self.device_)
            total = 0.0
            for i in range(0, n, bs):
                idx = order[i:i + bs]
                total += self._train_batch(Xt[idx], yi[idx], spec) * len(idx)
            self.loss_curve_.append(total / n)
        return self

    @contextmanager
    def recording_batch_losses(self) -> Iterator[list[float]]:
        """Inside the block, every training batch appends its mean squared error to the yielded list
        (for tracing training at batch resolution; ``loss_curve_`` keeps one value per epoch)."""
        losses: list[float] = []
        train_batch = self._train_batch

        def record(*args: Any) -> float:
            loss = train_batch(*args)
            losses.append(loss)
            return loss

        self._train_batch = record
        try:
            yield losses
        finally:
            del self._train_batch

    def _train_batch(self, X: torch.Tensor, yi: torch.Tensor, spec: RunSpec) -> float:
        """One BSP / method-1 update on a batch; returns the batch's mean squared error."""
        st = self._forward(X, spec)
        target = torch.nn.functional.one_hot(yi, len(self.classes_)).to(self.dtype)
        err = target - st.y  # (B, n_out)
        K = (self.K1_, self.K2_, self.K3_)
        backward_run(self.wiring_, self.coef_, K, self.b_ref_, st, err, spec)
        fp = self._fixed_point()
        fp_step = self.step / 0.25 if fp.step is None else fp.step
        if self.method in ("bsp", "mixed"):
            dc = bsp_direction(self.wiring_, X, st, spec, float(self.kt)).mul_(float(self.step))
            if self.max_delta is not None:  # trust region of the stabilised update
                dc.clamp_(-float(self.max_delta), float(self.max_delta))
            self.coef_.add_(dc).clamp_(-float(self.c_max), float(self.c_max))
        if self.method in ("fixed_point", "mixed") and fp.rule == "k123":
            self._k123_update(st, spec, float(fp_step))
        elif self.method in ("fixed_point", "mixed"):
            P = fp_direction(st, self.K3_, self.b_ref_, spec, float(self.kt))
            kp, ki, kd = (float(v) for v in fp.pid)
            db = pid_update(P, self.pid_state_, kp, ki, kd, float(fp.pid_decay))  # offset, units of s
            span = self.K3_ * spec.input_scale  # dK1 per unit offset
            self.K1_.addcmul_(span, db, value=float(fp_step))
            lim = span * float(fp.max_offset)
            K1 = self._dynamics().K1
            self.K1_.copy_(torch.maximum(torch.minimum(self.K1_, K1 + lim), K1 - lim))
        self.n_iter_ += 1
        return float(0.5 * (err * err).sum(dim=1).mean())

    def _k123_update(self, st: NetState, spec: RunSpec, fp_step: float) -> None:
        """Method 1, second reading: K1, K2, K3 each by its own causal quantity and PID state."""
        fp, dyn = self._fixed_point(), self._dynamics()
        kp, ki, kd = (float(v) for v in fp.pid)
        P1, P2, P3 = fp_directions_k123(st, self.b_ref_, spec, float(self.kt))
        states = (self.pid_state_, self.pid_state_k2_, self.pid_state_k3_)
        lim = float(fp.max_offset) * spec.input_scale
        for K, K0, P, state in zip((self.K1_, self.K2_, self.K3_), (dyn.K1, dyn.K2, dyn.K3),
                                   (P1, P2, P3), states):
            d = pid_update(P, state, kp, ki, kd, float(fp.pid_decay))
            K.add_(d, alpha=fp_step * spec.input_scale).clamp_(float(K0) - lim, float(K0) + lim)

    # ------------------------------------------------------------------ inference
    def _forward(self, X: torch.Tensor, spec: RunSpec) -> NetState:
        K = (self.K1_, self.K2_, self.K3_)
        return forward_run(self.wiring_, self.coef_, K, self.b_ref_, X, spec)

    @no_grad_learning
    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        spec, bs = self._spec(), max(256, int(self.batch_size))
        return torch.cat([self._forward(X[i:i + bs], spec).y for i in range(0, X.shape[0], bs)])

    def readout(self, X: Any) -> np.ndarray:
        """The network's read-out y (time-averaged output deviation / input_scale), (n, n_classes)."""
        X = self._validate(X, reset=False)
        with torch.inference_mode():
            return self._scores(X).cpu().numpy()
