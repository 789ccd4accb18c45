"""The step rule of ``perfbudget trend`` on synthetic histories: false steps, steps found.

A pure computation (no timing), seeded, so every run prints the same figures:

- unchanged histories: ``--series`` series of each length from 8 to 30 runs at each noise
  level (lognormal, sigma 5%, 10%, 15%) around 10 ms; the share in which ``find_step``
  reports a step;
- steps: ``--steps`` series per cell, ``before`` runs at 10 ms then ``after`` runs
  ``size`` MADs of the noise higher (lognormal, sigma 5%, so one MAD is 3.4%); the share
  found at the run where the step began and, in brackets, the share whose step is clean
  (every run after slower than every run before);
- the issue's case: 6 runs at 10 ms, 6 at 30 ms.

    python benchmarks/bench_trend_simulation.py [--series 6000] [--steps 500]

Figures with the defaults, for the Mann-Whitney rule alone (exact p times the splits
tried < 0.001), the only rule before clean steps: false steps in 107 of 414,000 unchanged
histories (2.6e-4; none in 8-12 runs, 3.7e-5 in 13-18, 4.4e-4 in 19-24, 5.1e-4 in 25-30);
no step found with 8 runs a side or fewer, whatever its size (0% even at 40 MADs,
+285%), nor the issue's case; 10-15 runs a side: 79-87% at 5 MADs, 100% from 20 MADs;
the newest 4 runs of 30 stepped: 4-10% at any size.
"""

from __future__ import annotations

import argparse
import math
import random

from pytest_perfbudget.trend import find_step

LENGTHS = range(8, 31)
SIGMAS = (0.05, 0.10, 0.15)
STEP_SIGMA = 0.05
#: A lognormal's MAD in log units, per unit of sigma.
MAD_PER_SIGMA = 0.6745
STEP_SIZES = (5, 10, 20, 40)
STEP_SIDES = ((4, 4), (5, 5), (6, 6), (8, 8), (10, 10), (12, 12), (15, 15), (26, 4), (22, 8))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=6000, help="per length and noise level")
    parser.add_argument("--steps", type=int, default=500, help="per cell of the steps table")
    options = parser.parse_args()
    false_steps(options.series)
    steps_found(options.steps)
    issue_case()


if __name__ == "__main__":
    main()
