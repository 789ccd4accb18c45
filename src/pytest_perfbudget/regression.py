"""The regression policy: whether a test got slower (or bigger) than its baseline.

One metric's decision is :func:`check_regression`: the median past its threshold, then a
Mann-Whitney test. :func:`check_regressions` applies it to a measured test the way this
project decided after measuring a noisy shared machine (docs/explanation/regressions.md):
times are compared at equal machine speed where the speed is known (:mod:`.speed`), and a
slowdown to a level the test itself ran at recently is not a regression. The messages that
report a check live here too. Everything is read from the measurement and the
:class:`.Baseline` it is handed; nothing here reads the history or the budget's limits.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from .baseline import Baseline, RunSamples
from .measure import Measurement
from .metrics import format_metric, metric
from .speed import (
    machine_speed_slope,
    runs_at_each_speed,
    runs_at_speed,
    saw_one_speed,
    speed_factor,
    within_run_slope,
)
from .stats import mann_whitney_p, median, median_absolute_deviation
from .units import format_percentage

__all__ = [
    "ALPHA",
    "MEMORY_NOISE_FLOOR",
    "MIN_SAMPLES",
    "RegressionCheck",
    "check_regression",
    "check_regressions",
    "describe_regression",
    "notes",
]

#: The significance level of the Mann-Whitney test.
ALPHA = 0.01
#: Below this many samples a side the normal approximation cannot reach p < 0.01.
MIN_SAMPLES = 6
#: Memory changes smaller than this are never regressions: page-sized jitter is not news.
MEMORY_NOISE_FLOOR = 1024 * 1024

Outcome = Literal[
    "regressed",
    "ok",
    "no-baseline",
    "too-few-samples",
    "not-significant",
    "machine-slower",
    "seen-before",
    "inconclusive",
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
    #: A paired comparison's: what the baseline is (a git revision, an interpreter), the
    #: interval of ``change`` at 95% confidence, and how many pairs of blocks gave it.
    against: str | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    pairs: int | None = None

    @property
    def regressed(self) -> bool:
        return self.outcome == "regressed"


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


#: One metric's check of this run's wall samples against a baseline's pooled ones.
TimeCheck = Callable[[Sequence[float], Sequence[float]], RegressionCheck]


def check_regressions(
    measurement: Measurement,
    baseline: Baseline,
    thresholds: Mapping[str, float],
    *,
    throughput: bool,
) -> tuple[RegressionCheck, ...]:
    """Regression checks of a measurement against its baseline.

    Latency is judged on the per-call wall times (as p50), memory on its readings, and,
    when ``throughput`` (the budget limits it), throughput on the per-call rates; time is
    compared at equal machine speed where the speeds are known. ``thresholds`` holds the
    allowed degradation per metric family.
    """
    latency = metric("p50")
    rate = metric("throughput")

    def latency_check(wall: Sequence[float], baseline_wall: Sequence[float]) -> RegressionCheck:
        return check_regression("p50", wall, baseline_wall, thresholds[latency.family])

    def throughput_check(wall: Sequence[float], baseline_wall: Sequence[float]) -> RegressionCheck:
        return check_regression(
            rate.name,
            [measurement.ops / value for value in wall if value > 0],
            [baseline.ops / value for value in baseline_wall if value > 0],
            thresholds[rate.family],
            higher_is_worse=not rate.is_minimum,
        )

    checks = [_at_equal_speed(measurement, baseline, latency_check)]
    if throughput and baseline.wall:
        checks.append(_at_equal_speed(measurement, baseline, throughput_check))
    if measurement.memory:
        checks.append(
            check_regression(
                "memory",
                measurement.memory,
                baseline.memory,
                thresholds[metric("memory").family],
                min_change=MEMORY_NOISE_FLOOR,
                exact=True,
            )
        )
    return tuple(checks)


def _at_equal_speed(
    measurement: Measurement, baseline: Baseline, check: TimeCheck
) -> RegressionCheck:
    """The check of this run's wall samples against the baseline's, at equal machine
    speed where that can be known. Three cases:

    1. The speeds are unknown (no readings in this run or in the baseline): the samples
       are compared as measured.
    2. The test's times follow the machine's speed (:func:`.machine_speed_slope` over its
       history; or, when a history of at least 5 runs never saw the machine at another
       speed and this run is at a faster one, :func:`.within_run_slope` over this run's
       own samples): every sample, this run's and the baseline's, is rescaled from the
       readings taken with it to this run's speed, as far as the test follows them. A
       slowdown the machine explains is ``machine-slower``, and a slowdown the machine
       hides (a slower test timed at a faster moment) is still found.
    3. Any other test: the readings only excuse. The CPU-bound share of the baseline is
       rescaled and a slowdown the machine explains is ``machine-slower``, but a test that
       is not slower as measured is never called regressed.

    In every case a regression to a level the test ran at recently is ``seen-before``.
    """
    raw = check(measurement.wall, baseline.wall)
    references = [run.reference for run in baseline.runs if run.reference]
    if measurement.reference is None or not references:
        return _unless_seen_before(
            raw, median(measurement.wall), baseline.runs_as_measured, baseline.transient_p50
        )
    machine_change = measurement.reference / median(references) - 1
    slope = machine_speed_slope(baseline.speed_history)
    if slope is None and machine_change < 0 and saw_one_speed(baseline.speed_history):
        slope = within_run_slope(measurement.wall, measurement.speeds)
    if slope is not None:
        return _rescaled_sample_by_sample(
            raw, measurement, baseline, check, machine_change=machine_change, slope=slope
        )
    return _excused_by_speed(raw, measurement, baseline, check, machine_change=machine_change)


def _rescaled_sample_by_sample(
    raw: RegressionCheck,
    measurement: Measurement,
    baseline: Baseline,
    check: TimeCheck,
    *,
    machine_change: float,
    slope: float,
) -> RegressionCheck:
    """Case 2 of :func:`_at_equal_speed`: every sample rescaled to this run's speed."""
    reference = measurement.reference or 1.0
    baseline_runs = runs_at_each_speed(baseline, reference, slope)
    if baseline_runs is None:
        return raw
    speeds = measurement.speeds
    if len(speeds) != len(measurement.wall):  # timed by another tool: one speed for all
        speeds = (reference,) * len(measurement.wall)
    pairs = zip(measurement.wall, speeds, strict=True)
    wall = [value * speed_factor(reference, speed, slope) for value, speed in pairs]
    adjusted = dataclasses.replace(
        check(wall, baseline_runs.pooled), machine_change=machine_change
    )
    if _machine_explains(raw, adjusted):
        return dataclasses.replace(raw, outcome="machine-slower", machine_change=machine_change)
    # Every level here is at this run's speed; a rejected run's level is as it was
    # measured, at a speed of its own, so it says nothing at this one and is left out.
    return _unless_seen_before(adjusted, median(wall), baseline_runs)


def _excused_by_speed(
    raw: RegressionCheck,
    measurement: Measurement,
    baseline: Baseline,
    check: TimeCheck,
    *,
    machine_change: float,
) -> RegressionCheck:
    """Case 3 of :func:`_at_equal_speed`: the baseline's CPU-bound share rescaled to this
    run's speed only excuses."""
    transient = baseline.transient_p50
    at_speed = runs_at_speed(baseline, measurement.reference or 1.0)
    if at_speed is None:
        return _unless_seen_before(
            raw, median(measurement.wall), baseline.runs_as_measured, transient
        )
    adjusted = dataclasses.replace(
        check(measurement.wall, at_speed.pooled), machine_change=machine_change
    )
    if _machine_explains(raw, adjusted):
        return dataclasses.replace(raw, outcome="machine-slower", machine_change=machine_change)
    if not raw.regressed:
        return dataclasses.replace(raw, machine_change=machine_change)
    # This run's times are compared as measured here, so a rejected run's level, as it was
    # measured, counts beside the baseline's runs.
    return _unless_seen_before(adjusted, median(measurement.wall), at_speed, transient)


def _machine_explains(raw: RegressionCheck, adjusted: RegressionCheck) -> bool:
    """Whether a regression as measured (``raw``) is the machine's: at this run's machine
    speed (``adjusted``) the change is within the threshold. When it is still past the
    threshold there but no longer significant, the machine explains nothing: rescaling by
    a reading within the kernel's noise (+1.4%) can move the baseline's samples past this
    run's and turn p=0.001 into p=0.4, and the check at equal speed says what it is."""
    return raw.regressed and adjusted.outcome == "ok"


def _unless_seen_before(
    check: RegressionCheck,
    current_p50: float,
    baseline_runs: RunSamples,
    transient_p50: float | None = None,
) -> RegressionCheck:
    """A time regression no slower than a level the test itself ran at recently is
    ``seen-before``, not a regression: that of the slowest of the baseline's runs (at the
    speed the check compared at), or ``transient_p50``: that of a rejected run the test
    came back from. On a machine whose speed swings between runs in ways the reference kernel
    does not see for this test, whole runs drift together (their samples are not
    independent), so a run within the baseline's own runs shows no change of the code.
    ``current_p50`` is this run's median time, at the speed the check compared at."""
    if not check.regressed:
        return check
    levels = [baseline_runs.slowest_p50, transient_p50]
    seen = max((level for level in levels if level is not None), default=None)
    if seen is None or current_p50 > seen:
        return check
    return dataclasses.replace(check, outcome="seen-before", seen_p50=seen)


def describe_regression(check: RegressionCheck) -> str:
    """``perf regression: p50 14.2ms vs baseline 10.1ms (+40.6% > +20%, p=0.001)``; paired,
    ``perf regression: p50 +12.4% vs origin/main (1.00ms -> 1.12ms, 95% CI
    +10.1%..+14.8%, 18 pairs)``."""
    if check.baseline is None or check.change is None:
        raise ValueError(f"{check.metric}: a regression needs a baseline")
    if check.ci_low is not None and check.ci_high is not None:
        return (
            f"perf regression: {check.metric} {check.change * 100:+.1f}% vs {check.against} "
            f"({format_metric(check.metric, check.baseline)} -> "
            f"{format_metric(check.metric, check.current)}, 95% CI "
            f"{check.ci_low * 100:+.1f}%..{check.ci_high * 100:+.1f}%, {check.pairs} pairs)"
        )
    sign, bound = (
        ("<", -check.threshold) if metric(check.metric).is_minimum else (">", check.threshold)
    )
    evidence = "exact" if check.p_value is None else f"p={check.p_value:.2g}"
    if check.machine_change is not None and abs(check.machine_change) >= 0.05:
        evidence += (
            f", baseline rescaled to this run's machine speed ({check.machine_change * 100:+.0f}%)"
        )
    return (
        f"perf regression: {check.metric} {format_metric(check.metric, check.current)} "
        f"vs {check.against or 'baseline'} {format_metric(check.metric, check.baseline)} "
        f"({check.change * 100:+.1f}% {sign} {bound * 100:+.3g}%, {evidence})"
    )


def _describe_machine_slower(check: RegressionCheck) -> str:
    """A note that a slowdown is the machine's, not the code's."""
    change = check.change or 0.0
    machine = check.machine_change or 0.0
    return (
        f"perf note: {check.metric} changed {change * 100:+.1f}% against the baseline, but the "
        f"machine itself ran {machine * 100:+.1f}% slower than when the baseline was saved "
        "(reference kernel); not counted as a regression"
    )


def _describe_seen_before(check: RegressionCheck) -> str:
    """A note that a slowdown is no worse than a level the test recently ran at."""
    change = check.change or 0.0
    seen = format_metric("p50", check.seen_p50 or 0.0)
    return (
        f"perf note: {check.metric} changed {change * 100:+.1f}% against the baseline, but a "
        f"recent run of this test was as slow (p50 {seen}); not counted as a regression"
    )


def _describe_noise(check: RegressionCheck) -> str:
    """A warning that a baseline is too noisy for its threshold."""
    return (
        f"perf noise: the baseline {check.metric} varies by more than half the "
        f"{format_percentage(check.threshold)} regression threshold; regressions of this test "
        "can be missed or flagged by chance (steady its input, raise rounds or the threshold)"
    )


def notes(checks: Iterable[RegressionCheck]) -> list[str]:
    """Warnings that do not fail the test: baselines too noisy for their threshold,
    slowdowns that the machine's own slowdown explains, and slowdowns to a level the
    test recently came back from."""
    checks = list(checks)
    return (
        [_describe_noise(check) for check in checks if check.noisy]
        + [
            _describe_machine_slower(check)
            for check in checks
            if check.outcome == "machine-slower"
        ]
        + [_describe_seen_before(check) for check in checks if check.outcome == "seen-before"]
    )
