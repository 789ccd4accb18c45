"""A generator pipeline: streaming keeps memory flat, a list would not.

These tests carry no marker: the [[tool.perfbudget.budget]] entry in pyproject.toml gives
them their budget, except where a marker says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest


def read_lines(count: int) -> Iterator[str]:
    for number in range(count):
        yield f"{number},sensor-{number % 7},{number * 0.5:.1f}"


def parse(lines: Iterable[str]) -> Iterator[tuple[str, float]]:
    for line in lines:
        _, sensor, value = line.split(",")
        yield sensor, float(value)


def totals(readings: Iterable[tuple[str, float]]) -> dict[str, float]:
    result: dict[str, float] = {}
    for sensor, value in readings:
        result[sensor] = result.get(sensor, 0.0) + value
    return result


def test_streaming_totals() -> None:
    assert len(totals(parse(read_lines(20_000)))) == 7


@pytest.mark.perf_budget(memory="256MiB", rounds=1)
def test_materialized_totals_need_a_bigger_budget() -> None:
    """rounds=1: measured once, for code with side effects or a long run time."""
    lines = list(read_lines(200_000))
    assert len(totals(parse(lines))) == 7
