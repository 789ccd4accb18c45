"""What a run tells its user: the terminal table and the JSON report."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from .budget import Judgement, format_metric
from .history import thin

__all__ = [
    "REPORT_VERSION",
    "Record",
    "json_report",
    "result_record",
    "summary_rows",
    "table_lines",
    "traced_notice",
]

REPORT_VERSION = 1
#: Metrics shown for a test that has no limits.
UNLIMITED_METRICS = ("p50", "memory")
HEADER = ("test", "metric", "measured", "limit", "baseline", "change", "verdict")
UNITS = {"time": "s", "memory": "B", "throughput": "1/s"}


Record = dict[str, Any]


def result_record(
    judgement: Judgement, *, accept: bool, file: str | None = None, line: int | None = None
) -> Record:
    """A judged test as JSON-ready builtins: what the report holds and xdist workers send.

    ``file`` (relative to the rootdir) and ``line`` (1-based) locate the test function.
    ``status`` says how the history takes it: ``accepted`` into the baseline, ``rejected``
    (it regressed), or ``rebased`` (it regressed and ``accept`` takes it as the new start).
    """
    measurement = judgement.measurement
    status = "accepted"
    if judgement.regressed:
        status = "rebased" if accept else "rejected"
    baseline = dict(judgement.baseline.metrics) if judgement.baseline else {}
    baseline.update(
        (check.metric, check.baseline)
        for check in judgement.regressions
        if check.baseline is not None
    )
    return {
        "nodeid": judgement.nodeid,
        "file": file,
        "line": line,
        "verdict": judgement.verdict,
        "level": judgement.budget.level,
        "status": status,
        "rounds": measurement.rounds,
        "ops": measurement.ops,
        "metrics": dict(judgement.metrics),
        "limits": {
            limit.metric: {"min" if limit.is_minimum else "max": limit.bound}
            for limit in judgement.budget.limits
        },
        "broken": [limit.metric for limit in judgement.broken],
        "baseline": baseline or None,
        "regressions": [dataclasses.asdict(check) for check in judgement.regressions],
        "memory_method": measurement.memory_method,
        "reference": measurement.reference,
        "tracer": measurement.tracer,
        "samples": {"wall": thin(measurement.wall), "memory": list(measurement.memory)},
        "messages": judgement.findings,
        "notes": judgement.notes,
    }


def _shown_metrics(record: Record) -> list[str]:
    limits: dict[str, object] = record["limits"]
    metrics: dict[str, float] = record["metrics"]
    checked = [check["metric"] for check in record["regressions"]]
    regressed = [
        check["metric"] for check in record["regressions"] if check["outcome"] == "regressed"
    ]
    shown = list(limits) or [metric for metric in UNLIMITED_METRICS if metric in metrics]
    if checked and "p50" not in shown:
        shown.append("p50")
    return shown + [metric for metric in regressed if metric not in shown]


def summary_rows(records: Iterable[Record]) -> list[tuple[str, ...]]:
    """Rows of the summary table: per test, its limited metrics, p50 when it has a baseline
    and any regressed metric (p50 and memory for a test without limits)."""
    rows: list[tuple[str, ...]] = []
    for record in records:
        limits: dict[str, dict[str, float]] = record["limits"]
        metrics: dict[str, float] = record["metrics"]
        baselines: dict[str, float | None] = record["baseline"] or {}
        flagged = set(record["broken"]) | {
            check["metric"] for check in record["regressions"] if check["outcome"] == "regressed"
        }
        for metric in _shown_metrics(record):
            bound = "-"
            for kind, value in limits.get(metric, {}).items():
                bound = f"{'>=' if kind == 'min' else '<='} {format_metric(metric, value)}"
            before = baselines.get(metric)
            baseline, change = "-", "-"
            if before is not None:
                baseline = format_metric(metric, before)
                if before > 0:
                    change = f"{(metrics[metric] / before - 1) * 100:+.1f}%"
            verdict = record["verdict"] if metric in flagged else "pass"
            measured = format_metric(metric, metrics[metric])
            rows.append((record["nodeid"], metric, measured, bound, baseline, change, verdict))
    return rows


def table_lines(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows as an aligned text table with a header."""
    widths = [max(len(row[column]) for row in [HEADER, *rows]) for column in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [HEADER, *rows]
    ]


def json_report(records: Iterable[Record]) -> dict[str, object]:
    """The ``--perf-report`` document; every number in base units."""
    return {"version": REPORT_VERSION, "units": UNITS, "tests": list(records)}


def traced_notice(traced: Sequence[Record], *, saving: bool) -> str:
    """What a run measured under coverage, a debugger or a profiler was spared."""
    tracers = ", ".join(sorted({str(record["tracer"]) for record in traced}))
    spared = "compared with the baseline nor saved" if saving else "compared with the baseline"
    tests, their = ("test", "its") if len(traced) == 1 else ("tests", "their")
    return (
        f"pytest-perfbudget: {len(traced)} budgeted {tests} ran under {tracers} (coverage, a "
        f"debugger or a profiler), which slows code unevenly: {their} times were not {spared}"
    )
