"""Running observation statistics shared by the whole population (ARS V2, Mania et al. 2018,
sec. 3; Salimans et al. 2017, sec. 2.2 "virtual batch" aside): every observation of a generation
updates one mean and variance, which the next generation's policies see frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gradfree.core.io import saveable
from gradfree.core.schema import ndarray, real

MIN_VAR = 1e-8  # a component that never varied is passed through unscaled (std 1), as ARS does


@saveable
@dataclass
class RunningStats:
    """Count, mean and sum of squared deviations (Chan et al.'s parallel merge), float64."""

    count: float
    mean: np.ndarray  # (o,)
    m2: np.ndarray  # (o,)

    _saved_fields: ClassVar[dict] = {"count": real(0.0), "mean": ndarray("o", dtype=("float64",)),
                                     "m2": ndarray("o", dtype=("float64",), low=0.0)}

    @classmethod
    def empty(cls, n: int) -> RunningStats:
        return cls(0.0, np.zeros(n), np.zeros(n))

    def update(self, stats: np.ndarray) -> None:
        """Merge per-candidate rows (P, 2 o + 1) of (sum, sum of squares, count), in row order."""
        o = self.mean.size
        total = stats.sum(axis=0)
        n = float(total[-1])
        if n == 0:
            return
        mean_b = total[:o] / n
        m2_b = np.maximum(total[o:2 * o] - n * mean_b * mean_b, 0.0)
        N = self.count + n
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n / N)
        self.m2 = self.m2 + m2_b + delta * delta * (self.count * n / N)
        self.count = N

    def frozen(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) to normalise with: identity before any data, std 1 where the variance is ~0."""
        if self.count < 2:
            return np.zeros_like(self.mean), np.ones_like(self.mean)
        var = self.m2 / self.count
        return self.mean.copy(), np.where(var < MIN_VAR, 1.0, np.sqrt(var))

    def _check_loaded(self) -> None:
        """The mean and m2 have one size."""
        if self.mean.shape != self.m2.shape:
            raise ValueError("mean and m2 differ in shape")
