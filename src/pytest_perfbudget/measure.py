"""Measuring calls: rounds, wall and CPU time, the machine's speed while measuring, the
``perf`` fixture's meter; peak memory through a :mod:`.memory` probe."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from time import perf_counter_ns, process_time_ns
from typing import Any, Literal, ParamSpec, TypeVar

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
    "PerfMeter",
    "Rounds",
    "Sampler",
    "active_tracer",
    "reference_seconds",
    "with_external_timings",
]

#: ``rounds="auto"`` measures at least this many calls, whatever ``max_time`` says...
MIN_ROUNDS = 10
#: ...and at most this many, however fast the call.
MAX_ROUNDS = 10_000
#: Peak memory is read on this many of a test's measured calls (the first ones).
MEMORY_ROUNDS = 3
#: While measuring, the machine's speed is read this often (seconds), between calls.
REFERENCE_INTERVAL = 0.002

T = TypeVar("T")
P = ParamSpec("P")
Rounds = int | Literal["auto"]


@dataclasses.dataclass(frozen=True)
class Clock:
    """The time sources, bound at import so tests that patch ``time`` cannot disturb them."""

    wall_ns: Callable[[], int] = perf_counter_ns
    cpu_ns: Callable[[], int] = process_time_ns

    def read_cost_ns(self, reads: int = 1001) -> int:
        """The median wall time between two back-to-back reads of the wall clock.

        A measured interval holds one such cost besides the call; it is subtracted so
        that a call of a few microseconds is not overstated.
        """
        wall_ns = self.wall_ns
        deltas = []
        for _ in range(reads):
            start = wall_ns()
            deltas.append(wall_ns() - start)
        return int(median(deltas))


def _name_of(function: object) -> str:
    module = getattr(function, "__module__", None) or type(function).__module__
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{module}.{name}"


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

    def _probe_for_next_call(self) -> MemoryProbe | None:
        """The memory probe while fewer than :data:`MEMORY_ROUNDS` calls were probed."""
        if self._memory_probe is not None and len(self._memory) < MEMORY_ROUNDS:
            return self._memory_probe
        return None

    def _record(self, wall_ns: int, cpu_ns: int, growth: int | None) -> None:
        self._wall_ns.append(max(0, wall_ns - self._read_cost_ns))
        self._cpu_ns.append(cpu_ns)
        if growth is not None:
            self._memory.append(growth)

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
        if rounds == "auto":
            return self._measure(call, MAX_ROUNDS, minimum=MIN_ROUNDS, max_time=max_time)
        return self._measure(call, rounds, minimum=rounds, max_time=None)

    def measure_block(self, call: Callable[[], T], count: int) -> T:
        """Measure exactly ``count`` calls (one block of a paired comparison); the last
        result."""
        if not self._recording:
            return call()
        self._note_tracer()
        return self._measure(call, count, minimum=count, max_time=None)

    def _measure(
        self, call: Callable[[], T], wanted: int, *, minimum: int, max_time: float | None
    ) -> T:
        """Measure up to ``wanted`` calls, at least ``minimum``, stopping once ``max_time``
        of measuring has passed. The loop is kept bare: between the clock reads there is
        only the call. Every :data:`REFERENCE_INTERVAL` the machine's speed is read between
        two calls. The memory probes' own time (they collect garbage first, which takes
        long in a large process) does not count against ``max_time``.
        """
        wall_ns, cpu_ns = self._clock.wall_ns, self._clock.cpu_ns
        deadline = None if max_time is None else wall_ns() + int(max_time * 1e9)
        interval = int(REFERENCE_INTERVAL * 1e9)
        next_reference = wall_ns() + interval
        for count in range(1, wanted + 1):
            probe = self._probe_for_next_call()
            if probe is not None:
                probe_start = wall_ns()
                probe.start()
            cpu_start = cpu_ns()
            wall_start = wall_ns()
            try:
                result = call()
            finally:
                wall_end = wall_ns()
                cpu_end = cpu_ns()
                growth = probe.stop() if probe is not None else None
            self._record(wall_end - wall_start, cpu_end - cpu_start, growth)
            if probe is not None and deadline is not None:
                deadline += (wall_start - probe_start) + (wall_ns() - wall_end)
            if wall_end >= next_reference:
                self.note_machine_speed()
                next_reference = wall_end + interval
            if count >= minimum and (deadline is None or wall_end >= deadline):
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

    @property
    def probed(self) -> int:
        """How many memory readings were taken so far."""
        return len(self._memory)

    def memory_since(self, start: int) -> list[float]:
        """The memory readings (bytes) taken since ``start`` readings were."""
        return [float(size) for size in self._memory[start:]]

    def measurement(self, ops: float) -> Measurement | None:
        """Everything sampled so far, or None when nothing was."""
        if not self._wall_ns:
            return None
        speeds = self._speeds()
        return Measurement(
            wall=tuple(ns / 1e9 for ns in self._wall_ns),
            cpu=tuple(ns / 1e9 for ns in self._cpu_ns),
            memory=tuple(float(size) for size in self._memory),
            ops=ops,
            memory_method=self._memory_probe.method if self._memory_probe else None,
            reference=median(speeds) if speeds else None,
            speeds=speeds,
            tracer=self._tracer,
        )


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
    )


class MeasuredBlock:
    """Measures one ``with`` block for a :class:`Sampler`; a block that raises is dropped."""

    def __init__(self, sampler: Sampler, probe: MemoryProbe | None) -> None:
        self._sampler = sampler
        self._probe = probe
        self._wall_ns = sampler._clock.wall_ns
        self._cpu_ns = sampler._clock.cpu_ns
        self._wall_start = self._cpu_start = 0

    def __enter__(self) -> None:
        self._sampler._note_tracer()
        if self._probe is not None:
            self._probe.start()
        self._cpu_start = self._cpu_ns()
        self._wall_start = self._wall_ns()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        wall_end = self._wall_ns()
        cpu_end = self._cpu_ns()
        growth = self._probe.stop() if self._probe is not None else None
        if error_type is None:
            self._sampler._record(wall_end - self._wall_start, cpu_end - self._cpu_start, growth)


class PerfMeter:
    """The ``perf`` fixture: measures just the code a test hands it.

    Without a sampler (``--perf-disable``) it only runs that code, once.
    """

    def __init__(
        self, sampler: Sampler | None, *, rounds: Rounds, warmup: int, max_time: float
    ) -> None:
        self._sampler = sampler
        self._rounds: Rounds = rounds
        self._warmup = warmup
        self._max_time = max_time

    def __call__(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Measure ``func(*args, **kwargs)`` over the rounds; return its last result."""
        if self._sampler is None:
            return func(*args, **kwargs)
        call = functools.partial(func, *args, **kwargs) if args or kwargs else func
        return self._sampler.run(
            call,
            rounds=self._rounds,
            warmup=self._warmup,
            max_time=self._max_time,
        )

    def measure(self) -> AbstractContextManager[None]:
        """Measure the ``with`` block, once."""
        if self._sampler is None:
            return nullcontext()
        return self._sampler.sample()
