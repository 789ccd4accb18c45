"""Percentiles."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_perfbudget.stats import median, percentile


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
