"""The candidate's end of a paired run's conversation with its control process: which of
the control's tests to run or skip, when it stands at a measuring point, its blocks, and
what becomes of it when it crashes, hangs or the run is interrupted.

Messages (lists of builtins, :mod:`.channel`). Candidate to control: ``run`` a test (with
the CPU to pin to, and whether its first memory reading follows a full collection) or
``skip`` it, in order; at a measuring point ``warmup`` N calls, measure a ``block`` of N
calls, or ``end`` (leave the point); ``finish``. Control to
candidate: ``ready`` at a measuring point (with its kind: ``calls`` for a repeated call,
``once`` for a ``perf.measure()`` block), ``warmed``, ``block`` (its wall and CPU times,
every memory reading kept so far), ``raised`` (its test raised there, and what), ``done``
after each test (with its outcome). The candidate sends ``finish`` once its own last
budgeted test is done, so that the control ends while the candidate's run ends, or at
the end of its run when it never gets there (``-x``, a skip, an interruption).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .channel import Channel, ChannelClosed, ChannelTimeout
from .paired import Against, PairingData
from .worktree import AgainstError, Worktree

__all__ = [
    "CONTROL_TIMEOUT",
    "TIMEOUT_VARIABLE",
    "ControlProcess",
    "Pairing",
    "control_timeout",
    "pinned",
    "pinning_cpu",
]

#: How long the candidate waits for the control to answer (its fixtures may be slow to set
#: up); past it the control is taken for hung. :data:`TIMEOUT_VARIABLE` sets it.
CONTROL_TIMEOUT = 300.0
TIMEOUT_VARIABLE = "PYTEST_PERFBUDGET_CONTROL_TIMEOUT"
#: The lines of the control's output a note quotes when it crashed or hung.
OUTPUT_LINES = 6
#: How long an interrupted control may take to tear its fixtures down.
TEARDOWN_SECONDS = 10.0


def control_timeout() -> float:
    """:data:`CONTROL_TIMEOUT`, or the seconds :data:`TIMEOUT_VARIABLE` gives; raises
    :class:`AgainstError` for a value that is not a positive number."""
    value = os.environ.get(TIMEOUT_VARIABLE, "")
    if not value:
        return CONTROL_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise AgainstError(f"{TIMEOUT_VARIABLE}={value!r}: expected a positive number of seconds")
    return seconds


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Run on CPU ``cpu`` only, then as before; as before where pinning is not possible."""
    before = None
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            before = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {cpu})
        except OSError:  # the CPU was taken away (a cgroup change): measure unpinned
            before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, before)


def pinning_cpu() -> int | None:
    """The CPU both processes share, or None where a process cannot be pinned."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


class ControlProcess:
    """The control pytest process, in a process group of its own; its output goes to a
    log file that :meth:`stop` removes with it."""

    def __init__(
        self, command: Sequence[str], cwd: Path, env: Mapping[str, str], channel_fd: int
    ) -> None:
        descriptor, log = tempfile.mkstemp(prefix="perfbudget-control-", suffix=".log")
        self._log = Path(log)
        try:
            with os.fdopen(descriptor, "wb") as output:
                self._process = subprocess.Popen(
                    list(command),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=(channel_fd,),
                    start_new_session=True,  # Ctrl-C reaches the candidate, which stops it
                )
        except BaseException:
            self._log.unlink(missing_ok=True)
            raise

    def last_output(self, lines: int = OUTPUT_LINES) -> str:
        try:
            text = self._log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        kept = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept)

    def exit_status(self, wait: float = 0.0) -> int | None:
        """The process's exit status, waiting up to ``wait`` seconds; None while it runs."""
        try:
            return self._process.wait(wait) if wait else self._process.poll()
        except subprocess.TimeoutExpired:
            return None

    def _signal_group(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, number)

    def interrupt(self) -> None:
        """Stop it as Ctrl-C would, so that it tears its fixtures down; kill it if it
        takes longer than :data:`TEARDOWN_SECONDS`."""
        if self._process.poll() is None:
            self._signal_group(signal.SIGINT)
            if self.exit_status(TEARDOWN_SECONDS) is None:
                self.kill()

    def kill(self) -> None:
        """Kill it and whatever it started."""
        if self._process.poll() is None:
            self._signal_group(signal.SIGKILL)
            self._process.wait()

    def stop(self, wait: float = TEARDOWN_SECONDS) -> None:
        """Let it end by itself, within ``wait`` seconds, else kill it; remove its log."""
        if self.exit_status(wait) is None:
            self.kill()
        self._log.unlink(missing_ok=True)


class Pairing:
    """Drives the control through a run: which of its tests to run, skip or pair."""

    def __init__(
        self,
        against: Against,
        process: ControlProcess,
        channel: Channel,
        worktree: Worktree | None,
        cpu: int | None,
    ) -> None:
        self.against = against
        self._process = process
        self._channel = channel
        self._worktree = worktree
        self._order: list[str] = []
        self._next = 0
        #: The candidate's last budgeted test (:meth:`follow`).
        self._last: str | None = None
        #: The control was told its run is over.
        self._finished = False
        self.cpu = cpu
        #: Why pairing stopped for the rest of the run (the control crashed or hung).
        self.broken: str | None = None
        self._timeout = control_timeout()

    def follow(self, order: Sequence[str], *, last: str) -> None:
        """The control's tests, in the order it runs them (the candidate's order), and the
        candidate's last budgeted test: once that is done, nothing more pairs."""
        self._order = list(order)
        self._last = last

    def start_test(self, nodeid: str, *, collect_all_first: bool) -> str | None:
        """Have the control run ``nodeid`` paired, its first memory reading after a full
        collection or not (``Sampler.collect_all_first``); None when it does, else why
        not."""
        if self.broken is not None:
            return self.broken
        if nodeid in self._order[: self._next]:
            return "its counterpart ran already (a test run again is not paired)"
        if nodeid not in self._order:
            return f"it has no counterpart at {self.against.name}"
        try:
            while self._order[self._next] != nodeid:
                self._channel.send("skip", self._order[self._next])
                self._next += 1
            self._channel.send("run", nodeid, self.cpu, collect_all_first)
            self._next += 1
        except ChannelClosed:
            return self.fail("closed the connection")
        return None

    def _receive(self) -> list[Any] | None:
        try:
            return self._channel.receive(self._timeout)
        except ChannelClosed:
            self.fail("ended")
        except ChannelTimeout:
            self._process.kill()
            self.fail(f"sent nothing for {self._timeout:g} s")
        return None

    def fail(self, what: str) -> str:
        """Stop pairing for the rest of the run: the control ``what``."""
        status = self._process.exit_status(wait=5.0)  # a closed channel: it is ending
        ended = f"exit status {status}" if status is not None else "still running"
        output = self._process.last_output()
        self.broken = f"the control process at {self.against.name} {what} ({ended})" + (
            f": {output}" if output else ""
        )
        self._process.kill()
        return self.broken

    def abandon(self) -> None:
        """The run was interrupted: stop the control now, as Ctrl-C would."""
        self.broken = "the run was interrupted"
        self._process.interrupt()

    def _done(self, message: list[Any], data: PairingData) -> None:
        """The control finished the test: ``message`` is ("done", node id, outcome, why)."""
        data.control_done = True
        if message[2] != "passed":
            data.unpaired = f"at {self.against.name} it {message[2]}" + (
                f": {message[3]}" if message[3] else ""
            )

    def _next_message(self, nodeid: str, data: PairingData) -> list[Any] | None:
        """The control's next message about ``nodeid``; None once it finished the test
        (recorded in ``data``) or is gone (recorded too)."""
        while self.broken is None and not data.control_done:
            message = self._receive()
            if message is None:
                break
            if message[0] != "done":
                return message
            if message[1] == nodeid:
                self._done(message, data)
        if self.broken is not None and data.unpaired is None:
            data.unpaired = self.broken
        return None

    def await_point(self, nodeid: str, kind: str, data: PairingData) -> bool:
        """Wait until the control stands at the next measuring point of ``nodeid``
        (True), or finished the test without one (False). A point of another kind there
        (``perf.measure()`` against a repeated call) leaves the test unpaired."""
        message = self._next_message(nodeid, data)
        if message is None:
            return False
        if message[0] == "ready" and message[2] == kind:
            return True
        self.leave_point()
        data.unpaired = (
            f"its measuring points differ at {self.against.name} "
            f"(a {_KINDS.get(message[2], message[2])} there, a {_KINDS[kind]} here)"
            if message[0] == "ready"
            else f"the control answered {message!r}"
        )
        return False

    def request(self, nodeid: str, data: PairingData, *command: Any) -> list[Any] | None:
        """Send ``command`` to the control at its measuring point; its answer, or None when
        it finished the test instead or is gone (``data`` says why)."""
        try:
            self._channel.send(*command)
        except ChannelClosed:
            self.fail("closed the connection")
            data.unpaired = data.unpaired or self.broken
            return None
        return self._next_message(nodeid, data)

    def leave_point(self) -> None:
        with contextlib.suppress(ChannelClosed):
            self._channel.send("end")

    def finish_test(self, nodeid: str, data: PairingData) -> None:
        """Let the control finish ``nodeid`` (any measuring point it still reaches is not
        paired) and wait until it did, teardown included, so that nothing of it runs
        while the next test is measured. After the candidate's last budgeted test, let
        the control end while the candidate's run ends (only a test run again, which is
        not paired, is measured beside its end)."""
        while (message := self._next_message(nodeid, data)) is not None:
            if message[0] == "ready":
                self.leave_point()
        if nodeid == self._last:
            self._let_end()

    def _let_end(self) -> None:
        """Tell the control that its run is over, once: it ends by itself."""
        if self.broken is None and not self._finished:
            with contextlib.suppress(ChannelClosed):
                self._channel.send("finish")
            self._finished = True

    def close(self) -> None:
        """Let the control end, then remove what it ran in. Safe to call more than once."""
        self._let_end()
        self._process.stop()
        self._channel.close()
        if self._worktree is not None:
            self._worktree.remove()
            self._worktree = None


_KINDS = {"calls": "repeated call", "once": "perf.measure() block"}
