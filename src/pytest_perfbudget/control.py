"""The control's side of ``--perf-against``: a pytest process that runs the candidate's
budgeted tests, in the candidate's order, and measures at each measuring point only the
blocks the candidate asks for.

Started by :mod:`.against` with ``--perf-control``; it talks over the socket it inherited
(:mod:`.channel`). Its tests' own budgets are not judged here: the candidate judges.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .against import test_key
from .budget import Budget
from .channel import PROTOCOL, Channel, ChannelClosed
from .integrations import MeasuredBenchmark
from .measure import Clock, Rounds, Sampler
from .memory import MemoryProbe, default_memory_probe
from .pairing import pinned
from .runtest import budget_key, sampler_key

__all__ = ["ControlSession"]

T = TypeVar("T")
skipped_key = pytest.StashKey[bool]()
cpu_key = pytest.StashKey["int | None"]()
#: Whether the test's first memory reading follows a full collection, as at the candidate.
collect_all_first_key = pytest.StashKey[bool]()
#: The node id the candidate knows the test by (the rootdirs may differ).
candidate_key = pytest.StashKey[str]()


class ServedSampler(Sampler):
    """At each measuring point, waits for the candidate's commands: warm up, measure a
    block of calls and send their samples back, or leave the point."""

    def __init__(
        self,
        clock: Clock,
        probe: MemoryProbe | None,
        channel: Channel,
        nodeid: str,
        cpu: int | None,
        *,
        collect_all_first: bool,
    ) -> None:
        super().__init__(clock, probe)
        self.collect_all_first = collect_all_first  # as the candidate reads
        self._channel = channel
        self._nodeid = nodeid
        self._cpu = cpu

    def run(self, call: Callable[[], T], *, rounds: Rounds, warmup: int, max_time: float) -> T:
        self._channel.send("ready", self._nodeid, "calls")
        results: list[T] = []
        with pinned(self._cpu):
            while True:
                command = self._channel.receive()
                try:
                    if command[0] == "warmup":
                        results[:] = [call() for _ in range(command[1])][-1:]
                        self._channel.send("warmed")
                    elif command[0] == "block":
                        start = self.recorded
                        results[:] = [self.measure_block(call, command[1])]
                        self.send_block(start)
                    else:  # "end": the candidate is done with this point
                        break
                except BaseException as error:
                    # the test fails (or skips) here: the candidate stops pairing it
                    self._channel.send("raised", _describe(error))
                    raise
        return results[-1] if results else call()

    def send_block(self, start: int) -> None:
        """Send the samples of the calls measured since ``start``, and every memory reading
        kept so far (one taken again after a full collection replaces one before)."""
        self._channel.send(
            "block", self.wall_since(start), self.cpu_since(start), self.memory_readings()
        )

    def sample(self) -> AbstractContextManager[None]:
        self._channel.send("ready", self._nodeid, "once")
        command = self._channel.receive()
        if command[0] != "block":
            return nullcontext()  # "end": not paired
        return _ServedBlock(self, self._channel, self._cpu)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _ServedBlock:
    """One ``with perf.measure():`` block measured for the candidate."""

    def __init__(self, sampler: ServedSampler, channel: Channel, cpu: int | None) -> None:
        self._sampler = sampler
        self._channel = channel
        self._start = sampler.recorded
        self._inner = Sampler.sample(sampler)
        self._pin = pinned(cpu)

    def __enter__(self) -> None:
        self._pin.__enter__()
        self._inner.__enter__()

    def __exit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, *rest: Any
    ) -> None:
        self._inner.__exit__(error_type, error, *rest)
        self._pin.__exit__(None, None, None)
        if error is not None:
            self._channel.send("raised", _describe(error))
            return
        self._sampler.send_block(self._start)
        self._channel.receive()  # "end": leave the point


class ControlSession:
    """The plugin object of a control process."""

    name = "perfbudget-control"

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._collection_errors: list[str] = []
        self._outcomes: dict[str, tuple[str, str]] = {}
        self._clock = Clock()
        self._probe: MemoryProbe | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        """The run is over and the candidate waits for this process to end: leave every
        object out of the garbage collections still to come, pytest's cleanup's and the
        interpreter's shutdown's, which would walk them all (50 ms and more). Exit
        handlers still run and objects still free as their last reference goes; only
        cycles stay, as they may at any shutdown."""
        gc.freeze()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = str(report.longrepr).strip().splitlines()
            self._collection_errors.append(
                f"{report.nodeid or 'collection'} failed to collect: {lines[-1] if lines else ''}"
            )

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep the candidate's budgeted tests, in its order, and tell it which exist here
        and where the repository's modules were imported from. Tests are matched by key
        (:func:`.test_key`): file and name, whatever each side's rootdir."""
        _, _, wanted, base, module_names = self._channel.receive()  # it checks protocols
        root = None if base is None else Path(base)
        by_key = {test_key(item.path, item.nodeid, root): item for item in items}
        kept = []
        for nodeid, key in wanted:
            if key in by_key:
                by_key[key].stash[candidate_key] = nodeid
                kept.append(by_key[key])
        chosen = set(map(id, kept))
        config.hook.pytest_deselected(items=[item for item in items if id(item) not in chosen])
        items[:] = kept
        origins = {name: getattr(sys.modules.get(name), "__file__", None) for name in module_names}
        self._channel.send(
            "collected",
            PROTOCOL,
            [item.stash[candidate_key] for item in kept],
            origins,
            self._collection_errors,
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        """Run each test when the candidate says so (or skip it), in order; collection
        errors do not stop the run, as they would stop a plain one."""
        items = session.items
        try:
            for index, item in enumerate(items):
                command = self._between_tests()
                if command[0] == "finish":
                    break
                item.stash[skipped_key] = command[0] == "skip"
                item.stash[cpu_key] = command[2] if command[0] == "run" else None
                item.stash[collect_all_first_key] = command[0] == "run" and command[3]
                nextitem = items[index + 1] if index + 1 < len(items) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                outcome, text = self._outcomes.pop(item.nodeid, ("passed", ""))
                self._channel.send("done", item.stash[candidate_key], outcome, text)
            else:
                self._channel.receive()  # "finish"
        except ChannelClosed:
            pass  # the candidate ended: so does this run
        return True

    def _between_tests(self) -> list[Any]:
        """The next command about a test (run, skip) or the run (finish); a command meant
        for a measuring point this side no longer stands at is answered and passed over."""
        while True:
            command = self._channel.receive()
            if command[0] in ("run", "skip", "finish"):
                return command
            if command[0] in ("warmup", "block"):
                self._channel.send("raised", "the control stands at no measuring point")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.stash.get(skipped_key, False):
            pytest.skip("not measured at the candidate")
        if self._probe is None:
            self._probe = default_memory_probe()
        item.stash[budget_key] = Budget()  # the candidate's budget is what counts
        item.stash[sampler_key] = ServedSampler(
            self._clock,
            self._probe,
            self._channel,
            item.stash[candidate_key],
            item.stash.get(cpu_key, None),
            collect_all_first=item.stash.get(collect_all_first_key, False),
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        """The test call is the measuring point of a test that uses neither ``perf`` nor
        pytest-benchmark; for one that uses ``benchmark``, its calls are."""
        sampler = pyfuncitem.stash.get(sampler_key, None)
        if sampler is None or "perf" in pyfuncitem.fixturenames:
            return (yield)
        test_function = pyfuncitem.obj
        budget = pyfuncitem.stash[budget_key]

        def served_test_function(**kwargs: Any) -> object:
            if "benchmark" in kwargs:
                kwargs["benchmark"] = MeasuredBenchmark(kwargs["benchmark"], sampler, budget)
                return test_function(**kwargs)
            call = functools.partial(test_function, **kwargs)
            return sampler.run(call, rounds=1, warmup=0, max_time=0.0)

        pyfuncitem.obj = served_test_function
        try:
            return (yield)
        finally:
            pyfuncitem.obj = test_function

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The worst of a test's phases: an error in setup or teardown, a failure of the
        call, a skip; with what went wrong, in a line."""
        if report.passed and not hasattr(report, "wasxfail"):
            return
        if report.skipped:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "was skipped"
        elif report.when == "call":
            outcome = "failed" if not hasattr(report, "wasxfail") else "xpassed"
        else:
            outcome = f"errored in {report.when}"
        previous = self._outcomes.get(report.nodeid)
        if previous is None or previous[0] == "was skipped":
            self._outcomes[report.nodeid] = (outcome, _reason(report))


def _reason(report: pytest.TestReport) -> str:
    """What went wrong in a test's phase, in a line."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""
