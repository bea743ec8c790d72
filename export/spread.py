"""A trained fit is a random draw: figures from one are given over seeds as mean, sd and the worst seed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 for a single value
    worst: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float], higher_is_better: bool = True) -> Spread:
        if not values:
            raise ValueError("no values to summarise")
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        # a seed that scored NaN (a collapsed fit) is the worst; min() and max() keep or drop it by its place
        worst = math.nan if any(math.isnan(v) for v in values) else (min if higher_is_better else max)(values)
        return cls(mean, sd, worst, len(values))

    def text(self, digits: int = 4, signed: bool = False) -> str:
        """The mean and sd as text, e.g. 0.8624 ± 0.0055 (the mean alone for one value)."""
        mean = f"{self.mean:+.{digits}f}" if signed else f"{self.mean:.{digits}f}"
        return mean if self.n == 1 else f"{mean} ± {self.sd:.{digits}f}"
