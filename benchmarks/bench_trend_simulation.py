"""The step rule of ``perfbudget trend`` on synthetic histories: false steps, steps found.

A pure computation (no timing), seeded, so every run prints the same figures:

- unchanged histories: ``--series`` series of each length from 8 to 30 runs at each noise
  level (lognormal, sigma 5%, 10%, 15%) around 10 ms; the share in which ``find_step``
  reports a step;
- steps: ``--steps`` series per cell, ``before`` runs at 10 ms then ``after`` runs
  ``size`` MADs of the noise higher (lognormal, sigma 5%, so one MAD is 3.4%); the share
  found at the run where the step began and, in brackets, the share whose step is clean
  (every run after slower than every run before);
- the issue's case: 6 runs at 10 ms, 6 at 30 ms;
- with ``--calibrate``, where the clean-split rule's thresholds come from: for splits of
  an unchanged history (lognormal, sigma 15%) into ``before`` and ``after`` runs, the
  chance that it is clean (every run on one side slower than every run on the other: 2 /
  C(n, before), exact), how many spreads apart a clean split's sides are once in a million
  such histories, the spreads the rule asks for (``spreads_needed``), and the chance that
  an unchanged history shows a clean split there that far apart, which the rule keeps
  about one in a million or less; and how often a rule of "clean, and at least 5 MADs (of
  either side) and 5% apart" would call an unchanged 8-run history stepped.

    python benchmarks/bench_trend_simulation.py [--series 6000] [--steps 500] [--calibrate]
    python benchmarks/bench_trend_simulation.py --rank-only    # the rule before clean splits

Figures with the defaults (rates per history), before (``--rank-only``) -> after:

- unchanged histories, before and after alike: 107 false steps in 414,000 (2.6e-4):
  none in 8-12 runs, 3.7e-5 in 13-18, 4.4e-4 in 19-24, 5.1e-4 in 25-30. The same 107
  histories: the clean rule added none. ``--calibrate``: each split it accepts is a false
  step of an unchanged history about once in a million or less (1.7e-8 to 7.8e-7 by
  split; the estimates carry about 20% of sampling error). On a machine of two speeds,
  where 4 fast runs then 4 slow ones are a clean step: 44 -> 87 of 138,000 (3.2e-4 ->
  6.3e-4).
- steps found at the right run, before -> after: 4 + 4 runs: 0 -> 0.2, 3.8, 40, 94% at
  5, 10, 20, 40 MADs; 5 + 5: 0 -> 0.2, 16, 93, 100%; 6 + 6: 0 -> 2.8, 63, 100, 100%;
  8 + 8: 0 -> 16, 98, 100, 100%; 10-15 a side: unchanged (79-87% at 5 MADs, 100% from
  20); the newest 4 of 30 runs: 4, 9, 9, 10% -> 7, 99, 100, 100%; the issue's case: not
  found -> found from run 7.
- what the rule cannot do: find a clean 4 + 4 step of 5 MADs. An unchanged 8-run
  history splits 4 + 4 cleanly one time in 35, and then its sides' medians are at least
  5 MADs (of either side) and 5% apart 18% of the time: a rule that took those would
  report a false step in 5.3e-3 of 8-run histories, 20 times today's rate of all lengths.
"""

from __future__ import annotations

import argparse
import math
import random

from pytest_perfbudget import trend
from pytest_perfbudget.stats import median, median_absolute_deviation
from pytest_perfbudget.trend import MIN_RELATIVE_CHANGE, find_step, spreads_apart, spreads_needed

LENGTHS = range(8, 31)
SIGMAS = (0.05, 0.10, 0.15)
STEP_SIGMA = 0.05
#: A lognormal's MAD in log units, per unit of sigma.
MAD_PER_SIGMA = 0.6745
STEP_SIZES = (5, 10, 20, 40)
STEP_SIDES = ((4, 4), (5, 5), (6, 6), (8, 8), (10, 10), (12, 12), (15, 15), (26, 4), (22, 8))
#: The false-step chance a clean split may add to an unchanged history.
CLEAN_FALSE_STEPS = 1e-6


def noisy(generator: random.Random, level: float, count: int, sigma: float) -> list[float]:
    return [level * generator.lognormvariate(0.0, sigma) for _ in range(count)]


def false_steps(series_count: int) -> None:
    generator = random.Random(20261128)
    found: dict[int, int] = {}
    for length in LENGTHS:
        for sigma in SIGMAS:
            for _ in range(series_count):
                found[length] = found.get(length, 0) + (
                    find_step(noisy(generator, 10.0, length, sigma)) is not None
                )
    print("unchanged histories: false steps")
    for low, high in ((8, 12), (13, 18), (19, 24), (25, 30)):
        tried = (high - low + 1) * len(SIGMAS) * series_count
        steps = sum(found[length] for length in range(low, high + 1))
        print(f"  {low:2}-{high:2} runs: {steps:4} of {tried:,} = {steps / tried:.2e}")
    tried = len(LENGTHS) * len(SIGMAS) * series_count
    steps = sum(found.values())
    print(f"  all      : {steps:4} of {tried:,} = {steps / tried:.2e}")
    # noise of two levels: a machine that runs each time at one of two speeds
    steps = 0
    for length in LENGTHS:
        for _ in range(series_count):
            series = noisy(generator, 10.0, length, 0.03)
            series = [value * generator.choice((1.0, 1.3)) for value in series]
            steps += find_step(series) is not None
    tried = len(LENGTHS) * series_count
    print(
        f"  8-30 runs on a machine of two speeds 30% apart (noise 3%): "
        f"{steps} of {tried:,} = {steps / tried:.2e}"
    )


def steps_found(series_count: int) -> None:
    generator = random.Random(20261129)
    print(f"steps (noise sigma {STEP_SIGMA:.0%}): % found at the right run (% clean)")
    print(
        "  runs a side  "
        + "".join(f"{size:>3} MADs (+{_relative(size):.0%})".rjust(22) for size in STEP_SIZES)
    )
    for before, after in STEP_SIDES:
        cells = []
        for size in STEP_SIZES:
            factor = 1 + _relative(size)
            found = clean = 0
            for _ in range(series_count):
                first = noisy(generator, 10.0, before, STEP_SIGMA)
                second = noisy(generator, 10.0 * factor, after, STEP_SIGMA)
                step = find_step(first + second)
                found += step is not None and step.index == before
                clean += max(first) < min(second)
            cells.append(
                f"{100 * found / series_count:5.1f}% ({100 * clean / series_count:5.1f}%)"
            )
        print(f"  {before:2} + {after:2}      " + "".join(cell.rjust(22) for cell in cells))


def _relative(size: int) -> float:
    return math.exp(size * MAD_PER_SIGMA * STEP_SIGMA) - 1


def issue_case() -> None:
    generator = random.Random(16)
    series = noisy(generator, 0.010, 6, 0.006) + noisy(generator, 0.030, 6, 0.006)
    step = find_step(series)
    found = "not found" if step is None else f"found from run {step.index + 1}"
    print(f"6 runs at 10 ms, then 6 at 30 ms: {found}")


def calibrate() -> None:
    generator = random.Random(20261130)
    print("clean splits of unchanged histories (sigma 15%)")
    print("  split    chance clean  spreads 1 in 1e6  rule asks  false steps with the rule")
    for shorter in range(4, 9):
        for longer in sorted({shorter, shorter + 1, shorter + 2, shorter + 4, 30 - shorter}):
            count = shorter + longer
            chance = 2 / math.comb(count, shorter)
            needed = spreads_needed(shorter, longer)
            if longer < shorter or chance <= CLEAN_FALSE_STEPS:
                continue
            # the sides of a clean split of an unchanged history are its lowest and highest
            # runs; the shorter side is the low one or the high one, equally often
            tail = CLEAN_FALSE_STEPS / chance
            samples = int(min(1e6, max(2e4, 60 / tail)))
            apart = []
            for _ in range(samples):
                runs = sorted(noisy(generator, 10.0, count, 0.15))
                cut = shorter if generator.random() < 0.5 else longer
                apart.append(spreads_apart(runs[:cut], runs[cut:]))
            apart.sort(reverse=True)
            reached = sum(value >= needed for value in apart) / samples
            print(
                f"  {shorter:2} + {longer:2}  {chance:12.1e}  {apart[int(tail * samples)]:16.1f}"
                f"  {needed:9.1f}  {chance * reached:.1e} ({reached * samples:.0f} of {samples:,})"
            )
    samples, wide = 200_000, 0
    for _ in range(samples):
        runs = sorted(noisy(generator, 10.0, 8, 0.15))
        low, high = runs[:4], runs[4:]
        gap = median(high) - median(low)
        noise = max(median_absolute_deviation(low), median_absolute_deviation(high))
        wide += gap >= 5 * noise and gap >= MIN_RELATIVE_CHANGE * median(low)
    print(
        f"clean 4 + 4 splits at least 5 MADs and {MIN_RELATIVE_CHANGE:.0%} apart: "
        f"{wide / samples:.1%} of them, so {2 / math.comb(8, 4) * wide / samples:.1e} of "
        "unchanged 8-run histories"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=6000, help="per length and noise level")
    parser.add_argument("--steps", type=int, default=500, help="per cell of the steps table")
    parser.add_argument("--calibrate", action="store_true", help="the clean rule's thresholds")
    parser.add_argument(
        "--rank-only", action="store_true", help="the rule before clean splits: Mann-Whitney alone"
    )
    options = parser.parse_args()
    if options.rank_only:
        trend._has_clean_split = lambda series, splits: False
    if options.calibrate:
        calibrate()
        return
    false_steps(options.series)
    steps_found(options.steps)
    issue_case()


if __name__ == "__main__":
    main()
