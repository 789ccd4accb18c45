"""What budgets cost a CI run: whole pytest sessions of budgeted tests with the plugin's
defaults (sequential stopping), with ``--perf-rounds=full`` (every test measured for
``max_time``, the rule before) and the same tests under pytest-benchmark's defaults.

Two suites: 100 tests of about 1 ms and 20 of about 20 ms, each test one call of a
CPU-bound loop measured through a fixture (``perf(work)`` under ``p95="1s"``;
``benchmark(work)`` with pytest-benchmark, this plugin disabled). The three kinds of
session run in turn, their order rotated each trial, and the ratio to pytest-benchmark's
session is taken per trial (target for the 1 ms suite: median <= 0.2).

    python benchmarks/bench_ci_cost.py [--trials 3] [--suite 1ms|20ms|both]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

WORK = """
import pytest

def work():
    total = 0
    for number in range({iterations}):
        total += number * number % 7
    return total
"""
PERF_SUITE = (
    WORK
    + """
@pytest.mark.parametrize("case", range({tests}))
@pytest.mark.perf_budget(p95="1s")
def test_work(perf, case):
    perf(work)
"""
)
BENCHMARK_SUITE = (
    WORK
    + """
@pytest.mark.parametrize("case", range({tests}))
def test_work(benchmark, case):
    benchmark(work)
"""
)

SUITES = {"1ms": (100, 0.001), "20ms": (20, 0.020)}
COMMON = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist"]
SESSIONS = {
    "perfbudget defaults": ["test_perf.py", "-p", "no:benchmark", "--perf-report=report.json"],
    "perfbudget --perf-rounds=full": [
        "test_perf.py", "-p", "no:benchmark", "--perf-rounds=full", "--perf-report=report.json",
    ],
    "pytest-benchmark defaults": ["test_benchmark.py", "-p", "no:perfbudget"],
}  # fmt: skip


def iterations_for(seconds: float) -> int:
    """Loop iterations that take about ``seconds`` on this machine, now."""
    count = 100_000
    start = time.perf_counter()
    total = 0
    for number in range(count):
        total += number * number % 7
    return max(1, int(seconds / ((time.perf_counter() - start) / count)))


def session(directory: Path, args: list[str]) -> float:
    """The wall time of one pytest session, in seconds."""
    command = [sys.executable, "-m", "pytest", *COMMON, *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def stops(directory: Path) -> str:
    """How the tests of the last perfbudget session stopped, and their median rounds."""
    tests = json.loads((directory / "report.json").read_text())["tests"]
    why = Counter(str(test["stopped"]) for test in tests)
    rounds = statistics.median(int(test["rounds"]) for test in tests)
    return f"{dict(why)}, median {rounds:g} rounds"


def measure(name: str, trials: int) -> None:
    tests, seconds = SUITES[name]
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        iterations = iterations_for(seconds)
        (directory / "test_perf.py").write_text(
            PERF_SUITE.format(iterations=iterations, tests=tests)
        )
        (directory / "test_benchmark.py").write_text(
            BENCHMARK_SUITE.format(iterations=iterations, tests=tests)
        )
        print(f"== {tests} tests of ~{name} ({iterations} iterations a call)")
        kinds = list(SESSIONS)
        ratios: dict[str, list[float]] = {kind: [] for kind in kinds[:2]}
        for trial in range(trials):
            order = kinds[trial % 3 :] + kinds[: trial % 3]
            times: dict[str, float] = {}
            for kind in order:
                times[kind] = session(directory, SESSIONS[kind])
                if kind != "pytest-benchmark defaults":
                    print(f"  trial {trial + 1}: {kind}: {times[kind]:.1f} s ({stops(directory)})")
                else:
                    print(f"  trial {trial + 1}: {kind}: {times[kind]:.1f} s")
            base = times["pytest-benchmark defaults"]
            for kind, values in ratios.items():
                values.append(times[kind] / base)
            print(
                f"  trial {trial + 1}: ratio to pytest-benchmark: "
                + ", ".join(f"{kind} {ratios[kind][-1]:.3f}" for kind in ratios)
            )
        for kind, values in ratios.items():
            shown = ", ".join(f"{value:.3f}" for value in values)
            print(f"{name}: {kind} / pytest-benchmark: median {statistics.median(values):.3f}"
                  f" ({shown})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--suite", choices=[*SUITES, "both"], default="both")
    args = parser.parse_args()
    for name in SUITES if args.suite == "both" else [args.suite]:
        measure(name, args.trials)


if __name__ == "__main__":
    main()
