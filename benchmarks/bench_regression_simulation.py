"""The regression decision on synthetic samples, against our simulation table.

A pure computation (no timing): lognormal per-call latencies with 1% of samples 3x
outliers, 2000 trials per cell, threshold +20%, baseline = the pooled samples of 5 runs.
Prints, per cell, the false-alarm rate on unchanged code, the false-alarm rate on a +10%
change (below the threshold) and the detection rate of a +30% change, beside the figures
of the chosen row of docs/explanation/statistics.md, with the Monte-Carlo standard error.

    python benchmarks/bench_regression_simulation.py [--trials 2000]
"""

from __future__ import annotations

import argparse
import math
import random

from pytest_perfbudget.history import thin
from pytest_perfbudget.regression import check_regression

BASELINE_RUNS = 5
THRESHOLD = 0.20
OUTLIER_RATE = 0.01
#: docs/explanation/statistics.md, row "same, baseline = pooled samples of last 5 runs",
#: in percent:
#: (sigma, n) -> (unchanged, +10%, +30%).
EXPECTED = {
    (0.15, 10): (0.05, 5.4, 89.0),
    (0.15, 30): (0.0, 1.1, 98.5),
    (0.30, 30): (0.25, 7.8, 84.0),
}


def samples(generator: random.Random, sigma: float, n: int, factor: float) -> list[float]:
    values = []
    for _ in range(n):
        value = factor * generator.lognormvariate(0.0, sigma)
        if generator.random() < OUTLIER_RATE:
            value *= 3
        values.append(value)
    return values


def rate(
    generator: random.Random, sigma: float, n: int, factor: float, trials: int, *, thinned: bool
) -> float:
    """Percentage of trials declared a regression.

    ``thinned`` stores each baseline run as the history does: at most 16 order statistics.
    """
    flagged = 0
    for _ in range(trials):
        baseline = []
        for _run in range(BASELINE_RUNS):
            run = samples(generator, sigma, n, 1.0)
            baseline.extend(thin(run) if thinned else run)
        current = samples(generator, sigma, n, factor)
        flagged += check_regression("p50", current, baseline, THRESHOLD).regressed
    return 100 * flagged / trials


def standard_error(percent: float, trials: int) -> float:
    p = max(percent, 100 / trials) / 100  # a floor of one event for rates near zero
    return 100 * math.sqrt(p * (1 - p) / trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    generator = random.Random(20261126)
    print(f"{args.trials} trials a cell; threshold +20%; rates in %")
    print("expected: the simulation table of docs/explanation/statistics.md")
    print(f"{'cell':16} {'change':>7} {'measured':>9} {'expected':>9} {'|diff|/SE':>10}")
    worst = 0.0
    for (sigma, n), expected in EXPECTED.items():
        for factor, want in zip((1.0, 1.1, 1.3), expected, strict=True):
            got = rate(generator, sigma, n, factor, args.trials, thinned=False)
            error = standard_error(want, args.trials)
            score = abs(got - want) / error
            worst = max(worst, score)
            cell = f"sigma={sigma} n={n}"
            print(f"{cell:16} {factor - 1:+7.0%} {got:9.2f} {want:9.2f} {score:10.1f}")
    verdict = "within" if worst <= 3 else "OUTSIDE"
    print(f"largest deviation: {worst:.1f} standard errors ({verdict} 3 SE of Monte-Carlo error)")
    print("as stored in the history (baseline runs thinned to 16 order statistics each):")
    for sigma, n in ((0.15, 30), (0.30, 30)):
        rates = [
            rate(generator, sigma, n, factor, args.trials, thinned=True)
            for factor in (1.0, 1.1, 1.3)
        ]
        print(f"  sigma={sigma} n={n}: " + " / ".join(f"{value:.2f}" for value in rates))


if __name__ == "__main__":
    main()
