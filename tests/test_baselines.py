"""Baselines end to end: saving, comparing, accepting, xdist, hooks, broken history files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SLEEPY = """
import os, time, pytest

DELAY = float(os.environ.get("DELAY", "0.005"))

@pytest.mark.perf_budget(rounds=8, warmup=0)
def test_sleepy():
    time.sleep(DELAY)
"""


def history_of(pytester: pytest.Pytester) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        (pytester.path / ".perf" / "history.json").read_text(encoding="utf-8")
    )
    return document


def summaries(pytester: pytest.Pytester, nodeid: str) -> list[list[object]]:
    tests = history_of(pytester)["tests"]
    assert isinstance(tests, dict)
    (entry,) = tests[nodeid].values()
    rows: list[list[object]] = entry["summaries"]
    return rows


def save_baseline(pytester: pytest.Pytester, runs: int = 2) -> None:
    for _ in range(runs):
        pytester.runpytest("--perf-save").assert_outcomes(passed=1)


@pytest.fixture
def baseline_at_5ms(pytester: pytest.Pytester) -> None:
    """SLEEPY written, and a baseline of two runs of it saved at its default 5 ms."""
    pytester.makepyfile(SLEEPY)
    save_baseline(pytester)


@pytest.fixture
def slowed_to_50ms(baseline_at_5ms: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Then SLEEPY made ten times slower than its baseline (DELAY=0.05)."""
    monkeypatch.setenv("DELAY", "0.05")


@pytest.mark.usefixtures("slowed_to_50ms")
def test_a_slowdown_against_the_baseline_fails(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--perf-report=report.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "perf regression: p50 *ms vs baseline *ms (+*% > +20%, p=*)",
            "test*metric*measured*limit*baseline*change*verdict",
            "*::test_sleepy*p50*ms*-*ms*+*%*fail",
        ]
    )
    (test,) = json.loads((pytester.path / "report.json").read_text())["tests"]
    (check,) = [check for check in test["regressions"] if check["metric"] == "p50"]
    assert check["outcome"] == "regressed"
    assert check["p_value"] < 0.01
    assert test["rounds"] == 16  # confirmed: measured a second time and pooled
    assert test["status"] == "rejected"


@pytest.mark.usefixtures("slowed_to_50ms")
def test_a_slow_level_the_test_came_back_from_is_noted_not_failed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--perf-save").assert_outcomes(failed=1)  # saved as rejected
    monkeypatch.setenv("DELAY", "0.005")
    # and back, saved as accepted: 5 ms against 5 ms, with room for a busy machine's sleeps
    pytester.runpytest("--perf-save", "--perf-regression=900%").assert_outcomes(passed=1)
    monkeypatch.setenv("DELAY", "0.02")  # 4x the baseline, well under the rejected 50 ms
    result = pytester.runpytest("-W", "always")
    result.assert_outcomes(passed=1)
    # the p50 of the rejected 50 ms run (tens of ms), not of a 5 ms baseline run
    result.stdout.fnmatch_lines(["*a recent run of this test was as slow (p50 [1-9][0-9]*ms)*"])
    monkeypatch.setenv("DELAY", "0.12")  # slower than anything seen: a regression again
    pytester.runpytest().assert_outcomes(failed=1)


@pytest.mark.usefixtures("baseline_at_5ms")
def test_unchanged_code_does_not_regress(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--perf-regression=900%")  # a busy machine's sleeps overshoot
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*::test_sleepy*p50*ms*-*ms*%*pass"])


NOISY = """
import time, pytest

CALLS = []

@pytest.mark.perf_budget(rounds=8, warmup=0)
def test_noisy():
    # every other pair of calls 30 times slower: half the samples 1 ms, half 30 ms
    CALLS.append(1)
    time.sleep(0.001 if len(CALLS) % 4 < 2 else 0.03)
"""


def test_a_noisy_baseline_is_a_note_under_the_table_never_a_failure(
    pytester: pytest.Pytester,
) -> None:
    # under filterwarnings = error, notes issued as warnings failed whole suites
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(NOISY)
    save_baseline(pytester)
    result = pytester.runpytest("--perf-report=report.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    noise = [line for line in result.outlines if "perf noise" in line]
    assert len(noise) == 1
    assert noise[0].startswith("test_a_noisy_baseline_is_a_note_under_the_table")
    lines = result.outlines
    section = next(n for n, line in enumerate(lines) if "performance budgets" in line)
    table = next(n for n, line in enumerate(lines) if line.split()[:2] == ["test", "metric"])
    assert section < table < lines.index(noise[0])  # under the table
    (test,) = json.loads((pytester.path / "report.json").read_text())["tests"]
    assert [note for note in test["notes"] if note.startswith("perf noise")] == [
        noise[0].split(": ", 1)[1]
    ]
    # a test with notes only is not failed under -W error either
    result = pytester.runpytest("-W", "error")
    result.assert_outcomes(passed=1)
    assert len([line for line in result.outlines if "perf noise" in line]) == 1


@pytest.mark.usefixtures("slowed_to_50ms")
def test_no_compare_saves_a_slowdown_as_accepted(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--perf-no-compare", "--perf-save").assert_outcomes(passed=1)
    nodeid = "test_no_compare_saves_a_slowdown_as_accepted.py::test_sleepy"
    # accepted ("a"), after the rounds asked for ("r")
    assert [row[1] for row in summaries(pytester, nodeid)] == ["ar", "ar", "ar"]


@pytest.mark.usefixtures("slowed_to_50ms")
def test_no_compare_and_regression_overrides(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--perf-no-compare").assert_outcomes(passed=1)
    pytester.runpytest("--perf-regression=5000%").assert_outcomes(passed=1)
    result = pytester.runpytest("--perf-warn-only")
    result.assert_outcomes(passed=1)  # and a "perf noise" warning, if the baseline was noisy
    assert result.stdout.str().count("PerfBudgetWarning: perf regression: p50 ") == 1
    pytester.makepyprojecttoml('[tool.perfbudget]\nregression = "5000%"\n')
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--perf-regression=20%").assert_outcomes(failed=1)


def test_marker_regression_beats_the_flag(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SLEEPY.replace("warmup=0", 'warmup=0, regression={"latency": "5000%"}'))
    save_baseline(pytester)
    monkeypatch.setenv("DELAY", "0.05")
    pytester.runpytest("--perf-regression=1%").assert_outcomes(passed=1)


@pytest.mark.usefixtures("slowed_to_50ms")
def test_rejected_results_stay_out_of_the_baseline_until_accepted(
    pytester: pytest.Pytester,
) -> None:
    pytester.runpytest("--perf-save").assert_outcomes(failed=1)
    pytester.runpytest("--perf-save").assert_outcomes(failed=1)
    statuses = [
        str(row[1])[0]
        for row in summaries(
            pytester,
            "test_rejected_results_stay_out_of_the_baseline_until_accepted.py::test_sleepy",
        )
    ]
    assert statuses == ["a", "a", "r", "r"]
    result = pytester.runpytest("--perf-save", "--perf-accept")
    result.assert_outcomes(failed=1)
    # 50 ms against the accepted 50 ms passes; against the old 5 ms (+900%) it would fail
    pytester.runpytest("--perf-regression=300%").assert_outcomes(passed=1)
    nodeid = "test_rejected_results_stay_out_of_the_baseline_until_accepted.py::test_sleepy"
    assert [str(row[1])[0] for row in summaries(pytester, nodeid)][-1] == "b"


@pytest.mark.usefixtures("slowed_to_50ms")
def test_times_taken_under_a_tracer_are_neither_compared_nor_saved(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(  # traces only with TRACED set: the baseline's runs were untraced
        """
        import os, sys, pytest

        def tracer(frame, event, arg):  # as coverage's or a debugger's would, it slows code
            return None

        @pytest.fixture(autouse=True)
        def traced():
            if os.environ.get("TRACED"):
                sys.settrace(tracer)
            yield
            sys.settrace(None)
        """
    )
    monkeypatch.setenv("TRACED", "1")
    result = pytester.runpytest_subprocess("--perf-save", "--perf-report=report.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-perfbudget: 1 budgeted test ran under conftest.tracer (coverage, a debugger "
            "or a profiler), which slows code unevenly: its times were not compared with the "
            "baseline nor saved"
        ]
    )
    nodeid = "test_times_taken_under_a_tracer_are_neither_compared_nor_saved.py::test_sleepy"
    assert len(summaries(pytester, nodeid)) == 2
    (test,) = json.loads((pytester.path / "report.json").read_text())["tests"]
    assert (test["tracer"], test["regressions"]) == ("conftest.tracer", [])


def test_failed_skipped_and_xfailed_tests_are_not_saved(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(rounds=2)
        def test_fails():
            assert False

        @pytest.mark.perf_budget(rounds=2)
        def test_skips():
            pytest.skip("no")

        @pytest.mark.xfail(reason="known")
        @pytest.mark.perf_budget(rounds=2)
        def test_xfails():
            assert False

        @pytest.fixture
        def broken():
            raise RuntimeError("setup fails")

        @pytest.mark.perf_budget(rounds=2)
        def test_errors(broken):
            pass

        @pytest.mark.perf_budget(rounds=2)
        def test_passes():
            pass
        """
    )
    pytester.runpytest("--perf-save").assert_outcomes(
        passed=1, failed=1, skipped=1, xfailed=1, errors=1
    )
    tests = history_of(pytester)["tests"]
    assert isinstance(tests, dict)
    assert list(tests) == ["test_failed_skipped_and_xfailed_tests_are_not_saved.py::test_passes"]


RERUN_ONCE = """
from _pytest.runner import runtestprotocol

results = []

def pytest_runtest_protocol(item, nextitem):
    # What pytest-rerunfailures does: a failed attempt is logged as a "rerun" and run again.
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for attempt in (1, 2):
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        again = attempt == 1 and any(report.failed for report in reports)
        for report in reports:
            if again and report.failed:
                report.outcome = "rerun"
            item.ihook.pytest_runtest_logreport(report=report)
        if not again:
            break
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True

def pytest_report_teststatus(report):
    if report.outcome == "rerun":
        return "rerun", "R", "RERUN"

def pytest_perfbudget_result(item, result):
    results.append(result["verdict"])

def pytest_sessionfinish(session):
    print("RESULTS", results)
"""

FIRST_ATTEMPT_SLOW = """
import time, pytest

attempts = []

@pytest.fixture
def attempt():
    attempts.append(None)
    return len(attempts)

@pytest.mark.perf_budget(p50="5ms", rounds=3, warmup=0)
def test_flaky(attempt):
    if attempt == 1:
        time.sleep(0.05)
    else:
        assert {second!r}
"""


def test_an_attempt_that_is_run_again_is_no_result(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RERUN_ONCE)
    pytester.makepyfile(FIRST_ATTEMPT_SLOW.format(second=True))
    result = pytester.runpytest_subprocess("-s", "--perf-save", "--perf-report=report.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RESULTS [[]'pass'[]]"])
    nodeid = "test_an_attempt_that_is_run_again_is_no_result.py::test_flaky"
    ((_, status, rounds, *_),) = summaries(pytester, nodeid)
    assert (status, rounds) == ("ar", 3)  # accepted, after the 3 rounds asked for
    (test,) = json.loads((pytester.path / "report.json").read_text())["tests"]
    assert test["verdict"] == "pass"


def test_a_budget_broken_before_a_rerun_that_fails_is_not_saved(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(RERUN_ONCE)
    pytester.makepyfile(FIRST_ATTEMPT_SLOW.format(second=False))
    result = pytester.runpytest_subprocess("-s", "--perf-save", "--perf-report=report.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RESULTS [[][]]"])
    assert not (pytester.path / ".perf" / "history.json").exists()
    assert json.loads((pytester.path / "report.json").read_text())["tests"] == []


def test_a_test_run_twice_in_a_session_is_saved_once(pytester: pytest.Pytester) -> None:
    path = pytester.makepyfile(SLEEPY)
    result = pytester.runpytest(
        "--keep-duplicates", path, path, "--perf-save", "--perf-report=report.json"
    )
    result.assert_outcomes(passed=2)
    nodeid = "test_a_test_run_twice_in_a_session_is_saved_once.py::test_sleepy"
    assert [row[0] for row in summaries(pytester, nodeid)] == [1]
    tests = json.loads((pytester.path / "report.json").read_text())["tests"]
    assert [test["nodeid"] for test in tests] == [nodeid]


def test_path_flags_expand_home_and_variables_as_pytest_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    monkeypatch.setenv("OUT", str(pytester.path / "out"))
    pytester.makepyfile(SLEEPY)
    result = pytester.runpytest(
        "--perf-save", "--perf-history=~/h.json", "--perf-report=$OUT/r.json"
    )
    result.assert_outcomes(passed=1)
    assert (pytester.path / "home" / "h.json").is_file()
    assert (pytester.path / "out" / "r.json").is_file()


def test_history_flag_and_run_details(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLEEPY)
    pytester.runpytest("--perf-save", "--perf-history=elsewhere/h.json").assert_outcomes(passed=1)
    document = json.loads((pytester.path / "elsewhere" / "h.json").read_text())
    (run,) = document["runs"].values()
    assert run["commit"] is None  # not a git repository: recorded as unknown
    assert run["branch"] is None
    assert run["time"].endswith("Z")
    assert not (pytester.path / ".perf").exists()


def test_saved_results_keep_the_limits(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLEEPY.replace("rounds=8", 'p95="10s", memory="1GiB", rounds=8'))
    pytester.runpytest("--perf-save").assert_outcomes(passed=1)
    document = json.loads((pytester.path / ".perf" / "history.json").read_text())
    (entry,) = document["tests"]["test_saved_results_keep_the_limits.py::test_sleepy"].values()
    assert entry["limits"] == {"p95": {"max": 10.0}, "memory": {"max": float(1 << 30)}}


def test_accept_without_save_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLEEPY)
    result = pytester.runpytest("--perf-accept")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --perf-accept takes effect with --perf-save, *"])
    assert "test_sleepy" not in result.stdout.str()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{truncated", "cannot read the history as JSON"),
        ('{"version": 7}', "history version 7 is not supported"),
        ('{"version": 1, "summary_columns": 3}', '"summary_columns" should be'),
    ],
)
def test_unreadable_history_is_a_usage_error_and_left_alone(
    pytester: pytest.Pytester, content: str, message: str
) -> None:
    pytester.makepyfile(SLEEPY)
    path = pytester.path / ".perf" / "history.json"
    path.parent.mkdir()
    path.write_text(content)
    result = pytester.runpytest("--perf-save")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {path}: *{message}*"])
    assert path.read_text() == content
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_broken_value_in_one_tests_results_is_an_error_of_that_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(SLEEPY + SLEEPY.replace("test_sleepy", "test_other").split("\n", 3)[3])
    pytester.runpytest("--perf-save").assert_outcomes(passed=2)
    path = pytester.path / ".perf" / "history.json"
    document = history_of(pytester)
    nodeid = "test_a_broken_value_in_one_tests_results_is_an_error_of_that_test.py::test_sleepy"
    (entry,) = document["tests"][nodeid].values()  # type: ignore[index]
    entry["summaries"][0][5] = "fast"
    path.write_text(json.dumps(document))
    result = pytester.runpytest("--perf-save", "--perf-warn-only")  # test_other is compared
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_sleepy*",
            f"{path}: cannot use the results of {nodeid} on machine *: "
            "\"p50\" of run 1 should be a number of at least 0, or null, got 'fast' "
            "(correct or delete them)",
        ]
    )
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    (saved_entry,) = history_of(pytester)["tests"][nodeid].values()  # type: ignore[index]
    assert saved_entry == entry  # left as it was; the other test's run was saved
    assert len(summaries(pytester, nodeid.replace("test_sleepy", "test_other"))) == 2


def test_the_history_is_let_go_once_the_baselines_are_read(pytester: pytest.Pytester) -> None:
    """A loaded history is millions of lists in a large project: kept, every garbage
    collection (the memory probe's among them) would traverse it during the tests."""
    pytester.makepyfile(
        SLEEPY
        + """
def test_no_history_is_held():
    import gc
    from pytest_perfbudget.history import History
    gc.collect()
    assert not [thing for thing in gc.get_objects() if isinstance(thing, History)]
"""
    )
    pytester.runpytest_subprocess("--perf-save").assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess("--perf-warn-only")  # a busy machine fails nothing
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*::test_sleepy*p50*ms*-*ms*"])  # compared with a baseline


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unwritable_history_is_reported_before_the_tests_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLEEPY)
    locked_dir = pytester.path / "locked"
    locked_dir.mkdir()
    locked_dir.chmod(0o500)
    try:
        if _can_write(locked_dir):
            pytest.skip("running as a user who can write anywhere")
        result = pytester.runpytest("--perf-save", "--perf-history=locked/h.json")
    finally:
        locked_dir.chmod(0o700)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --perf-save: cannot write the history *locked/h.json"])
    assert "test_sleepy" not in result.stdout.str()


def _can_write(directory: Path) -> bool:
    try:
        (directory / "probe").write_text("")
    except OSError:
        return False
    (directory / "probe").unlink()
    return True


def test_history_under_a_file_is_reported_before_the_tests_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(SLEEPY)
    (pytester.path / "afile").write_text("")
    result = pytester.runpytest("--perf-save", "--perf-history=afile/h.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --perf-save: cannot write the history *afile/h.json"])


def test_xdist_controller_alone_saves_every_result(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(6))
        @pytest.mark.perf_budget(rounds=3)
        def test_many(n):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--perf-save")
    result.assert_outcomes(passed=6)
    document = history_of(pytester)
    tests = document["tests"]
    runs = document["runs"]
    assert isinstance(tests, dict)
    assert isinstance(runs, dict)
    assert len(tests) == 6
    assert len(runs) == 1


def test_baselines_are_kept_apart_by_how_many_workers_ran_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two workers on two cores slow each other: a baseline saved serially must not judge a
    # run under -n 2, nor the other way round
    pytest.importorskip("xdist")
    pytester.makepyfile(test_sleepy=SLEEPY)
    save_baseline(pytester)  # serially, at 5 ms
    monkeypatch.setenv("DELAY", "0.05")
    parallel = pytester.runpytest_subprocess("-n", "2", "--perf-save", "--perf-report=r.json")
    parallel.assert_outcomes(passed=1)  # no baseline under -n 2 yet: 10x slower passes
    (entry,) = json.loads((pytester.path / "r.json").read_text())["tests"]
    assert entry["baseline"] is None
    tests = history_of(pytester)["tests"]
    assert isinstance(tests, dict)
    machines = tests["test_sleepy.py::test_sleepy"]
    serial, (under_two,) = (
        [key for key in machines if " x" not in key],
        [key for key in machines if key.endswith(" x2")],
    )
    assert len(serial) == 1
    assert under_two == f"{serial[0]} x2"
    monkeypatch.setenv("DELAY", "0.005")
    result = pytester.runpytest("--perf-report=r.json")  # serially: the serial baseline
    result.assert_outcomes(passed=1)
    (entry,) = json.loads((pytester.path / "r.json").read_text())["tests"]
    assert entry["baseline"]["p50"] < 0.02


def test_the_xdist_controller_lets_the_history_go(pytester: pytest.Pytester) -> None:
    """Its workers read the baselines; a large history is hundreds of MiB in memory."""
    pytest.importorskip("xdist")
    pytester.makepyfile(SLEEPY)
    pytester.runpytest("--perf-save").assert_outcomes(passed=1)
    pytester.makeconftest(  # after the save, so that only the xdist run writes controller.txt
        """
        import gc
        from pytest_perfbudget.history import History

        def pytest_sessionfinish(session):
            if not hasattr(session.config, "workerinput"):
                gc.collect()
                alive = [thing for thing in gc.get_objects() if isinstance(thing, History)]
                with open("controller.txt", "w") as out:
                    out.write(str(len(alive)))
        """
    )
    pytester.runpytest_subprocess("-n", "2", "--perf-warn-only").assert_outcomes(passed=1)
    assert (pytester.path / "controller.txt").read_text() == "0"


def test_a_worker_that_sends_nothing_is_an_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(session):
            workeroutput = getattr(session.config, "workeroutput", None)
            if workeroutput is not None:
                workeroutput.pop("perfbudget_results", None)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(rounds=2)
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-n", "1", "--perf-save")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["pytest-perfbudget: xdist worker gw0 finished without sending its results"]
    )
    assert not (pytester.path / ".perf").exists()


def test_a_worker_that_crashes_is_reported_and_nothing_is_saved(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        """
        import os, pytest

        @pytest.mark.parametrize("n", range(4))
        @pytest.mark.perf_budget(rounds=2)
        def test_fine(n):
            pass

        def test_crashes():
            os._exit(1)
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--perf-save")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*worker 'gw*' crashed while running*test_crashes*",
            "pytest-perfbudget: xdist worker gw* crashed: the results of the tests it ran are*",
            "--perf-save: the history was not saved: results are missing",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()
    assert not (pytester.path / ".perf").exists()


def test_two_concurrent_saving_sessions_lose_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        import pytest

        @pytest.mark.parametrize("n", range(5))
        @pytest.mark.perf_budget(max_time="200ms")
        def test_one(n):
            pass
        """,
        test_two="""
        import pytest

        @pytest.mark.parametrize("n", range(5))
        @pytest.mark.perf_budget(max_time="200ms")
        def test_two(n):
            pass
        """,
    )
    history = pytester.path / "shared.json"
    sessions = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", name, "--perf-save",
             f"--perf-history={history}"],
            cwd=pytester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name in ("test_one.py", "test_two.py")
    ]  # fmt: skip
    for session in sessions:
        session.communicate(timeout=120)
        assert session.returncode == 0
    document = json.loads(history.read_text())
    assert len(document["runs"]) == 2
    assert sorted(document["tests"]) == sorted(
        [f"test_one.py::test_one[{n}]" for n in range(5)]
        + [f"test_two.py::test_two[{n}]" for n in range(5)]
    )


@pytest.mark.parametrize("plugin", [[], ["-p", "no:perfbudget"]], ids=["active", "disabled"])
def test_hooks_marked_optional_as_documented_work_with_the_plugin_off(
    pytester: pytest.Pytester, plugin: list[str]
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_perfbudget_result(item, result):
            print("RESULT", result["nodeid"])

        @pytest.hookimpl(optionalhook=True)
        def pytest_perfbudget_fingerprint(config):
            return "runner-class"
        """
    )
    pytester.makepyfile(
        """
        def test_plain():
            pass
        """
    )
    pytester.makepyfile(test_budgeted=SLEEPY)
    result = pytester.runpytest("-s", "-p", "no:cacheprovider", *plugin)
    result.assert_outcomes(passed=2)
    output = result.stdout.str()
    if plugin:  # -p no:perfbudget: the conftest's hooks load, and nothing calls them
        assert "RESULT test_budgeted.py::test_sleepy" not in output
    else:  # the plugin calls the result hook for the budgeted test
        assert "RESULT test_budgeted.py::test_sleepy" in output


def test_result_hook_sees_every_judged_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import json

        seen = []

        def pytest_perfbudget_result(item, result):
            json_ready = json.loads(json.dumps(result)) == result  # builtins only, as documented
            seen.append((item.nodeid, result["verdict"], json_ready))

        def pytest_sessionfinish(session):
            print("SEEN", sorted(seen))
        """
    )
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_fine():
            pass

        @pytest.mark.perf_budget(p95="1ms", rounds=2)
        def test_slow():
            time.sleep(0.02)

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*SEEN [[]('test_result_hook_sees_every_judged_test.py::test_fine', 'pass', True), "
            "('test_result_hook_sees_every_judged_test.py::test_slow', 'fail', True)[]]"
        ]
    )


def test_fingerprint_hook_names_the_machine(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_perfbudget_fingerprint(config):
            return "ci-runner-large"
        """
    )
    pytester.makepyfile(SLEEPY)
    pytester.runpytest("--perf-save").assert_outcomes(passed=1)
    document = history_of(pytester)
    tests = document["tests"]
    assert isinstance(tests, dict)
    assert list(tests["test_fingerprint_hook_names_the_machine.py::test_sleepy"]) == [
        "ci-runner-large"
    ]
