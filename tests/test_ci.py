"""What CI reads: workflow commands, step summary tables, JUnit properties."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytest_perfbudget.budget import Limit
from pytest_perfbudget.ci import (
    error_annotation,
    junit_properties,
    markdown_table,
    workspace_path,
)
from pytest_perfbudget.report import traced_notice
from pytest_perfbudget.result import PerfResult


def record(nodeid: str = "tests/test_a.py::test_b", messages: tuple[str, ...] = ()) -> PerfResult:
    return PerfResult(
        nodeid=nodeid,
        verdict="fail",
        level="error",
        status="accepted",
        rounds=30,
        ops=1.0,
        metrics={"p95": 0.0618, "memory": 4096.0},
        limits=(Limit("p95", 0.05), Limit("throughput", 2000.0)),
        broken=("p95",),
        baseline=None,
        regressions=(),
        memory_method="linux-vmhwm",
        reference=None,
        tracer=None,
        wall_samples=(0.0618,),
        memory_samples=(4096.0,),
        messages=messages or ("perf budget exceeded: p95 61.8ms > 50ms (30 rounds)",),
        notes=(),
    )


def test_error_annotation_points_at_the_test() -> None:
    line = error_annotation(record(), "tests/test_a.py", 12)
    assert line == (
        "::error file=tests/test_a.py,line=12,title=perf budget%3A tests/test_a.py%3A%3Atest_b"
        "::perf budget exceeded: p95 61.8ms > 50ms (30 rounds)"
    )


def test_error_annotation_escapes_as_the_workflow_commands_require() -> None:
    annotated = record(
        "t.py::test_x[a,b:c%]", ("budget: 100% used\nregression\r", "second message")
    )
    line = error_annotation(annotated, "dir,with:odd%/t.py", None)
    assert "\n" not in line
    assert "\r" not in line
    properties, message = line[len("::error ") :].split("::", 1)
    assert properties == (
        "file=dir%2Cwith%3Aodd%25/t.py,title=perf budget%3A t.py%3A%3Atest_x[a%2Cb%3Ac%25]"
    )
    assert message == "budget: 100%25 used%0Aregression%0D%0Asecond message"


def test_workspace_path_is_relative_to_the_repository(tmp_path: Path) -> None:
    rootdir = tmp_path / "repo" / "project"
    environ = {"GITHUB_WORKSPACE": str(tmp_path / "repo")}
    assert workspace_path(rootdir, "tests/t.py", environ) == "project/tests/t.py"
    assert workspace_path(rootdir, "tests/t.py", {}) == "tests/t.py"
    outside = {"GITHUB_WORKSPACE": str(tmp_path / "elsewhere")}
    assert workspace_path(rootdir, "tests/t.py", outside) == "tests/t.py"


def test_markdown_table_escapes_every_cell() -> None:
    rows = [
        ("t.py::test[a|b]", "p95", "61.8ms", "<= 50ms", "-", "-", "fail"),
        ("t.py::test[<script>]", "p95", "1ms", "<= 50ms", "-", "-", "pass"),
    ]
    table = markdown_table(rows)
    assert table.startswith("### Performance budgets\n\n2 budgeted tests, 1 failed.\n")
    assert "| t.py::test[a\\|b] | p95 | 61.8ms | &lt;= 50ms | - | - | **fail** |" in table
    assert "&lt;script&gt;" in table
    assert "<script>" not in table
    assert table.endswith("\n\n")


def test_junit_properties_carry_metrics_limits_and_verdict() -> None:
    assert list(junit_properties(record())) == [
        ("perf_p95", 0.0618),
        ("perf_memory", 4096.0),
        ("perf_p95_max", 0.05),
        ("perf_throughput_min", 2000.0),
        ("perf_rounds", 30),
        ("perf_verdict", "fail"),
    ]


def test_the_traced_notice_names_the_tools_and_what_was_not_done() -> None:
    traced = [
        dataclasses.replace(record("t.py::test_a"), tracer="coverage.CTracer"),
        dataclasses.replace(record("t.py::test_b"), tracer="bdb.Bdb.trace_dispatch"),
        dataclasses.replace(record("t.py::test_c"), tracer="coverage.CTracer"),
    ]
    assert traced_notice(traced, saving=False) == (
        "pytest-perfbudget: 3 budgeted tests ran under bdb.Bdb.trace_dispatch, "
        "coverage.CTracer (coverage, a debugger or a profiler), which slows code unevenly: "
        "their times were not compared with the baseline"
    )
    assert traced_notice(traced[:1], saving=True).endswith(
        "1 budgeted test ran under coverage.CTracer (coverage, a debugger or a profiler), "
        "which slows code unevenly: its times were not compared with the baseline nor saved"
    )
