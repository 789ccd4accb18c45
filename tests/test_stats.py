"""Percentiles, Mann-Whitney U and the regression decision."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_perfbudget.stats import (
    check_regression,
    machine_speed_slope,
    mann_whitney_p,
    median,
    median_absolute_deviation,
    percentile,
    speed_factor,
    within_run_slope,
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


def test_no_baseline_is_reported_not_failed() -> None:
    check = check_regression("p50", [1.0] * 10, [], 0.2)
    assert check.outcome == "no-baseline"
    assert not check.regressed


def test_clear_slowdown_regresses_with_a_p_value() -> None:
    baseline = lognormal(1, 0.0, 0.1, 100)
    current = lognormal(2, math.log(1.5), 0.1, 30)
    check = check_regression("p50", current, baseline, 0.2)
    assert check.outcome == "regressed"
    assert check.p_value is not None
    assert check.p_value < 0.01
    assert check.change == pytest.approx(0.5, abs=0.1)


def test_change_within_threshold_is_ok_however_significant() -> None:
    baseline = lognormal(1, 0.0, 0.01, 100)
    current = lognormal(2, math.log(1.1), 0.01, 100)
    assert check_regression("p50", current, baseline, 0.2).outcome == "ok"


def test_large_but_insignificant_change_does_not_fail() -> None:
    baseline = [1.0, 1.1, 5.0, 0.9, 4.0, 1.2, 6.0, 1.0]
    current = [1.5, 6.0, 1.4, 5.5, 1.3, 4.5]
    check = check_regression("p50", current, baseline, 0.2)
    assert check.outcome == "not-significant"
    assert check.noisy


def test_too_few_samples_report_without_failing() -> None:
    check = check_regression("p50", [2.0, 2.1, 2.2], [1.0, 1.1, 0.9, 1.2, 1.0, 1.05], 0.2)
    assert check.outcome == "too-few-samples"


def test_deterministic_samples_are_judged_on_the_threshold() -> None:
    assert check_regression("p50", [2.0] * 3, [1.0] * 3, 0.2).outcome == "regressed"


def test_one_sample_is_not_deterministic() -> None:
    # a test measured once (rounds=1) against a baseline of one run: one call each says
    # nothing of their spread, so this is too few samples, not an exact comparison
    check = check_regression("p50", [0.476], [0.231], 0.2)
    assert check.outcome == "too-few-samples"
    assert check_regression("p50", [0.476], [0.231] * 5, 0.2).outcome == "too-few-samples"


def test_exact_metric_uses_threshold_and_absolute_floor() -> None:
    mib = 1024 * 1024
    grown = check_regression("memory", [10 * mib], [4 * mib, 4 * mib], 0.5, exact=True)
    assert grown.outcome == "regressed"
    assert grown.p_value is None
    jitter = check_regression("memory", [8192.0], [4096.0], 0.5, min_change=mib, exact=True)
    assert jitter.outcome == "ok"


def test_throughput_regresses_downwards() -> None:
    baseline = lognormal(1, math.log(1000), 0.05, 100)
    slower = lognormal(2, math.log(700), 0.05, 30)
    faster = lognormal(3, math.log(1500), 0.05, 30)
    check = check_regression("throughput", slower, baseline, 0.15, higher_is_worse=False)
    assert check.outcome == "regressed"
    assert check.change is not None
    assert check.change < -0.15
    assert (
        check_regression("throughput", faster, baseline, 0.15, higher_is_worse=False).outcome
        == "ok"
    )


def test_run_medians_that_follow_the_machine_speed_give_their_slope() -> None:
    generator = random.Random(3)
    readings = [
        generator.choice([20e-6, 36e-6]) * generator.uniform(0.95, 1.05) for _ in range(12)
    ]
    following = [(r, 0.004 * (r / 20e-6) ** 0.8 * generator.uniform(0.97, 1.03)) for r in readings]
    assert machine_speed_slope(following) == pytest.approx(0.8, abs=0.1)
    steeper = [(r, 0.004 * (r / 20e-6) ** 1.6) for r in readings]
    assert machine_speed_slope(steeper) == 1.2  # capped: a few runs can overstate it
    unrelated = [(r, 0.004 * generator.choice([1.0, 1.8])) for r in readings]
    assert machine_speed_slope(unrelated) is None
    barely = [(r, 0.004 * (r / 20e-6) ** 0.3) for r in readings]
    assert machine_speed_slope(barely) is None  # a weak slope: the kernel is a poor guide


def test_following_the_machine_speed_needs_runs_at_different_speeds() -> None:
    steady = [(20e-6 * (1 + n / 100), 0.004 * (1 + n / 100)) for n in range(10)]
    assert machine_speed_slope(steady) is None  # readings within 15%: nothing to learn from
    few = [(20e-6, 0.004), (40e-6, 0.008), (20e-6, 0.004), (40e-6, 0.008)]
    assert machine_speed_slope(few) is None
    assert machine_speed_slope([*few, (30e-6, 0.006)]) == pytest.approx(1.0)
    flat = [(20e-6, 0.004), (40e-6, 0.004)] * 3
    assert machine_speed_slope(flat) is None


def two_speed_run(
    fast: int, slow: int, *, slow_factor: float, seed: int = 5
) -> tuple[list[float], list[float]]:
    """A run's wall samples and their speeds: ``fast`` samples read at 20 µs, then
    ``slow`` at 36 µs whose times are ``slow_factor`` times longer, with 3% jitter."""
    generator = random.Random(seed)
    speeds = [20e-6] * fast + [36e-6] * slow
    wall = [
        0.001 * (slow_factor if speed > 30e-6 else 1.0) * generator.uniform(0.97, 1.03)
        for speed in speeds
    ]
    return wall, speeds


def test_a_run_measured_at_two_speeds_shows_how_its_test_follows_them() -> None:
    wall, speeds = two_speed_run(100, 80, slow_factor=1.8**0.8)
    assert within_run_slope(wall, speeds) == pytest.approx(0.8, abs=0.05)
    wall, speeds = two_speed_run(100, 80, slow_factor=2.5)
    assert within_run_slope(wall, speeds) == 1.2  # capped, as across runs
    wall, speeds = two_speed_run(100, 80, slow_factor=1.0)
    assert within_run_slope(wall, speeds) is None  # the test does not follow the kernel
    wall, speeds = two_speed_run(100, 80, slow_factor=1.8**0.3)
    assert within_run_slope(wall, speeds) is None  # too weak to speak for the test


def test_a_run_shows_nothing_without_enough_samples_at_each_speed() -> None:
    wall, speeds = two_speed_run(300, 25, slow_factor=1.8)
    assert within_run_slope(wall, speeds) is None  # 25 of 325: under a tenth
    wall, speeds = two_speed_run(30, 15, slow_factor=1.8)
    assert within_run_slope(wall, speeds) is None  # 15: under 20 samples
    wall, speeds = two_speed_run(30, 20, slow_factor=1.8)
    assert within_run_slope(wall, speeds) == pytest.approx(1.0, abs=0.05)
    steady = [20e-6 * (1 + n / 1000) for n in range(200)]  # within 25%: one speed
    assert within_run_slope([0.001 * (1 + n / 1000) for n in range(200)], steady) is None
    assert within_run_slope([0.001] * 10, []) is None  # timed by another tool


def test_speeds_within_a_quarter_of_each_other_count_as_the_same() -> None:
    assert speed_factor(30e-6, 26e-6, 1.0) == 1.0
    assert speed_factor(26e-6, 30e-6, 1.0) == 1.0
    assert speed_factor(40e-6, 20e-6, 1.0) == pytest.approx(2.0)
    assert speed_factor(20e-6, 40e-6, 0.8) == pytest.approx(0.5**0.8)
