"""Sorting: the perf fixture measures just the sort, not building its input."""

from __future__ import annotations

import random

import pytest

from pytest_perfbudget import PerfMeter


@pytest.fixture
def shuffled() -> list[int]:
    numbers = list(range(20_000))
    random.Random(42).shuffle(numbers)
    return numbers


@pytest.mark.perf_budget(mean="20ms", max="100ms", cpu="20ms")
def test_sort_numbers(perf: PerfMeter, shuffled: list[int]) -> None:
    result = perf(sorted, shuffled)
    assert result[:3] == [0, 1, 2]


@pytest.mark.perf_budget(latency="250ms", rounds=20)
def test_sort_records_by_key(perf: PerfMeter, shuffled: list[int]) -> None:
    records = [{"id": n, "score": n * 7 % 1000} for n in shuffled]
    for _ in range(20):
        with perf.measure():
            ranked = sorted(records, key=lambda record: (-record["score"], record["id"]))
    assert ranked[0]["score"] == 999
