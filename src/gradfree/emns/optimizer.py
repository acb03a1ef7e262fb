"""``EMNSOptimizer``: the EMNS engine behind pycma's ask/tell interface, for any objective.

Conventions are pycma's (``cma.CMAEvolutionStrategy``), so code written for it runs with EMNS:
``ask()`` returns the generation's candidates as an array (popsize, D); ``tell(X, f)`` takes one
value per row and *minimises*; ``stop()`` is a dict of the termination criteria met; ``result``
holds ``xbest``, ``fbest``, ``evals_best``, ``evaluations``, ``iterations``, ``xfavorite`` (the
centre) and ``stds``; ``optimize(f)`` runs the loop. The rules are the engine's named strategies
(:mod:`gradfree.emns.engine`).
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from gradfree.core.base import seed_from
from gradfree.core.io import load_estimator, register_estimator, save_estimator
from gradfree.core.schema import RNG, integer, ndarray, real, saved_state
from gradfree.emns import engine
from gradfree.emns.engine import STRATEGIES, VARTYPES

#: What ``EMNSOptimizer.result`` holds (pycma's ``CMAEvolutionStrategyResult`` fields).
EMNSResult = namedtuple("EMNSResult", ["xbest", "fbest", "evals_best", "evaluations", "iterations",
                                       "xfavorite", "stds", "stop"])
EMNSResult.__doc__ = """What :attr:`EMNSOptimizer.result` holds: best point and value, when it was found,
counts of evaluations and iterations, the current mean and step sizes, and why the run stopped.

Examples
--------
>>> import numpy as np
>>> opt = EMNSOptimizer(np.ones(3), 0.5, random_state=0, maxfevals=200)
>>> _ = opt.optimize(lambda x: float((x ** 2).sum()))
>>> result = opt.result
>>> result.evaluations, result.stop, bool(result.fbest < 0.01)
(200, {'maxfevals': 200}, True)
"""

DTYPES = {"float64": torch.float64, "float32": torch.float32}


@register_estimator
class EMNSOptimizer(BaseEstimator):
    """Ask/tell EMNS (minimisation) with pycma's conventions.

    Parameters
    ----------
    x0 : the initial centre (D,), D >= 1 (bits 0/1 for ``vartype="binary"``).
    sigma0 : the initial mutation rate mu_0 (> 0): the step of every variable is ``mu (1 - r)``;
        for bit strings the probability that a bit flips (1/D is the classical choice).
    popsize : candidates per generation; None: the strategy's (``"blackbox"``: 4 + 3 ln D, even).
    strategy : a name of :data:`gradfree.emns.engine.STRATEGIES`: ``"blackbox"`` (the default: TUNED's
        recombining mirrored population, cumulative step-size adaptation of mu and adapted
        resistances, sized for D), ``"paper"``, ``"reference"``, ``"plus"``, ``"tuned"``, ``"scale"``,
        ``"activity"``.
    random_state : int, ``numpy.random.Generator``, ``RandomState`` or None (fresh entropy).
    vartype : ``"continuous"``, ``"integer"`` (candidates rounded) or ``"binary"`` (bit flips).
    maxfevals, maxiter, ftarget, tolfun, tolx : termination criteria, as pycma's (None: off).
    tolstagnation : pycma's stagnation criterion (:meth:`stop`): ``"auto"`` (the default) is pycma's
        ``int(100 + 100 D**1.5 / popsize)`` generations, an int sets it, None turns it off. Continuous,
        non-gradient strategies only (a plus-selection on bits sits on plateaus by design).
    options : fields of the strategy or of its mutation constants to replace, e.g.
        ``{"mu_min": 0.0, "resistance_rate": 0.1}`` (:class:`gradfree.emns.engine.Strategy`,
        :class:`gradfree.emns.params.EMNSParams`); unknown names are refused.
    dtype, device : the engine's tensors (``"float64"`` default; CUDA where you have it).

    Examples
    --------
    >>> import numpy as np
    >>> from gradfree.emns import EMNSOptimizer
    >>> opt = EMNSOptimizer(np.full(5, 3.0), 1.0, random_state=0)
    >>> while not opt.stop():
    ...     X = opt.ask()
    ...     opt.tell(X, (X ** 2).sum(axis=1))
    >>> sorted(opt.stop())
    ['tolfun']
    >>> bool(opt.result.fbest < 1e-10)
    True

    Bit strings: OneMax (minimise the number of zeros) with (1+lambda) selection.

    >>> opt = EMNSOptimizer(np.zeros(32), 1 / 32, strategy="plus", vartype="binary", popsize=4,
    ...                     random_state=0, ftarget=0)
    >>> _ = opt.optimize(lambda x: float((1 - x).sum()))
    >>> opt.result.fbest, sorted(opt.stop())
    (0.0, ['ftarget'])
    """

    _saved_fields = {
        **RNG,
        "state_": saved_state(engine.EngineState, D="D"),
        "strategy_": saved_state(engine.Strategy),
        "xbest_": ndarray("D", dtype=("float64",), nullable=True),
        "fbest_": real(finite=False),
        "evals_best_": integer(0),
    }

    def __init__(self, x0: Any, sigma0: float, *, popsize: int | None = None, strategy: str = "blackbox",
                 random_state: Any = None, vartype: str = "continuous", maxfevals: int | None = None,
                 maxiter: int | None = None, ftarget: float | None = None, tolfun: float | None = 1e-11,
                 tolx: float | None = 1e-11, tolstagnation: int | str | None = "auto",
                 options: dict | None = None, dtype: str = "float64", device: str = "cpu") -> None:
        self.x0 = x0
        self.sigma0 = sigma0
        self.popsize = popsize
        self.strategy = strategy
        self.random_state = random_state
        self.vartype = vartype
        self.maxfevals = maxfevals
        self.maxiter = maxiter
        self.ftarget = ftarget
        self.tolfun = tolfun
        self.tolx = tolx
        self.tolstagnation = tolstagnation
        self.options = options
        self.dtype = dtype
        self.device = device
        self._check_params()
        self.strategy_ = self._resolved
        self.seed_ = seed_from(random_state)
        self.rng_ = torch.Generator(device="cpu").manual_seed(self.seed_)
        x = torch.as_tensor(self._x0, dtype=DTYPES[dtype], device=torch.device(device))
        self.state_ = engine.init_state(x, float(sigma0), self.strategy_)
        self.xbest_: np.ndarray | None = None
        self.fbest_ = math.inf
        self.evals_best_ = 0
        self._rows: tuple | None = None
        self._work: dict = {}  # the engine's reusable (P, D) buffers (not saved, not pickled)

    # ------------------------------------------------------------------ configuration
    def _check_params(self) -> None:
        """Validate the constructor's arguments (also run when a saved optimizer is loaded)."""
        x0 = np.asarray(self.x0, dtype=np.float64)
        if x0.ndim != 1 or x0.size < 1:
            raise ValueError(f"x0 must be a non-empty 1-D array (D,), got shape {x0.shape}")
        if not np.isfinite(x0).all():
            raise ValueError("x0 has NaN or infinite values")
        if self.vartype not in VARTYPES:
            raise ValueError(f"vartype must be one of {VARTYPES}, got {self.vartype!r}")
        if self.vartype == "binary" and not np.isin(x0, (0.0, 1.0)).all():
            raise ValueError('x0 of vartype="binary" must hold only 0 and 1')
        if self.vartype == "integer":
            x0 = np.round(x0)
        if not (isinstance(self.sigma0, (int, float, np.floating)) and math.isfinite(self.sigma0)
                and self.sigma0 > 0):
            raise ValueError(f"sigma0 must be a finite number > 0, got {self.sigma0!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {self.strategy!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.options is not None and not isinstance(self.options, dict):
            raise ValueError(f"options must be a dict or None, got {type(self.options).__name__}")
        for name in ("maxfevals", "maxiter"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1 or None, got {v!r}")
        for name in ("ftarget", "tolfun", "tolx"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float, np.floating)) and not math.isnan(v)):
                raise ValueError(f"{name} must be a number or None, got {v!r}")
        t = self.tolstagnation
        if not (t is None or t == "auto" or (isinstance(t, (int, np.integer)) and not isinstance(t, bool)
                                              and t >= 1)):
            raise ValueError(f'tolstagnation must be "auto", an integer >= 1 or None, got {t!r}')
        s = STRATEGIES[self.strategy]
        D, pop = x0.size, self.popsize
        if pop is None:
            pop = s.popsize or 4 + int(3 * math.log(D))
            pop += pop % 2 if (s.params.mirrored or s.selection == "gradient") else 0
        elif not (isinstance(pop, (int, np.integer)) and pop >= 1):
            raise ValueError(f"popsize must be an integer >= 1 or None, got {pop!r}")
        self._resolved = s.with_options(popsize=int(pop), **(self.options or {})).check(D)
        self._x0 = x0

    # ------------------------------------------------------------------ ask / tell
    def ask(self) -> np.ndarray:
        """The next generation's candidates (popsize, D), float64 NumPy (pycma's convention).

        Asking again before ``tell`` returns the same rows (the generation is drawn once).
        """
        return self.ask_tensor().cpu().numpy().astype(np.float64, copy=False)

    def ask_tensor(self) -> torch.Tensor:
        """:meth:`ask` as a tensor on the engine's device and dtype (no copy to NumPy)."""
        st = self.state_
        if st.seed < 0:
            st.seed = engine.draw_seed(self.rng_)
        if self._rows is None:
            with torch.inference_mode():
                self._rows = engine.candidates(st, self.strategy_, st.seed, self.vartype, self._buffers())
            st.asked = self._rows[0]
        return self._rows[0].clone()  # outside inference mode: an ordinary tensor for the caller

    def tell(self, X: Any, f: Any) -> None:
        """Update from the objective values ``f`` (popsize,) of the rows ``X`` the last :meth:`ask`
        returned (minimisation). ``+inf`` marks an infeasible candidate; NaN is refused."""
        st = self.state_
        if st.seed < 0 or st.asked is None:
            raise RuntimeError("tell() before ask(): call ask() for the generation's candidates first")
        if self._rows is None:  # after load: rebuild the pending generation from its seed
            with torch.inference_mode():
                self._rows = engine.candidates(st, self.strategy_, st.seed, self.vartype, self._buffers())
        asked = self._rows[0]
        Xn = np.asarray(X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
        if Xn.shape != tuple(asked.shape):
            raise ValueError(f"X must have the shape of ask()'s output {tuple(asked.shape)}, got {Xn.shape}")
        if not self._same_rows(Xn, asked.cpu().numpy()):
            raise ValueError("X holds rows that the last ask() did not return (or in another order): "
                             "pass the candidates as ask() gave them")
        fn = np.asarray(f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else f, dtype=np.float64)
        fn = fn.reshape(-1) if fn.ndim == 2 and 1 in fn.shape else fn
        if fn.shape != (asked.shape[0],):
            raise ValueError(f"f must hold one value per row ({asked.shape[0]},), got shape {fn.shape}")
        if np.isnan(fn).any():
            raise ValueError(f"f has NaN at rows {np.flatnonzero(np.isnan(fn)).tolist()}: return +inf for "
                             "a candidate that cannot be evaluated")
        b = int(np.argmin(fn))
        if fn[b] < self.fbest_:
            self.fbest_, self.xbest_ = float(fn[b]), Xn[b].copy()
            self.evals_best_ = st.n_evaluations + b + 1
        with torch.inference_mode():
            engine.tell(st, self.strategy_, self._rows, torch.as_tensor(fn, dtype=st.theta.dtype,
                                                                        device=st.theta.device), self.rng_,
                        self._buffers())
        st.seed, st.asked, self._rows = -1, None, None

    def _buffers(self) -> dict:
        """The engine's work buffers (created after a load or an unpickle, which drop them)."""
        if getattr(self, "_work", None) is None:
            self._work = {}
        return self._work

    def _same_rows(self, X: np.ndarray, asked: np.ndarray) -> bool:
        """``np.array_equal`` without its (P, D) temporary (a reused buffer: see :meth:`_buffers`)."""
        work = self._buffers()
        eq = work.get("equal")
        if eq is None or eq.shape != X.shape:
            eq = work["equal"] = np.empty(X.shape, dtype=bool)
        return bool(np.equal(X, asked, out=eq).all())

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state["_work"] = None  # buffers: rebuilt on use
        return state

    # ------------------------------------------------------------------ termination and results
    def stop(self) -> dict:
        """The termination criteria met, ``{name: value}`` (empty while none is): ``maxfevals``,
        ``maxiter``, ``ftarget`` (fbest <= ftarget), ``tolfun`` (the best values of the last
        10 + ceil(30 D / popsize) generations span less than ``tolfun``), ``tolx`` (every
        variable's step ``mu (1 - r)`` below ``tolx``) and ``tolstagnation`` (the last two;
        continuous, non-gradient strategies).

        ``tolstagnation`` is pycma's rule (``cma.evolution_strategy``, 3.x) on the per-generation best
        values: after more than D (5 + 100 / popsize) and 500 generations, with the run's best found
        more than T / 2 generations ago, the median of the last T / 2 generations' best values is no
        better than the median of the T / 2 before (T = ``tolstagnation``, at most the 1,000
        generations kept). pycma also asks the same of the generations' median values, which the engine
        does not keep. It ends a run that sits in a local optimum with steps too large for ``tolx`` and
        values too noisy for ``tolfun`` (seen on bbob's Rastrigin with resistances at ``r_max``), so a
        restart can follow."""
        st, s, out = self.state_, self.strategy_, {}
        if self.maxfevals is not None and st.n_evaluations >= self.maxfevals:
            out["maxfevals"] = self.maxfevals
        if self.maxiter is not None and st.n_generations >= self.maxiter:
            out["maxiter"] = self.maxiter
        if self.ftarget is not None and self.fbest_ <= self.ftarget:
            out["ftarget"] = self.ftarget
        n = 10 + math.ceil(30 * st.sizes[0] / s.popsize)
        hist = st.best_history[-n:]
        if self.tolfun is not None and len(hist) >= n and max(hist) - min(hist) < self.tolfun:
            out["tolfun"] = self.tolfun
        if self.tolx is not None and self.vartype == "continuous" and s.selection != "gradient":
            if float((st.mutation_rate * (1.0 - st.resistances)).max()) < self.tolx:
                out["tolx"] = self.tolx
        T = self._stagnation_generations()
        if T and self.vartype == "continuous" and s.selection != "gradient":
            half, g, hist = min(T, engine.HISTORY) // 2, st.n_generations, st.best_history
            if (g > max(st.sizes[0] * (5 + 100 / s.popsize), 500) and len(hist) >= 2 * half
                    and (st.n_evaluations - self.evals_best_) / s.popsize > T / 2
                    and np.median(hist[-half:]) >= np.median(hist[-2 * half:-half])):
                out["tolstagnation"] = T
        return out

    def _stagnation_generations(self) -> int | None:
        """``tolstagnation`` resolved: pycma's default ``int(100 + 100 D**1.5 / popsize)`` for "auto"."""
        t = self.tolstagnation
        if t == "auto":
            return int(100 + 100 * self.state_.sizes[0] ** 1.5 / self.strategy_.popsize)
        return None if t is None else int(t)

    @staticmethod
    def _upgrade_saved_params(params: dict[str, Any]) -> dict[str, Any]:
        """Files saved before ``tolstagnation`` existed resume without it (their runs had none)."""
        return params if "tolstagnation" in params else {**params, "tolstagnation": None}

    @property
    def result(self) -> EMNSResult:
        """``EMNSResult(xbest, fbest, evals_best, evaluations, iterations, xfavorite, stds, stop)``."""
        st = self.state_
        centre = st.theta.cpu().numpy().astype(np.float64)
        if self.vartype != "continuous":
            centre = centre.round()
        stds = (st.mutation_rate * (1.0 - st.resistances)).cpu().numpy().astype(np.float64)
        return EMNSResult(self.xbest_, self.fbest_, self.evals_best_, st.n_evaluations, st.n_generations,
                          centre, stds, self.stop())

    def optimize(self, objective: Callable[..., Any], iterations: int | None = None, args: tuple = (),
                 callback: Callable[[EMNSOptimizer], Any] | None = None,
                 vectorized: bool = False) -> EMNSOptimizer:
        """Ask, evaluate, tell until :meth:`stop` (or ``iterations`` generations); pycma's
        ``optimize``. ``objective(x, *args)`` -> float per row, or with ``vectorized`` ``objective(X)``
        -> (popsize,). ``callback(self)`` runs after each generation. Returns ``self``."""
        if not callable(objective):
            raise TypeError("objective must be callable")
        done = 0
        while not self.stop() and (iterations is None or done < iterations):
            X = self.ask()
            f = objective(X, *args) if vectorized else [objective(x, *args) for x in X]
            self.tell(X, np.asarray(f, dtype=np.float64))
            done += 1
            if callback is not None:
                callback(self)
        return self

    # ------------------------------------------------------------------ views, save and load
    @property
    def mean(self) -> np.ndarray:
        """The centre (D,) (pycma's ``mean``)."""
        return self.result.xfavorite

    @property
    def countevals(self) -> int:
        return self.state_.n_evaluations

    @property
    def countiter(self) -> int:
        return self.state_.n_generations

    def save(self, path: str | Path) -> Path:
        """Save to ``<path>.safetensors`` + ``<path>.json`` (an asked, untold generation included);
        :meth:`load` continues exactly: the next ``ask`` equals the one without the round trip."""
        return save_estimator(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> EMNSOptimizer:
        """Load what :meth:`save` wrote (files are untrusted: every field is checked)."""
        return load_estimator(path, device=device, expected=cls)

    def _check_loaded_state(self) -> None:
        """Refuse saved state that does not fit the parameters (called by the loader)."""
        st, D = self.state_, len(self._x0)
        if not isinstance(st, engine.EngineState) or not isinstance(self.rng_, torch.Generator):
            raise ValueError("state_ is not an EMNS engine state")
        if self.strategy_ != self._resolved:
            raise ValueError("strategy_ does not match the parameters strategy / popsize / options")
        if st.theta.dtype != DTYPES[self.dtype]:
            raise ValueError(f"state_ holds {st.theta.dtype}, the parameter dtype is {self.dtype}")
        if (self.xbest_ is None) != math.isinf(self.fbest_) or math.isnan(self.fbest_):
            raise ValueError("xbest_ and fbest_ must be set together")
        for name in ("theta", "resistances", "r_floor", "m", "v"):
            t = getattr(st, name)
            if not (isinstance(t, torch.Tensor) and t.shape == (D,) and bool(torch.isfinite(t).all())):
                raise ValueError(f"state_.{name} must be a finite tensor of shape ({D},)")
        if st.sizes != [D] or not (math.isfinite(st.mutation_rate) and st.mutation_rate > 0):
            raise ValueError("state_.sizes / mutation_rate do not fit x0")
        r = st.resistances
        if bool((r < 0).any()) or bool((r > 1).any()):
            raise ValueError("state_.resistances must lie in [0, 1]")
        if st.asked is not None and tuple(st.asked.shape) != (self.strategy_.popsize, D):
            raise ValueError("state_.asked does not have the shape (popsize, D)")
        if st.n_evaluations < 0 or st.n_generations < 0:
            raise ValueError("state_ counters must be >= 0")
