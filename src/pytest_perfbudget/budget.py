"""Budgets: the limits and options of one test, validated once from marker or config."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from .history import Baseline, RunSamples
from .measure import Measurement, Rounds
from .stats import (
    RegressionCheck,
    check_regression,
    machine_speed_slope,
    median,
    saw_one_speed,
    speed_factor,
    within_run_slope,
)
from .units import (
    UnitError,
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_percentage,
    parse_rate,
    parse_size,
)

__all__ = [
    "DEFAULT_REGRESSION",
    "LIMIT_KEYWORDS",
    "OPTION_KEYWORDS",
    "Budget",
    "BudgetError",
    "Defaults",
    "Judgement",
    "Limit",
    "PerfBudgetWarning",
    "build_budget",
    "check_regressions",
    "format_metric",
    "judge",
    "parse_regression",
]

Level = Literal["error", "warn"]

#: Limit keyword -> (metric it limits, parser of its value).
LIMIT_KEYWORDS: dict[str, tuple[str, Callable[[object], float]]] = {
    "latency": ("p50", parse_duration),
    "p50": ("p50", parse_duration),
    "p90": ("p90", parse_duration),
    "p95": ("p95", parse_duration),
    "p99": ("p99", parse_duration),
    "mean": ("mean", parse_duration),
    "max": ("max", parse_duration),
    "cpu": ("cpu", parse_duration),
    "memory": ("memory", parse_size),
    "throughput": ("throughput", parse_rate),
}
OPTION_KEYWORDS = ("regression", "rounds", "warmup", "max_time", "ops", "level")
FAMILIES = ("latency", "memory", "throughput")
DEFAULT_REGRESSION: Mapping[str, float] = {
    "latency": 0.20,
    "memory": 0.50,
    "throughput": 0.15,
}


class BudgetError(ValueError):
    """An invalid budget keyword or value; the message names both."""


class PerfBudgetWarning(UserWarning):
    """A broken budget that is only reported: ``level="warn"`` or ``--perf-warn-only``."""


def format_metric(metric: str, value: float) -> str:
    """A metric's value in its natural unit."""
    if metric == "memory":
        return format_size(value)
    if metric == "throughput":
        return format_rate(value)
    return format_duration(value)


@dataclasses.dataclass(frozen=True)
class Limit:
    """One bound on one metric: a maximum, or a minimum for throughput."""

    metric: str
    bound: float

    @property
    def is_minimum(self) -> bool:
        return self.metric == "throughput"

    def is_broken_by(self, value: float) -> bool:
        return value < self.bound if self.is_minimum else value > self.bound

    def describe_breach(self, value: float) -> str:
        """``p95 61.8ms > 50ms``."""
        sign = "<" if self.is_minimum else ">"
        measured = format_metric(self.metric, value)
        return f"{self.metric} {measured} {sign} {format_metric(self.metric, self.bound)}"


@dataclasses.dataclass(frozen=True)
class Defaults:
    """Option values that apply where a budget does not set its own."""

    warmup: int = 1
    max_time: float = 1.0
    regression: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_REGRESSION)
    )


@dataclasses.dataclass(frozen=True)
class Budget:
    """What one test must meet and how it is measured."""

    limits: tuple[Limit, ...] = ()
    regression: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_REGRESSION)
    )
    rounds: Rounds = "auto"
    warmup: int = 1
    max_time: float = 1.0
    ops: float = 1.0
    level: Level = "error"

    def broken_limits(self, metrics: Mapping[str, float]) -> tuple[Limit, ...]:
        """The limits that ``metrics`` break."""
        return tuple(
            limit
            for limit in self.limits
            if limit.metric in metrics and limit.is_broken_by(metrics[limit.metric])
        )


def _invalid(keyword: str, value: object, reason: str) -> BudgetError:
    return BudgetError(f"invalid {keyword}={value!r}: {reason}")


def parse_regression(value: object) -> dict[str, float]:
    """Thresholds per family from one percentage or a ``{family: percentage}`` dict.

    Families missing from a dict are left out, for the caller to fill from its defaults.
    """
    if isinstance(value, Mapping):
        thresholds: dict[str, float] = {}
        for family, threshold in value.items():
            if family not in FAMILIES:
                raise UnitError(f"unknown metric family {family!r} (use {', '.join(FAMILIES)})")
            thresholds[family] = parse_percentage(threshold)
        return thresholds
    threshold = parse_percentage(value)
    return dict.fromkeys(FAMILIES, threshold)


def _count(value: object, *, allow_zero: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnitError("expected a whole number")
    if value < 0 or (value == 0 and not allow_zero):
        raise UnitError("expected a positive whole number" + (" or 0" if allow_zero else ""))
    return value


def _rounds(value: object) -> Rounds:
    if value == "auto":
        return "auto"
    if isinstance(value, str):
        raise UnitError('expected a positive whole number or "auto"')
    return _count(value, allow_zero=False)


def _level(value: object) -> Level:
    if value == "error":
        return "error"
    if value == "warn":
        return "warn"
    raise UnitError('expected "error" or "warn"')


def _ops(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError("expected a positive number of operations per call")
    return parse_rate(value)


def build_budget(keywords: Mapping[str, object], defaults: Defaults) -> Budget:
    """Validate budget keywords (from a marker or a config entry) into a :class:`Budget`.

    Raises :class:`BudgetError` naming the first bad keyword and its value.
    """
    limits: dict[str, Limit] = {}
    regression = dict(defaults.regression)
    rounds: Rounds = "auto"
    warmup = defaults.warmup
    max_time = defaults.max_time
    ops = 1.0
    level: Level = "error"
    for keyword, value in keywords.items():
        try:
            if keyword in LIMIT_KEYWORDS:
                metric, parse = LIMIT_KEYWORDS[keyword]
                if metric in limits:
                    raise UnitError(f"{metric} is limited twice (latency is the same as p50)")
                limits[metric] = Limit(metric, parse(value))
            elif keyword == "regression":
                regression.update(parse_regression(value))
            elif keyword == "rounds":
                rounds = _rounds(value)
            elif keyword == "warmup":
                warmup = _count(value, allow_zero=True)
            elif keyword == "max_time":
                max_time = parse_duration(value)
            elif keyword == "ops":
                ops = _ops(value)
            elif keyword == "level":
                level = _level(value)
            else:
                known = ", ".join([*LIMIT_KEYWORDS, *OPTION_KEYWORDS])
                raise BudgetError(f"unknown keyword {keyword}={value!r} (known: {known})")
        except UnitError as error:
            raise _invalid(keyword, value, str(error)) from None
    if rounds == 1 and "warmup" not in keywords:
        warmup = 0  # one call only, for tests with side effects
    return Budget(
        limits=tuple(limits.values()),
        regression=regression,
        rounds=rounds,
        warmup=warmup,
        max_time=max_time,
        ops=ops,
        level=level,
    )


Verdict = Literal["pass", "warn", "fail"]
#: Memory changes smaller than this are never regressions: page-sized jitter is not news.
MEMORY_NOISE_FLOOR = 1024 * 1024


def _at_equal_speed(
    measurement: Measurement,
    baseline: Baseline,
    check: Callable[[Sequence[float], Sequence[float]], RegressionCheck],
) -> RegressionCheck:
    """The check of this run's wall samples against the baseline's, at equal machine
    speed where that can be known.

    Shared machines change speed by tens of percent between runs and within one; the
    reference kernel is timed every few milliseconds while measuring. For a test whose
    times have followed those readings (:func:`machine_speed_slope`; when its history of
    at least 5 runs never saw the machine at another speed and this run is at a faster
    one, this run's own samples may show it: :func:`within_run_slope`), every sample,
    this run's and the baseline's, is rescaled from the readings taken with it to this
    run's speed, as far as the test follows them: a slowdown the machine explains is
    ``machine-slower``, and a slowdown the machine hides (a slower test timed at a faster
    moment) is still found. For other tests the readings only excuse: the CPU-bound share
    of the baseline is rescaled and a slowdown the machine explains is ``machine-slower``,
    but a test that is not slower as measured is never called regressed.
    """
    transient = baseline.transient_p50
    raw = check(measurement.wall, baseline.wall)
    references = [run.reference for run in baseline.runs if run.reference]
    if measurement.reference is None or not references:
        return _unless_seen_before(
            raw, median(measurement.wall), baseline.runs_as_measured, transient
        )
    machine_change = measurement.reference / median(references) - 1
    slope = machine_speed_slope(baseline.speed_history)
    if slope is None and machine_change < 0 and saw_one_speed(baseline.speed_history):
        slope = within_run_slope(measurement.wall, measurement.speeds)
    if slope is not None:
        return _rescaled_sample_by_sample(
            raw, measurement, baseline, check, machine_change=machine_change, slope=slope
        )
    at_speed = baseline.runs_at_speed(measurement.reference)
    if at_speed is None:
        return _unless_seen_before(
            raw, median(measurement.wall), baseline.runs_as_measured, transient
        )
    adjusted = check(measurement.wall, at_speed.pooled)
    if raw.regressed and not adjusted.regressed:
        return dataclasses.replace(raw, outcome="machine-slower", machine_change=machine_change)
    if not raw.regressed:
        return dataclasses.replace(raw, machine_change=machine_change)
    return _unless_seen_before(
        dataclasses.replace(adjusted, machine_change=machine_change),
        median(measurement.wall),
        at_speed,
        transient,
    )


def _rescaled_sample_by_sample(
    raw: RegressionCheck,
    measurement: Measurement,
    baseline: Baseline,
    check: Callable[[Sequence[float], Sequence[float]], RegressionCheck],
    *,
    machine_change: float,
    slope: float,
) -> RegressionCheck:
    """See :func:`_at_equal_speed`: every sample rescaled to this run's speed."""
    reference = measurement.reference or 1.0
    baseline_runs = baseline.runs_at_each_speed(reference, slope)
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
    if raw.regressed and not adjusted.regressed:
        return dataclasses.replace(raw, outcome="machine-slower", machine_change=machine_change)
    return _unless_seen_before(adjusted, median(wall), baseline_runs)


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


def check_regressions(
    budget: Budget, measurement: Measurement, baseline: Baseline
) -> tuple[RegressionCheck, ...]:
    """Regression checks of a measurement against its baseline, per STATISTICS.md.

    Latency is judged on the per-call wall times (as p50), memory on its readings, and
    throughput, when the budget limits it, on the per-call rates; time is compared at
    equal machine speed where the speeds are known.
    """

    def latency(wall: Sequence[float], baseline_wall: Sequence[float]) -> RegressionCheck:
        return check_regression("p50", wall, baseline_wall, budget.regression["latency"])

    def throughput(wall: Sequence[float], baseline_wall: Sequence[float]) -> RegressionCheck:
        return check_regression(
            "throughput",
            [measurement.ops / value for value in wall if value > 0],
            [baseline.ops / value for value in baseline_wall if value > 0],
            budget.regression["throughput"],
            higher_is_worse=False,
        )

    checks = [_at_equal_speed(measurement, baseline, latency)]
    if any(limit.metric == "throughput" for limit in budget.limits) and baseline.wall:
        checks.append(_at_equal_speed(measurement, baseline, throughput))
    if measurement.memory:
        checks.append(
            check_regression(
                "memory",
                measurement.memory,
                baseline.memory,
                budget.regression["memory"],
                min_change=MEMORY_NOISE_FLOOR,
                exact=True,
            )
        )
    return tuple(checks)


def describe_regression(check: RegressionCheck) -> str:
    """``perf regression: p50 14.2ms vs baseline 10.1ms (+40.6% > +20%, p=0.001)``."""
    if check.baseline is None or check.change is None:
        raise ValueError(f"{check.metric}: a regression needs a baseline")
    sign, bound = (
        (">", check.threshold) if check.metric != "throughput" else ("<", -check.threshold)
    )
    evidence = "exact" if check.p_value is None else f"p={check.p_value:.2g}"
    if check.machine_change is not None and abs(check.machine_change) >= 0.05:
        evidence += (
            f", baseline rescaled to this run's machine speed ({check.machine_change * 100:+.0f}%)"
        )
    return (
        f"perf regression: {check.metric} {format_metric(check.metric, check.current)} "
        f"vs baseline {format_metric(check.metric, check.baseline)} "
        f"({check.change * 100:+.1f}% {sign} {bound * 100:+.3g}%, {evidence})"
    )


def describe_machine_slower(check: RegressionCheck) -> str:
    """A note that a slowdown is the machine's, not the code's."""
    change = check.change or 0.0
    machine = check.machine_change or 0.0
    return (
        f"perf note: {check.metric} changed {change * 100:+.1f}% against the baseline, but the "
        f"machine itself ran {machine * 100:+.1f}% slower than when the baseline was saved "
        "(reference kernel); not counted as a regression"
    )


def describe_seen_before(check: RegressionCheck) -> str:
    """A note that a slowdown is no worse than a level the test recently ran at."""
    change = check.change or 0.0
    seen = format_metric("p50", check.seen_p50 or 0.0)
    return (
        f"perf note: {check.metric} changed {change * 100:+.1f}% against the baseline, but a "
        f"recent run of this test was as slow (p50 {seen}); not counted as a regression"
    )


def describe_noise(check: RegressionCheck) -> str:
    """A warning that a baseline is too noisy for its threshold."""
    return (
        f"perf noise: the baseline {check.metric} varies by more than half the "
        f"{check.threshold * 100:.3g}% regression threshold; regressions of this test "
        "can be missed or flagged by chance (steady its input, raise rounds or the threshold)"
    )


@dataclasses.dataclass(frozen=True)
class Judgement:
    """A measured test held against its budget and its baseline."""

    nodeid: str
    budget: Budget
    measurement: Measurement
    metrics: Mapping[str, float]
    broken: tuple[Limit, ...]
    baseline: Baseline | None
    regressions: tuple[RegressionCheck, ...]
    verdict: Verdict

    @property
    def regressed(self) -> bool:
        return any(check.regressed for check in self.regressions)

    @property
    def findings(self) -> list[str]:
        """One message per broken limit and per regression."""
        rounds = self.measurement.rounds
        counted = f"{rounds} {'round' if rounds == 1 else 'rounds'}"
        breaches = (limit.describe_breach(self.metrics[limit.metric]) for limit in self.broken)
        return [f"perf budget exceeded: {breach} ({counted})" for breach in breaches] + [
            describe_regression(check) for check in self.regressions if check.regressed
        ]

    @property
    def notes(self) -> list[str]:
        """Warnings that do not fail the test: baselines too noisy for their threshold,
        slowdowns that the machine's own slowdown explains, and slowdowns to a level the
        test recently came back from."""
        return (
            [describe_noise(check) for check in self.regressions if check.noisy]
            + [
                describe_machine_slower(check)
                for check in self.regressions
                if check.outcome == "machine-slower"
            ]
            + [
                describe_seen_before(check)
                for check in self.regressions
                if check.outcome == "seen-before"
            ]
        )


def judge(
    nodeid: str,
    budget: Budget,
    measurement: Measurement,
    baseline: Baseline | None = None,
    *,
    warn_only: bool,
) -> Judgement:
    """Compare a test's measurement with its limits and, given one, its baseline.

    Findings fail the test, or only warn under ``level="warn"`` or ``warn_only``. Times
    taken under a tracer (coverage, a debugger) are not held against the baseline.
    """
    metrics = measurement.metrics()
    broken = budget.broken_limits(metrics)
    regressions: tuple[RegressionCheck, ...] = ()
    if baseline is not None and measurement.tracer is None:
        regressions = check_regressions(budget, measurement, baseline)
    verdict: Verdict = "pass"
    if broken or any(check.regressed for check in regressions):
        verdict = "warn" if warn_only or budget.level == "warn" else "fail"
    return Judgement(nodeid, budget, measurement, metrics, broken, baseline, regressions, verdict)
