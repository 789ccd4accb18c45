"""Async tests under pytest-asyncio, anyio (asyncio and trio backends) and pytest-trio: each
round awaited on the test's own event loop, fixtures set up once, ``await perf(...)`` and
``async with perf.measure()``; the mistakes, a missing plugin and a paired run.

Each run is a subprocess: event loops and their policies are process state. Verdicts rest on
50 ms sleeps against 5 ms limits, or on limits of seconds.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest


@dataclasses.dataclass(frozen=True)
class Framework:
    #: The modules it needs, each skipped by name where it cannot be installed.
    modules: tuple[str, ...]
    #: Its pytest plugin's name, for ``-p no:``.
    plugin: str
    header: str
    marker: str
    sleep: str
    fixture: str
    conftest: str = ""


ANYIO_BACKEND = """
import pytest

@pytest.fixture
def anyio_backend():
    return "{backend}"
"""

FRAMEWORKS = {
    "pytest-asyncio": Framework(
        ("pytest_asyncio",), "asyncio", "import asyncio, pytest_asyncio", "asyncio",
        "asyncio.sleep", "pytest_asyncio.fixture",
    ),
    "anyio-asyncio": Framework(
        ("anyio",), "anyio", "import anyio", "anyio", "anyio.sleep", "pytest.fixture",
        ANYIO_BACKEND.format(backend="asyncio"),
    ),
    "anyio-trio": Framework(
        ("anyio", "trio"), "anyio", "import anyio", "anyio", "anyio.sleep", "pytest.fixture",
        ANYIO_BACKEND.format(backend="trio"),
    ),
    "pytest-trio": Framework(
        ("pytest_trio", "trio"), "trio", "import trio", "trio", "trio.sleep", "pytest.fixture"
    ),
}  # fmt: skip

TESTS = """
import pytest
{header}

setups = []


@{fixture}
async def resource():
    setups.append(1)
    yield len(setups)


async def fetch(delay):
    await {sleep}(delay)
    return delay


@pytest.mark.{marker}
@pytest.mark.perf_budget(p95="5ms", rounds=3)
async def test_slow():
    await {sleep}(0.05)


@pytest.mark.{marker}
@pytest.mark.perf_budget(p95="10s", rounds=5)
async def test_generous(resource):
    await {sleep}(0.001)
    assert resource == 1  # set up once for the warm-up and every round


@pytest.mark.{marker}
@pytest.mark.perf_budget(p95="5ms", rounds=3)
async def test_perf_call(perf):
    assert await perf(fetch, 0.05) == 0.05


@pytest.mark.{marker}
@pytest.mark.perf_budget(p95="5ms", rounds=3)
async def test_perf_block(perf):
    for _ in range(3):
        async with perf.measure():
            await {sleep}(0.05)


@pytest.mark.{marker}
@pytest.mark.perf_budget(p95="10s")
async def test_perf_never_awaited(perf):
    perf(fetch, 0.01)


def test_set_up_once():
    assert setups == [1]
"""


@pytest.fixture(params=list(FRAMEWORKS))
def framework(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Framework:
    """A framework whose modules are installed, its ``conftest.py`` written."""
    chosen = FRAMEWORKS[request.param]
    for module in chosen.modules:
        pytest.importorskip(module, reason=f"{module} is not installed (the test extra)")
    if chosen.conftest:
        pytester.makeconftest(chosen.conftest)
    return chosen


def write_tests(pytester: pytest.Pytester, framework: Framework, template: str) -> None:
    fields = dataclasses.asdict(framework)
    pytester.makepyfile(test_async=template.format(**fields))


def test_async_tests_are_measured_on_their_event_loop(
    pytester: pytest.Pytester, framework: Framework
) -> None:
    write_tests(pytester, framework, TESTS)
    result = pytester.runpytest_subprocess("--perf-report=report.json", "-W", "error")
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*_ test_slow _*",
            "perf budget exceeded: p95 5*ms > 5ms (3 rounds)",
            "*_ test_perf_call _*",
            "perf budget exceeded: p95 5*ms > 5ms (3 rounds)",
            "*_ test_perf_block _*",
            "perf budget exceeded: p95 5*ms > 5ms (3 rounds)",
            "*_ test_perf_never_awaited _*",
            "test_async.py::test_perf_never_awaited: perf(fetch, ...) was never awaited, so "
            "nothing of it was measured: *`await perf(fetch, ...)`",
        ]
    )
    result.stdout.no_fnmatch_line("*RuntimeWarning*")
    tests = json.loads((pytester.path / "report.json").read_text())["tests"]
    measured = {test["nodeid"].partition("::")[2]: test for test in tests}
    assert measured.keys() == {"test_slow", "test_generous", "test_perf_call", "test_perf_block"}
    assert measured["test_generous"]["rounds"] == 5
    for name in ("test_slow", "test_perf_call", "test_perf_block"):
        assert measured[name]["rounds"] == 3
        assert measured[name]["metrics"]["p50"] >= 0.045  # each awaited sleep, whole


def test_under_perf_disable_async_tests_run_once_unmeasured(
    pytester: pytest.Pytester, framework: Framework
) -> None:
    write_tests(pytester, framework, TESTS)
    result = pytester.runpytest_subprocess("--perf-disable")
    result.assert_outcomes(passed=6)  # perf(fetch, 0.01) unawaited: Python's warning only


def test_a_repeated_async_call_that_fails_says_so(pytester: pytest.Pytester) -> None:
    pytest.importorskip(
        "pytest_asyncio", reason="pytest-asyncio is not installed (the test extra)"
    )
    pytester.makepyfile(
        """
        import pytest

        calls = []

        @pytest.mark.asyncio
        @pytest.mark.perf_budget(p95="10s")
        async def test_once_only():
            calls.append(1)
            assert len(calls) == 1
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*call 2 of this test failed after call 1 passed*"])


MISSING = """
import pytest
{header}


@pytest.mark.{marker}
@pytest.mark.perf_budget(p95="10s")
async def test_budgeted():
    await {sleep}(0)


@pytest.mark.{marker}
async def test_plain():
    await {sleep}(0)
"""


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each test's outcome, from a ``-v`` run's lines."""
    found = {}
    for line in result.outlines:
        nodeid, _, rest = line.partition(" ")
        if "::" in nodeid and rest:
            found[nodeid.partition("::")[2]] = rest.split()[0]
    return found


def test_a_missing_framework_plugin_says_so_as_without_a_budget(
    pytester: pytest.Pytester, framework: Framework
) -> None:
    write_tests(pytester, framework, MISSING)
    result = pytester.runpytest_subprocess("-v", "-p", f"no:{framework.plugin}", "-rA")
    tests = outcomes(result)
    assert tests["test_budgeted"] == tests["test_plain"] != "PASSED"
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])
    for ours in ("*perf budget*", "*pytest-perfbudget*", "*measured nothing*", "*awaited*"):
        result.stdout.no_fnmatch_line(ours)


def test_an_async_test_no_framework_runs_fails_as_without_a_budget(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf_budget(p95="10s")
        async def test_budgeted():
            pass

        async def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-v", "-rA")
    tests = outcomes(result)
    assert tests["test_budgeted"] == tests["test_plain"] != "PASSED"
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])
    for ours in ("*perf budget*", "*pytest-perfbudget*", "*measured nothing*", "*awaited*"):
        result.stdout.no_fnmatch_line(ours)


def test_perf_in_a_sync_test_refuses_a_call_it_would_not_await(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        async def fetch():
            pass

        @pytest.mark.perf_budget(p95="10s")
        def test_coroutine_function(perf):
            perf(fetch)

        @pytest.mark.perf_budget(p95="10s")
        def test_returns_a_coroutine(perf):
            perf(lambda: fetch())
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*perf(fetch, ...) was never awaited, so nothing of it was measured*",
            "E * TypeError: perf(test_returns_a_coroutine.<locals>.<lambda>) timed calls that "
            "return an awaitable without awaiting it*",
        ]
    )


def git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=directory, capture_output=True, check=True,
    )  # fmt: skip


def test_a_paired_run_measures_async_tests_alone_with_a_note(
    pytester: pytest.Pytester, framework: Framework, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(pytester.path))  # the worktree, the control's log
    source = """
        import pytest, time
        {header}

        @pytest.mark.{marker}
        @pytest.mark.perf_budget(p95="10s", rounds=3)
        async def test_async(perf):
            await {sleep}(0.001)
            await perf({sleep}, 0.001)

        @pytest.mark.perf_budget(p95="10s", rounds=3)
        def test_sync():
            time.sleep(0.001)
        """
    write_tests(pytester, framework, source)
    git(pytester.path, "init", "-q")
    git(pytester.path, "add", "-A")
    git(pytester.path, "commit", "-q", "-m", "tests")
    result = pytester.runpytest_subprocess("--perf-against=HEAD", "-v", "-W", "error")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*::test_async: perf note: no paired verdict: async tests are not paired yet"]
    )
    result.stdout.no_fnmatch_line("*test_sync*no paired verdict*")
