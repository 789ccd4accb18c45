"""Bad marker and config input: a clear error naming the test or file, key and value."""

from __future__ import annotations

import pytest

LIMITS = ["latency", "p50", "p90", "p95", "p99", "mean", "max", "cpu"]
BAD_DURATIONS = ['"fast"', '"64MiB"', '"-5ms"', "0", 'float("nan")', "[5]", '"2k/s"']
MARKER_CASES = [
    *[(f"{key}={value}", key) for key in LIMITS for value in BAD_DURATIONS],
    *[(f"memory={value}", "memory") for value in ['"50ms"', "-1", "0", 'float("nan")', '"lots"']],
    *[
        (f"throughput={value}", "throughput")
        for value in ['"5ms"', '"0/s"', "-3", '"2k/fortnight"']
    ],
    *[(f"rounds={value}", "rounds") for value in ["2.5", "0", "-1", '"many"', "True"]],
    *[(f"warmup={value}", "warmup") for value in ["-1", "1.5", '"none"']],
    *[(f"max_time={value}", "max_time") for value in ['"soon"', "0", '"1MiB"', 'float("nan")']],
    *[(f"ops={value}", "ops") for value in ["0", "-2", '"lots"', 'float("inf")']],
    *[(f"level={value}", "level") for value in ['"fatal"', "1"]],
    *[(f"regression={value}", "regression") for value in ['"lots"', "0", '{"speed": "5%"}']],
    ('colour="red"', "colour"),
]


@pytest.mark.parametrize(("keywords", "key"), MARKER_CASES)
def test_bad_marker_is_an_error_of_that_test_only(
    pytester: pytest.Pytester, keywords: str, key: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        ran = []

        @pytest.mark.perf_budget({keywords})
        def test_bad():
            ran.append(1)

        def test_other():
            assert ran == []
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_bad*",
            f"test_bad_marker_is_an_error_of_that_test_only.py::test_bad: perf_budget *{key}=*",
        ]
    )


def test_positional_marker_arguments_are_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget("50ms")
        def test_bad():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*::test_bad: perf_budget takes keyword arguments only, got ('50ms',)"]
    )


CONFIG_CASES = [
    ('warmup = "x"', "warmup = 'x'"),
    ("warmup = -1", "warmup = -1"),
    ('max_time = "1MiB"', "max_time = '1MiB'"),
    ("max_time = 0", "max_time = 0"),
    ("max_time = nan", "max_time = nan"),
    ("keep = 0", "keep = 0"),
    ("keep = 2.5", "keep = 2.5"),
    ('regression = "-5%"', "regression = '-5%'"),
    ("regression = { speed = 0.1 }", "regression = {'speed': 0.1}"),
    ("history = 3", "history = 3"),
    ('rounds = "sometimes"', "rounds = 'sometimes'"),
    ("rounds = 100", "rounds = 100"),
    ("unknown = 1", "unknown key unknown = 1"),
    ('budget = [{ match = "*", p95 = "fast" }]', "invalid p95='fast'"),
    ('budget = [{ p95 = "5ms" }]', "match = None is invalid"),
]


@pytest.mark.parametrize(("line", "shown"), CONFIG_CASES)
def test_bad_pyproject_value_is_a_usage_error(
    pytester: pytest.Pytester, line: str, shown: str
) -> None:
    pytester.makepyprojecttoml(f"[tool.perfbudget]\n{line}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: {pytester.path / 'pyproject.toml'}: *{shown}*"])


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("perf_warmup", "-1"),
        ("perf_max_time", "0s"),
        ("perf_keep", "x"),
        ("perf_regression", "5"),
        ("perf_rounds", "fast"),
    ],
)
def test_bad_ini_value_is_a_usage_error(
    pytester: pytest.Pytester, option: str, value: str
) -> None:
    pytester.makeini(f"[pytest]\n{option} = {value}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *tox.ini: {option} = '{value}' is invalid: *"])


def test_a_bad_override_is_blamed_on_the_override(pytester: pytest.Pytester) -> None:
    # it was blamed on the configuration file, which does not hold it
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nperf_max_time = '1s'\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-o", "perf_max_time=soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: -o perf_max_time = 'soon' is invalid: *"])
    assert "pyproject.toml" not in result.stderr.str()
