"""Sequential stopping on synthetic samples: are tight budgets still judged right, and how
many calls does a test take? A pure computation (no timing), seeded.

Per-call times are lognormal (sigma 0.05, 0.1, 0.3) with 1% of calls 3x slower. A test is
measured as the plugin does with ``rounds="auto"``: 10 calls, then batches growing by half
and one ending at the 90 calls a p95 bound needs (``next_look``), the verdicts looked at
after each (``stopping.settled``), until they are settled or ``--calls`` calls (standing in
for ``max_time``) were made; its verdict is then its p95 against the limit. Cells: the
limit 5% above the true p95 (a pass is right) and 5% below it (a fail is right), and a
generous limit (1000x the median) and a tight one (the median / 10), for the calls they
took.

    python benchmarks/bench_stopping_simulation.py [--runs 1000] [--calls 1000]
"""

from __future__ import annotations

import argparse
import functools
import math
import operator
import random
import statistics
from collections.abc import Callable

from pytest_perfbudget.budget import Budget, Limit
from pytest_perfbudget.measure import MIN_ROUNDS, Measurement, next_look
from pytest_perfbudget.stats import percentile
from pytest_perfbudget.stopping import fewest_to_settle, settled

OUTLIERS = 0.01
#: The true p95 of a lognormal(0, sigma) with 1% of 3x outliers, found numerically.
TRUE_P95_SAMPLES = 400_000


def draw(generator: random.Random, sigma: float) -> float:
    value = generator.lognormvariate(0, sigma)
    return value * 3 if generator.random() < OUTLIERS else value


def true_p95(sigma: float) -> float:
    generator = random.Random(95)
    return percentile(sorted(draw(generator, sigma) for _ in range(TRUE_P95_SAMPLES)), 95)


def measure(
    generator: random.Random, sigma: float, budget: Budget, most: int
) -> tuple[list[float], bool]:
    """The samples one test takes, and whether it stopped settled."""
    wall = [draw(generator, sigma) for _ in range(MIN_ROUNDS)]
    look_at = fewest_to_settle(budget)
    while len(wall) < most:
        if settled(budget, Measurement(tuple(wall), tuple(wall), ()), None, memory_done=True):
            return wall, True
        more = min(next_look(len(wall), look_at), most) - len(wall)
        wall += [draw(generator, sigma) for _ in range(more)]
    return wall, False


def cell(
    sigma: float, limit: float, runs: int, most: int, right: Callable[[float], bool]
) -> tuple[int, float, int]:
    """(right verdicts, median calls, runs that stopped settled) of ``runs`` tests."""
    generator = random.Random(int(sigma * 1000 + limit * 7))
    budget = Budget(limits=(Limit("p95", limit),))
    correct = early = 0
    calls = []
    for _ in range(runs):
        wall, stopped = measure(generator, sigma, budget, most)
        correct += right(percentile(sorted(wall), 95))
        early += stopped
        calls.append(len(wall))
    return correct, statistics.median(calls), early


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=1000, help="the most calls, as max_time")
    args = parser.parse_args()
    print(f"{args.runs} runs a cell, at most {args.calls} calls a test; target >= 95% right")
    for sigma in (0.05, 0.1, 0.3):
        p95 = true_p95(sigma)
        median = math.exp(0)
        under, over = p95 * 1.05, p95 * 0.95
        generous, tight = median * 1000, median / 10
        cells: dict[str, tuple[float, Callable[[float], bool]]] = {
            "p95 5% under the limit (pass)": (under, functools.partial(operator.ge, under)),
            "p95 5% over the limit (fail)": (over, functools.partial(operator.lt, over)),
            "generous limit (pass)": (generous, functools.partial(operator.ge, generous)),
            "tight limit (fail)": (tight, functools.partial(operator.lt, tight)),
        }
        for name, (limit, right) in cells.items():
            correct, calls, early = cell(sigma, limit, args.runs, args.calls, right)
            print(
                f"sigma {sigma:<4} {name:<32} right {correct / args.runs:7.1%}  "
                f"median calls {calls:6.0f}  stopped settled {early / args.runs:6.1%}"
            )


if __name__ == "__main__":
    main()
