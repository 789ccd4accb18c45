"""Statistics of measured samples: percentiles, spread, and the regression decision."""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Literal

__all__ = [
    "ALPHA",
    "MIN_SAMPLES",
    "RegressionCheck",
    "check_regression",
    "machine_speed_slope",
    "mann_whitney_p",
    "median",
    "median_absolute_deviation",
    "percentile",
    "saw_one_speed",
    "speed_factor",
    "within_run_slope",
]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted values, interpolated linearly between ranks.

    This is the "linear" method of numpy and of ``statistics.quantiles(method="inclusive")``.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = (len(sorted_values) - 1) * q / 100
    lower = math.floor(rank)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = rank - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def median(values: Sequence[float]) -> float:
    """The median of unsorted values."""
    return percentile(sorted(values), 50)


def median_absolute_deviation(values: Sequence[float]) -> float:
    """The median of the absolute deviations from the median."""
    center = median(values)
    return median([abs(value - center) for value in values])


def average_ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Ranks (1-based, ties averaged) of ``values`` and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_term = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = rank
        tied = end - start + 1
        tie_term += tied**3 - tied
        start = end + 1
    return ranks, tie_term


def mann_whitney_p(first: Sequence[float], second: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test.

    Normal approximation with tie and continuity correction; pure standard library.
    """
    n1, n2 = len(first), len(second)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs samples on both sides")
    ranks, tie_term = average_ranks([*first, *second])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = max(0.0, abs(u1 - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return math.erfc(z / math.sqrt(2))


#: The significance level of the Mann-Whitney test.
ALPHA = 0.01
#: Below this many samples a side the normal approximation cannot reach p < 0.01.
MIN_SAMPLES = 6

Outcome = Literal[
    "regressed",
    "ok",
    "no-baseline",
    "too-few-samples",
    "not-significant",
    "machine-slower",
    "seen-before",
]


@dataclasses.dataclass(frozen=True)
class RegressionCheck:
    """One metric of one test held against its baseline."""

    metric: str
    outcome: Outcome
    current: float
    threshold: float
    baseline: float | None = None
    change: float | None = None
    p_value: float | None = None
    noisy: bool = False
    #: How much slower the machine itself ran than when the baseline was saved, if known.
    machine_change: float | None = None
    #: For ``seen-before``: the p50 of a recent run of the test as slow as this one (the
    #: slowest run of its baseline, or a rejected run it came back from).
    seen_p50: float | None = None

    @property
    def regressed(self) -> bool:
        return self.outcome == "regressed"


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


def _is_deterministic(values: Sequence[float]) -> bool:
    """Zero spread, or most values tied (as memory readings usually are); one side. A
    single value shows no spread either way: it is not deterministic, only one sample."""
    ((_, most_common),) = collections.Counter(values).most_common(1)
    return len(values) > 1 and most_common * 2 > len(values)


def check_regression(
    metric: str,
    current: Sequence[float],
    baseline: Sequence[float],
    threshold: float,
    *,
    higher_is_worse: bool = True,
    min_change: float = 0.0,
    exact: bool = False,
) -> RegressionCheck:
    """Decide whether ``current`` samples regressed against the pooled ``baseline``.

    1. Effect size first: the median must be worse than the baseline median by more than
       ``threshold`` (a fraction) and by more than ``min_change`` in absolute terms.
    2. Deterministic samples (on both sides most values tied) and ``exact`` metrics
       (memory readings) are judged on that alone.
    3. Otherwise a two-sided Mann-Whitney U test must give p < 0.01, with at least
       6 samples a side; with fewer the check reports and does not fail.

    The baseline is flagged ``noisy`` when its MAD exceeds half the threshold of its median
    (and ``min_change``).
    """
    now = median(current)
    if not baseline:
        return RegressionCheck(metric, "no-baseline", now, threshold)
    before = median(baseline)
    noisy = median_absolute_deviation(baseline) > max(threshold / 2 * abs(before), min_change)
    change = now / before - 1 if before else (math.inf if now > 0 else 0.0)
    worse_by = change if higher_is_worse else -change
    found = functools.partial(
        RegressionCheck, metric, current=now, threshold=threshold, baseline=before,
        change=change, noisy=noisy,
    )  # fmt: skip
    if worse_by <= threshold or abs(now - before) <= min_change:
        return found(outcome="ok")
    if exact or (_is_deterministic(current) and _is_deterministic(baseline)):
        return found(outcome="regressed")
    if len(current) < MIN_SAMPLES or len(baseline) < MIN_SAMPLES:
        return found(outcome="too-few-samples")
    p_value = mann_whitney_p(current, baseline)
    return found(outcome="regressed" if p_value < ALPHA else "not-significant", p_value=p_value)
