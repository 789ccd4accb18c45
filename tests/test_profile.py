"""Profiles of a test: the trimmed call tree, errors, file names."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from types import CodeType, SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_perfbudget.profile import (
    MAX_TREE_LINES,
    Profile,
    ProfileError,
    call_tree,
    profile_calls,
    profile_filename,
)
from pytest_perfbudget.steps import run_steps, run_steps_async
from pytest_perfbudget.units import parse_duration


def busy(iterations: int) -> int:
    total = 0
    for number in range(iterations):
        total += number * number
    return total


def hot_path() -> None:
    busy(300_000)


def cold_path() -> None:
    sorted(range(10))


def profiled_test() -> None:
    hot_path()
    cold_path()


def profiled(call: Callable[[], object], code: CodeType | None, *, html: bool) -> Profile:
    return run_steps(profile_calls(code, html=html), lambda _: call())


def test_tree_starts_at_the_test_and_shows_its_hot_path() -> None:
    profile = profiled(profiled_test, profiled_test.__code__, html=False)
    assert profile.calls >= 1
    assert profile.html is None
    assert profile.tree[0].split()[2] == "profiled_test"
    functions = [line.split()[2] for line in profile.tree]
    assert functions.index("hot_path") < functions.index("busy")
    assert "cold_path" not in functions  # far under 2% of the time
    assert all("[self]" not in line for line in profile.tree)


async def waiting_test() -> None:
    await asyncio.sleep(0.02)
    hot_path()


def test_an_awaited_test_has_its_waits_in_its_tree() -> None:
    async def awaited_profile() -> Profile:
        async def call(_: None) -> None:
            await waiting_test()

        steps = profile_calls(waiting_test.__code__, html=False, awaited=True)
        return await run_steps_async(steps, call)

    profile = asyncio.run(awaited_profile())
    assert profile.tree[0].split()[2] == "waiting_test"
    functions = [line.split()[2] for line in profile.tree]
    assert "hot_path" in functions
    assert "sleep" in functions  # the time it waited, which is no CPU time


def deep(levels: int) -> None:
    if levels:
        deep(levels - 1)
    else:
        busy(200_000)


def test_tree_is_trimmed_to_its_line_limit() -> None:
    def test_deep() -> None:
        deep(60)

    profile = profiled(test_deep, test_deep.__code__, html=False)
    assert len(profile.tree) == MAX_TREE_LINES + 1
    assert profile.tree[-1].startswith("... ")


def test_library_frames_are_collapsed() -> None:
    import json

    document = json.dumps([{"key": list(range(50))}] * 2000)

    def test_parse() -> None:
        json.loads(document)

    profile = profiled(test_parse, test_parse.__code__, html=False)
    library = [line for line in profile.tree if line.endswith("[library]")]
    assert len(library) == 1  # json.loads; decode and raw_decode folded into it
    assert " loads " in library[0]


def test_html_page_when_asked() -> None:
    profile = profiled(hot_path, hot_path.__code__, html=True)
    assert profile.html is not None
    assert "<html" in profile.html.lower()


def test_a_call_that_raises_is_a_profile_error() -> None:
    calls = []

    def flaky() -> None:
        calls.append(1)
        raise ValueError("second\nrun differs")

    with pytest.raises(ProfileError, match=r"raised ValueError .*: second run differs$"):
        profiled(flaky, None, html=False)
    assert sys.getprofile() is None  # the profiler was stopped


def test_a_skip_or_fail_outcome_is_a_profile_error() -> None:
    def skipping() -> None:
        pytest.skip("not now")

    with pytest.raises(ProfileError, match="raised Skipped"):
        profiled(skipping, None, html=False)


def test_pyinstrument_that_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyinstrument", None)
    with pytest.raises(ProfileError, match="pyinstrument cannot be imported"):
        profiled(hot_path, None, html=False)


def test_pyinstrument_that_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyinstrument

    def refuse(self: object) -> None:
        raise RuntimeError("no sampler available")

    monkeypatch.setattr(pyinstrument.Profiler, "start", refuse)
    with pytest.raises(ProfileError, match="could not start: no sampler available"):
        profiled(hot_path, None, html=False)


@pytest.mark.parametrize(
    "nodeid",
    [
        "tests/test_a.py::test_b",
        "tests/test_a.py::test_b[a/b]",
        "tests/test_a.py::test_b[<lambda> x y]",
        "tests/test_a.py::TestC::test_d[\u00fcn\u00efc\u00f8de-\u2603]",
        "../../etc/passwd",
        "::[]",
    ],
)
def test_profile_filenames_are_safe(nodeid: str) -> None:
    name = profile_filename(nodeid)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{10}\.html", name)
    assert len(name) <= 140


@given(st.text(min_size=1), st.text(min_size=1))
def test_profile_filenames_differ_for_different_ids(first: str, second: str) -> None:
    if first != second:
        assert profile_filename(first) != profile_filename(second)


def test_the_profile_reads_a_clock_no_test_can_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    # what freezegun does while a frozen test runs: time.perf_counter and every module's
    # reference to it, pyinstrument's timeit.default_timer too, replaced by a fake that can
    # raise (freezegun's raises IndexError when read inside its own stop())
    import time
    import timeit

    def patched() -> float:
        raise IndexError("list index out of range")

    monkeypatch.setattr(time, "perf_counter", patched)
    monkeypatch.setattr(timeit, "default_timer", patched)
    profile = profiled(hot_path, hot_path.__code__, html=False)
    assert profile.calls >= 1
    assert profile.seconds > 0
    assert profile.tree[0].split()[2] == "hot_path"
    per_call = parse_duration(profile.tree[0].split()[0])
    assert 0 < per_call <= profile.seconds / profile.calls * 1.5


def test_a_pyinstrument_failure_is_a_profile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyinstrument import processors

    def broken(*args: object) -> None:
        raise KeyError("frame")

    monkeypatch.setattr(processors, "aggregate_repeated_calls", broken)
    with pytest.raises(ProfileError, match="pyinstrument failed: KeyError: 'frame'"):
        profiled(hot_path, None, html=False)


def frame(function: str, seconds: float, *children: SimpleNamespace) -> SimpleNamespace:
    """A stand-in for a pyinstrument frame, as :func:`call_tree` reads it."""
    return SimpleNamespace(
        function=function,
        time=seconds,
        file_path="test_tiny.py",
        line_no=1,
        identifier=function,
        is_application_code=True,
        children=list(children),
    )


def test_times_per_call_take_a_unit_that_fits() -> None:
    # a test of a few microseconds read "0.00 ms 100%"
    root = frame("test_tiny", 1000 * 3.2e-6, frame("helper", 1000 * 2.5e-6))
    assert call_tree(root, None, calls=1000) == [
        "   3.2us  100%  test_tiny  test_tiny.py:1",
        "   2.5us   78%    helper  test_tiny.py:1",
    ]
