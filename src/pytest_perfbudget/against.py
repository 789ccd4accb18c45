"""The candidate's side of ``--perf-against``: start the control pytest process, drive it,
and measure each budgeted test in blocks that alternate with its counterpart's.

The control runs the same tests at a git revision (in a throwaway worktree) or with
another interpreter. It waits at each measuring point of a test until told to measure a
block; the candidate measures its own block, then asks for the control's, and so on, one
process at a time, both pinned to one CPU. :mod:`.control` is the other side.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from .channel import FD_VARIABLE, PROTOCOL, Channel, ChannelClosed, ChannelTimeout
from .measure import Clock, MeasuredBlock, Rounds, Sampler
from .memory import MemoryProbe
from .paired import (
    MIN_PAIRS,
    Against,
    PairingData,
    is_settled,
    log_ratios,
    paired_estimate,
)
from .stats import median
from .worktree import (
    AgainstError,
    Worktree,
    git_toplevel,
    import_roots,
    interpreter_path,
    interpreter_problem,
    modules_under,
    pythonpath,
    resolve_revision,
)

__all__ = [
    "AgainstError",
    "ControlProcess",
    "PairedSampler",
    "Pairing",
    "pinned",
    "pinning_cpu",
    "resolve_against",
    "start_pairing",
]

T = TypeVar("T")
#: The measured time of one block, each side (the issue's experiment: ~20 ms blocks).
BLOCK_SECONDS = 0.02
#: At most this many calls in a block, however fast the call.
MAX_BLOCK_CALLS = 10_000
#: At most this many pairs a measuring point, however noisy.
MAX_PAIRS = 100
#: How long the candidate waits for the control to answer (its fixtures may be slow to set
#: up); past it the control is taken for hung. PYTEST_PERFBUDGET_CONTROL_TIMEOUT sets it.
CONTROL_TIMEOUT = 300.0
#: The lines of the control's output a note quotes when it crashed or hung.
OUTPUT_LINES = 6


TIMEOUT_VARIABLE = "PYTEST_PERFBUDGET_CONTROL_TIMEOUT"


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


def resolve_against(revision: str | None, python: str | None, rootdir: Path) -> Against:
    """What ``--perf-against=revision`` and ``--perf-against-python=python`` compare with;
    raises :class:`AgainstError` for a revision or an interpreter that cannot be used."""
    control_timeout()  # a bad value stops the run before it starts
    toplevel = sha = None
    if revision is not None:
        toplevel = git_toplevel(rootdir)
        sha = resolve_revision(toplevel, revision)
    interpreter = sys.executable
    if python is not None:
        problem = interpreter_problem(python)
        if problem is not None:
            raise AgainstError(f"--perf-against-python={python}: {problem}")
        interpreter = interpreter_path(python)
    name = revision if revision is not None else str(python)
    return Against(name, sha, interpreter, toplevel)


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Run on CPU ``cpu`` only, then as before; nothing where pinning is not available."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pinning_cpu() -> int | None:
    """The CPU both processes share, or None where a process cannot be pinned."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


class ControlProcess:
    """The control pytest process; its output goes to a log file that :meth:`stop`
    removes with it."""

    def __init__(
        self, command: Sequence[str], cwd: Path, env: Mapping[str, str], channel_fd: int
    ) -> None:
        descriptor, log = tempfile.mkstemp(prefix="perfbudget-control-", suffix=".log")
        self._log = Path(log)
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

    def stop(self, wait: float = 10.0) -> None:
        """End the process (at once unless it is ending by itself) and remove its log."""
        if self._process.poll() is None:
            try:
                self._process.wait(wait)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.unlink(missing_ok=True)

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


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
        self._cpu = cpu
        #: Why pairing stopped for the rest of the run (the control crashed or hung).
        self.broken: str | None = None
        self._timeout = control_timeout()

    @property
    def cpu(self) -> int | None:
        return self._cpu

    def follow(self, order: Sequence[str]) -> None:
        """The control's tests, in the order it runs them: the candidate's order."""
        self._order = list(order)

    def start_test(self, nodeid: str) -> str | None:
        """Have the control run ``nodeid`` paired; None when it does, else why not."""
        if self.broken is not None:
            return self.broken
        if nodeid not in self._order[self._next :]:
            return f"it has no counterpart at {self.against.name}"
        try:
            while self._order[self._next] != nodeid:
                self._channel.send("skip", self._order[self._next])
                self._next += 1
            self._channel.send("run", nodeid, self._cpu)
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
        """The run was interrupted: stop the control at once."""
        self.broken = "the run was interrupted"
        self._process.kill()

    def await_point(self, nodeid: str, data: PairingData) -> bool:
        """Wait until the control reached a measuring point of ``nodeid`` (True) or
        finished the test without one more (False, with why in ``data``)."""
        while self.broken is None and not data.control_done:
            message = self._receive()
            if message is None:
                break
            if message[0] == "ready":
                return True
            if message[0] == "done" and message[1] == nodeid:
                self._done(message, data)
        if self.broken is not None and data.unpaired is None:
            data.unpaired = self.broken
        return False

    def _done(self, message: list[Any], data: PairingData) -> None:
        """The control finished the test: ``message`` is ("done", node id, outcome, why)."""
        data.control_done = True
        if message[2] != "passed":
            data.unpaired = f"at {self.against.name} it {message[2]}" + (
                f": {message[3]}" if message[3] else ""
            )

    def warmup(self, calls: int) -> list[Any] | None:
        """The control's answer to warming up: "warmed", or "raised" and why."""
        return self._ask(["warmup", calls])

    def block(self, calls: int) -> list[Any] | None:
        """The control's block of ``calls`` measured calls ("block", its wall times, CPU
        times, memory readings), or "raised" and why; None when it is gone."""
        return self._ask(["block", calls])

    def _ask(self, command: list[Any]) -> list[Any] | None:
        try:
            self._channel.send(*command)
        except ChannelClosed:
            self.fail("closed the connection")
            return None
        return self._receive()

    def leave_point(self) -> None:
        with contextlib.suppress(ChannelClosed):
            self._channel.send("end")

    def finish_test(self, nodeid: str, data: PairingData) -> None:
        """Let the control finish ``nodeid`` (any measuring point it still reaches is not
        paired) and wait until it did, teardown included, so that nothing of it runs
        while the next test is measured."""
        while self.broken is None and not data.control_done:
            message = self._receive()
            if message is None:
                break
            if message[0] == "ready":
                self.leave_point()
            elif message[0] == "done" and message[1] == nodeid:
                self._done(message, data)
        if self.broken is not None and data.unpaired is None:
            data.unpaired = self.broken

    def close(self) -> None:
        """Let the control end (it skips its remaining tests), then remove what it ran
        in. Safe to call more than once."""
        if self.broken is None:
            with contextlib.suppress(ChannelClosed):
                self._channel.send("finish")
            self.broken = "the run ended"
        self._process.stop()
        self._channel.close()
        if self._worktree is not None:
            self._worktree.remove()
            self._worktree = None


class PairedSampler(Sampler):
    """A sampler whose measuring points each pair with the control's: blocks of calls,
    alternating, until the verdict is settled or ``max_time`` is used."""

    def __init__(
        self,
        clock: Clock,
        memory_probe: MemoryProbe | None,
        pairing: Pairing,
        nodeid: str,
        settled: Callable[[PairingData], bool],
    ) -> None:
        super().__init__(clock, memory_probe)
        self._pairing = pairing
        self._nodeid = nodeid
        self._settled = settled
        self.data = PairingData()
        #: The control waits at a measuring point of the test for a command.
        self._at_point = False

    @property
    def pairing(self) -> Pairing:
        return self._pairing

    def run(self, call: Callable[[], T], *, rounds: Rounds, warmup: int, max_time: float) -> T:
        if not self._recording or self.data.unpaired is not None:
            return super().run(call, rounds=rounds, warmup=warmup, max_time=max_time)
        if not self._pairing.await_point(self._nodeid, self.data):
            return super().run(call, rounds=rounds, warmup=warmup, max_time=max_time)
        self._at_point = True
        with pinned(self._pairing.cpu):
            try:
                return self._pair(call, rounds=rounds, warmup=warmup, max_time=max_time)
            finally:
                self._leave_point()

    def _pair(self, call: Callable[[], T], *, rounds: Rounds, warmup: int, max_time: float) -> T:
        self._note_tracer()
        for _ in range(warmup):
            call()
        if warmup and self._control_warmup(warmup) is None:
            return self._alone(call, rounds, max_time, measured=0)
        wanted = None if rounds == "auto" else rounds
        started = self._clock.wall_ns()
        measured = 0
        calls = 1
        for index in range(MAX_PAIRS):
            if wanted is not None:
                calls = min(calls, wanted - measured)
            mine, theirs, result = self._one_pair(call, calls, control_first=index % 2 == 1)
            measured += calls
            if theirs is None:
                return self._alone(call, rounds, max_time, measured=measured, last=result)
            if index == 0:  # calibrated on the first pair, of one call each
                slowest = max(mine, theirs, 1e-9)
                calls = max(1, min(MAX_BLOCK_CALLS, round(BLOCK_SECONDS / slowest)))
            if wanted is not None:
                if measured >= wanted:
                    break
                continue
            elapsed = (self._clock.wall_ns() - started) / 1e9
            if elapsed >= 2 * max_time and (
                self.data.pairs >= MIN_PAIRS or elapsed >= 10 * max_time
            ):
                break
            if self.data.pairs >= MIN_PAIRS and self._settled(self.data):
                break
        return result

    def _alone(
        self,
        call: Callable[[], T],
        rounds: Rounds,
        max_time: float,
        *,
        measured: int,
        last: T | None = None,
    ) -> T:
        """The control broke off (its test failed, or it is gone): measure the rest alone,
        so that the limits are still judged on a full measurement."""
        if rounds == "auto":
            return Sampler.run(self, call, rounds="auto", warmup=0, max_time=max_time)
        if measured < rounds:
            return Sampler.run(self, call, rounds=rounds - measured, warmup=0, max_time=max_time)
        return call() if last is None else last

    def _one_pair(
        self, call: Callable[[], T], calls: int, *, control_first: bool
    ) -> tuple[float, float | None, T]:
        """One block each side, in the order given; (the candidate's block median, the
        control's or None when it broke off, the last result)."""
        theirs: float | None = None
        if control_first:
            theirs = self._control_block(calls)
        start = self.recorded
        result = self.measure_block(call, calls)
        mine = median(self.wall_since(start))
        if not control_first:
            theirs = self._control_block(calls)
        if theirs is not None:
            self.data.candidate_blocks.append(mine)
            self.data.control_blocks.append(theirs)
        return mine, theirs, result

    def _control_block(self, calls: int) -> float | None:
        """The median time of the control's block of ``calls`` calls, or None when it
        broke off: its test raised there (it has left the point), or it is gone."""
        reply = self._pairing.block(calls)
        if reply is not None and reply[0] == "block" and reply[1]:
            wall: list[float] = reply[1]
            self.data.control_wall.extend(wall)
            self.data.control_memory.extend(reply[3])
            return median(wall)
        self._at_point = False
        if reply is not None and reply[0] == "raised":
            self.data.unpaired = f"at {self._pairing.against.name} it raised {reply[1]}"
        elif self.data.unpaired is None:
            self.data.unpaired = self._pairing.broken or f"the control answered {reply!r}"
        return None

    def _leave_point(self) -> None:
        if self._at_point:
            self._pairing.leave_point()
            self._at_point = False

    def _control_warmup(self, calls: int) -> bool | None:
        """Have the control warm up too; None when it broke off."""
        reply = self._pairing.warmup(calls)
        if reply is not None and reply[0] == "warmed":
            return True
        self._at_point = False
        if reply is not None and reply[0] == "raised":
            self.data.unpaired = f"at {self._pairing.against.name} it raised {reply[1]}"
        return None

    def sample(self) -> AbstractContextManager[None]:
        if not self._recording:
            return nullcontext()
        if self.data.unpaired is not None or not self._pairing.await_point(
            self._nodeid, self.data
        ):
            return super().sample()
        self._at_point = True
        return _PairedBlock(self)

    def finish(self) -> PairingData:
        """The test's pairs, once the control finished its counterpart."""
        self._pairing.finish_test(self._nodeid, self.data)
        return self.data


class _PairedBlock:
    """One ``with perf.measure():`` block paired with the control's: the control's block
    first on every other pair, so that neither side always goes first."""

    def __init__(self, sampler: PairedSampler) -> None:
        self._sampler = sampler
        self._control_first = sampler.data.pairs % 2 == 1
        self._theirs: float | None = None
        self._inner = MeasuredBlock(sampler, sampler._probe_for_next_call())
        self._pin = pinned(sampler._pairing.cpu)

    def __enter__(self) -> None:
        self._pin.__enter__()
        if self._control_first:
            self._theirs = self._sampler._control_block(1)
        self._start = self._sampler.recorded
        self._inner.__enter__()

    def __exit__(self, error_type: type[BaseException] | None, *rest: Any) -> None:
        self._inner.__exit__(error_type, *rest)
        sampler = self._sampler
        try:
            if error_type is None and sampler.recorded > self._start:
                if not self._control_first:
                    self._theirs = sampler._control_block(1)
                if self._theirs is not None:
                    sampler.data.candidate_blocks.append(sampler.wall_since(self._start)[0])
                    sampler.data.control_blocks.append(self._theirs)
        finally:
            sampler._leave_point()
            self._pin.__exit__(None, None, None)


def settled_rule(
    thresholds: Mapping[str, float], *, throughput: bool
) -> Callable[[PairingData], bool]:
    """Whether a test's pairs settle its verdict: latency's, and throughput's when the
    budget limits it, each with its own threshold."""

    def settled(data: PairingData) -> bool:
        logs = log_ratios(data.candidate_blocks, data.control_blocks)
        estimate = paired_estimate(logs)
        if not is_settled(estimate, thresholds["latency"], higher_is_worse=True):
            return False
        if throughput:
            rates = paired_estimate([-value for value in logs])
            return is_settled(rates, thresholds["throughput"], higher_is_worse=False)
        return True

    return settled


def _control_command(against: Against, args: Sequence[str], options: Sequence[str]) -> list[str]:
    return [
        against.python, "-m", "pytest", *args, *options,
        "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--perf-control",
    ]  # fmt: skip


def _verify_modules(
    against: Against,
    worktree: Worktree | None,
    candidate: Mapping[str, Path],
    control: Mapping[str, str | None],
) -> None:
    """Raise :class:`AgainstError` when the control imported a module of the repository
    from anywhere but the code it is meant to run."""
    if worktree is None:
        return
    for name, file in control.items():
        if file is None or name not in candidate:
            continue
        path = Path(file).resolve()
        if worktree.path == path or worktree.path in path.parents:
            continue
        where = (
            "the working tree, not the worktree of " + against.name
            if against.toplevel is not None and against.toplevel in path.parents
            else "an installed copy"
        )
        raise AgainstError(
            f"--perf-against={against.name}: the control imported {name} from {path} "
            f"({where}), so it would not run the code at {against.name}; install the "
            "project in editable mode (pip install -e .), or compare with an environment "
            "that has the other version installed (--perf-against-python)"
        )


def _mapped_args(args: Sequence[str], worktree: Worktree) -> list[str]:
    """The candidate's path arguments, those in the repository given as absolute paths
    mapped into the worktree (relative ones are relative to the mapped directory)."""
    mapped = []
    for arg in args:
        path = Path(arg)
        inside = path.is_absolute() and worktree.toplevel in path.resolve().parents
        mapped.append(str(worktree.map(path.resolve())) if inside else arg)
    return mapped


def start_pairing(
    against: Against,
    *,
    invocation_dir: Path,
    args: Sequence[str],
    options: Sequence[str],
    tests: Sequence[str],
    modules: Mapping[str, ModuleType],
    cpu: int | None,
) -> tuple[Pairing, list[str]]:
    """Start the control and hand it the candidate's budgeted ``tests`` (in order); the
    pairing, and notices for the end of the run. Raises :class:`AgainstError` when the
    control would not run the revision's code; nothing is left behind then."""
    worktree = None
    if against.toplevel is not None and against.sha is not None:
        worktree = Worktree(against.toplevel, against.sha)
    cwd, env = invocation_dir, dict(os.environ)
    repository_modules: dict[str, Path] = {}
    if worktree is not None:
        repository_modules = modules_under(modules, worktree.toplevel)
        env["PYTHONPATH"] = pythonpath(import_roots(repository_modules), worktree)
        cwd = worktree.map(invocation_dir.resolve())
        args = _mapped_args(args, worktree)
    env.pop("PYTEST_ADDOPTS", None)  # -n and the like are the candidate's
    channel, theirs = Channel.pair()
    env[FD_VARIABLE] = str(theirs.fileno())
    try:
        process = ControlProcess(
            _control_command(against, args, options), cwd, env, theirs.fileno()
        )
    except OSError as error:
        channel.close()
        if worktree is not None:
            worktree.remove()
        raise AgainstError(f"cannot start the control process: {error}") from None
    finally:
        theirs.close()
    pairing = Pairing(against, process, channel, worktree, cpu)
    try:
        channel.send("tests", PROTOCOL, list(tests), sorted(repository_modules))
        reply = channel.receive(control_timeout())
    except (ChannelClosed, ChannelTimeout) as error:
        pairing.fail(f"ended before it had collected its tests ({error})")
        return pairing, [f"pytest-perfbudget: no test was paired: {pairing.broken}"]
    _, protocol, order, origins, errors = reply
    if protocol != PROTOCOL:
        pairing.close()
        raise AgainstError(
            f"--perf-against: the control's pytest-perfbudget speaks protocol {protocol}, "
            f"this one {PROTOCOL}: install the same version of the plugin on both sides"
        )
    try:
        _verify_modules(against, worktree, repository_modules, origins)
    except AgainstError:
        pairing.close()
        raise
    pairing.follow(order)
    notices = [f"pytest-perfbudget: at {against.name}, {error}" for error in errors]
    return pairing, notices
