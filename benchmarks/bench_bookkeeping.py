"""Where a budgeted run's time goes besides the measured calls: 200 trivial budgeted tests.

Three sessions of the same 200 trivial tests, interleaved ``--pairs`` times: without
budgets, and with a budget (``p95="1s"``, ``max_time`` 20 ms: each test stops once its
verdict is certain, at 120 calls, else at ``max_time``), the second profiled under
cProfile. Per test it prints:

- outside the measured calls: the budgeted session's wall time, less the unbudgeted
  one's and less the time the measured calls took themselves (from the JSON report's
  rounds x mean; target: under 2 ms a test);
- the plugin's own bookkeeping: of that, what is not measuring (the measuring loop,
  the memory probes, the reference kernel and the clock's calibration), from the profile
  (target: under 0.5 ms a test), and the plugin's functions that take the most.

    python benchmarks/bench_bookkeeping.py [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TESTS = 200
BUDGETED = """
import pytest

pytestmark = pytest.mark.perf_budget(p95="1s", max_time="20ms")

{tests}
"""
#: What measuring is, in the profile: the loop, the probes, the kernel, calibration.
MEASURING = ("_measure", "measure_block", "start", "stop", "reference_seconds", "read_cost_ns")


def write(directory: Path, budgeted: bool) -> None:
    directory.mkdir()
    tests = "\n".join(f"def test_{n}():\n    pass\n" for n in range(TESTS))
    body = BUDGETED.format(tests=tests) if budgeted else tests
    (directory / "test_trivial.py").write_text(body)


def session(directory: Path, *args: str) -> float:
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        "-p", "no:xdist", *args, str(directory),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start


def measured_seconds(report: Path) -> float:
    tests: list[dict[str, Any]] = json.loads(report.read_text())["tests"]
    return sum(float(test["rounds"] * test["metrics"]["mean"]) for test in tests)


def profile(directory: Path, report: Path) -> pstats.Stats:
    output = directory.parent / "profile.out"
    command = [
        sys.executable, "-m", "cProfile", "-o", str(output), "-m", "pytest", "-q",
        "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist",
        f"--perf-report={report}", str(directory),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, check=True)
    return pstats.Stats(str(output))


def plugin_rows(stats: pstats.Stats) -> list[tuple[str, float, float]]:
    """(function, total seconds inside it, cumulative seconds) of the plugin's functions."""
    rows = []
    for (file, _, name), values in stats.stats.items():  # type: ignore[attr-defined]
        if "pytest_perfbudget" in file:
            rows.append((f"{Path(file).name}:{name}", values[2], values[3]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        plain, budgeted = root / "plain", root / "budgeted"
        write(plain, budgeted=False)
        write(budgeted, budgeted=True)
        report = root / "report.json"
        outside = []
        for _ in range(args.pairs):  # interleaved: both see the same machine speed
            without = session(plain)
            with_budgets = session(budgeted, f"--perf-report={report}")
            outside.append((with_budgets - without - measured_seconds(report)) / TESTS)
        stats = profile(budgeted, root / "profiled.json")
    rows = plugin_rows(stats)
    measuring = sum(own for name, own, _ in rows if name.split(":")[1] in MEASURING)
    plugin_own = sum(own for _, own, _ in rows)
    print(
        f"outside the measured calls, per test: median {statistics.median(outside) * 1e3:.2f} ms "
        f"({', '.join(f'{value * 1e3:.2f}' for value in outside)}; target < 2 ms)"
    )
    print(
        f"the plugin's own functions under cProfile, per test: {plugin_own / TESTS * 1e3:.2f} ms, "
        f"of which measuring {measuring / TESTS * 1e3:.2f} ms; bookkeeping "
        f"{(plugin_own - measuring) / TESTS * 1e3:.2f} ms (target < 0.5 ms; cProfile slows "
        "every call, so these are upper bounds)"
    )
    print("the plugin's functions taking the most time of their own, per test:")
    for name, own, cumulative in sorted(rows, key=lambda row: -row[1])[:12]:
        print(
            f"  {own / TESTS * 1e6:8.1f} us own  "
            f"{cumulative / TESTS * 1e6:8.1f} us with callees  {name}"
        )


if __name__ == "__main__":
    main()
