"""Percentiles, spread and Mann-Whitney U."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_perfbudget.stats import (
    mann_whitney_p,
    median,
    median_absolute_deviation,
    percentile,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 90) == pytest.approx(3.7)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=2, max_size=200))
def test_agrees_with_statistics_module(values: list[float]) -> None:
    ordered = sorted(values)
    deciles = statistics.quantiles(ordered, n=10, method="inclusive")
    assert percentile(ordered, 90) == pytest.approx(deciles[8], rel=1e-9, abs=1e-9)
    assert median(values) == pytest.approx(statistics.median(values), rel=1e-9, abs=1e-9)


def lognormal(seed: int, mu: float, sigma: float, n: int) -> list[float]:
    generator = random.Random(seed)
    return [generator.lognormvariate(mu, sigma) for _ in range(n)]


@pytest.mark.parametrize(
    ("first", "second", "scipy_p"),
    [
        # Reference values from scipy.stats.mannwhitneyu(method="asymptotic",
        # use_continuity=True, alternative="two-sided"), computed once on these inputs.
        ([1, 2, 3, 4, 5, 6], [4, 5, 6, 7, 8, 9, 10], 0.021722119820512295),
        ([1, 1, 1, 2, 2, 3], [2, 2, 3, 3, 3, 3], 0.04978916576104952),
    ],
)
def test_mann_whitney_matches_scipy(
    first: list[float], second: list[float], scipy_p: float
) -> None:
    assert mann_whitney_p(first, second) == pytest.approx(scipy_p, rel=1e-12)


def test_mann_whitney_of_seeded_lognormal_samples_matches_scipy() -> None:
    generator = random.Random(7)
    first = [round(generator.lognormvariate(0, 0.15), 2) for _ in range(30)]
    second = [round(generator.lognormvariate(0.1, 0.15), 2) for _ in range(150)]
    assert mann_whitney_p(first, second) == pytest.approx(0.0006786401503811695, rel=1e-9)


def test_mann_whitney_of_identical_constants_is_one() -> None:
    assert mann_whitney_p([5.0] * 10, [5.0] * 10) == 1.0


def test_median_absolute_deviation() -> None:
    assert median_absolute_deviation([1, 2, 3, 4, 100]) == 1
