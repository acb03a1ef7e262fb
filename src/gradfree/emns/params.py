"""Hyper-parameters of EMNS mutation and mutation-rate adaptation (evosax style: a frozen dataclass).

Two named presets:

* ``"paper"`` (the default): section 2.1-2.3 as written - the resistance mutates with the same rule as
  the value (factor 1), resistances clipped to [0, 1], values unclipped, mu0 = 0.5, alpha = 0.995,
  beta = 1.05, gamma = 0.999 with Delta P compared against exactly zero. The paper gives no bounds for
  mu; ``mu_max = 10`` is ours, a numerical guard only (it is never reached by a run that learns).
* ``"reference"``: the public reference implementation (``lib_and_demo.py``) as docs/decisions.md
  describes it -
  resistance noise scaled by 0.02, resistances clipped to [0, 0.95], values clipped to [-10, 10],
  alpha/beta/gamma = 0.98/1.01/0.999 with a +-0.001 dead band on Delta P, mu clipped to [0.001, 0.1].
  Its usage example passes mutation_rate 0.3, which its clip turns into 0.1 at the first
  adaptation, so the preset starts at 0.1.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from gradfree.core.io import saveable
from gradfree.core.schema import Spec, real


@saveable
@dataclass(frozen=True)
class EMNSParams:
    """Everything the mutation step and the mutation-rate rule need; immutable, so it can be shared.

    Examples
    --------
    >>> params = EMNSParams()                                     # the paper's constants (sec. 2.3)
    >>> params.mutation_rate, params.alpha, params.beta, params.gamma
    (0.5, 0.995, 1.05, 0.999)
    >>> make_params("paper", mu_max=2.0).mu_max                    # a preset with fields replaced
    2.0
    """

    mutation_rate: float = 0.5  # mu_0 (sec. 2.3)
    alpha: float = 0.995  # mu factor when performance improved (sec. 2.3)
    beta: float = 1.05  # mu factor when performance got worse
    gamma: float = 0.999  # mu factor when performance did not change
    dead_band: float = 0.0  # |Delta P| <= dead_band counts as "no change" (reference: 0.001)
    mu_min: float = 0.0
    mu_max: float = 10.0
    resistance_factor: float = 1.0  # resistance noise scale (sec. 2.2: 1; reference: 0.02)
    r_min: float = 0.0
    r_max: float = 1.0
    value_clip: float = math.inf  # |theta| bound after mutation (reference: 10)
    r_init: float = 0.1  # resistance of grown neurons / newly formed connections (sec. 6.1)
    self_adaptive: bool = False  # ours: mutate r first, then theta with the new r (see mutation.mutate)
    mirrored: bool = False  # ours: candidates in pairs with opposite value noise (see evolution)
    # ours: rate of the derandomised resistance update (see evolution.adapt_resistances); 0 = off, the
    # paper's random co-evolution. When > 0 the resistances no longer mutate at random.
    resistance_rate: float = 0.0

    _saved_fields: ClassVar[dict] = {
        **{name: real(0, None) for name in ("mutation_rate", "alpha", "beta", "gamma", "dead_band", "mu_min",
                                            "mu_max", "resistance_factor", "resistance_rate")},
        "r_min": real(0, 1), "r_max": real(0, 1), "r_init": real(0, 1),
        "value_clip": real(0, None, finite=False),
        "self_adaptive": Spec("bool"), "mirrored": Spec("bool"),
    }

    def _check_loaded(self) -> None:
        if not (self.r_min <= self.r_max and self.mu_min <= self.mu_max):
            raise ValueError("r_min <= r_max and mu_min <= mu_max are needed")


PRESETS: dict[str, EMNSParams] = {
    "paper": EMNSParams(),
    "reference": EMNSParams(mutation_rate=0.1, alpha=0.98, beta=1.01, gamma=0.999, dead_band=0.001,
                            mu_min=0.001, mu_max=0.1, resistance_factor=0.02, r_min=0.0, r_max=0.95,
                            value_clip=10.0),
}


def make_params(preset: str = "paper", **overrides: float | bool | None) -> EMNSParams:
    """The named mutation constants (``"paper"`` or ``"reference"``) with the given fields replaced
    (``None`` values are ignored).

    >>> from gradfree.emns import make_params
    >>> p = make_params("reference", mutation_rate=0.05)
    >>> p.mutation_rate, p.mu_max, p.resistance_factor
    (0.05, 0.1, 0.02)
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    p = dataclasses.replace(PRESETS[preset], **changes)
    if not (p.r_min <= p.r_max) or p.mutation_rate < 0 or p.resistance_rate < 0:
        raise ValueError(f"invalid EMNS parameters: {p}")
    return p
