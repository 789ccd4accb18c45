"""End to end: profiles in failure reports, GitHub Actions, JUnit XML, pytest-benchmark."""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_perfbudget.units import parse_duration

SLOW_TEST = """
import sys
import time
import pytest

CALLS = []

def slow_helper():
    time.sleep(0.05)

@pytest.mark.perf_budget(p95="5ms", rounds=3, warmup=0)
def test_slow():
    CALLS.append(sys.getprofile() is not None)
    slow_helper()

def test_calls_seen():
    print("CALLS", CALLS)
"""


def calls_seen(result: pytest.RunResult) -> list[bool]:
    """Per call of test_slow, whether a profiler was running."""
    found = re.search(r"CALLS (\[.*?\])", result.stdout.str())
    assert found is not None
    seen: list[bool] = ast.literal_eval(found.group(1))
    return seen


def test_a_failed_budget_carries_a_profile_taken_after_measuring(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(SLOW_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*perf budget exceeded: p95 *ms > 5ms (3 rounds)",
            "*- perf profile -*",
            "pyinstrument: time per call over * more call(s) of the test*",
            "*ms  100%  test_slow  test_a_failed_budget*.py:10",
            "*ms *%    slow_helper  test_a_failed_budget*.py:7",
        ]
    )
    calls = calls_seen(result)
    assert calls[:3] == [False, False, False]  # the measured rounds, unprofiled
    assert len(calls) > 3
    assert all(calls[3:])


def test_passing_tests_are_not_profiled_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLOW_TEST.replace('p95="5ms"', 'p95="10s"'))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=2)
    assert calls_seen(result) == [False, False, False]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--perf-profile", "-rP")
    result.assert_outcomes(passed=2)
    calls = calls_seen(result)
    assert calls[:3] == [False, False, False]
    assert len(calls) > 3
    assert all(calls[3:])
    result.stdout.fnmatch_lines(["*- perf profile -*", "*test_slow*"])


def test_a_test_that_fails_when_profiled_keeps_its_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time
        import pytest

        RUNS = []

        @pytest.mark.perf_budget(p95="5ms", rounds=3, warmup=0)
        def test_flaky():
            RUNS.append(1)
            time.sleep(0.02)
            assert len(RUNS) <= 3, "different on its fourth run"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "perf budget exceeded: p95 *ms > 5ms (3 rounds)",
            "*- perf profile -*",
            "no profile: the test raised AssertionError when run again under the profiler: "
            "different on its fourth run*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_pyinstrument_missing_leaves_a_one_line_note(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys
        sys.modules["pyinstrument"] = None
        """
    )
    pytester.makepyfile(SLOW_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "perf budget exceeded: *",
            "*- perf profile -*",
            "no profile: pyinstrument cannot be imported*",
        ]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_a_frozen_time_test_gets_a_real_profile_and_the_session_goes_on(
    pytester: pytest.Pytester,
) -> None:
    # freezegun replaces the time functions while the test runs; pyinstrument read one of
    # them, so the profile was frozen (0 ms) or absurd (45761314765 ms), and a read inside
    # freezegun's stop() raised IndexError and left time patched: pytest's own timing
    # then ended the session with an INTERNALERROR
    pytester.makepyfile(
        """
        import datetime
        import time
        import pytest
        from freezegun import freeze_time

        @pytest.mark.perf_budget(p95="5ms", rounds=3, warmup=0)
        @freeze_time("2012-01-14")
        def test_frozen():
            time.sleep(0.05)
            assert datetime.date.today() == datetime.date(2012, 1, 14)

        def test_after():
            assert datetime.date.today() != datetime.date(2012, 1, 14)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    (line,) = [line for line in result.outlines if re.search(r"100%  test_frozen ", line)]
    per_call = parse_duration(line.split()[0])
    assert 0.045 <= per_call < 10  # the sleep's 50 ms, not the frozen clock's


def test_perf_fixture_tests_are_profiled_without_more_samples(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import time
        import pytest

        def slow_helper():
            time.sleep(0.02)

        @pytest.mark.perf_budget(p95="5ms", rounds=4, warmup=0)
        def test_measured(perf):
            perf(slow_helper)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--perf-report=r.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*(4 rounds)", "*- perf profile -*", "*slow_helper*"])
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["tests"][0]["rounds"] == 4


PARAMETRIZED = """
import pytest

@pytest.mark.perf_budget(p95="10s", rounds=3)
@pytest.mark.parametrize(
    "name", ["a/b", "x[1]", "<lambda>", "with space", "\u00fcn\u00efc\u00f8de"]
)
def test_named(name):
    sum(range(1000))
"""


def test_profile_dir_gets_one_safely_named_page_per_profiled_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(PARAMETRIZED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--perf-profile", "--perf-profile-dir=profiles/html"
    )
    result.assert_outcomes(passed=5)
    pages = sorted((pytester.path / "profiles" / "html").iterdir())
    assert len(pages) == 5
    for page in pages:
        assert re.fullmatch(r"[A-Za-z0-9._-]+\.html", page.name)
        assert "<html" in page.read_text(encoding="utf-8").lower()
    assert any("a_b" in page.name for page in pages)


def test_profile_dir_only_for_profiled_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLOW_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--perf-profile-dir=out")
    result.assert_outcomes(failed=1, passed=1)
    assert [page.name.split("-")[0] for page in (pytester.path / "out").iterdir()] == [
        "test_profile_dir_only_for_profiled_tests.py_test_slow"
    ]


def test_unwritable_profile_dir_is_reported_once_and_fails_nothing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(PARAMETRIZED)
    (pytester.path / "blocked").write_text("a file, not a directory")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--perf-profile", "--perf-profile-dir=blocked/html"
    )
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    notes = [line for line in result.outlines if "--perf-profile-dir=blocked/html" in line]
    assert notes == [
        "--perf-profile-dir=blocked/html: cannot write there; no HTML profiles were written"
    ]


def test_github_actions_annotations_and_step_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SLOW_TEST)
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    name = "test_github_actions_annotations_and_step_summary"
    source = (pytester.path / f"{name}.py").read_text().splitlines()
    # the function's first line, as pytest reports it: its decorator, where the budget is
    line = source.index("def test_slow():")
    assert source[line - 1].startswith("@pytest.mark.perf_budget")
    annotations = [line for line in result.outlines if line.startswith("::")]
    assert annotations == [
        f"::error file={name}.py,line={line},title=perf budget%3A {name}.py%3A%3Atest_slow"
        f"::perf budget exceeded: p95 {annotations[0].split('p95 ')[1].split(' ')[0]} > 5ms "
        "(3 rounds)"
    ]
    written = summary.read_text()
    assert written.startswith("earlier step\n### Performance budgets\n")
    assert f"| {name}.py::test_slow | p95 |" in written
    assert "**fail**" in written


def test_nothing_for_github_outside_github_actions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SLOW_TEST)
    summary = pytester.path / "summary.md"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    assert not any(line.startswith("::") for line in result.outlines)
    assert not summary.exists()


def junit_properties(path: Path, test: str) -> dict[str, str]:
    root = ET.parse(path).getroot()
    case = next(case for case in root.iter("testcase") if case.get("name") == test)
    return {prop.get("name", ""): prop.get("value", "") for prop in case.iter("property")}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_junit_xml_carries_metrics_and_limits(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    if workers:
        pytest.importorskip("xdist")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="10s", memory="1GiB", rounds=5)
        def test_kept():
            sum(range(100))
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--junitxml=out.xml", *workers
    )
    result.assert_outcomes(passed=1)
    properties = junit_properties(pytester.path / "out.xml", "test_kept")
    assert properties["perf_p95_max"] == "10.0"
    assert properties["perf_memory_max"] == str(float(1 << 30))
    assert 0 < float(properties["perf_p95"]) < 10
    assert properties["perf_rounds"] == "5"
    assert properties["perf_verdict"] == "pass"


BENCHMARKED = """
import time
import pytest

def work():
    time.sleep(0.01)

@pytest.mark.perf_budget(p95="2ms")
def test_benchmarked_slow(benchmark):
    benchmark.pedantic(work, rounds=7, iterations=1)

@pytest.mark.perf_budget(p95="10s", memory="1GiB")
def test_benchmarked_fast(benchmark):
    benchmark(sum, range(100))
"""


@pytest.fixture
def benchmark_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-benchmark disables itself in an xdist worker, as when this suite runs with -n."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


@pytest.mark.usefixtures("benchmark_enabled")
def test_pytest_benchmark_timings_are_judged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BENCHMARKED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--perf-report=r.json", "--perf-save", "--perf-history=h.json"
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*perf budget exceeded: p95 *ms > 2ms (7 rounds)", "*- perf profile -*", "*work*"]
    )
    report = {
        test["nodeid"].split("::")[1]: test
        for test in json.loads((pytester.path / "r.json").read_text())["tests"]
    }
    slow = report["test_benchmarked_slow"]
    assert slow["rounds"] == 7
    assert slow["metrics"]["p50"] >= 0.01
    fast = report["test_benchmarked_fast"]
    assert fast["rounds"] >= 5
    assert fast["metrics"]["p95"] < 0.001
    assert "memory" in fast["metrics"]
    history = json.loads((pytester.path / "h.json").read_text())
    assert any(nodeid.endswith("test_benchmarked_fast") for nodeid in history["tests"])


def test_benchmark_disable_judges_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BENCHMARKED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--benchmark-disable", "--perf-report=r.json"
    )
    result.assert_outcomes(passed=2)
    assert json.loads((pytester.path / "r.json").read_text())["tests"] == []
    result.stdout.fnmatch_lines(
        [
            "pytest-perfbudget: pytest-benchmark is disabled (--benchmark-disable, or under "
            "xdist), so the budgets of tests that use its benchmark fixture were not judged"
        ]
    )
    assert result.stdout.str().count("pytest-benchmark is disabled") == 1


@pytest.mark.usefixtures("benchmark_enabled")
def test_benchmark_fixture_never_called_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_forgot(benchmark):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*never called benchmark(...)*"])
