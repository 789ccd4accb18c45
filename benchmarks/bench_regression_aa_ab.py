"""False alarms on unchanged code (A/A) and detection of a 35% slowdown (A/B), for real.

Twelve CPU-bound budgeted tests of 0.1-3 ms run under pytest on this machine: 5 runs are
saved as the baseline, then 10 runs are compared against it (120 comparisons; target: zero
regressions), then one run with every test made 35% slower (target: at least 11 of 12
caught). Each compared run uses the plugin as shipped: effect size, Mann-Whitney, and a
confirmation re-run.

    python benchmarks/bench_regression_aa_ab.py [--saved 5] [--compared 10] [--workers 2]
        [--rounds certain|full]

With ``--workers N`` every run is made under pytest-xdist with N workers (baselines are
kept per number of workers, so this is a baseline made and compared under ``-n N``).
``--rounds full`` measures every test for its ``max_time``, saves and compared runs alike
(the rule before sequential stopping); ``certain``, the default, stops each test once its
verdict is certain. The median rounds of the compared runs are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from statistics import median

SUITE = """
import os

import pytest

SLOWDOWN = float(os.environ.get("SLOWDOWN", "1.0"))
WORK = {work!r}


def spin(iterations):
    total = 0
    for number in range(iterations):
        total += number * number % 7
    return total


@pytest.mark.parametrize("name", sorted(WORK))
@pytest.mark.perf_budget(max_time="300ms")
def test_cpu_bound(name):
    spin(int(WORK[name] * SLOWDOWN))
"""


def calibrate() -> dict[str, int]:
    """Loop counts for 12 tests spread from about 0.1 ms to 3 ms on this machine."""
    import time

    iterations = 20_000
    start = time.perf_counter()
    total = 0
    for number in range(iterations):
        total += number * number % 7
    per_iteration = (time.perf_counter() - start) / iterations
    targets = [0.0001 * (30 ** (index / 11)) for index in range(12)]
    return {f"t{index:02d}_{target * 1e3:.2f}ms": int(target / per_iteration)
            for index, target in enumerate(targets)}  # fmt: skip


WORKERS = ["-p", "no:xdist"]
ROUNDS = ["--perf-rounds=certain"]


def run(directory: Path, *args: str, slowdown: float = 1.0) -> list[dict[str, object]]:
    report = directory / "report.json"
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        *WORKERS, *ROUNDS, f"--perf-report={report}", *args, str(directory / "test_cpu.py"),
    ]  # fmt: skip
    environment = {**os.environ, "SLOWDOWN": str(slowdown)}
    subprocess.run(command, cwd=directory, env=environment, capture_output=True, check=False)
    tests: list[dict[str, object]] = json.loads(report.read_text())["tests"]
    return tests


def regressed(test: dict[str, object]) -> bool:
    checks = test["regressions"]
    assert isinstance(checks, list)
    return any(check["outcome"] == "regressed" for check in checks)


def outcome(test: dict[str, object]) -> str:
    """The outcome of a test's p50 check."""
    checks = test["regressions"]
    assert isinstance(checks, list)
    (check,) = [c for c in checks if c["metric"] == "p50"]
    return str(check["outcome"])


def describe(test: dict[str, object]) -> str:
    """The outcome of a test's p50 check, its change and the machine's."""
    checks = test["regressions"]
    assert isinstance(checks, list)
    (check,) = [c for c in checks if c["metric"] == "p50"]
    machine = check["machine_change"]
    return f"{check['outcome']}, change {check['change']:+.1%}, machine " + (
        "unknown" if machine is None else f"{machine:+.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved", type=int, default=5)
    parser.add_argument("--compared", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers (-n)")
    parser.add_argument("--rounds", choices=["certain", "full"], default="certain")
    args = parser.parse_args()
    ROUNDS[:] = [f"--perf-rounds={args.rounds}"]
    if args.workers > 1:
        WORKERS[:] = ["-n", str(args.workers)]
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        (directory / "test_cpu.py").write_text(SUITE.format(work=calibrate()))
        for _ in range(args.saved):
            run(directory, "--perf-save")
        false_alarms, comparisons = 0, 0
        outcomes: Counter[str] = Counter()
        rounds: list[int] = []
        for index in range(args.compared):
            tests = run(directory)
            outcomes.update(outcome(test) for test in tests)
            rounds += [int(str(test["rounds"])) for test in tests]
            alarms = [str(test["nodeid"]) for test in tests if regressed(test)]
            false_alarms += len(alarms)
            comparisons += len(tests)
            print(f"A/A run {index + 1}: {len(alarms)} of {len(tests)} flagged {alarms}")
            for test in tests:
                if regressed(test):
                    print(f"  {test['nodeid']}: {describe(test)}")
        tests = run(directory, slowdown=1.35)
        caught = sum(regressed(test) for test in tests)
        for test in tests:
            checks = test["regressions"]
            assert isinstance(checks, list)
            if not regressed(test):
                print(f"A/B missed {test['nodeid']}: {describe(test)}")
    print(f"--perf-rounds={args.rounds}: median rounds of the A/A runs {median(rounds):g}")
    print(f"A/A outcomes of p50: {dict(sorted(outcomes.items()))}")
    print(f"A/A: {false_alarms} false regressions in {comparisons} comparisons (target 0)")
    print(f"A/B (+35%): {caught} of {len(tests)} caught (target >= 11)")


if __name__ == "__main__":
    main()
