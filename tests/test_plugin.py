"""The plugin end to end: marker, fixture, failing, config, reports, xdist."""

from __future__ import annotations

import json
import re
import sys

import pytest


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*performance budgets (pytest-perfbudget)*",
            "*--perf-disable*",
            "*--perf-warn-only*",
            "*--perf-profile *",
            "*--perf-profile-dir=DIR*",
            "*--perf-report=PATH*",
            "*perf_max_time*",
        ]
    )


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.perf_budget(*"])


def test_budget_kept_passes_and_is_tabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="5s", memory="512MiB", max_time="50ms")
        def test_quick():
            sum(range(100))
        """
    )
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= performance budgets =*",
            "test*metric*measured*limit*verdict",
            "test_budget_kept_passes_and_is_tabled.py::test_quick*p95*<= 5s*pass",
            "*::test_quick*memory*<= 512MiB*pass",
        ]
    )


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ('p95="5ms"', "perf budget exceeded: p95 *ms > 5ms (3 rounds)"),
        ('latency="5ms"', "perf budget exceeded: p50 *ms > 5ms (3 rounds)"),
        ('p50="5ms"', "perf budget exceeded: p50 *ms > 5ms (3 rounds)"),
        ('p90="5ms"', "perf budget exceeded: p90 *ms > 5ms (3 rounds)"),
        ('p99="5ms"', "perf budget exceeded: p99 *ms > 5ms (3 rounds)"),
        ('mean="5ms"', "perf budget exceeded: mean *ms > 5ms (3 rounds)"),
        ('max="5ms"', "perf budget exceeded: max *ms > 5ms (3 rounds)"),
        ('throughput="100/s"', "perf budget exceeded: throughput */s < 100/s (3 rounds)"),
        ('throughput="1k/s", ops=10', "perf budget exceeded: throughput */s < 1k/s (3 rounds)"),
    ],
)
def test_broken_time_budget_fails_that_test(
    pytester: pytest.Pytester, keywords: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import time, pytest

        @pytest.mark.perf_budget({keywords}, rounds=3)
        def test_slow():
            time.sleep(0.05)

        def test_other():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*_ test_slow _*", message, "FAILED *::test_slow*"])


def test_cpu_budget_counts_cpu_not_sleep(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(cpu="5ms", rounds=3)
        def test_busy():
            end = time.process_time() + 0.05
            while time.process_time() < end:
                pass

        @pytest.mark.perf_budget(cpu="20ms", rounds=3)
        def test_sleepy():
            time.sleep(0.1)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*_ test_busy _*", "perf budget exceeded: cpu *ms > 5ms (3 rounds)"]
    )


def test_memory_budget(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(memory="16MiB", rounds=2)
        def test_hungry():
            held = bytearray(b"x") * (64 * 1024 * 1024)

        @pytest.mark.perf_budget(memory="16MiB", rounds=2)
        def test_modest():
            held = bytearray(b"x") * 1024
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*_ test_hungry _*", "perf budget exceeded: memory 6?*MiB > 16MiB (2 rounds)"]
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_memory_freed_by_an_earlier_test_does_not_hide_growth(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        kept = []

        def test_frees_small_objects():
            freed = [bytes(1024) + bytes([n % 256]) for n in range(150 * 1024)]
            kept.append(freed[-1])  # pins the heap top: only malloc_trim returns the rest
            del freed

        @pytest.mark.perf_budget(memory="16MiB", rounds=1)
        def test_allocates_small_objects():
            held = [bytes(1024) + bytes([n % 256]) for n in range(64 * 1024)]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["perf budget exceeded: memory 6?*MiB > 16MiB (1 round)"])


def test_auto_rounds_repeat_the_call_inside_one_fixture_setup(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        calls = []
        setups = []

        @pytest.fixture
        def resource():
            setups.append(1)
            return "r"

        @pytest.mark.perf_budget(p95="5s", max_time="20ms", warmup=2)
        def test_measured(resource):
            calls.append(resource)

        def test_counts():
            assert len(setups) == 1
            assert len(calls) >= 2 + 10
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(("rounds", "warmup", "calls"), [(5, 2, 7), (1, None, 1), (1, 1, 2)])
def test_fixed_rounds_and_warmup(
    pytester: pytest.Pytester, rounds: int, warmup: int | None, calls: int
) -> None:
    warmup_keyword = "" if warmup is None else f", warmup={warmup}"
    pytester.makepyfile(
        f"""
        import pytest

        calls = []

        @pytest.mark.perf_budget(p95="5s", rounds={rounds}{warmup_keyword})
        def test_measured():
            calls.append(1)

        def test_counts():
            assert len(calls) == {calls}
        """
    )
    result = pytester.runpytest("--perf-report=report.json")
    result.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["tests"][0]["rounds"] == rounds


def test_perf_fixture_measures_only_what_it_is_handed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        def slow(n):
            time.sleep(0.05)
            return n * 2

        @pytest.mark.perf_budget(p50="5ms", rounds=3)
        def test_call(perf):
            time.sleep(0.001)
            assert perf(slow, 21) == 42

        @pytest.mark.perf_budget(p50="5ms")
        def test_block(perf):
            time.sleep(0.2)
            with perf.measure():
                time.sleep(0.05)

        @pytest.mark.perf_budget(p50="5s", rounds=3)
        def test_fast_part_only(perf):
            time.sleep(0.2)
            perf(sum, range(10))
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_call _*",
            "perf budget exceeded: p50 *ms > 5ms (3 rounds)",
            "*_ test_block _*",
            "perf budget exceeded: p50 *ms > 5ms (1 round)",
        ]
    )


def test_perf_fixture_without_marker_is_measured_and_reported(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_unbudgeted(perf):
            perf(sum, range(10))
        """
    )
    result = pytester.runpytest("--perf-report=report.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*::test_unbudgeted*p50*-*pass"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["tests"][0]["limits"] == {}


def test_perf_fixture_that_measures_nothing_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p50="5s")
        def test_forgot(perf):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*perf_budget measured nothing*"])


def test_warn_level_and_warn_only_report_without_failing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(p95="5ms", rounds=2, level="warn")
        def test_warned():
            time.sleep(0.05)

        @pytest.mark.perf_budget(p95="5ms", rounds=2)
        def test_enforced():
            time.sleep(0.05)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*PerfBudgetWarning: perf budget exceeded: p95 *ms > 5ms (2 rounds)", "*test_warned*warn"]
    )
    result = pytester.runpytest("--perf-warn-only")
    result.assert_outcomes(passed=2, warnings=2)


@pytest.mark.parametrize(
    ("filters", "args"),
    [
        ("", ["-W", "error::pytest_perfbudget.PerfBudgetWarning"]),
        ("[pytest]\nfilterwarnings = error\n", ["--perf-warn-only"]),
    ],
    ids=["-W error", "filterwarnings = error"],
)
def test_warnings_made_errors_by_the_filters_fail_the_test(
    pytester: pytest.Pytester, filters: str, args: list[str]
) -> None:
    pytester.makeini(filters)
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(p50="5ms", rounds=2, level="warn")
        def test_warned():
            time.sleep(0.05)

        @pytest.mark.perf_budget(p50="5s", rounds=2)
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["PerfBudgetWarning: perf budget exceeded: p50 *ms > 5ms (2 rounds)", "*test_warned*warn"]
    )
    assert "INTERNALERROR" not in result.stdout.str()


def test_disable_runs_tests_plainly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        calls = []

        @pytest.mark.perf_budget(p95="5ms", memory="not a size")
        def test_budgeted():
            calls.append(1)
            time.sleep(0.05)

        def test_fixture(perf):
            assert perf(len, "abc") == 3
            with perf.measure():
                calls.append(2)

        def test_counts():
            assert calls == [1, 2]
        """
    )
    result = pytester.runpytest("--perf-disable", "--perf-report=report.json", "--perf-save")
    result.assert_outcomes(passed=3)
    assert "performance budgets" not in result.stdout.str()
    assert not (pytester.path / "report.json").exists()
    assert not (pytester.path / ".perf").exists()


def test_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(p95="5ms")
        def test_budgeted():
            time.sleep(0.05)
        """
    )
    result = pytester.runpytest("-p", "no:perfbudget")
    result.assert_outcomes(passed=1)
    assert "performance budgets" not in result.stdout.str()


def test_unbudgeted_tests_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        calls = []

        def test_once():
            calls.append(1)

        def test_counts():
            assert calls == [1]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert "performance budgets" not in result.stdout.str()


def test_failed_skipped_and_xfailed_tests_are_not_judged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_fails():
            assert False

        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_skips():
            pytest.skip("not today")

        @pytest.mark.xfail(reason="known", strict=False)
        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_xfails():
            assert False

        @pytest.mark.xfail(reason="flaky", strict=False)
        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_xpasses():
            pass
        """
    )
    result = pytester.runpytest("--perf-report=report.json")
    result.assert_outcomes(failed=1, skipped=1, xfailed=1, xpassed=1)
    assert json.loads((pytester.path / "report.json").read_text())["tests"] == []


def test_json_report_in_base_units(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(p95="5ms", memory="1GiB", throughput="1/s", rounds=3, ops=2)
        def test_slow():
            time.sleep(0.05)
        """
    )
    result = pytester.runpytest("--perf-report=out/report.json")
    result.assert_outcomes(failed=1)
    report = json.loads((pytester.path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["version"] == 1
    assert report["units"] == {"time": "s", "memory": "B", "throughput": "1/s"}
    (test,) = report["tests"]
    assert test["nodeid"] == "test_json_report_in_base_units.py::test_slow"
    assert test["verdict"] == "fail"
    assert test["rounds"] == 3
    assert test["limits"] == {
        "p95": {"max": 0.005},
        "memory": {"max": 1024**3},
        "throughput": {"min": 1.0},
    }
    assert 0.05 <= test["metrics"]["p95"] < 5
    assert test["metrics"]["throughput"] == pytest.approx(2 / test["metrics"]["p50"])
    assert test["broken"] == ["p95"]
    assert test["messages"][0].startswith("perf budget exceeded: p95 ")
    assert test["memory_method"] in ("linux-vmhwm", "psutil-sampling")


def test_report_path_that_cannot_be_written_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "taken").mkdir()
    result = pytester.runpytest("--perf-report=taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --perf-report=taken: cannot write a file there"])


def test_quiet_table_shows_only_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.perf_budget(p95="5ms", rounds=2)
        def test_slow():
            time.sleep(0.05)

        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*::test_slow*p95*fail"])
    assert "::test_fine  " not in result.stdout.str()


def test_budget_entries_from_pyproject(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.perfbudget]
        warmup = 0

        [[tool.perfbudget.budget]]
        match = "*::test_*"
        p95 = "5ms"

        [[tool.perfbudget.budget]]
        match = "*::test_lenient*"
        p95 = "5s"
        """
    )
    pytester.makepyfile(
        """
        import time, pytest

        def test_strict():
            time.sleep(0.05)

        def test_lenient():
            time.sleep(0.05)

        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_marked():
            time.sleep(0.05)
        """
    )
    result = pytester.runpytest("-o", "perf_max_time=0.1")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*_ test_strict _*", "perf budget exceeded: p95 *ms > 5ms (*)"])


def test_unittest_test_cases_are_not_measured_and_a_marker_on_one_is_an_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(
        """
        [[tool.perfbudget.budget]]
        match = "*"
        p95 = "5s"
        """
    )
    pytester.makepyfile(
        """
        import unittest, pytest

        class TestOld(unittest.TestCase):
            def test_plain(self):
                pass

            @pytest.mark.perf_budget(p95="1s")
            def test_marked(self):
                pass

        def test_function():
            pass
        """
    )
    result = pytester.runpytest("-o", "perf_max_time=0.01")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*::TestOld::test_marked: perf_budget cannot measure a unittest.TestCase test: "
            "pytest runs it through unittest, which calls it once; make it a plain test "
            "function or method",
            "*::test_function*p95*<= 5s*pass",
        ]
    )
    assert "::TestOld::test_plain  " not in result.stdout.str()


UNMEASURABLE = '''
import unittest


def double(number):
    """Twice ``number``.

    >>> double(2)
    4
    """
    return 2 * number


class TestOld(unittest.TestCase):
    def test_one(self):
        self.assertEqual(double(1), 2)

    def test_two(self):
        self.assertEqual(double(2), 4)
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_matched_items_that_cannot_be_measured_are_counted_once(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    # a glob over doctests and unittest.TestCase tests measured nothing, and --perf-save
    # then wrote nothing, without a word
    if workers:
        pytest.importorskip("xdist")
    pytester.makepyprojecttoml('[[tool.perfbudget.budget]]\nmatch = "*"\np95 = "5s"\n')
    pytester.makepyfile(UNMEASURABLE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--doctest-modules", "--perf-save", *workers
    )
    result.assert_outcomes(passed=3)
    notices = [line for line in result.outlines if line.startswith("pytest-perfbudget: ")]
    assert notices == [
        "pytest-perfbudget: 3 items matched by [[tool.perfbudget.budget]] could not be "
        "measured and ran as plain tests: 1 doctest (a doctest's time is mostly doctest's "
        "own compiling and checking of its examples, and pytest's doctest run clears their "
        "namespace, so it cannot run again as it was: budget the code it shows in a test "
        "function); 2 unittest.TestCase tests (pytest runs them through unittest, which "
        "calls them once: make them plain test functions or methods)"
    ]
    assert (
        result.outlines.count("--perf-save: no budgeted test was measured, so nothing was saved")
        == 1
    )
    assert not (pytester.path / ".perf").exists()


def test_items_no_entry_matches_are_not_counted(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        '[[tool.perfbudget.budget]]\nmatch = "*::test_plain"\np95 = "5s"\nrounds = 2\n'
    )
    pytester.makepyfile(UNMEASURABLE + "\n\ndef test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--doctest-modules", "--perf-save")
    result.assert_outcomes(passed=4)
    assert not [line for line in result.outlines if "pytest-perfbudget" in line]
    assert "nothing was saved" not in result.stdout.str()
    assert (pytester.path / ".perf" / "history.json").exists()


def test_config_precedence_pyproject_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        perf_warmup = "7"
        perf_max_time = "1min"

        [tool.perfbudget]
        max_time = "10ms"
        """
    )
    pytester.makepyfile(
        """
        import time
        import pytest

        calls = []

        @pytest.mark.perf_budget(p95="5s")
        def test_measured():
            calls.append(1)
            time.sleep(0.002)

        def test_counts():  # 10 ms of 2 ms calls: the 10 rounds at least; 1 min: thousands
            assert 7 + 10 <= len(calls) < 7 + 100
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)


def test_bad_config_is_a_usage_error_naming_file_key_value(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.perfbudget]\nmax_time = "soon"\n')
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: *pyproject.toml: [[]tool.perfbudget[]] max_time = 'soon' is invalid: *"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_bad_ini_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nperf_warmup = many\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *tox.ini: perf_warmup = 'many' is invalid: *"])


@pytest.mark.parametrize("plugins", [["-n", "2"], ["-p", "no:xdist"]])
def test_xdist_results_reach_the_controller(pytester: pytest.Pytester, plugins: list[str]) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.parametrize("n", range(4))
        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_fine(n):
            pass

        @pytest.mark.perf_budget(p95="5ms", rounds=2)
        def test_slow():
            time.sleep(0.05)
        """
    )
    result = pytester.runpytest_subprocess(*plugins, "--perf-report=report.json")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*::test_slow*p95*fail"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert sorted(test["nodeid"].split("::")[1] for test in report["tests"]) == [
        "test_fine[0]",
        "test_fine[1]",
        "test_fine[2]",
        "test_fine[3]",
        "test_slow",
    ]


def test_works_without_cacheprovider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="5s", rounds=2)
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


CANNOT_RUN_TWICE = """
import warnings
import pytest

WARNED = []

def deprecated_once():
    if not WARNED:  # as many libraries do: once per process
        WARNED.append(1)
        warnings.warn("old", DeprecationWarning)

@pytest.fixture
def state():
    return {"token": 1}

@pytest.mark.perf_budget(p95="10s")
def test_warns():
    with pytest.warns(DeprecationWarning):
        deprecated_once()

@pytest.mark.perf_budget(p95="10s")
def test_makes_a_file(tmp_path):
    (tmp_path / "out").mkdir()

@pytest.mark.perf_budget(p95="10s", warmup=0, rounds=3)
def test_uses_up_state(state):
    state.pop("token")

@pytest.mark.perf_budget(p95="10s", warmup=2)
def test_fails_on_its_third_call(state):
    state["calls"] = state.get("calls", 0) + 1
    if state["calls"] == 3:
        pytest.fail("third call", pytrace=False)

@pytest.mark.perf_budget(p95="10s")
def test_fails_at_once():
    assert False, "first call"

@pytest.mark.perf_budget(p95="10s", rounds=1)
def test_called_once(tmp_path):
    (tmp_path / "out").mkdir()
"""


def failure_of(output: str, test: str) -> str:
    """The failure report of ``test`` in pytest's ``output``, up to the next report or
    section (the short test summary repeats each failure's message, whole when pytest
    runs on CI)."""
    after = output.split(f"_ {test} _", 1)[1]
    return re.split(r"\n(?:_{3,} test_|={3,} )", after, maxsplit=1)[0]


def test_a_repeated_call_that_fails_says_the_test_was_repeated(
    pytester: pytest.Pytester,
) -> None:
    # DID NOT WARN, FileExistsError, KeyError: nothing said that the plugin called the
    # test again
    pytester.makepyfile(CANNOT_RUN_TWICE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=5, passed=1)
    output = result.stdout.str()
    for test, error, call, passed in [
        ("test_warns", "DID NOT WARN", 2, "call 1"),
        ("test_makes_a_file", "FileExistsError", 2, "call 1"),
        ("test_uses_up_state", "KeyError: 'token'", 2, "call 1"),
        ("test_fails_on_its_third_call", "third call", 3, "calls 1 to 2"),
    ]:
        failure = failure_of(output, test)
        assert error in failure
        assert (
            f"pytest-perfbudget: call {call} of this test failed after {passed} passed: a "
            "budgeted test is called repeatedly in one setup (warmup and measured rounds)"
        ) in failure
        assert "perf fixture" in failure
        assert "call it once: rounds=1 (no warm-up then)." in failure
    first = failure_of(output, "test_fails_at_once")
    assert "first call" in first
    assert "pytest-perfbudget" not in first
