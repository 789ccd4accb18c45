"""Where the time went: a test run again under pyinstrument, its call tree trimmed to the
frames that carry the time.

Profiling never happens during the measured rounds: the plugin calls
:func:`profile_calls` after the test was measured and judged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import time
import types
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from .units import format_duration

__all__ = [
    "MAX_TREE_LINES",
    "Profile",
    "ProfileError",
    "call_tree",
    "profile_calls",
    "profile_filename",
]

#: The profiled calls are repeated until they took this long, so a short test still
#: gives the sampler enough to see (at least one call, at most :data:`MAX_PROFILED_CALLS`).
PROFILED_SECONDS = 0.3
MAX_PROFILED_CALLS = 1000
#: pyinstrument's sampling interval, in seconds (its default: finer ones slow the code
#: under the profiler down more).
SAMPLING_INTERVAL = 0.001
#: The call tree in a failure report has at most this many frame lines.
MAX_TREE_LINES = 25
#: Frames with less than this share of the test's time are left out of the tree.
SHOWN_SHARE = 0.02
#: Our own frames (the ``perf`` fixture's) are passed through, never shown.
_OWN_CODE = str(Path(__file__).parent)


class ProfileError(Exception):
    """The profile could not be taken; the message says why, in one line."""


@dataclasses.dataclass(frozen=True)
class _Clock:
    """The profile's clock, bound at import and held in an object: freezegun, while a
    frozen test runs, replaces ``time.perf_counter`` and every module's reference to it
    (pyinstrument's ``timeit.default_timer`` too), but not this one."""

    seconds: Callable[[], float] = time.perf_counter


_CLOCK = _Clock()


@dataclasses.dataclass(frozen=True)
class Profile:
    """A profile of one test: its trimmed call tree and, when asked for, pyinstrument's
    HTML page."""

    calls: int
    seconds: float
    tree: tuple[str, ...]
    html: str | None

    def report(self) -> str:
        """The tree under a line saying how it was taken, for a failure report."""
        header = (
            f"pyinstrument: time per call over {self.calls} more call(s) of the test after "
            f"it was measured; frames under {SHOWN_SHARE:.0%} left out, library internals "
            "collapsed"
        )
        return "\n".join([header, *self.tree])


def profile_calls(
    code: types.CodeType | None, *, html: bool, awaited: bool = False
) -> Generator[None, object, Profile]:
    """Profile calls of a test under pyinstrument: yields once for each call to make (the
    caller makes it, called or ``awaited`` on the test's event loop, and throws in what it
    raised), until :data:`PROFILED_SECONDS` have passed; returns the profile, its tree
    trimmed to the frames under ``code``, the test function's code.

    Raises :class:`ProfileError` when pyinstrument fails or a call raises.
    """
    try:
        from pyinstrument import Profiler
        from pyinstrument.stack_sampler import get_stack_sampler
    except ImportError as error:
        raise ProfileError(f"pyinstrument cannot be imported: {error}") from None

    # pyinstrument reads its clock in Python code run between any two lines of the test,
    # timeit.default_timer by default: under freezegun a frozen clock (a profile of
    # 45761314765 ms), or, when it reads it inside freezegun's stop(), an IndexError that
    # leaves time patched and ends the session. Given a timer_func (its stack sampler has
    # one since pyinstrument 4.6), it reads that instead, from C.
    sampler = get_stack_sampler()
    timer_before = sampler.timer_func
    sampler.timer_func = _CLOCK.seconds
    # awaited, the time a call waits on the event loop is the awaiting frame's
    profiler = Profiler(
        interval=SAMPLING_INTERVAL, async_mode="enabled" if awaited else "disabled"
    )
    try:
        calls, seconds, session = yield from _run_profiled(profiler)
    finally:
        sampler.timer_func = timer_before
    try:
        root = session.root_frame()
        if root is not None:
            from pyinstrument import processors

            root = processors.aggregate_repeated_calls(root, {})
        tree = call_tree(root, code, calls=calls) if root is not None else []
        page = profiler.output_html() if html else None
    except Exception as error:  # pyinstrument's own failure: the test keeps its report
        raise ProfileError(f"pyinstrument failed: {type(error).__name__}: {error}") from None
    return Profile(calls=calls, seconds=seconds, tree=tuple(tree), html=page)


def _run_profiled(profiler: Any) -> Generator[None, object, tuple[int, float, Any]]:
    """Yield for a call under ``profiler`` until :data:`PROFILED_SECONDS` have passed (or
    :data:`MAX_PROFILED_CALLS` calls); the calls, their seconds and pyinstrument's
    session."""
    try:
        profiler.start()
    except Exception as error:  # e.g. a profiler of the user's is already running
        raise ProfileError(f"pyinstrument could not start: {error}") from None
    calls = 0
    clock = _CLOCK.seconds
    started = clock()
    try:
        while True:
            yield
            calls += 1
            seconds = clock() - started
            if seconds >= PROFILED_SECONDS or calls >= MAX_PROFILED_CALLS:
                break
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as error:  # pytest.fail and pytest.skip are BaseExceptions too
        raise ProfileError(
            f"the test raised {type(error).__name__} when run again under the profiler: "
            f"{_one_line(str(error))}"
        ) from None
    finally:
        try:
            session = profiler.stop()
        except Exception as error:  # pragma: no cover - pyinstrument's own failure
            raise ProfileError(f"pyinstrument could not stop: {error}") from None
    return calls, seconds, session


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _is_own(frame: Any) -> bool:
    path: str | None = frame.file_path
    return path is not None and path.startswith(_OWN_CODE)


def _is_self_time(frame: Any) -> bool:
    """pyinstrument's ``[self]`` node: time spent in the parent itself."""
    return str(frame.identifier).startswith("[")


def _is_test_frame(frame: Any, code: types.CodeType) -> bool:
    path: str | None = frame.file_path
    return (
        frame.function == code.co_name
        and path is not None
        and os.path.normcase(os.path.abspath(path))
        == os.path.normcase(os.path.abspath(code.co_filename))
    )


def _find(root: Any, code: types.CodeType) -> Any | None:
    """The outermost frame of the test function, breadth first."""
    level = [root]
    while level:
        for frame in level:
            if _is_test_frame(frame, code):
                return frame
        level = [child for frame in level for child in frame.children]
    return None


def _shown_children(frame: Any) -> Iterator[Any]:
    """The frames drawn under ``frame``: our own frames are looked through, and below a
    library frame its library callees are collapsed into it."""
    inside_library = not frame.is_application_code
    pending = list(frame.children)
    while pending:
        child = pending.pop()
        if _is_self_time(child):
            continue
        if _is_own(child) or (inside_library and not child.is_application_code):
            pending.extend(child.children)
        else:
            yield child


def _location(frame: Any) -> str:
    path: str | None = frame.file_path
    if not path:
        return ""
    try:
        shown = os.path.relpath(path)
    except ValueError:  # on another drive (Windows)
        shown = path
    if shown.startswith(".."):
        shown = os.path.join(*Path(path).parts[-2:])
    return f"{shown}:{frame.line_no}"


def call_tree(root: Any, code: types.CodeType | None, *, calls: int = 1) -> list[str]:
    """Lines of the call tree below the test function's frame (or ``root`` when it is not
    found): time per call of the test over ``calls`` calls, the frames with at least
    :data:`SHOWN_SHARE` of its time, hottest first, library frames collapsed, at most
    :data:`MAX_TREE_LINES` frames."""
    start = (_find(root, code) if code is not None else None) or root
    total = start.time
    lines: list[str] = []
    left_out = 0

    def draw(frame: Any, depth: int) -> None:
        nonlocal left_out
        if len(lines) >= MAX_TREE_LINES:
            left_out += 1
            return
        share = frame.time / total if total > 0 else 1.0
        kind = "" if frame.is_application_code else "  [library]"
        lines.append(
            f"{format_duration(frame.time / calls):>8} {share:5.0%}  {'  ' * depth}"
            f"{frame.function}  {_location(frame)}{kind}"
        )
        children = sorted(_shown_children(frame), key=lambda child: -child.time)
        for child in children:
            if total > 0 and child.time / total < SHOWN_SHARE:
                continue
            draw(child, depth + 1)

    draw(start, 0)
    if left_out:
        lines.append(
            f"... {left_out} more frames (the HTML profile of --perf-profile-dir has all)"
        )
    return lines


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 120


def profile_filename(nodeid: str) -> str:
    """A file name for the profile of ``nodeid``: safe on every file system, readable, and
    unique (a hash of the node id tells apart ids that read the same once made safe)."""
    readable = _UNSAFE.sub("_", nodeid).strip("._") or "test"
    digest = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:10]
    return f"{readable[:_MAX_NAME]}-{digest}.html"
