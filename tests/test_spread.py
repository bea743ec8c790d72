"""Spread: the mean, sd and worst seed that every multi-seed figure is given as."""

from __future__ import annotations

import math

import pytest

from export.spread import Spread


def test_mean_sample_sd_and_worst_in_either_direction():
    scores = Spread.of([0.86, 0.87, 0.85])
    assert (round(scores.mean, 6), round(scores.sd, 6), scores.worst, scores.n) == (0.86, 0.01, 0.85, 3)
    assert Spread.of([0.01, -0.02, 0.03], higher_is_better=False).worst == 0.03  # drops: the largest is worst
    assert Spread.of([0.5]).sd == 0.0 and Spread.of([0.5]).text() == "0.5000"
    with pytest.raises(ValueError, match="no values"):
        Spread.of([])


@pytest.mark.parametrize("values", [[0.86, math.nan], [math.nan, 0.86]])
def test_a_seed_that_scored_nan_is_the_worst_whatever_its_place(values):
    """A collapsed seed (constant outputs give a NaN Spearman): min() kept or dropped it by its position."""
    assert math.isnan(Spread.of(values).worst) and math.isnan(Spread.of(values, higher_is_better=False).worst)
