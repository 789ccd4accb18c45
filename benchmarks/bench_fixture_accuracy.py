"""Does the perf fixture measure what timeit measures, and what does a round cost?

In one process, side by side: the ``perf`` fixture's p50 (the same Sampler the fixture uses)
and timeit's per-call time, for a ~2 us and a ~2 ms function, alternating in short slices
(about 30 ms each) so that both see the same machine speed on a machine whose speed jumps;
the median of the per-slice ratios is printed. Target: ratio within 1 +- 0.10.
Also prints the overhead the plugin adds to each measured round, in ns, of a call and of an
awaited call (an async test's round, on an asyncio event loop), measured alternately, and
the median of their per-repeat ratios. Target: awaited / called <= 2.

    python benchmarks/bench_fixture_accuracy.py
    python benchmarks/bench_fixture_accuracy.py --slices 3 --rounds 2000  # checks it runs
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import timeit
from collections.abc import Callable
from time import perf_counter_ns

from pytest_perfbudget.measure import Clock, Sampler
from pytest_perfbudget.meter import PerfMeter

SLICES = 41
SLICE_SECONDS = 0.03


def small() -> int:
    return sum(range(120))


def large() -> int:
    return sum(range(100_000))


def timeit_per_call(func: Callable[[], object], number: int) -> float:
    """timeit's per-call time over ``number`` calls."""
    return timeit.Timer(func).timeit(number=number) / number


def perf_p50(func: Callable[[], object], rounds: int) -> float:
    sampler = Sampler(Clock(), memory_probe=None)
    PerfMeter(sampler, rounds=rounds, warmup=1, max_time=0)(func)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    return measurement.metrics()["p50"]


def round_overhead_ns(rounds: int = 200_000) -> float:
    """Per-round wall time of Sampler.run on a no-op, minus a bare loop calling the no-op."""

    def noop() -> None:
        return None

    start = perf_counter_ns()
    for _ in range(rounds):
        noop()
    bare = (perf_counter_ns() - start) / rounds
    sampler = Sampler(Clock(), memory_probe=None)
    start = perf_counter_ns()
    sampler.run(noop, rounds=rounds, warmup=0, max_time=0)
    measured = (perf_counter_ns() - start) / rounds
    return measured - bare


def awaited_round_overhead_ns(rounds: int = 200_000) -> float:
    """Per-round wall time of Sampler.run_async on an awaited no-op, minus a bare loop
    awaiting the no-op, on one asyncio event loop."""

    async def noop() -> None:
        return None

    async def overhead() -> float:
        start = perf_counter_ns()
        for _ in range(rounds):
            await noop()
        bare = (perf_counter_ns() - start) / rounds
        sampler = Sampler(Clock(), memory_probe=None)
        start = perf_counter_ns()
        await sampler.run_async(noop, rounds=rounds, warmup=0, max_time=0)
        measured = (perf_counter_ns() - start) / rounds
        return measured - bare

    return asyncio.run(overhead())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=SLICES, help="slices of each function")
    parser.add_argument("--rounds", type=int, default=200_000, help="rounds of an overhead")
    parser.add_argument("--repeats", type=int, default=11, help="overheads of each kind")
    args = parser.parse_args()
    for name, func in (("~2 us", small), ("~2 ms", large)):
        calls = max(1, int(SLICE_SECONDS / timeit_per_call(func, 10)))
        ratios, ours, theirs = [], [], []
        for repeat in range(args.slices):
            if repeat % 2:
                p50 = perf_p50(func, calls)
                reference = timeit_per_call(func, calls)
            else:
                reference = timeit_per_call(func, calls)
                p50 = perf_p50(func, calls)
            ours.append(p50)
            theirs.append(reference)
            ratios.append(p50 / reference)
        print(
            f"{name} function: perf p50 {statistics.median(ours) * 1e6:9.2f} us, "
            f"timeit {statistics.median(theirs) * 1e6:9.2f} us, "
            f"ratio {statistics.median(ratios):.3f} (target 0.90-1.10)"
        )
    called, awaited = [], []
    for repeat in range(args.repeats):  # alternating, so both see the same machine speeds
        if repeat % 2:
            awaited.append(awaited_round_overhead_ns(args.rounds))
            called.append(round_overhead_ns(args.rounds))
        else:
            called.append(round_overhead_ns(args.rounds))
            awaited.append(awaited_round_overhead_ns(args.rounds))
    ratio = statistics.median(a / c for a, c in zip(awaited, called, strict=True))
    print(
        "overhead per measured round (no memory probe): "
        f"called {statistics.median(called):.0f} ns, awaited {statistics.median(awaited):.0f} ns, "
        f"awaited / called {ratio:.2f} (target <= 2)"
    )


if __name__ == "__main__":
    main()
