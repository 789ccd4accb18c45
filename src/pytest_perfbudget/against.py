"""The candidate's side of ``--perf-against``: start the control pytest process and
measure each budgeted test in blocks that alternate with its counterpart's.

The control runs the same tests at a git revision (in a throwaway worktree) or with
another interpreter. It waits at each measuring point of a test until told to measure a
block; the candidate measures its own block, then asks for the control's, and so on, one
process at a time, both pinned to one CPU. :mod:`.pairing` holds the conversation,
:mod:`.control` is the other side. Near 500 lines: the sampler that pairs and the
start of the control (resolving the revision, the worktree, the handshake) are one
conversation, read in one place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from .channel import FD_VARIABLE, PROTOCOL, Channel, ChannelClosed, ChannelTimeout
from .measure import Clock, Rounds, Sampler, Stopped
from .memory import MemoryProbe
from .paired import MIN_PAIRS, Against, PairingData, verdicts_settled
from .pairing import ControlProcess, Pairing, control_timeout, pinned
from .stats import median
from .worktree import (
    AgainstError,
    Worktree,
    git_toplevel,
    import_roots,
    interpreter_path,
    interpreter_problem,
    modules_under,
    prune_stale_worktrees,
    pythonpath,
    resolve_revision,
    shadowed_packages,
)

__all__ = ["AgainstError", "PairedSampler", "resolve_against", "start_pairing", "test_key"]

T = TypeVar("T")
#: The measured time of one block, each side, in a test's first pairs: the fewest that can
#: settle a clear verdict (:data:`~pytest_perfbudget.paired.MIN_PAIRS`).
FIRST_BLOCK_SECONDS = 0.003
#: ... and in the pairs after them, which only a close verdict needs: a longer block reads
#: it more closely for the time it takes (docs/explanation/paired.md).
BLOCK_SECONDS = 0.005
#: At most this many calls in a block, however fast the call.
MAX_BLOCK_CALLS = 10_000
#: At most this many pairs a test: past them its measuring points are measured alone.
MAX_PAIRS = 200
_NOTHING: Any = object()


def resolve_against(revision: str | None, python: str | None, places: Sequence[Path]) -> Against:
    """What ``--perf-against=revision`` and ``--perf-against-python=python`` compare with,
    the repository found from the first of ``places`` (the rootdir, the tests' paths) in
    one; raises :class:`AgainstError` for a revision or an interpreter that cannot be
    used."""
    control_timeout()  # a bad value stops the run before it starts
    toplevel = sha = None
    if revision is not None:
        toplevel = _repository(places)
        sha = resolve_revision(toplevel, revision)
    interpreter = sys.executable
    if python is not None:
        problem = interpreter_problem(python)
        if problem is not None:
            raise AgainstError(f"--perf-against-python={python}: {problem}")
        interpreter = interpreter_path(python)
    name = revision if revision is not None else str(python)
    return Against(name, sha, interpreter, toplevel)


def _repository(places: Sequence[Path]) -> Path:
    """The git repository that holds the first of ``places`` that is in one; else the
    first's error."""
    errors = []
    for place in places:
        try:
            return git_toplevel(place if place.is_dir() else place.parent)
        except AgainstError as error:
            errors.append(error)
    raise errors[0]


class PairedSampler(Sampler):
    """A sampler whose measuring points each pair with the control's: blocks of calls,
    alternating, until the verdict is settled or ``max_time`` is used. Points reached
    before the control runs the test (a fixture's), after the pairs ran out, or once the
    test was left unpaired, are measured alone."""

    def __init__(
        self,
        clock: Clock,
        memory_probe: MemoryProbe | None,
        pairing: Pairing,
        nodeid: str,
        thresholds: Mapping[str, float],
        *,
        throughput: bool,
    ) -> None:
        super().__init__(clock, memory_probe)
        self.pairing = pairing
        self._nodeid = nodeid
        self._thresholds = thresholds
        self._throughput = throughput
        self.data = PairingData()
        #: The control runs the test (``start`` was called and succeeded).
        self._started = False
        #: The control waits at a measuring point of the test for a command.
        self._at_point = False

    def start(self) -> None:
        """Have the control run its counterpart of the test."""
        self.data.unpaired = self.pairing.start_test(
            self._nodeid, collect_all_first=self.collect_all_first
        )
        self._started = self.data.unpaired is None

    def _pairs_point(self, kind: str) -> bool:
        """Whether this measuring point pairs: the control stands at one of this kind."""
        if not self._started or self.data.unpaired is not None or self.data.control_done:
            return False
        if self.data.pairs >= MAX_PAIRS:
            return False
        self._at_point = self.pairing.await_point(self._nodeid, kind, self.data)
        return self._at_point

    def run(self, call: Callable[[], T], *, rounds: Rounds, warmup: int, max_time: float) -> T:
        if not self._recording or not self._pairs_point("calls"):
            return super().run(call, rounds=rounds, warmup=warmup, max_time=max_time)
        try:
            with pinned(self.pairing.cpu):
                return self._pair(call, rounds=rounds, warmup=warmup, max_time=max_time)
        finally:
            self._leave_point()

    def _pair(self, call: Callable[[], T], *, rounds: Rounds, warmup: int, max_time: float) -> T:
        self._note_tracer()
        for _ in range(warmup):
            call()
        if warmup and self._ask("warmup", warmup) is None:
            return self._alone(call, rounds, max_time, measured=0)
        wanted = None if rounds == "auto" else rounds
        started = self._clock.wall_ns()
        measured, result, call_seconds = 0, _NOTHING, 0.0
        stopped: Stopped = "rounds"  # unless the time or a settled verdict stops it first
        while self.data.pairs < MAX_PAIRS:
            first_pair = not call_seconds
            calls = 1 if first_pair else _block_calls(call_seconds, self.data.pairs)
            if wanted is not None:
                calls = min(calls, wanted - measured)
            mine, theirs, result = self._one_pair(
                call, calls, control_first=self.data.pairs % 2 == 1
            )
            measured += calls
            if theirs is None:
                return self._alone(call, rounds, max_time, measured=measured, last=result)
            if first_pair:  # the blocks are sized on the first pair, of one call each
                call_seconds = max(mine, theirs, 1e-9)
            if wanted is not None:
                if measured >= wanted:
                    break
                continue
            if self.data.pairs >= MIN_PAIRS and verdicts_settled(
                self.data, self._thresholds, throughput=self._throughput
            ):
                stopped = "certain"
                break
            elapsed = (self._clock.wall_ns() - started) / 1e9
            if elapsed >= 2 * max_time and (
                self.data.pairs >= MIN_PAIRS or elapsed >= 10 * max_time
            ):
                stopped = "max_time"
                break
        self.stopped = stopped
        return call() if result is _NOTHING else result

    def _alone(
        self, call: Callable[[], T], rounds: Rounds, max_time: float, *, measured: int,
        last: Any = _NOTHING,
    ) -> T:  # fmt: skip
        """The control broke off (its test failed, or it is gone): measure the rest alone,
        so that the limits are still judged on a full measurement."""
        if rounds == "auto":
            return Sampler.run(self, call, rounds="auto", warmup=0, max_time=max_time)
        if measured < rounds:
            return Sampler.run(self, call, rounds=rounds - measured, warmup=0, max_time=max_time)
        return call() if last is _NOTHING else last

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

    def _ask(self, *command: Any) -> list[Any] | None:
        """The control's answer at its measuring point; None when it broke off there (its
        test raised, or it is gone), and the test is then unpaired."""
        reply = self.pairing.request(self._nodeid, self.data, *command)
        if reply is not None and reply[0] in ("warmed", "block"):
            return reply
        self._at_point = False  # it has left the point
        if reply is not None and reply[0] == "raised":
            self.data.unpaired = f"at {self.pairing.against.name} it raised {reply[1]}"
        elif self.data.unpaired is None:
            self.data.unpaired = f"the control answered {reply!r}"
        return None

    def _control_block(self, calls: int) -> float | None:
        """The median time of the control's block of ``calls`` calls, or None when it
        broke off."""
        reply = self._ask("block", calls)
        if reply is None or not reply[1]:
            return None
        wall: list[float] = reply[1]
        self.data.control_wall.extend(wall)
        self.data.control_memory[:] = reply[3]
        return median(wall)

    def _leave_point(self) -> None:
        if self._at_point:
            self.pairing.leave_point()
            self._at_point = False

    def sample(self) -> AbstractContextManager[None]:
        if not self._recording:
            return nullcontext()
        if not self._pairs_point("once"):
            return super().sample()
        return _PairedBlock(self)

    def finish(self) -> PairingData:
        """The test's pairs, once the control finished its counterpart."""
        if self._started:
            self.pairing.finish_test(self._nodeid, self.data)
        return self.data


def _block_calls(call_seconds: float, pairs: int) -> int:
    """How many calls of ``call_seconds`` each side's next block takes, after ``pairs``
    pairs."""
    seconds = FIRST_BLOCK_SECONDS if pairs < MIN_PAIRS else BLOCK_SECONDS
    return max(1, min(MAX_BLOCK_CALLS, round(seconds / call_seconds)))


class _PairedBlock:
    """One ``with perf.measure():`` block paired with the control's: the control's block
    first on every other pair, so that neither side always goes first."""

    def __init__(self, sampler: PairedSampler) -> None:
        self._sampler = sampler
        self._control_first = sampler.data.pairs % 2 == 1
        self._theirs: float | None = None
        self._inner = Sampler.sample(sampler)
        self._pin = pinned(sampler.pairing.cpu)
        self._start = 0

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
            if worktree.toplevel in path.parents
            else "an installed copy"
        )
        raise AgainstError(
            f"--perf-against={against.name}: the control imported {name} from {path} "
            f"({where}), so it would not run the code at {against.name}; install the "
            "project in editable mode (pip install -e .), or compare with an environment "
            "that has the other version installed (--perf-against-python)"
        )


def _check_candidate(against: Against, modules: Mapping[str, ModuleType]) -> None:
    """Raise :class:`AgainstError` when the candidate itself runs an installed copy of a
    package of the repository: the control would run the same copy, and every test would
    read unchanged."""
    if against.toplevel is None:
        return
    for name, path in shadowed_packages(modules, against.toplevel).items():
        raise AgainstError(
            f"--perf-against={against.name}: the tests import {name} from {path}, an "
            f"installed copy, not from {against.toplevel}, so neither side would run the "
            "repository's code; install the project in editable mode (pip install -e .)"
        )


def test_key(path: Path, nodeid: str, base: Path | None) -> str:
    """A test's name that does not depend on the rootdir: its file relative to ``base``
    (the repository, or the worktree; absolute without one) and the rest of its node id."""
    file = path.resolve()
    shown = file.relative_to(base) if base is not None else file
    return f"{shown.as_posix()}::{nodeid.partition('::')[2]}"


def _counterparts(
    tests: Sequence[str], rootdir: Path, worktree: Worktree | None
) -> tuple[list[list[str]], list[str]]:
    """Per test, its node id and its key (:func:`test_key`), for the tests the control can
    have; and the files the control is to collect them from."""
    named: list[list[str]] = []
    files: dict[str, None] = {}
    for nodeid in tests:
        path = (rootdir / nodeid.partition("::")[0]).resolve()
        if worktree is None:
            named.append([nodeid, test_key(path, nodeid, None)])
            files[str(path)] = None
        elif worktree.toplevel in path.parents:
            named.append([nodeid, test_key(path, nodeid, worktree.toplevel)])
            if worktree.map(path).exists():  # a file new since the revision is not there
                files[str(worktree.map(path))] = None
    return named, list(files)


def start_pairing(
    against: Against,
    *,
    rootdir: Path,
    inifile: Path | None,
    options: Sequence[str],
    tests: Sequence[str],
    modules: Mapping[str, ModuleType],
    cpu: int | None,
) -> tuple[Pairing, list[str]]:
    """Start the control and hand it the candidate's budgeted ``tests`` (node ids, in
    order); the pairing, and notices for the end of the run. Raises :class:`AgainstError`
    when the control would not run the revision's code; nothing is left behind then, nor
    if anything else stops the start."""
    _check_candidate(against, modules)
    worktree = None
    if against.toplevel is not None and against.sha is not None:
        prune_stale_worktrees(against.toplevel)
        worktree = Worktree(against.toplevel, against.sha)
    try:
        return _start(
            against, worktree, rootdir=rootdir, inifile=inifile, options=options,
            tests=tests, modules=modules, cpu=cpu,
        )  # fmt: skip
    except BaseException:
        if worktree is not None:
            worktree.remove()
        raise


def _start(
    against: Against,
    worktree: Worktree | None,
    *,
    rootdir: Path,
    inifile: Path | None,
    options: Sequence[str],
    tests: Sequence[str],
    modules: Mapping[str, ModuleType],
    cpu: int | None,
) -> tuple[Pairing, list[str]]:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)  # -n and the like are the candidate's
    repository_modules: dict[str, Path] = {}
    named, files = _counterparts(tests, rootdir, worktree)
    if worktree is not None:
        repository_modules = modules_under(modules, worktree.toplevel)
        env["PYTHONPATH"] = pythonpath(import_roots(repository_modules), worktree)
        inside = worktree.toplevel in [rootdir.resolve(), *rootdir.resolve().parents]
        rootdir = worktree.map(rootdir.resolve()) if inside else worktree.path
        if inifile is not None and worktree.toplevel in inifile.resolve().parents:
            inifile = worktree.map(inifile.resolve())
    where = [f"--rootdir={rootdir}"]
    if inifile is not None and inifile.is_file():
        where.append(f"--config-file={inifile}")
    channel, theirs = Channel.pair()
    env[FD_VARIABLE] = str(theirs.fileno())
    try:
        command = _control_command(against, [*files, *where], options)
        process = ControlProcess(command, rootdir, env, theirs.fileno())
    except OSError as error:
        channel.close()
        raise AgainstError(f"cannot start the control process: {error}") from None
    finally:
        theirs.close()
    pairing = Pairing(against, process, channel, worktree, cpu)
    try:
        return pairing, _handshake(
            pairing, channel, worktree, named, repository_modules, last=tests[-1]
        )
    except BaseException:
        pairing.close()
        raise


def _handshake(
    pairing: Pairing,
    channel: Channel,
    worktree: Worktree | None,
    named: Sequence[Sequence[str]],
    repository_modules: Mapping[str, Path],
    *,
    last: str,
) -> list[str]:
    """Hand the control the tests (node id and key) and read what it collected; notices
    for the end of the run. ``last`` is the candidate's last budgeted test."""
    against = pairing.against
    base = None if worktree is None else str(worktree.path)
    try:
        channel.send("tests", PROTOCOL, list(named), base, sorted(repository_modules))
        reply = channel.receive(control_timeout())
    except (ChannelClosed, ChannelTimeout) as error:
        pairing.fail(f"ended before it had collected its tests ({error})")
        return [f"pytest-perfbudget: no test was paired: {pairing.broken}"]
    if len(reply) != 5 or reply[0] != "collected" or reply[1] != PROTOCOL:
        raise AgainstError(
            f"--perf-against: the control's pytest-perfbudget answered {reply[:2]!r}, not "
            f"protocol {PROTOCOL}: install the same version of the plugin on both sides"
        )
    _, _, order, origins, errors = reply
    _verify_modules(against, worktree, repository_modules, origins)
    pairing.follow(order, last=last)
    return [f"pytest-perfbudget: at {against.name}, {error}" for error in errors]
