"""Step changes, slow creep and sparklines over a test's history."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from pytest_perfbudget.trend import (
    MIN_SIDE,
    STEP_ALPHA,
    Creep,
    Step,
    _u_distribution,
    find_change,
    find_creep,
    find_step,
    sparkline,
    spreads_apart,
    spreads_needed,
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


def test_six_runs_then_six_three_times_slower_is_a_step() -> None:
    # issue 16: the rank test cannot reach alpha with 6 runs a side (p 0.0022 before the
    # factor for the splits tried); every run after is slower than every run before
    generator = random.Random(16)
    step = find_step(noisy(0.010, 6, generator, 0.006) + noisy(0.030, 6, generator, 0.006))
    assert step is not None
    assert step.index == 6
    assert step.clean
    assert step.p_value >= STEP_ALPHA
    assert 1.9 < step.change < 2.1


@pytest.mark.parametrize(
    ("before", "after"), [*((side, side) for side in range(4, 16)), (26, 4), (4, 26), (20, 10)]
)
def test_a_clean_step_large_against_the_noise_is_found(before: int, after: int) -> None:
    # +50% against 0.5% noise: 120 MADs; 20 histories each
    for seed in range(20):
        generator = random.Random(seed)
        series = noisy(10.0, before, generator, 0.005) + noisy(15.0, after, generator, 0.005)
        step = find_step(series)
        assert step is not None, seed
        assert step.index == before


def test_a_clean_split_is_a_step_only_when_its_sides_are_far_enough_apart() -> None:
    before = [9.9, 10.0, 10.0, 10.1]  # spread 0.05 (0.4 over the 8 runs)
    needed = spreads_needed(4, 4) * 0.05
    far = find_step(before + [10.01 + needed + offset for offset in (-0.1, 0.0, 0.0, 0.1)])
    assert far is not None
    assert far.clean
    assert far.index == 4
    near = before + [10.0 + needed - 0.01 + offset for offset in (-0.1, 0.0, 0.0, 0.1)]
    assert spreads_apart(near[:4], near[4:]) < spreads_needed(4, 4)
    assert find_step(near) is None


def test_one_run_on_the_wrong_side_leaves_a_short_step_to_the_rank_test() -> None:
    # the third run is slower than every run after the step: no split is clean, and 6 runs
    # a side are too few for the rank test
    assert find_step([10.0, 10.0, 31.0, 10.0, 10.0, 10.0] + [30.0] * 6) is None


def test_spreads_needed_fall_as_a_clean_split_gets_less_likely() -> None:
    assert spreads_needed(4, 4) == 22.0
    assert spreads_needed(6, 6) == spreads_needed(6, 6) == 9.0
    assert spreads_needed(26, 4) == spreads_needed(4, 26) == pytest.approx(7.1, abs=0.05)
    assert spreads_needed(8, 8) > spreads_needed(8, 12) > spreads_needed(9, 21)


def test_a_zero_spread_clean_split_is_infinitely_far_apart() -> None:
    assert spreads_apart([10.0] * 4, [20.0] * 4) == math.inf
    step = find_step([10.0] * 4 + [20.0] * 4)
    assert step is not None
    assert step.index == 4


def test_the_clean_rule_adds_no_false_step_to_unchanged_histories() -> None:
    """10,000 seeded unchanged histories (8-30 runs, lognormal noise of 5-15%): every step
    found is the rank test's. benchmarks/bench_trend_simulation.py measures it on 414,000:
    107 false steps (2.6e-4) before the clean rule and after it, none in 8-12 runs."""
    generator = random.Random(20261128)
    found = []
    for _ in range(10_000):
        length = generator.randint(8, 30)
        series = noisy(10.0, length, generator, generator.choice([0.05, 0.10, 0.15]))
        if (step := find_step(series)) is not None:
            found.append(step)
    assert len(found) < 10  # about 2.6e-4 of them
    assert not [step for step in found if step.clean]


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
