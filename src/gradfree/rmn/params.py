"""Option groups of :class:`gradfree.rmn.RMNClassifier`: homeostasis and the prototype read-out.

Each is a frozen dataclass (:mod:`gradfree.core.groups`) passed as one constructor parameter; the
values the paper leaves open are ours (docs/decisions.md, RMN).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Interval

from gradfree.core.groups import ParamGroup, regroup
from gradfree.core.io import saveable


@saveable
@dataclass(frozen=True)
class HomeostasisParams(ParamGroup):
    """Homeostasis (section 4 of the paper): a neuron whose running activation is below ``theta``
    receives thermal noise, ``w_i <- normalise(w_i + epsilon N(0, I))``.

    ``activity_decay`` is the rate of the running mean of each neuron's post-k-WTA activation (0.01: a
    time constant of 100 samples); ``interval`` is how often, in samples, idle neurons are checked (1:
    after every sample, as the paper states it; 100, the default, is our fast option).

    >>> HomeostasisParams(interval=1)
    HomeostasisParams(theta=0.01, epsilon=0.01, activity_decay=0.01, interval=1)
    """

    theta: float = 0.01
    epsilon: float = 0.01
    activity_decay: float = 0.01
    interval: int = 100

    _parameter_constraints = {
        "theta": [Interval(Real, 0, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "activity_decay": [Interval(Real, 0, 1, closed="both")],
        "interval": [Interval(Integral, 1, None, closed="left")],
    }


@saveable
@dataclass(frozen=True)
class PrototypeParams(ParamGroup):
    """The prototype read-outs (``readout="overcomplete"`` or ``"simple"``).

    ``n``: prototypes of the overcomplete read-out (the simple one has one per class). ``vote_k``: the
    most resonant bound prototypes that vote (weight ``1 + cosine``). ``lr``: rate at which a prototype
    rotates toward y; ``push_lr``: rate at which the simple read-out pushes the other classes' away.
    Extensions (ours; None: the paper's greedy top-``vote_k`` binding): ``cap``, the most prototypes
    one class may bind; ``recruit_threshold``, bind a new prototype (set to y) only when none of the
    class resonates above this cosine, otherwise pull the class's own ``pull_k`` best (None:
    ``vote_k``).

    >>> PrototypeParams(n=1000, cap=100, recruit_threshold=0.9, pull_k=1, vote_k=1).vote_k
    1
    """

    n: int = 100
    vote_k: int = 5
    lr: float = 0.1
    push_lr: float = 0.01
    cap: int | None = None
    pull_k: int | None = None
    recruit_threshold: float | None = None

    _parameter_constraints = {
        "n": [Interval(Integral, 1, None, closed="left")],
        "vote_k": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="left")],
        "push_lr": [Interval(Real, 0, None, closed="left")],
        "cap": [Interval(Integral, 1, None, closed="left"), None],
        "pull_k": [Interval(Integral, 1, None, closed="left"), None],
        "recruit_threshold": [Interval(Real, None, None, closed="neither"), None],
    }


#: with homeostasis off the running means still move (at this rate) and erosion is chunked at this
#: interval, as before the options were grouped
NO_HOMEOSTASIS = HomeostasisParams()
DEFAULT_PROTOTYPES = PrototypeParams()


def upgrade_saved_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters of a file saved before the groups existed, moved into them."""
    params = regroup(params, "homeostasis", HomeostasisParams,
                     {"theta": "theta", "epsilon": "epsilon", "activity_decay": "activity_decay",
                      "homeostasis_interval": "interval"}, enabled="homeostasis")
    return regroup(params, "prototypes", PrototypeParams,
                   {"n_prototypes": "n", "vote_k": "vote_k", "prototype_lr": "lr", "push_lr": "push_lr",
                    "prototype_cap": "cap", "pull_k": "pull_k", "recruit_threshold": "recruit_threshold"})
