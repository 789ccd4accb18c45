"""Step changes, slow creep and sparklines over a test's history."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from pytest_perfbudget.trend import (
    MIN_SIDE,
    Creep,
    Step,
    _u_distribution,
    find_change,
    find_creep,
    find_step,
    sparkline,
)


def noisy(level: float, count: int, generator: random.Random, sigma: float = 0.05) -> list[float]:
    return [level * generator.lognormvariate(0, sigma) for _ in range(count)]


def test_a_step_is_found_where_it_began() -> None:
    generator = random.Random(1)
    series = noisy(10.0, 18, generator) + noisy(13.0, 12, generator)
    step = find_step(series)
    assert step is not None
    assert step.index == 18
    assert 0.2 < step.change < 0.4
    assert step.p_value < 0.001


def test_a_step_down_is_found_too() -> None:
    generator = random.Random(2)
    step = find_step(noisy(10.0, 10, generator) + noisy(7.0, 20, generator))
    assert step is not None
    assert step.index == 10
    assert step.change < -0.2


@pytest.mark.parametrize("seed", range(200))
def test_stationary_series_raise_no_alarm(seed: int) -> None:
    generator = random.Random(seed)
    series = noisy(10.0, 30, generator, sigma=0.15)
    assert find_step(series) is None
    assert find_creep(series) is None


@pytest.mark.parametrize("seed", range(50))
def test_creep_of_one_percent_a_run_is_caught(seed: int) -> None:
    generator = random.Random(1000 + seed)
    series = [10.0 * 1.01**run * generator.lognormvariate(0, 0.03) for run in range(30)]
    creep = find_creep(series)
    assert creep is not None
    assert 0.005 < creep.relative < 0.02


def test_too_short_series_say_nothing() -> None:
    assert find_step([1.0] * (2 * MIN_SIDE - 1) + [5.0]) is None
    assert find_creep([1.0, 2.0, 3.0]) is None
    assert find_step([]) is None


def test_constant_series_say_nothing() -> None:
    assert find_step([2.0] * 30) is None
    assert find_creep([2.0] * 30) is None


def test_a_tiny_but_significant_step_is_not_reported() -> None:
    series = [10.0 + 0.001 * (run % 3) for run in range(15)] + [
        10.05 + 0.001 * (run % 3) for run in range(15)
    ]
    assert find_step(series) is None  # 0.5%: below the reported size


def test_sparkline() -> None:
    assert sparkline([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3.0, None, 3.0]) == "▅ ▅"
    assert sparkline([]) == ""
    assert sparkline([None]) == ""


def test_a_clean_step_in_22_runs_is_found() -> None:
    # 12 runs at one level, 10 at another: only the exact test reaches alpha here
    step = find_step(
        [10.0 + 0.01 * run for run in range(12)] + [14.0 + 0.01 * run for run in range(10)]
    )
    assert step is not None
    assert step.index == 12


def test_find_change_tells_a_step_from_a_creep() -> None:
    generator = random.Random(3)
    stepped = noisy(10.0, 15, generator, 0.01) + noisy(12.0, 15, generator, 0.01)
    assert isinstance(find_change(stepped), Step)
    creeping = [10.0 * 1.02**run * generator.lognormvariate(0, 0.005) for run in range(30)]
    assert isinstance(find_change(creeping), Creep)
    assert find_change(noisy(10.0, 30, generator)) is None


@pytest.mark.parametrize(("first", "second"), [(1, 1), (2, 3), (3, 2), (4, 4), (4, 7), (6, 5)])
def test_exact_u_distribution_matches_enumeration(first: int, second: int) -> None:
    counts = [0] * (first * second + 1)
    for chosen in itertools.combinations(range(first + second), first):
        counts[sum(chosen) - first * (first - 1) // 2] += 1
    total = math.comb(first + second, first)
    expected = list(itertools.accumulate(count / total for count in counts))
    assert _u_distribution(first, second) == pytest.approx(expected, abs=1e-12)
