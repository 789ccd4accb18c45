"""Measuring calls, called or awaited: rounds, wall and CPU time, the machine's speed while
measuring; peak memory through a :mod:`.memory` probe. The ``perf`` fixture's object is in
:mod:`.meter`. Over 450 lines: the called and awaited measuring loops are kept side by
side and bare (nothing between the clock reads but the call), which a split would
scatter."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from time import perf_counter_ns, process_time_ns
from typing import Any, Literal, TypeVar

from .memory import MemoryProbe
from .metrics import PERCENTILES
from .stats import median, percentile

__all__ = [
    "MAX_ROUNDS",
    "MEMORY_ROUNDS",
    "MIN_ROUNDS",
    "REFERENCE_INTERVAL",
    "Clock",
    "MeasuredBlock",
    "Measurement",
    "Rounds",
    "Sampler",
    "active_tracer",
    "next_look",
    "qualname",
    "reference_seconds",
    "with_external_timings",
]

#: ``rounds="auto"`` measures at least this many calls, whatever ``max_time`` says...
MIN_ROUNDS = 10
#: ...and, past them, looks whether it has measured enough (:attr:`Sampler.enough`) each
#: time the calls grew by this factor.
LOOK_GROWTH = 1.5
#: ...and at most this many, however fast the call.
MAX_ROUNDS = 10_000
#: Peak memory is read on this many of a test's measured calls (the first ones, and one
#: more for each reading redone, :meth:`Sampler._note_reading`).
MEMORY_ROUNDS = 3
#: While measuring, the machine's speed is read this often (seconds), between calls.
REFERENCE_INTERVAL = 0.002

T = TypeVar("T")
Rounds = int | Literal["auto"]
#: Why a measuring loop stopped: every verdict was settled, ``max_time`` was used, or the
#: rounds asked for (or the most :data:`MAX_ROUNDS`) were made.
Stopped = Literal["certain", "max_time", "rounds"]
#: Later than any clock read: when the recorder of ``with`` blocks reads the machine's
#: speed (never: the test's own hooks read it around them).
_NEVER = 2**63


@dataclasses.dataclass(frozen=True)
class Clock:
    """The time sources, bound at import so tests that patch ``time`` cannot disturb them."""

    wall_ns: Callable[[], int] = perf_counter_ns
    cpu_ns: Callable[[], int] = process_time_ns

    def read_cost_ns(self, reads: int = 101) -> int:
        """The median wall time between two back-to-back reads of the wall clock.

        A measured interval holds one such cost besides the call; it is subtracted so
        that a call of a few microseconds is not overstated. 101 reads take 20 µs and
        give the median of 1,001 within 2 ns.
        """
        wall_ns = self.wall_ns
        deltas = []
        for _ in range(reads):
            start = wall_ns()
            deltas.append(wall_ns() - start)
        return int(median(deltas))


def qualname(function: object) -> str:
    """A function's (or callable's) qualified name, for messages."""
    return getattr(function, "__qualname__", None) or type(function).__qualname__


def _name_of(function: object) -> str:
    module = getattr(function, "__module__", None) or type(function).__module__
    return f"{module}.{qualname(function)}"


def active_tracer() -> str | None:
    """What traces or profiles Python code in this thread (coverage, a debugger, a
    profiler), by name, or None.

    Under one, code runs 2-5x slower, and unevenly: its times say nothing of the code's
    speed without it.
    """
    for hook in (sys.gettrace(), sys.getprofile()):
        if hook is not None:
            return _name_of(hook)
    monitoring: Any = getattr(sys, "monitoring", None)  # Python 3.12+
    if monitoring is not None:
        for tool in range(6):  # the tool ids a debugger, coverage or a profiler takes
            name = monitoring.get_tool(tool)
            if name is not None:
                return str(name)
    return None


def _reference_kernel() -> int:
    total = 0
    for number in range(300):
        total += number * number % 7
    return total


def reference_seconds(clock: Clock) -> float:
    """Wall time of one run of a fixed pure-Python kernel: the machine's speed now.

    Shared CI machines change speed by tens of percent from one second to the next; a
    baseline saved at one speed is compared at another by scaling with this figure.
    """
    start = clock.wall_ns()
    _reference_kernel()
    return max(clock.wall_ns() - start, 1) / 1e9


@dataclasses.dataclass(frozen=True)
class Measurement:
    """The samples of one test: seconds and bytes per measured call."""

    wall: tuple[float, ...]
    cpu: tuple[float, ...]
    memory: tuple[float, ...]
    ops: float = 1.0
    memory_method: str | None = None
    #: The machine's speed while measuring: seconds of the reference kernel (the median of
    #: the samples' speeds, so that it goes with the median sample), or None.
    reference: float | None = None
    #: Per wall sample, the machine's speed when it was taken (reference kernel seconds,
    #: from the readings around it); empty when the samples came from another tool.
    speeds: tuple[float, ...] = ()
    #: What traced or profiled the code while it was measured (:func:`active_tracer`).
    tracer: str | None = None
    #: Why the last measuring loop stopped; None for samples another tool took.
    stopped: Stopped | None = None

    @property
    def rounds(self) -> int:
        return len(self.wall)

    def metrics(self) -> dict[str, float]:
        """Metric name -> value in base units (seconds, bytes, operations per second)."""
        wall = sorted(self.wall)
        metrics = {name: percentile(wall, q) for name, q in PERCENTILES.items()}
        p50 = metrics["p50"]
        metrics |= {
            "mean": sum(wall) / len(wall),
            "max": wall[-1],
            "min": wall[0],
            "cpu": median(self.cpu),
        }
        if self.memory:
            metrics["memory"] = max(self.memory)
        if p50 > 0:
            metrics["throughput"] = self.ops / p50
        return metrics


class Sampler:
    """Measures calls and collects their samples for one test."""

    def __init__(self, clock: Clock, memory_probe: MemoryProbe | None) -> None:
        self._clock = clock
        self._read_cost_ns = clock.read_cost_ns()
        self._memory_probe = memory_probe
        self._wall_ns: list[int] = []
        self._cpu_ns: list[int] = []
        self._memory: list[int] = []
        self._references: list[float] = []
        #: How many samples were recorded when each reading in ``_references`` was taken.
        self._reference_positions: list[int] = []
        self._recording = True
        self._tracer: str | None = None
        #: Asked as a ``rounds="auto"`` loop goes (:data:`LOOK_GROWTH`): whether what it
        #: measured so far settles every verdict, so that it can stop before ``max_time``.
        self.enough: Callable[[], bool] | None = None
        #: A count of calls at which the loop looks too: the fewest that can settle every
        #: verdict, which the growing looks would pass over (0: none).
        self.look_at = 0
        #: What records a ``with`` block: nothing paces it.
        self._blocks = _Rounds(self, 0, None, paced=False)
        #: Why the last measuring loop stopped (None: no loop; ``with`` blocks only).
        self.stopped: Stopped | None = None
        #: Whether the test's first memory reading follows a full garbage collection: for
        #: a test that limits memory and may get no second reading to redo a suspect one
        #: (:meth:`_note_reading`).
        self.collect_all_first = False
        #: Whether the last memory reading followed a full garbage collection.
        self._started_full = False
        #: The index of a reading to redo after a full collection, or None.
        self._suspect: int | None = None
        #: Whether the next measured call is probed for memory.
        self._probing = memory_probe is not None

    def stop_recording(self) -> None:
        """From now on only run the code handed to it: the test was judged (and a profile
        may run it again)."""
        self._recording = False

    def note_machine_speed(self) -> None:
        """Time the reference kernel now; each sample's speed comes from the readings
        taken around it."""
        self._references.append(reference_seconds(self._clock))
        self._reference_positions.append(len(self._wall_ns))

    def _speeds(self) -> tuple[float, ...]:
        """Per sample, the median of the two readings taken last before it and the two
        taken first after it: one reading of a 20 µs kernel is noisy, and the machine's
        speed holds for a second or so at a time."""
        readings, positions = self._references, self._reference_positions
        if not readings:
            return ()
        speeds: list[float] = []
        # the samples between two readings (positions are sample counts) share a speed
        starts = [0, *positions]
        ends = [*positions, len(self._wall_ns)]
        for after, (start, end) in enumerate(zip(starts, ends, strict=True)):
            if end > start:
                speed = median(readings[max(0, after - 2) : after + 2])
                speeds.extend([speed] * (end - start))
        return tuple(speeds)

    def _note_tracer(self) -> None:
        if self._tracer is None:
            self._tracer = active_tracer()

    def _start_probe(self, probe: MemoryProbe) -> None:
        """Start ``probe`` for the next call, after a collection of every generation of
        garbage (:func:`~pytest_perfbudget.memory.collect_garbage`) when a reading is to
        be redone or :attr:`collect_all_first` asks, else of the young ones: a full
        collection takes 10 ms and more in a large process."""
        collect_all = self._suspect is not None or (self.collect_all_first and not self._memory)
        self._started_full = collect_all
        probe.start(collect_all=collect_all)

    def _note_reading(self) -> None:
        """After a reading was recorded: a full collection during its call may have freed
        older garbage for the call to reuse, hiding growth, so a reading that did not
        follow one is redone on the next probed call, after a full collection, and
        replaced."""
        probe = self._memory_probe
        if self._suspect is not None:
            self._memory[self._suspect] = self._memory.pop()
            self._suspect = None
        elif probe is not None and probe.saw_full_collection and not self._started_full:
            self._suspect = len(self._memory) - 1
        self._probing = len(self._memory) < MEMORY_ROUNDS or self._suspect is not None

    def _probe_for_next_call(self) -> MemoryProbe | None:
        """The memory probe while fewer than :data:`MEMORY_ROUNDS` readings were taken, or
        while one is to be redone."""
        return self._memory_probe if self._probing else None

    def sample(self) -> AbstractContextManager[None]:
        """A context manager that measures its block once."""
        if not self._recording:
            return nullcontext()
        return MeasuredBlock(self, self._probe_for_next_call())

    def run(self, call: Callable[[], T], *, rounds: Rounds, warmup: int, max_time: float) -> T:
        """Call ``warmup`` times unmeasured, then measure ``rounds`` calls; the last result.

        ``rounds="auto"`` measures until ``max_time`` has passed, within
        :data:`MIN_ROUNDS` and :data:`MAX_ROUNDS` calls.
        """
        if not self._recording:
            return call()
        self._note_tracer()
        for _ in range(warmup):
            call()
        return self._measure(call, *_plan(rounds, max_time))

    async def run_async(
        self, call: Callable[[], Awaitable[T]], *, rounds: Rounds, warmup: int, max_time: float
    ) -> T:
        """:meth:`run` for a call that is awaited: each one awaited on the running event
        loop, timed around the ``await``."""
        if not self._recording:
            return await call()
        self._note_tracer()
        for _ in range(warmup):
            await call()
        return await self._measure_async(call, *_plan(rounds, max_time))

    def measure_block(self, call: Callable[[], T], count: int) -> T:
        """Measure exactly ``count`` calls (one block of a paired comparison); the last
        result."""
        if not self._recording:
            return call()
        self._note_tracer()
        return self._measure(call, count, count, None)

    def _measure(
        self, call: Callable[[], T], wanted: int, minimum: int, max_time: float | None
    ) -> T:
        """Measure up to ``wanted`` calls, at least ``minimum``, stopping once ``max_time``
        of measuring has passed (:class:`_Rounds` keeps count). The loop is kept bare:
        between the clock reads there is only the call.
        """
        wall_ns, cpu_ns = self._clock.wall_ns, self._clock.cpu_ns
        record = _Rounds(self, minimum, max_time).record
        probe_start = 0
        for _ in range(wanted):
            probe = self._probe_for_next_call()
            if probe is not None:
                probe_start = wall_ns()
                self._start_probe(probe)
            cpu_start = cpu_ns()
            wall_start = wall_ns()
            try:
                result = call()
            finally:
                wall_end = wall_ns()
                cpu_end = cpu_ns()
                growth = probe.stop() if probe is not None else None
            if record(wall_start, wall_end, cpu_end - cpu_start, growth, probe_start):
                break
        return result

    async def _measure_async(
        self,
        call: Callable[[], Awaitable[T]],
        wanted: int,
        minimum: int,
        max_time: float | None,
    ) -> T:
        """:meth:`_measure` with each call awaited: the event loop's work for it (other
        tasks it runs meanwhile too) is in its time."""
        wall_ns, cpu_ns = self._clock.wall_ns, self._clock.cpu_ns
        record = _Rounds(self, minimum, max_time).record
        probe_start = 0
        for _ in range(wanted):
            probe = self._probe_for_next_call()
            if probe is not None:
                probe_start = wall_ns()
                self._start_probe(probe)
            cpu_start = cpu_ns()
            wall_start = wall_ns()
            try:
                result = await call()
            finally:
                wall_end = wall_ns()
                cpu_end = cpu_ns()
                growth = probe.stop() if probe is not None else None
            if record(wall_start, wall_end, cpu_end - cpu_start, growth, probe_start):
                break
        return result

    @property
    def recorded(self) -> int:
        """How many calls were measured so far."""
        return len(self._wall_ns)

    def wall_since(self, start: int) -> list[float]:
        """The wall times (seconds) of the calls measured since ``start`` calls were."""
        return [ns / 1e9 for ns in self._wall_ns[start:]]

    def cpu_since(self, start: int) -> list[float]:
        """The CPU times (seconds) of the calls measured since ``start`` calls were."""
        return [ns / 1e9 for ns in self._cpu_ns[start:]]

    def memory_readings(self) -> list[float]:
        """The memory readings (bytes) kept so far: a redone one replaced another."""
        return [float(size) for size in self._memory]

    def measurement(self, ops: float) -> Measurement | None:
        """Everything sampled so far, or None when nothing was."""
        if not self._wall_ns:
            return None
        speeds = self._speeds()
        return Measurement(  # list comprehensions: the stopping rule asks for one a look
            wall=tuple([ns / 1e9 for ns in self._wall_ns]),
            cpu=tuple([ns / 1e9 for ns in self._cpu_ns]),
            memory=tuple([float(size) for size in self._memory]),
            ops=ops,
            memory_method=self._memory_probe.method if self._memory_probe else None,
            reference=median(speeds) if speeds else None,
            speeds=speeds,
            tracer=self._tracer,
            stopped=self.stopped,
        )

    @property
    def memory_done(self) -> bool:
        """Whether every memory reading a test gets was taken."""
        return not self._probing


def _plan(rounds: Rounds, max_time: float) -> tuple[int, int, float | None]:
    """The calls a measuring loop makes for ``rounds``: at most, at least, and the time
    after which it stops once it has the least (None: no such time)."""
    if rounds == "auto":
        return MAX_ROUNDS, MIN_ROUNDS, max_time
    return rounds, rounds, None


def next_look(count: int, also: int) -> int:
    """The look after one at ``count`` calls: ``count`` grown by :data:`LOOK_GROWTH`, or
    ``also`` (:attr:`Sampler.look_at`) when it comes between."""
    grown = math.ceil(count * LOOK_GROWTH)
    return also if count < also < grown else grown


class _Rounds:
    """Records the measured calls of one loop, sync or async, and says when it has
    measured enough: at least ``minimum`` calls, then once ``max_time`` of measuring has
    passed. Every :data:`REFERENCE_INTERVAL` it reads the machine's speed, between two
    calls. The memory probes' own time (they collect garbage first, which takes long in a
    large process) does not count against ``max_time``."""

    __slots__ = (
        "_count",
        "_cpu",
        "_deadline",
        "_interval",
        "_memory",
        "_minimum",
        "_next_look",
        "_next_reference",
        "_read_cost_ns",
        "_sampler",
        "_wall",
        "_wall_ns",
    )

    def __init__(
        self, sampler: Sampler, minimum: int, max_time: float | None, *, paced: bool = True
    ) -> None:
        wall_ns = sampler._clock.wall_ns
        self._sampler = sampler
        self._wall, self._cpu, self._memory = sampler._wall_ns, sampler._cpu_ns, sampler._memory
        self._read_cost_ns = sampler._read_cost_ns
        self._wall_ns = wall_ns
        self._minimum = minimum
        self._count = 0
        self._deadline = None if max_time is None else wall_ns() + int(max_time * 1e9)
        self._interval = int(REFERENCE_INTERVAL * 1e9)
        self._next_reference = wall_ns() + self._interval if paced else _NEVER
        if paced:  # a measuring loop: it ran its rounds, unless the time or a look stops it
            sampler.stopped = "rounds"
        # the first look once the least rounds are made; only a loop with a time to stop at
        # (rounds="auto") looks, and only when the caller asks
        asking = max_time is not None and sampler.enough is not None
        self._next_look = minimum if asking else _NEVER

    def record(
        self, wall_start: int, wall_end: int, cpu_ns: int, growth: int | None, probe_start: int
    ) -> bool:
        """Record a measured call (``growth`` is None unless a probe, started at
        ``probe_start``, read its memory); whether the loop has measured enough."""
        self._count += 1
        self._wall.append(max(0, wall_end - wall_start - self._read_cost_ns))
        self._cpu.append(cpu_ns)
        if growth is not None:
            self._memory.append(growth)
            self._sampler._note_reading()
            if self._deadline is not None:
                self._deadline += (wall_start - probe_start) + (self._wall_ns() - wall_end)
        if wall_end >= self._next_reference:
            self._sampler.note_machine_speed()
            self._next_reference = wall_end + self._interval
        if self._count < self._minimum:
            return False
        if self._deadline is not None and wall_end >= self._deadline:
            self._sampler.stopped = "max_time"
            return True
        if self._count >= self._next_look:
            self._next_look = next_look(self._count, self._sampler.look_at)
            enough = self._sampler.enough
            if enough is not None and enough():
                self._sampler.stopped = "certain"
                return True
        return self._deadline is None


def with_external_timings(whole: Measurement, timings: Sequence[float]) -> Measurement:
    """A measurement whose wall samples another tool took (pytest-benchmark's rounds),
    measured ``whole`` as one call around that tool's run.

    The tool times wall clock only: each sample's CPU time is estimated from the share of
    CPU time in ``whole``; memory is the peak growth over ``whole``.
    """
    cpu_share = median(whole.cpu) / median(whole.wall) if median(whole.wall) > 0 else 1.0
    return dataclasses.replace(
        whole,
        wall=tuple(timings),
        cpu=tuple(sample * cpu_share for sample in timings),
        speeds=(),
        stopped=None,
    )


class MeasuredBlock:
    """Measures one ``with`` (or ``async with``) block for a :class:`Sampler`; a block
    that raises is dropped."""

    def __init__(self, sampler: Sampler, probe: MemoryProbe | None) -> None:
        self._sampler = sampler
        self._probe = probe
        self._wall_ns = sampler._clock.wall_ns
        self._cpu_ns = sampler._clock.cpu_ns
        self._wall_start = self._cpu_start = 0

    def __enter__(self) -> None:
        self._sampler._note_tracer()
        if self._probe is not None:
            self._sampler._start_probe(self._probe)
        self._cpu_start = self._cpu_ns()
        self._wall_start = self._wall_ns()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        wall_end = self._wall_ns()
        cpu_end = self._cpu_ns()
        growth = self._probe.stop() if self._probe is not None else None
        if error_type is None:
            self._sampler._blocks.record(
                self._wall_start, wall_end, cpu_end - self._cpu_start, growth, 0
            )

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, error_type: type[BaseException] | None, *rest: object) -> None:
        self.__exit__(error_type, *rest)
