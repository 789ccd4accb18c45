"""Budgets: the limits and options of one test, validated once from marker or config."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

from .measure import Rounds
from .metrics import FAMILIES, LIMIT_KEYWORDS, format_metric, metric
from .units import UnitError, parse_count, parse_duration, parse_percentage, parse_rate

__all__ = [
    "DEFAULT_REGRESSION",
    "OPTION_KEYWORDS",
    "PAIRED_REGRESSION",
    "Budget",
    "BudgetError",
    "Defaults",
    "Level",
    "Limit",
    "PerfBudgetWarning",
    "build_budget",
    "parse_regression",
]

Level = Literal["error", "warn"]
OPTION_KEYWORDS = ("regression", "rounds", "warmup", "max_time", "ops", "level")
DEFAULT_REGRESSION: Mapping[str, float] = {
    "latency": 0.20,
    "memory": 0.50,
    "throughput": 0.15,
}
#: The thresholds of a paired run (``--perf-against``), where the machine's moods cancel:
#: a 10% slowdown is to be caught.
PAIRED_REGRESSION: Mapping[str, float] = {
    "latency": 0.05,
    "memory": 0.50,
    "throughput": 0.05,
}


class BudgetError(ValueError):
    """An invalid budget keyword or value; the message names both."""


class PerfBudgetWarning(UserWarning):
    """A broken budget that is only reported: ``level="warn"`` or ``--perf-warn-only``."""


@dataclasses.dataclass(frozen=True)
class Limit:
    """One bound on one metric: a maximum, or a minimum for throughput."""

    metric: str
    bound: float

    @property
    def is_minimum(self) -> bool:
        return metric(self.metric).is_minimum

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
class Budget(Defaults):
    """What one test must meet and how it is measured: its limits, and options that
    default as in :class:`Defaults`."""

    limits: tuple[Limit, ...] = ()
    rounds: Rounds = "auto"
    ops: float = 1.0
    level: Level = "error"

    def limits_metric(self, name: str) -> bool:
        """Whether one of the limits is on metric ``name``."""
        return any(limit.metric == name for limit in self.limits)

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


def _rounds(value: object) -> Rounds:
    if value == "auto":
        return "auto"
    try:
        return parse_count(value, minimum=1)
    except UnitError:
        raise UnitError('expected a whole number of at least 1 or "auto"') from None


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
                limited = LIMIT_KEYWORDS[keyword]
                if limited.name in limits:
                    raise UnitError(
                        f"{limited.name} is limited twice (latency is the same as p50)"
                    )
                limits[limited.name] = Limit(limited.name, limited.parse(value))
            elif keyword == "regression":
                regression.update(parse_regression(value))
            elif keyword == "rounds":
                rounds = _rounds(value)
            elif keyword == "warmup":
                warmup = parse_count(value, minimum=0)
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
