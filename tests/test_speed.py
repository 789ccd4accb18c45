"""How far a test's times follow the machine's speed."""

from __future__ import annotations

import dataclasses
import random

import pytest

from pytest_perfbudget.baseline import Baseline, BaselineRun, RunSamples
from pytest_perfbudget.speed import (
    machine_speed_slope,
    runs_at_each_speed,
    runs_at_speed,
    speed_factor,
    within_run_slope,
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


def test_baseline_speed_is_the_median_of_its_runs_readings() -> None:
    runs = (
        BaselineRun(100e-6, 1.0, (0.010,)),
        BaselineRun(100e-6, 1.0, (0.011,)),
        BaselineRun(20e-6, 1.0, (0.012,)),  # a reading taken at a bad moment
    )
    baseline = Baseline((0.010, 0.011, 0.012), (), 1.0, {"p50": 0.011}, runs)
    assert at_speed(baseline, 100e-6) == pytest.approx((0.010, 0.011, 0.012))
    assert at_speed(baseline, 150e-6) == pytest.approx((0.015, 0.0165, 0.018))
    half_waiting = dataclasses.replace(
        baseline, runs=(dataclasses.replace(runs[0], cpu_share=0.5),)
    )
    assert at_speed(half_waiting, 150e-6) == pytest.approx((0.0125,))
    unknown = dataclasses.replace(baseline, runs=(BaselineRun(None, 1.0, (0.01,)),))
    assert runs_at_speed(unknown, 100e-6) is None


def at_speed(baseline: Baseline, reference: float) -> tuple[float, ...]:
    runs = runs_at_speed(baseline, reference)
    assert runs is not None
    return runs.pooled


def test_each_baseline_run_keeps_its_own_samples_when_rescaled() -> None:
    runs = (
        BaselineRun(20e-6, 1.0, (0.010, 0.012, 0.014)),
        BaselineRun(40e-6, 1.0, (0.030, 0.032)),
    )
    baseline = Baseline((0.010, 0.012, 0.014, 0.030, 0.032), (), 1.0, {"p50": 0.014}, runs)
    rescaled = runs_at_each_speed(baseline, 20e-6, slope=1.0)
    assert rescaled is not None
    assert [len(run) for run in rescaled] == [3, 2]
    assert rescaled.pooled == pytest.approx((0.010, 0.012, 0.014, 0.015, 0.016))
    assert rescaled.slowest_p50 == pytest.approx(0.0155)  # as slow as the code itself ran
    assert RunSamples(((), (0.02,))).slowest_p50 == 0.02
    assert RunSamples(()).slowest_p50 is None
