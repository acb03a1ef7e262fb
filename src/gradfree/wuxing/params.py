"""Option groups of :class:`gradfree.wuxing.WuxingClassifier`: the neuron's ODE and its integration,
and method 1 (fixed points through K1).

Each is a frozen dataclass (:mod:`gradfree.core.groups`) passed as one constructor parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

from sklearn.utils._param_validation import Interval, StrOptions

from gradfree.core.groups import ParamGroup, regroup
from gradfree.core.io import saveable

FP_RULES = ("offset", "k123")
INTEGRATORS = ("euler", "rk4")


@saveable
@dataclass(frozen=True)
class DynamicsParams(ParamGroup):
    """The five-element neuron's ODE (eq. 2.1-2.3) and its numerical integration.

    ``K1``, ``K2``, ``K3``: every neuron's initial parameters (the paper's 1, 0.5, 0.5 give the fixed
    point B0 = 1; K3 > 0 and K1 > K2 are needed for a positive one); method 1 moves them. Each run
    integrates from rest for ``T`` time units in steps of ``dt`` with ``integrator`` ("euler" or
    "rk4"); ``clamp`` keeps every element's energy E >= 0 after each step (positivity).

    >>> DynamicsParams(T=6.0).T
    6.0
    """

    K1: float = 1.0
    K2: float = 0.5
    K3: float = 0.5
    dt: float = 0.2
    T: float = 30.0
    integrator: str = "euler"
    clamp: bool = True

    _parameter_constraints = {
        **{k: [Real] for k in ("K1", "K2", "K3")},
        **{pos: [Interval(Real, 0, None, closed="neither")] for pos in ("dt", "T")},
        "integrator": [StrOptions(set(INTEGRATORS))],
        "clamp": ["boolean"],
    }

    def _check_rules(self) -> None:
        """The fixed point needs K3 > 0 and K1 > K2 (eq. 2.3)."""
        if not (self.K3 > 0 and self.K1 > self.K2):
            raise ValueError(f"need K3 > 0 and K1 > K2 for a positive fixed point; got K1={self.K1}, "
                             f"K2={self.K2}, K3={self.K3}")


@saveable
@dataclass(frozen=True)
class FixedPointParams(ParamGroup):
    """Method 1: the neurons' fixed points moved by a PID controller (our reading,
    :mod:`gradfree.wuxing.bsp`); used by ``method="fixed_point"`` and ``"mixed"``.

    ``step``: method 1's learning step (None: the classifier's ``step / 0.25``, so that method 2's step
    is 25 % of method 1's as in the paper's mixed method). ``pid``: the gains (kp, ki, kd);
    ``pid_decay``: leak of the integral term. ``max_offset``: bound on a neuron's fixed-point offset
    |B0 - B_ref| in units of ``input_scale``. ``rule``: ``"offset"`` moves the fixed point through K1
    (first reading), ``"k123"`` gives each of K1, K2, K3 its own rule (second reading, from the cited
    PID paper).

    >>> FixedPointParams(rule="k123").max_offset
    0.1
    """

    step: float | None = None
    pid: tuple[float, float, float] = (1.0, 0.0, 0.0)
    pid_decay: float = 0.9
    max_offset: float = 0.1
    rule: str = "offset"

    _parameter_constraints = {
        "step": [Interval(Real, 0, None, closed="left"), None],
        "pid": [tuple, list],
        "pid_decay": [Interval(Real, 0, 1, closed="both")],
        "max_offset": [Interval(Real, 0, None, closed="left")],
        "rule": [StrOptions(set(FP_RULES))],
    }

    def _check_rules(self) -> None:
        """``pid`` holds three real gains."""
        if len(self.pid) != 3 or not all(isinstance(v, Real) and not isinstance(v, bool) for v in self.pid):
            raise ValueError(f"pid must be three numbers (kp, ki, kd), got {self.pid!r}")


DEFAULT_DYNAMICS = DynamicsParams()
DEFAULT_FIXED_POINT = FixedPointParams()


def upgrade_saved_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters of a file saved before the groups existed, moved into them."""
    params = regroup(params, "dynamics", DynamicsParams,
                     {k: k for k in ("K1", "K2", "K3", "dt", "T", "integrator", "clamp")})
    return regroup(params, "fixed_point", FixedPointParams,
                   {"fp_step": "step", "pid": "pid", "pid_decay": "pid_decay", "fp_max": "max_offset",
                    "fp_rule": "rule"})
