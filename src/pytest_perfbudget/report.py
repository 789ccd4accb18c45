"""What a run tells its user: the terminal table and the JSON report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .metrics import METRICS, UNITS, format_metric
from .result import PerfResult

__all__ = [
    "HEADER",
    "REPORT_VERSION",
    "json_report",
    "note_lines",
    "summary_header",
    "summary_rows",
    "table_lines",
    "traced_notice",
]

REPORT_VERSION = 1
HEADER = ("test", "metric", "measured", "limit", "baseline", "change", "verdict")
#: The table's notes in the terminal: past this many, one line says how many more.
SHOWN_NOTES = 10
#: Metrics shown for a test that has no limits.
_UNLIMITED_METRICS = tuple(row.name for row in METRICS if row.shown_without_limits)


def _shown_metrics(result: PerfResult) -> list[str]:
    regressed = [check.metric for check in result.regressions if check.regressed]
    shown = [limit.metric for limit in result.limits] or [
        metric for metric in _UNLIMITED_METRICS if metric in result.metrics
    ]
    if result.regressions and "p50" not in shown:
        shown.append("p50")
    return shown + [metric for metric in regressed if metric not in shown]


def _rounds_cell(result: PerfResult) -> str:
    """How many calls were measured, and why measuring stopped."""
    return str(result.rounds) if result.stopped is None else f"{result.rounds} {result.stopped}"


def summary_rows(results: Iterable[PerfResult], *, rounds: bool = False) -> list[tuple[str, ...]]:
    """Rows of the summary table: per test, its limited metrics, p50 when it has a baseline
    and any regressed metric (p50 and memory for a test without limits); with ``rounds``,
    a last column says how many calls were measured and why measuring stopped."""
    rows: list[tuple[str, ...]] = []
    for result in results:
        extra = (_rounds_cell(result),) if rounds else ()
        limits = {limit.metric: limit for limit in result.limits}
        baselines = result.baseline or {}
        flagged = set(result.broken) | {
            check.metric for check in result.regressions if check.regressed
        }
        for metric in _shown_metrics(result):
            bound = "-"
            if metric in limits:
                limit = limits[metric]
                sign = ">=" if limit.is_minimum else "<="
                bound = f"{sign} {format_metric(metric, limit.bound)}"
            before = baselines.get(metric)
            baseline, change = "-", "-"
            if before is not None:
                baseline = format_metric(metric, before)
                if before > 0:
                    change = f"{(result.metrics[metric] / before - 1) * 100:+.1f}%"
            verdict = result.verdict if metric in flagged else "pass"
            measured = format_metric(metric, result.metrics[metric])
            row = (result.nodeid, metric, measured, bound, baseline, change, verdict, *extra)
            rows.append(row)
    return rows


def summary_header(against: str | None, *, rounds: bool = False) -> tuple[str, ...]:
    """The table's header; in a paired run the baseline column is named after what the
    tests were compared with; with ``rounds``, the column of :func:`summary_rows`."""
    header = (
        HEADER
        if against is None
        else tuple(against if column == "baseline" else column for column in HEADER)
    )
    return (*header, "rounds") if rounds else header


def table_lines(rows: Sequence[tuple[str, ...]], header: Sequence[str] = HEADER) -> list[str]:
    """Rows as an aligned text table with a header."""
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [tuple(header), *rows]
    ]


def note_lines(results: Iterable[PerfResult], *, every: bool) -> list[str]:
    """The judged tests' notes, a line each, ``nodeid: note``: all of them with ``every``,
    else the first :data:`SHOWN_NOTES` and how many more there are."""
    lines = [f"{result.nodeid}: {note}" for result in results for note in result.notes]
    if every or len(lines) <= SHOWN_NOTES:
        return lines
    more = len(lines) - SHOWN_NOTES
    return [
        *lines[:SHOWN_NOTES],
        f"... and {more} more notes (all with -v, and in --perf-report's JSON)",
    ]


def json_report(results: Iterable[PerfResult]) -> dict[str, object]:
    """The ``--perf-report`` document; every number in base units."""
    return {
        "version": REPORT_VERSION,
        "units": UNITS,
        "tests": [result.to_json() for result in results],
    }


def traced_notice(traced: Sequence[PerfResult], *, saving: bool) -> str:
    """What a run measured under coverage, a debugger or a profiler was spared."""
    tracers = ", ".join(sorted({str(result.tracer) for result in traced}))
    spared = "compared with the baseline nor saved" if saving else "compared with the baseline"
    tests, their = ("test", "its") if len(traced) == 1 else ("tests", "their")
    return (
        f"pytest-perfbudget: {len(traced)} budgeted {tests} ran under {tracers} (coverage, a "
        f"debugger or a profiler), which slows code unevenly: {their} times were not {spared}"
    )
