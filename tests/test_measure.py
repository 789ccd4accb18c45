"""Rounds, calibration, timing with an injected clock, and peak memory probes."""

from __future__ import annotations

import asyncio
import gc
import inspect
import sys
import time
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_perfbudget import measure as measure_module
from pytest_perfbudget.measure import (
    MAX_ROUNDS,
    MEMORY_ROUNDS,
    MIN_ROUNDS,
    Clock,
    Measurement,
    Sampler,
    active_tracer,
)
from pytest_perfbudget.memory import (
    _YOUNG_GENERATIONS,
    LinuxPeakProbe,
    MemoryProbe,
    SamplingProbe,
    collect_garbage,
    default_memory_probe,
)
from pytest_perfbudget.meter import PerfMeter

MiB = 1024**2


class FakeClock:
    """A clock that advances only when the measured code says so."""

    def __init__(self) -> None:
        self.wall = 0
        self.cpu = 0

    def spend(self, wall_ns: int, cpu_ns: int | None = None) -> None:
        self.wall += wall_ns
        self.cpu += wall_ns if cpu_ns is None else cpu_ns

    def as_clock(self) -> Clock:
        return Clock(wall_ns=lambda: self.wall, cpu_ns=lambda: self.cpu)


class FakeProbe:
    method = "fake"

    def __init__(self, growth: Iterator[int], full_collections: Sequence[bool] = ()) -> None:
        self.growth = growth
        self.full_collections = iter(full_collections)
        self.starts = 0
        self.collected_all: list[bool] = []
        self.saw_full_collection = False

    def start(self, *, collect_all: bool = True) -> None:
        self.starts += 1
        self.collected_all.append(collect_all)

    def stop(self) -> int:
        self.saw_full_collection = next(self.full_collections, False)
        return next(self.growth)


def test_fixed_rounds_time_each_call_after_warmup() -> None:
    clock = FakeClock()
    durations = iter([999_000, 1_000_000, 2_000_000, 3_000_000])
    sampler = Sampler(clock.as_clock(), None)

    def call() -> str:
        clock.spend(next(durations), 500_000)
        return "done"

    result = sampler.run(call, rounds=3, warmup=1, max_time=1)
    assert result == "done"
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.wall == (0.001, 0.002, 0.003)
    assert measurement.cpu == (0.0005, 0.0005, 0.0005)
    assert measurement.memory == ()


def test_auto_rounds_stop_when_max_time_is_spent() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    sampler.run(lambda: clock.spend(10_000_000), rounds="auto", warmup=0, max_time=0.5)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.rounds == 50


def test_the_memory_probes_time_does_not_count_against_max_time() -> None:
    # a probe collects garbage first: in a large process that takes long, and must not
    # leave the test with the fewest rounds
    clock = FakeClock()

    class SlowProbe(FakeProbe):
        def start(self, *, collect_all: bool = True) -> None:
            super().start(collect_all=collect_all)
            clock.spend(100_000_000)

    sampler = Sampler(clock.as_clock(), SlowProbe(iter([0] * MEMORY_ROUNDS)))
    sampler.run(lambda: clock.spend(10_000_000), rounds="auto", warmup=0, max_time=0.5)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.rounds == 50


@pytest.mark.parametrize(
    ("look_at", "enough_from", "looks"),
    [
        (0, 30, [MIN_ROUNDS, 15, 23, 35]),  # each look 1.5 times the calls of the last
        # also at the fewest calls that can be enough: a p95 bound's, between 80 and 120
        (90, 90, [MIN_ROUNDS, 15, 23, 35, 53, 80, 90]),
    ],
)
def test_auto_rounds_look_as_they_grow_and_stop_once_enough_was_measured(
    look_at: int, enough_from: int, looks: list[int]
) -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    looked_at: list[int] = []

    def enough() -> bool:
        looked_at.append(sampler.recorded)
        return sampler.recorded >= enough_from

    sampler.enough = enough
    sampler.look_at = look_at
    sampler.run(lambda: clock.spend(1_000_000), rounds="auto", warmup=0, max_time=10)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert looked_at == looks
    assert (measurement.rounds, measurement.stopped) == (looks[-1], "certain")


def test_awaited_rounds_look_and_stop_as_called_ones_do() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    sampler.enough = lambda: sampler.recorded >= 30

    async def call() -> None:
        clock.spend(1_000_000)

    asyncio.run(sampler.run_async(call, rounds="auto", warmup=0, max_time=10))
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert (measurement.rounds, measurement.stopped) == (35, "certain")


@pytest.mark.parametrize(
    ("call_ns", "rounds", "stopped"),
    [(10_000_000, 50, "max_time"), (1, MAX_ROUNDS, "rounds")],  # 0.5 s of 10 ms calls
)
def test_auto_rounds_that_are_never_enough_stop_at_max_time_or_the_most_rounds(
    call_ns: int, rounds: int, stopped: str
) -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    sampler.enough = lambda: False
    sampler.run(lambda: clock.spend(call_ns), rounds="auto", warmup=0, max_time=0.5)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert (measurement.rounds, measurement.stopped) == (rounds, stopped)


@pytest.mark.parametrize("rounds", [3, 40])
def test_rounds_asked_for_are_exact_and_never_looked_at(rounds: int) -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    asked: list[int] = []

    def enough() -> bool:
        asked.append(sampler.recorded)
        return True

    sampler.enough = enough
    sampler.run(lambda: clock.spend(1), rounds=rounds, warmup=0, max_time=10)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert (measurement.rounds, measurement.stopped) == (rounds, "rounds")
    assert asked == []


def test_auto_rounds_measure_a_usable_sample_of_slow_calls() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    sampler.run(lambda: clock.spend(2_000_000_000), rounds="auto", warmup=0, max_time=1)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.rounds == MIN_ROUNDS


def test_auto_rounds_are_capped_for_fast_calls() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    sampler.run(lambda: clock.spend(1), rounds="auto", warmup=0, max_time=10)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.rounds == MAX_ROUNDS


@pytest.mark.parametrize(
    ("full_collections", "collected_all", "memory"),
    [
        ([False, False, False], [False, False, False], [100, 300, 200]),
        # the first reading, redone after a full collection, once a test
        ([True, False, False, False], [False, True, False, False], [300, 200, 400]),
        # each reading that did not follow a full collection, as often as it happens
        ([True] * 6, [False, True] * 3, [300, 400, 600]),
        ([False, False, True, False], [False, False, False, True], [100, 300, 400]),
    ],
)
def test_a_reading_whose_call_saw_a_full_collection_is_redone_after_one(
    full_collections: list[bool], collected_all: list[bool], memory: list[float]
) -> None:
    # a full collection during the call may free older garbage for the call to reuse,
    # hiding growth; before a call, it walks the whole process (10 ms in a large one)
    probe = FakeProbe(iter([100, 300, 200, 400, 500, 600]), full_collections)
    sampler = Sampler(FakeClock().as_clock(), probe)
    sampler.run(lambda: None, rounds=10, warmup=0, max_time=1)
    assert probe.collected_all == collected_all
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert list(measurement.memory) == memory
    assert sampler.memory_done


def test_a_suspect_reading_stays_when_no_call_is_left_to_redo_it() -> None:
    probe = FakeProbe(iter([100]), [True])
    sampler = Sampler(FakeClock().as_clock(), probe)
    sampler.run(lambda: None, rounds=1, warmup=0, max_time=1)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.memory == (100,)


def test_a_test_that_asks_collects_every_generation_before_its_first_reading() -> None:
    probe = FakeProbe(iter([100, 300, 200]), [True])  # no redo after a full collection
    sampler = Sampler(FakeClock().as_clock(), probe)
    sampler.collect_all_first = True
    sampler.run(lambda: None, rounds=10, warmup=0, max_time=1)
    assert probe.collected_all == [True, False, False]


@pytest.mark.parametrize(
    ("collect_all", "generations"), [(True, ()), (False, (_YOUNG_GENERATIONS,))]
)
def test_a_probe_collects_every_generation_or_the_young_ones(
    monkeypatch: pytest.MonkeyPatch, collect_all: bool, generations: tuple[int, ...]
) -> None:
    calls: list[tuple[int, ...]] = []

    def collect(*generation: int) -> int:
        calls.append(generation)
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    collect_garbage(collect_all=collect_all)
    assert calls == [generations]


def test_memory_is_read_on_the_first_rounds_only() -> None:
    probe = FakeProbe(iter([100, 300, 200]))
    sampler = Sampler(FakeClock().as_clock(), probe)
    sampler.run(lambda: None, rounds=10, warmup=0, max_time=1)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.memory == (100.0, 300.0, 200.0)
    assert probe.starts == MEMORY_ROUNDS
    assert measurement.metrics()["memory"] == 300
    assert measurement.memory_method == "fake"


def test_a_failing_call_is_not_sampled() -> None:
    sampler = Sampler(FakeClock().as_clock(), FakeProbe(iter([1])))

    def broken() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        sampler.run(broken, rounds=3, warmup=0, max_time=1)
    assert sampler.measurement(ops=1) is None


def test_metrics_in_base_units() -> None:
    wall = tuple(float(n) / 1000 for n in range(1, 101))
    metrics = Measurement(wall=wall, cpu=wall, memory=(5.0, 7.0), ops=10).metrics()
    assert metrics["p50"] == pytest.approx(0.0505)
    assert metrics["p90"] == pytest.approx(0.0901)
    assert metrics["p95"] == pytest.approx(0.09505)
    assert metrics["p99"] == pytest.approx(0.09901)
    assert metrics["mean"] == pytest.approx(0.0505)
    assert metrics["max"] == pytest.approx(0.1)
    assert metrics["cpu"] == pytest.approx(0.0505)
    assert metrics["memory"] == 7.0
    assert metrics["throughput"] == pytest.approx(10 / 0.0505)


def test_perf_meter_call_and_block() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    meter = PerfMeter(sampler, rounds=4, warmup=2, max_time=1)
    calls: list[int] = []

    def double(n: int) -> int:
        calls.append(n)
        return n * 2

    assert meter(double, 21) == 42
    assert calls == [21] * 6
    with meter.measure():
        clock.spend(5_000)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.rounds == 5


def test_disabled_perf_meter_just_calls() -> None:
    meter = PerfMeter(None, rounds=1, warmup=0, max_time=0)
    calls: list[int] = []
    assert meter(calls.append, 1) is None
    with meter.measure():
        calls.append(2)
    assert calls == [1, 2]


def test_awaited_rounds_are_timed_around_each_await() -> None:
    clock = FakeClock()
    durations = iter([999_000, 1_000_000, 2_000_000, 3_000_000])
    sampler = Sampler(clock.as_clock(), FakeProbe(iter([100, 300, 200])))

    async def call() -> str:
        await asyncio.sleep(0)  # gives the event loop a turn, as a real await would
        clock.spend(next(durations), 500_000)
        return "done"

    result = asyncio.run(sampler.run_async(call, rounds=3, warmup=1, max_time=1))
    assert result == "done"
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.wall == (0.001, 0.002, 0.003)
    assert measurement.cpu == (0.0005, 0.0005, 0.0005)
    assert measurement.memory == (100.0, 300.0, 200.0)


def test_awaited_auto_rounds_stop_when_max_time_is_spent() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)

    async def call() -> None:
        clock.spend(10_000_000)

    asyncio.run(sampler.run_async(call, rounds="auto", warmup=0, max_time=0.5))
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.rounds == 50


def test_perf_meter_awaits_a_coroutine_function_and_an_async_block() -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    meter = PerfMeter(sampler, rounds=4, warmup=2, max_time=1)
    calls: list[int] = []

    async def double(n: int) -> int:
        calls.append(n)
        clock.spend(1_000)
        return n * 2

    async def test() -> int:
        result = await meter(double, 21)
        async with meter.measure():
            clock.spend(5_000)
        return result

    assert asyncio.run(test()) == 42
    assert calls == [21] * 6
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.wall == (1e-6, 1e-6, 1e-6, 1e-6, 5e-6)
    assert meter.close_unawaited() == []


async def fetch() -> int:
    return 1


def test_a_perf_coroutine_never_awaited_is_named_and_closed() -> None:
    meter = PerfMeter(Sampler(FakeClock().as_clock(), None), rounds=1, warmup=0, max_time=1)

    async def test() -> None:
        await meter(fetch)
        _ = meter(fetch)  # the mistake: never awaited, so nothing is measured

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "never awaited" warning of Python's either
        asyncio.run(test())
        assert meter.close_unawaited() == ["fetch"]


def test_perf_of_a_call_that_returns_a_coroutine_is_an_error() -> None:
    meter = PerfMeter(Sampler(FakeClock().as_clock(), None), rounds=1, warmup=0, max_time=1)
    made: list[Coroutine[Any, Any, int]] = []

    def make() -> Coroutine[Any, Any, int]:
        made.append(fetch())
        return made[-1]

    with pytest.raises(TypeError, match=r"perf\(.*make\) timed calls that return an awaitable"):
        _ = meter(make)
    assert inspect.getcoroutinestate(made[-1]) == inspect.CORO_CLOSED


def test_disabled_perf_meter_awaits_once() -> None:
    meter = PerfMeter(None, rounds=5, warmup=1, max_time=0)
    calls: list[int] = []

    async def record(n: int) -> int:
        calls.append(n)
        return n

    async def test() -> int:
        async with meter.measure():
            calls.append(0)
        return await meter(record, 1)

    assert asyncio.run(test()) == 1
    assert calls == [0, 1]


def test_linux_probe_reads_high_water_mark_over_start(tmp_path: Path) -> None:
    (tmp_path / "clear_refs").write_text("")
    (tmp_path / "status").write_text("Name:\tpython\nVmHWM:\t  1000 kB\nVmRSS:\t   800 kB\n")
    probe = LinuxPeakProbe(tmp_path)
    probe.start()
    assert (tmp_path / "clear_refs").read_text() == "5"
    (tmp_path / "status").write_text("VmHWM:\t  5800 kB\nVmRSS:\t   900 kB\n")
    assert probe.stop() == 5000 * 1024


@pytest.mark.parametrize("kind", ["linux", "sampling"])
def test_a_probe_says_whether_a_full_collection_ran_during_the_call(
    tmp_path: Path, kind: str
) -> None:
    # only a full collection can free garbage older than the call (the probe's start
    # collected the young generations) for the call to reuse
    (tmp_path / "clear_refs").write_text("")
    (tmp_path / "status").write_text("VmHWM:\t  1000 kB\nVmRSS:\t   800 kB\n")
    probe: MemoryProbe = (
        LinuxPeakProbe(tmp_path) if kind == "linux" else SamplingProbe(interval=0.001)
    )
    seen = []
    gc.disable()  # no collection of the collector's own: the sampling probe's thread allocates
    try:
        for collect in (lambda: gc.collect(_YOUNG_GENERATIONS), gc.collect, lambda: None):
            probe.start(collect_all=False)
            collect()
            probe.stop()
            seen.append(probe.saw_full_collection)
    finally:
        gc.enable()
    assert seen == [False, True, False]


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def allocate_and_touch(size: int) -> bytearray:
    return bytearray(b"x") * size


@linux_only
def test_linux_probe_measures_real_allocation() -> None:
    probe = default_memory_probe()
    assert probe.method == "linux-vmhwm"
    probe.start()
    held = allocate_and_touch(64 * MiB)
    growth = probe.stop()
    del held
    assert 60 * MiB < growth < 70 * MiB


@linux_only
def test_linux_probe_is_not_hidden_by_an_earlier_larger_peak() -> None:
    freed = allocate_and_touch(128 * MiB)
    del freed
    probe = LinuxPeakProbe()
    probe.start()
    held = allocate_and_touch(32 * MiB)
    growth = probe.stop()
    del held
    assert 28 * MiB < growth < 40 * MiB


def test_sampling_probe_sees_memory_freed_before_the_end() -> None:
    probe = SamplingProbe(interval=0.001)
    probe.start()
    held = allocate_and_touch(64 * MiB)
    time.sleep(0.3)
    del held
    assert probe.stop() > 48 * MiB


def test_the_cost_of_reading_the_clock_is_subtracted() -> None:
    clock = FakeClock()

    def read_wall() -> int:
        clock.wall += 100  # every read of this clock costs 100 ns
        return clock.wall

    sampler = Sampler(Clock(wall_ns=read_wall, cpu_ns=lambda: clock.cpu), None)
    sampler.run(lambda: clock.spend(5_000), rounds=3, warmup=0, max_time=1)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    assert measurement.wall == (5e-6, 5e-6, 5e-6)


def test_each_sample_carries_the_speed_read_around_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    kernel_times = iter([20_000, 20_000, 100_000, 20_000, 40_000, 40_000, 40_000, 40_000])
    monkeypatch.setattr(
        measure_module, "_reference_kernel", lambda: clock.spend(next(kernel_times))
    )
    sampler = Sampler(clock.as_clock(), None)
    sampler.note_machine_speed()
    for _ in range(7):
        with sampler.sample():
            clock.spend(1_000_000)
        sampler.note_machine_speed()
    measurement = sampler.measurement(1.0)
    assert measurement is not None
    # one reading taken at a bad moment (100 µs) is outvoted; the change of speed shows
    assert measurement.speeds == pytest.approx((20e-6, 20e-6, 30e-6, 40e-6, 40e-6, 40e-6, 40e-6))
    assert measurement.reference == pytest.approx(40e-6)  # the speed of the median sample


def test_samples_before_the_first_reading_carry_the_readings_after_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(measure_module, "_reference_kernel", lambda: clock.spend(25_000))
    sampler = Sampler(clock.as_clock(), None)
    with sampler.sample():
        clock.spend(1_000_000)
    sampler.note_machine_speed()
    measurement = sampler.measurement(1.0)
    assert measurement is not None
    assert measurement.speeds == (25e-6,)


def a_tracer(frame: object, event: str, arg: object) -> None:
    return None


def measure_once(sampler: Sampler, clock: FakeClock, way: str) -> None:
    if way == "run":
        sampler.run(lambda: clock.spend(1000), rounds=3, warmup=0, max_time=0.0)
    else:
        with sampler.sample():
            clock.spend(1000)


@pytest.mark.parametrize("way", ["run", "block"])
@pytest.mark.parametrize(
    ("set_hook", "get_hook"), [(sys.settrace, sys.gettrace), (sys.setprofile, sys.getprofile)]
)
def test_a_trace_or_profile_function_while_measuring_is_named(
    set_hook: Callable[[Any], None], get_hook: Callable[[], Any], way: str
) -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    previous = get_hook()
    set_hook(a_tracer)
    try:
        measure_once(sampler, clock, way)
    finally:
        set_hook(previous)
    measured = sampler.measurement(1.0)
    assert measured is not None
    assert measured.tracer == f"{__name__}.a_tracer"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is new in Python 3.12")
@pytest.mark.skipif(active_tracer() is not None, reason="these tests run under a tracer")
def test_a_monitoring_tool_while_measuring_is_named() -> None:
    monitoring: Any = getattr(sys, "monitoring")  # noqa: B009 - absent before Python 3.12
    tool = 4  # an id that no debugger, coverage tool or profiler takes by convention
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    monitoring.use_tool_id(tool, "a-profiler")
    try:
        measure_once(sampler, clock, "run")
    finally:
        monitoring.free_tool_id(tool)
    measured = sampler.measurement(1.0)
    assert measured is not None
    assert measured.tracer == "a-profiler"


@pytest.mark.skipif(active_tracer() is not None, reason="these tests run under a tracer")
@pytest.mark.parametrize("way", ["run", "block"])
def test_untraced_code_has_no_tracer(way: str) -> None:
    clock = FakeClock()
    sampler = Sampler(clock.as_clock(), None)
    measure_once(sampler, clock, way)
    measured = sampler.measurement(1.0)
    assert measured is not None
    assert measured.tracer is None


def test_only_a_reading_after_a_full_collection_collects_every_generation(
    pytester: pytest.Pytester,
) -> None:
    # a full collection costs 10 ms and more in a large process: a test gets one only
    # before redoing the reading of a call during which one ran (here the test's own), or
    # before its first when it limits memory and may get no other
    pytester.makeconftest(
        """
        import gc

        from pytest_perfbudget import memory

        gc.disable()  # only the tests' own full collections, not the collector's timing
        starts = []
        real = memory.collect_garbage

        def recording(*, collect_all):
            starts.append(collect_all)
            real(collect_all=collect_all)

        memory.collect_garbage = recording

        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_line(f"COLLECTED ALL {starts}")
        """
    )
    pytester.makepyfile(
        """
        import gc

        import pytest

        @pytest.mark.perf_budget(p95="10s", memory="1GiB", rounds=5)
        def test_a_plain():
            pass

        @pytest.mark.perf_budget(p95="10s", memory="1GiB", rounds=5)
        def test_b_collects():
            gc.collect()

        @pytest.mark.perf_budget(memory="1GiB", rounds=1)
        def test_c_one_reading():
            pass

        @pytest.mark.perf_budget(p95="10s", rounds=1)
        def test_d_one_reading_no_limit():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4)
    # the probe's check when it is made (no full collection: 10 ms in a large process),
    # then three readings a test, b's redone each time; c limits memory and gets one
    # reading, with no call left to redo it: it follows a full collection
    expected = [False, *[False] * 3, False, True, False, True, False, True, False]
    assert f"COLLECTED ALL {expected}" in result.outlines
