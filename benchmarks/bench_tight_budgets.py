"""Tight budgets judged for real: a test whose p95 is 5% under its limit, and one 5% over,
measured with sequential stopping as the plugin measures a test.

The call sleeps 0.5 ms times a lognormal factor (``--sigma``, 0.3 by default: as spread
out as the hardest cell of bench_stopping_simulation.py; 0 sleeps 0.5 ms flat). A sleep's
time is set by the kernel's timers, not by the CPU, so its true p95 holds still on a
machine whose CPU speed jumps (a CPU-bound call's would move by tens of percent from one
moment to the next, and no limit would stay 5% away from it). Every ``--every`` runs the
true p95 is estimated again from 5,000 calls, and the limits are set from it: 1.05x (a
pass is right) and 0.95x (a fail is right). Each run is a ``Sampler`` with the plugin's
stopping rule (``rounds="auto"``, ``max_time``, the look at 90 calls), judged on its p95 as
the plugin does. Prints how many verdicts were right of each kind, the calls taken and why
each run stopped (target: >= 95 of 100 right each).

    python benchmarks/bench_tight_budgets.py [--runs 100] [--every 10] [--max-time 1]
        [--sigma 0.3] [--full]

``--full`` measures every run for ``max_time`` (``--perf-rounds=full``), for comparison.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable

from pytest_perfbudget.budget import Budget, Limit
from pytest_perfbudget.measure import Clock, Sampler
from pytest_perfbudget.stats import percentile
from pytest_perfbudget.stopping import fewest_to_settle, settled

CALIBRATION_CALLS = 5_000


def sleeper(sigma: float) -> Callable[[], None]:
    generator = random.Random(17)

    def call() -> None:
        time.sleep(0.0005 * generator.lognormvariate(0, sigma))

    return call


def true_p95(clock: Clock, call: Callable[[], None]) -> float:
    sampler = Sampler(clock, None)
    sampler.run(call, rounds=CALIBRATION_CALLS, warmup=10, max_time=60)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    return percentile(sorted(measurement.wall), 95)


def judged(
    clock: Clock, call: Callable[[], None], limit: float, max_time: float, *, full: bool
) -> tuple[bool, int, str]:
    """(whether the p95 kept the limit, calls measured, why measuring stopped)."""
    budget = Budget(limits=(Limit("p95", limit),))
    sampler = Sampler(clock, None)

    def enough() -> bool:
        measurement = sampler.measurement(ops=1)
        return measurement is not None and settled(budget, measurement, None, memory_done=True)

    if not full:
        sampler.enough = enough
        sampler.look_at = fewest_to_settle(budget)
    sampler.run(call, rounds="auto", warmup=1, max_time=max_time)
    measurement = sampler.measurement(ops=1)
    assert measurement is not None
    kept = percentile(sorted(measurement.wall), 95) <= limit
    return kept, measurement.rounds, str(measurement.stopped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--max-time", type=float, default=1.0)
    parser.add_argument("--sigma", type=float, default=0.3)
    parser.add_argument("--full", action="store_true", help="no stopping: max_time each")
    args = parser.parse_args()
    clock = Clock()
    call = sleeper(args.sigma)
    estimates: list[float] = []
    right = {"under": 0, "over": 0}
    calls: dict[str, list[int]] = {"under": [], "over": []}
    stops: dict[str, Counter[str]] = {"under": Counter(), "over": Counter()}
    p95 = 0.0
    for run in range(args.runs):
        if run % args.every == 0:
            p95 = true_p95(clock, call)
            estimates.append(p95)
        for kind, factor in (("under", 1.05), ("over", 0.95)):
            kept, rounds, stopped = judged(
                clock, call, p95 * factor, args.max_time, full=args.full
            )
            right[kind] += kept if kind == "under" else not kept
            calls[kind].append(rounds)
            stops[kind][stopped] += 1
    shown = ", ".join(f"{value * 1e6:.1f}" for value in estimates)
    rule = "--full (no stopping)" if args.full else "sequential stopping"
    print(
        f"{rule}, sigma {args.sigma}: true p95 estimates "
        f"(us, {CALIBRATION_CALLS} calls each): {shown}"
    )
    for kind, words in (("under", "5% under its limit (pass)"), ("over", "5% over (fail)")):
        print(
            f"p95 {words:27} right {right[kind]} of {args.runs}; median calls "
            f"{statistics.median(calls[kind]):g}; stopped {dict(stops[kind])}"
        )


if __name__ == "__main__":
    main()
