"""Sequential stopping seen from pytest: each test measured until its verdicts are certain,
and the report, the -v table, JUnit XML and the history saying how many calls were
measured and why measuring stopped."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from pytest_perfbudget.report import HEADER

# A call of a few microseconds against a limit of seconds, and 50 ms against 5 ms: both
# certain after few calls, on any machine. max_time is far longer than either needs.
TESTS = """
import time
import pytest

@pytest.mark.perf_budget(p95="10s", max_time="60s")
def test_clear_pass():
    pass

@pytest.mark.perf_budget(p50="10s", max_time="60s")
def test_clear_pass_on_the_median():
    pass

@pytest.mark.perf_budget(p95="5ms", max_time="60s", warmup=0)
def test_clear_fail():
    time.sleep(0.05)

@pytest.mark.perf_budget(p95="10s", rounds=5)
def test_five_rounds():
    pass
"""

# A sleep of 1 ms for 300 ms: a full measurement is about 300 calls, and more than 10
# unless a sleep of 1 ms takes 30 ms.
FULL = """
import time
import pytest

@pytest.mark.perf_budget(p95="10s", max_time="300ms", warmup=0)
def test_sleepy():
    time.sleep(0.001)
"""


def reported(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    report = json.loads((pytester.path / "report.json").read_text())
    return {test["nodeid"].split("::")[1]: test for test in report["tests"]}


def test_each_test_stops_once_its_verdict_is_certain(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--perf-report=report.json", "-v")
    result.assert_outcomes(passed=3, failed=1)
    tests = reported(pytester)
    stopped = {name: (test["rounds"], test["stopped"]) for name, test in tests.items()}
    # a p95 is bounded above at 99% from 90 calls on, and the loop looks then
    assert stopped["test_clear_pass"] == (90, "certain")
    # a median is bounded above by the largest of 10 calls: the first look settles it
    assert stopped["test_clear_pass_on_the_median"] == (10, "certain")
    assert stopped["test_clear_fail"] == (10, "certain")
    assert stopped["test_five_rounds"] == (5, "rounds")
    # -v: the table says it too
    result.stdout.fnmatch_lines(
        [
            "test * metric * verdict * rounds",
            "*::test_clear_pass * p95 * pass * 90 certain",
            "*::test_clear_fail * p95 * fail * 10 certain",
            "*::test_five_rounds * p95 * pass * 5 rounds",
        ]
    )


def test_without_v_the_table_has_no_rounds_column(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest()
    header = next(line for line in result.outlines if line.startswith("test "))
    assert header.split() == list(HEADER)


@pytest.mark.parametrize(
    "how",
    [
        ["--perf-rounds=full"],
        ["-o", "perf_rounds=full"],
        ["pyproject"],
    ],
)
def test_full_rounds_measure_each_test_for_max_time(
    pytester: pytest.Pytester, how: list[str]
) -> None:
    if how == ["pyproject"]:
        pytester.makepyprojecttoml('[tool.perfbudget]\nrounds = "full"\n')
        how = []
    # a p50 limit is certain at the first look (below): only full measures on
    pytester.makepyfile(FULL.replace('p95="10s"', 'p50="10s"'))
    pytester.runpytest("--perf-report=report.json", *how).assert_outcomes(passed=1)
    test = reported(pytester)["test_sleepy"]
    assert test["stopped"] == "max_time"
    assert test["rounds"] > 10


def test_by_default_the_same_test_stops_at_the_first_look(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FULL.replace('p95="10s"', 'p50="10s"'))
    pytester.runpytest("--perf-report=report.json").assert_outcomes(passed=1)
    test = reported(pytester)["test_sleepy"]
    assert (test["rounds"], test["stopped"]) == (10, "certain")


def test_a_saved_run_measures_enough_calls_for_a_baseline(pytester: pytest.Pytester) -> None:
    # within max_time: the failing test has time for 4 calls of 50 ms
    pytester.makepyfile(TESTS.replace('p95="5ms", max_time="60s"', 'p95="5ms", max_time="200ms"'))
    result = pytester.runpytest("--perf-save", "--perf-report=report.json")
    result.assert_outcomes(passed=3, failed=1)
    tests = reported(pytester)
    # certain at 10 calls, but a baseline needs at least 100, and the loop looks then
    assert tests["test_clear_pass_on_the_median"]["rounds"] == 100
    assert tests["test_clear_pass_on_the_median"]["stopped"] == "certain"
    assert tests["test_clear_fail"]["stopped"] == "max_time"
    history = json.loads((pytester.path / ".perf" / "history.json").read_text())
    statuses = {
        nodeid.split("::")[1]: entry["summaries"][0][1]
        for nodeid, by_machine in history["tests"].items()
        for entry in by_machine.values()
    }
    # accepted ("a"), then why measuring stopped: certain ("c"), the rounds asked ("r")
    assert statuses["test_clear_pass_on_the_median"] == "ac"
    assert statuses["test_five_rounds"] == "ar"
    assert statuses["test_clear_fail"] == "at"  # a broken limit is no regression; max_time


def test_junit_xml_says_why_measuring_stopped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    pytester.runpytest("--junitxml=junit.xml")
    root = ET.parse(pytester.path / "junit.xml").getroot()
    stopped = {
        case.get("name"): {prop.get("name"): prop.get("value") for prop in case.iter("property")}
        for case in root.iter("testcase")
    }
    assert stopped["test_clear_pass"]["perf_stopped"] == "certain"
    assert stopped["test_clear_pass"]["perf_rounds"] == "90"
    assert stopped["test_five_rounds"]["perf_stopped"] == "rounds"


def test_a_run_compared_with_a_baseline_measures_as_many_calls(
    pytester: pytest.Pytester,
) -> None:
    # certain after 10 calls without a baseline; a run compared with one is as steady as
    # the runs the baseline was saved from
    pytester.makepyfile(FULL.replace('p95="10s", max_time="300ms"', 'p50="10s", max_time="2s"'))
    pytester.runpytest("--perf-save").assert_outcomes(passed=1)
    pytester.runpytest("--perf-report=report.json").assert_outcomes(passed=1)
    test = reported(pytester)["test_sleepy"]
    assert test["baseline"] is not None
    assert test["rounds"] >= 100


def test_pytest_benchmarks_own_timings_say_nothing_of_stopping(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("pytest_benchmark")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_bench(benchmark):
            benchmark(lambda: None)
        """
    )
    pytester.runpytest("--perf-report=report.json").assert_outcomes(passed=1)
    assert reported(pytester)["test_bench"]["stopped"] is None
