"""What CI systems read: GitHub Actions workflow commands and step summaries, JUnit
properties."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .report import HEADER
from .result import PerfResult

__all__ = [
    "error_annotation",
    "junit_properties",
    "markdown_table",
    "workspace_path",
]


def _escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's runner toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value (after ``file=``, ``title=``...)."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def error_annotation(result: PerfResult, file: str, line: int | None) -> str:
    """An ``::error`` workflow command for a failed budgeted test, at its function's line."""
    properties = [f"file={_escape_property(file)}"]
    if line is not None:
        properties.append(f"line={line}")
    properties.append(f"title={_escape_property('perf budget: ' + result.nodeid)}")
    message = "\n".join(result.messages)
    return f"::error {','.join(properties)}::{_escape_data(message)}"


def workspace_path(rootdir: Path, file: str, environ: Mapping[str, str]) -> str:
    """``file`` (relative to pytest's rootdir) relative to the GitHub workspace, which is
    what annotations are matched against; unchanged outside a workspace."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return file
    try:
        relative = os.path.relpath(rootdir / file, workspace)
    except ValueError:
        return file
    return file if relative.startswith("..") else Path(relative).as_posix()


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: HTML special characters and pipes escaped."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[tuple[str, ...]], header: Sequence[str] = HEADER) -> str:
    """The summary table as GitHub-flavoured Markdown, under a heading."""
    tests = {row[0] for row in rows}
    failed = {row[0] for row in rows if row[-1] == "fail"}
    verdicts = {"fail": "**fail**", "warn": "warn", "pass": "pass"}
    lines = [
        "### Performance budgets",
        "",
        f"{len(tests)} budgeted test{'' if len(tests) == 1 else 's'}, {len(failed)} failed.",
        "",
        "| " + " | ".join(_cell(column) for column in header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = [_cell(cell) for cell in row[:-1]] + [verdicts.get(row[-1], _cell(row[-1]))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n"


def junit_properties(result: PerfResult) -> Iterable[tuple[str, object]]:
    """The test's measured metrics, its limits, its rounds (and why measuring stopped)
    and its verdict, in base units, as JUnit ``<property>`` name/value pairs."""
    for metric, value in result.metrics.items():
        yield f"perf_{metric}", value
    for limit in result.limits:
        yield f"perf_{limit.metric}_{'min' if limit.is_minimum else 'max'}", limit.bound
    yield "perf_rounds", result.rounds
    if result.stopped is not None:
        yield "perf_stopped", result.stopped
    yield "perf_verdict", result.verdict
    if result.against is not None:
        yield "perf_against", result.against
        yield "perf_against_sha", result.against_sha or ""
    for check in result.regressions:
        if check.ci_low is not None and check.ci_high is not None:
            yield f"perf_{check.metric}_change", check.change
            yield f"perf_{check.metric}_ci_low", check.ci_low
            yield f"perf_{check.metric}_ci_high", check.ci_high
            yield f"perf_{check.metric}_pairs", check.pairs
