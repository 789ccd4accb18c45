"""Does the perf fixture measure what timeit measures, and what does a round cost?

In one process, side by side: the ``perf`` fixture's p50 (the same Sampler the fixture uses)
and timeit's per-call time, for a ~2 us and a ~2 ms function, alternating in short slices
(about 30 ms each) so that both see the same machine speed on a machine whose speed jumps;
the median of the per-slice ratios is printed. Target: ratio within 1 +- 0.10.
Also prints the overhead the plugin adds to each measured round, in ns.

    python benchmarks/bench_fixture_accuracy.py
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from time import perf_counter_ns

from pytest_perfbudget.measure import Clock, PerfMeter, Sampler

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


def main() -> None:
    for name, func in (("~2 us", small), ("~2 ms", large)):
        calls = max(1, int(SLICE_SECONDS / timeit_per_call(func, 10)))
        ratios, ours, theirs = [], [], []
        for repeat in range(SLICES):
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
    overheads = [round_overhead_ns() for _ in range(11)]
    print(f"overhead per measured round (no memory probe): {statistics.median(overheads):.0f} ns")


if __name__ == "__main__":
    main()
