"""The machine's speed: how far a test's times follow it, and its baseline rescaled to it.

Shared CI machines change speed by tens of percent between runs and within one. While a
test is measured, a small reference kernel is timed every few milliseconds
(:func:`.measure.reference_seconds`); these functions tell from a test's history (or from
one run) how closely its times follow those readings, and bring a baseline's samples to the
speed of the run they are compared with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .baseline import Baseline, RunSamples
from .stats import median, percentile

__all__ = [
    "machine_speed_slope",
    "runs_at_each_speed",
    "runs_at_speed",
    "saw_one_speed",
    "speed_factor",
    "within_run_slope",
]

#: A test's times follow the machine's speed when, over its recent runs (at least
#: :data:`SPEED_MIN_RUNS`, whose readings span a factor of :data:`SPEED_MIN_SPAN`), the
#: logarithms of its run medians and of the reference kernel's readings correlate by at
#: least :data:`SPEED_MIN_CORRELATION` with a slope of at least :data:`SPEED_MIN_SLOPE`.
SPEED_MIN_RUNS = 5
SPEED_MIN_SPAN = 1.15
SPEED_MIN_CORRELATION = 0.7
SPEED_MIN_SLOPE = 0.5
#: The slope used is at most this: a few runs can overstate it.
SPEED_MAX_SLOPE = 1.2


def _shows_speed_range(runs: Sequence[tuple[float, float]]) -> bool:
    """Whether ``runs`` (as for :func:`machine_speed_slope`) can tell if a test follows the
    machine's speed: at least :data:`SPEED_MIN_RUNS` runs whose readings span
    :data:`SPEED_MIN_SPAN`."""
    readings = [reading for reading, _ in runs]
    return len(readings) >= SPEED_MIN_RUNS and max(readings) >= min(readings) * SPEED_MIN_SPAN


def saw_one_speed(runs: Sequence[tuple[float, float]]) -> bool:
    """Whether ``runs`` (as for :func:`machine_speed_slope`) are enough to know the test,
    at least :data:`SPEED_MIN_RUNS`, yet never saw the machine at another speed."""
    return len(runs) >= SPEED_MIN_RUNS and not _shows_speed_range(runs)


def machine_speed_slope(runs: Sequence[tuple[float, float]]) -> float | None:
    """How closely a test's times follow the machine's speed, or None when they do not
    or ``runs`` cannot tell (see :data:`SPEED_MIN_RUNS`): ``runs`` holds one (reference
    kernel seconds, median seconds) pair per run; the slope of log median against log
    reading, at most :data:`SPEED_MAX_SLOPE`.

    Workloads differ in how much a slow spell of a shared machine slows them (on ours a
    tight loop ran 1.6x slower when the kernel ran 2.0x slower, a sort 1.4x and a parser
    1.9x), so the kernel speaks for a test only as far as its history shows.
    """
    if not _shows_speed_range(runs):
        return None
    points = [(math.log(reading), math.log(value)) for reading, value in runs]
    readings = [reading for reading, _ in points]
    mean_reading = sum(readings) / len(points)
    mean_value = sum(value for _, value in points) / len(points)
    spread_readings = sum((reading - mean_reading) ** 2 for reading in readings)
    spread_values = sum((value - mean_value) ** 2 for _, value in points)
    covariance = sum((reading - mean_reading) * (value - mean_value) for reading, value in points)
    if spread_values == 0:
        return None
    correlation = covariance / math.sqrt(spread_readings * spread_values)
    if correlation < SPEED_MIN_CORRELATION:
        return None
    return _usable_slope(covariance / spread_readings)


def _usable_slope(slope: float) -> float | None:
    """``slope`` capped at :data:`SPEED_MAX_SLOPE`, or None under :data:`SPEED_MIN_SLOPE`."""
    return None if slope < SPEED_MIN_SLOPE else min(slope, SPEED_MAX_SLOPE)


#: Speeds closer than this factor count as the same: the machine's two states each read
#: over a range of speeds that says nothing about a test.
SPEED_SAME_WITHIN = 1.25


def speed_factor(target: float, speed: float, slope: float) -> float:
    """What a time measured at ``speed`` is multiplied by to stand for one measured at
    ``target`` (both reference kernel seconds), for a test that follows the machine's
    speed with ``slope``: 1 when the two speeds are within :data:`SPEED_SAME_WITHIN`."""
    if max(target, speed) < min(target, speed) * SPEED_SAME_WITHIN:
        return 1.0
    return float((target / speed) ** slope)


#: A run shows how its test follows the machine's speed when at least this many of its
#: samples, and this share of them, were taken at each of two speeds.
WITHIN_RUN_MIN_SAMPLES = 20
WITHIN_RUN_MIN_SHARE = 0.1


def within_run_slope(wall: Sequence[float], speeds: Sequence[float]) -> float | None:
    """How closely one run's samples follow the machine's speed, read with each of them
    (reference kernel seconds), or None when they do not or the run cannot tell.

    The samples are split at the middle (in ratio) of the 10th and 90th percentile
    speeds; with enough samples on each side (:data:`WITHIN_RUN_MIN_SAMPLES`,
    :data:`WITHIN_RUN_MIN_SHARE`) at speeds at least :data:`SPEED_SAME_WITHIN` apart, the
    slope is the log ratio of the two sides' median times over that of their median
    speeds, within :data:`SPEED_MIN_SLOPE` and :data:`SPEED_MAX_SLOPE` like
    :func:`machine_speed_slope`. The code is the same on both sides, so a run that
    changed speed midway shows how its test follows the machine even when its history
    cannot.
    """
    if not wall or len(speeds) != len(wall):
        return None
    ordered = sorted(speeds)
    low, high = percentile(ordered, 10), percentile(ordered, 90)
    middle = math.sqrt(low * high)
    fast = [(value, speed) for value, speed in zip(wall, speeds, strict=True) if speed < middle]
    slow = [(value, speed) for value, speed in zip(wall, speeds, strict=True) if speed >= middle]
    needed = max(WITHIN_RUN_MIN_SAMPLES, WITHIN_RUN_MIN_SHARE * len(wall))
    if len(fast) < needed or len(slow) < needed:
        return None
    fast_speed, slow_speed = median([s for _, s in fast]), median([s for _, s in slow])
    fast_value, slow_value = median([v for v, _ in fast]), median([v for v, _ in slow])
    if slow_speed < fast_speed * SPEED_SAME_WITHIN or fast_value <= 0 or slow_value <= 0:
        return None
    return _usable_slope(math.log(slow_value / fast_value) / math.log(slow_speed / fast_speed))


def runs_at_each_speed(baseline: Baseline, reference: float, slope: float) -> RunSamples | None:
    """Each run's wall samples rescaled from its own machine speed to ``reference`` as far
    as ``slope`` says the test follows the machine's speed (see
    :func:`machine_speed_slope`); None when a run's speed is unknown."""
    if any(not run.reference for run in baseline.runs):
        return None
    return _scaled(
        baseline,
        (speed_factor(reference, float(run.reference or 1), slope) for run in baseline.runs),
    )


def runs_at_speed(baseline: Baseline, reference: float) -> RunSamples | None:
    """Each run's wall samples as if measured at the machine speed ``reference``; None when
    a run's speed is unknown.

    The baseline's speed is the median of its runs' readings, not each run's own: one
    reading taken at a bad moment would otherwise rescale its run by far too much. Only
    the share of the time spent on the CPU (CPU time over wall time) scales with the
    machine's speed; time spent waiting does not.
    """
    readings = [run.reference for run in baseline.runs]
    if any(reading is None or reading <= 0 for reading in readings):
        return None
    speed_change = reference / median([float(reading or 0) for reading in readings]) - 1
    return _scaled(baseline, (1 + run.cpu_share * speed_change for run in baseline.runs))


def _scaled(baseline: Baseline, factors: Iterable[float]) -> RunSamples:
    """Each run's wall samples multiplied by its own factor."""
    pairs = zip(baseline.runs, factors, strict=True)
    return RunSamples(tuple(value * factor for value in run.wall) for run, factor in pairs)
