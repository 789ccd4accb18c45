"""The metrics a test is measured on: one table that every other module reads.

A metric's row says what kind of quantity it is, which regression threshold applies to it,
whether a limit on it is a minimum, whether the marker can limit it, whether the history
saves it (and why not when it does not), and whether the summary table shows it for a test
that has no limits. Adding a metric is a row here plus its measurement
(:meth:`.measure.Measurement.metrics`); see CONTRIBUTING.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Literal

from .units import (
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)

__all__ = [
    "FAMILIES",
    "LIMIT_KEYWORDS",
    "METRICS",
    "PERCENTILES",
    "SAVED_METRICS",
    "UNITS",
    "Metric",
    "format_metric",
    "metric",
]

Kind = Literal["duration", "size", "rate"]
#: The families of metrics that share a regression threshold.
Family = Literal["latency", "memory", "throughput"]
FAMILIES: tuple[Family, ...] = ("latency", "memory", "throughput")

_FORMAT: Mapping[Kind, Callable[[float], str]] = {
    "duration": format_duration,
    "size": format_size,
    "rate": format_rate,
}
_PARSE: Mapping[Kind, Callable[[object], float]] = {
    "duration": parse_duration,
    "size": parse_size,
    "rate": parse_rate,
}
#: The base unit of each kind, as the JSON report names it (keyed as the report always was).
UNITS = {"time": "s", "memory": "B", "throughput": "1/s"}


@dataclasses.dataclass(frozen=True)
class Metric:
    """One row of the table of metrics."""

    name: str
    kind: Kind
    family: Family
    #: A limit on it is a floor (``throughput="2k/s"``), not a ceiling.
    is_minimum: bool = False
    #: The marker (and a budget entry) can limit it by its name.
    limitable: bool = True
    #: Why the history does not save it; None when it does (a summary column).
    not_saved: str | None = None
    #: Shown in the summary table of a test that has no limits.
    shown_without_limits: bool = False
    #: The percentile of the per-call wall times it is, when it is one.
    percentile: int | None = None

    @property
    def saved(self) -> bool:
        return self.not_saved is None

    def format(self, value: float) -> str:
        """``value`` (base units) in its natural unit: ``61.8ms``, ``64MiB``, ``2k/s``."""
        return _FORMAT[self.kind](value)

    def parse(self, value: object) -> float:
        """A limit as written (``"50ms"``) in base units; raises :class:`.UnitError`."""
        return _PARSE[self.kind](value)


METRICS: tuple[Metric, ...] = (
    Metric("p50", "duration", "latency", shown_without_limits=True, percentile=50),
    Metric("p90", "duration", "latency", percentile=90),
    Metric("p95", "duration", "latency", percentile=95),
    Metric("p99", "duration", "latency", percentile=99),
    Metric(
        "mean",
        "duration",
        "latency",
        not_saved=(
            "no rule or tool reads it back, and a column would add 9% to a history "
            "(26.5 MB for 5,000 tests x 50 runs, past the 25 MB we hold it to)"
        ),
    ),
    Metric("max", "duration", "latency"),
    Metric(
        "min",
        "duration",
        "latency",
        limitable=False,
        not_saved="reported only: a minimum says how fast a call can be, not how fast it is",
    ),
    Metric("cpu", "duration", "latency"),
    Metric("memory", "size", "memory", shown_without_limits=True),
    Metric(
        "throughput",
        "rate",
        "throughput",
        is_minimum=True,
        not_saved="derived: ops / p50, both saved",
    ),
)
_BY_NAME: Mapping[str, Metric] = {row.name: row for row in METRICS}
#: Marker keywords that limit a metric by another name.
_ALIASES = {"latency": "p50"}
#: Limit keyword -> the metric it limits, in the order error messages list them.
LIMIT_KEYWORDS: Mapping[str, Metric] = {
    **{alias: _BY_NAME[name] for alias, name in _ALIASES.items()},
    **{row.name: row for row in METRICS if row.limitable},
}
#: The metrics a history saves, in the order of its summary columns.
SAVED_METRICS: tuple[str, ...] = tuple(row.name for row in METRICS if row.saved)
#: Metric name -> the percentile of the per-call wall times it is.
PERCENTILES: Mapping[str, int] = {
    row.name: row.percentile for row in METRICS if row.percentile is not None
}


def metric(name: str) -> Metric:
    """The row of metric ``name``; raises KeyError for a name the table does not have."""
    return _BY_NAME[name]


def format_metric(name: str, value: float) -> str:
    """A metric's value in its natural unit."""
    return _BY_NAME[name].format(value)
