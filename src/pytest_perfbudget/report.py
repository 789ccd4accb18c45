"""What a run tells its user: the terminal table and the JSON report."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .budget import Judgement, format_metric

__all__ = [
    "REPORT_VERSION",
    "Record",
    "json_report",
    "result_record",
    "summary_rows",
    "table_lines",
    "write_json_atomic",
]

REPORT_VERSION = 1
#: Metrics shown for a test that has no limits.
UNLIMITED_METRICS = ("p50", "memory")
HEADER = ("test", "metric", "measured", "limit", "verdict")
UNITS = {"time": "s", "memory": "B", "throughput": "1/s"}


Record = dict[str, Any]


def result_record(judgement: Judgement) -> Record:
    """A judged test as JSON-ready builtins: what the report holds and xdist workers send."""
    return {
        "nodeid": judgement.nodeid,
        "verdict": judgement.verdict,
        "level": judgement.budget.level,
        "rounds": judgement.measurement.rounds,
        "metrics": dict(judgement.metrics),
        "limits": {
            limit.metric: {"min" if limit.is_minimum else "max": limit.bound}
            for limit in judgement.budget.limits
        },
        "broken": [limit.metric for limit in judgement.broken],
        "memory_method": judgement.measurement.memory_method,
        "messages": judgement.findings,
    }


def summary_rows(records: Iterable[Record]) -> list[tuple[str, ...]]:
    """One row per limited metric of each test (p50 and memory for tests without limits)."""
    rows: list[tuple[str, ...]] = []
    for record in records:
        limits: dict[str, dict[str, float]] = record["limits"]
        metrics: dict[str, float] = record["metrics"]
        shown = list(limits) or [metric for metric in UNLIMITED_METRICS if metric in metrics]
        for metric in shown:
            bound = "-"
            for kind, value in limits.get(metric, {}).items():
                bound = f"{'>=' if kind == 'min' else '<='} {format_metric(metric, value)}"
            verdict = record["verdict"] if metric in record["broken"] else "pass"
            measured = format_metric(metric, metrics[metric])
            rows.append((record["nodeid"], metric, measured, bound, verdict))
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


def write_json_atomic(path: Path, document: object) -> None:
    """Write JSON through a temporary file in the same directory, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2, sort_keys=True, ensure_ascii=False)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
