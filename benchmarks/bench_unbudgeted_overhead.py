"""Cost of the plugin on a suite of 3000 tests without budgets.

Runs the same generated suite with the plugin and under ``-p no:perfbudget``, in interleaved
pairs, and prints the median of the per-pair time ratios. Target: within 2% (ratio <= 1.02).

    python benchmarks/bench_unbudgeted_overhead.py [--pairs 9] [--tests 3000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS_PER_FILE = 100


def write_suite(directory: Path, tests: int) -> None:
    for file_number in range(tests // TESTS_PER_FILE):
        body = "\n".join(
            f"def test_{n}():\n    assert {n} + 1 > {n}\n" for n in range(TESTS_PER_FILE)
        )
        (directory / f"test_suite_{file_number}.py").write_text(body)


def run_suite(directory: Path, *extra: str) -> float:
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:hypothesispytest", "-p", "no:randomly", *extra, str(directory),
    ]  # fmt: skip
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"suite failed:\n{completed.stdout[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--tests", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        write_suite(directory, args.tests)
        run_suite(directory)  # warm the file cache and bytecode
        ratios = []
        with_plugin_times, without_times = [], []
        for pair in range(args.pairs):
            if pair % 2:
                without = run_suite(directory, "-p", "no:perfbudget")
                with_plugin = run_suite(directory)
            else:
                with_plugin = run_suite(directory)
                without = run_suite(directory, "-p", "no:perfbudget")
            with_plugin_times.append(with_plugin)
            without_times.append(without)
            ratios.append(with_plugin / without)
    ratio = statistics.median(ratios)
    print(f"{args.tests} unbudgeted tests, {args.pairs} interleaved pairs")
    print(f"  with plugin:        median {statistics.median(with_plugin_times):.3f} s")
    print(f"  -p no:perfbudget:   median {statistics.median(without_times):.3f} s")
    print(f"  ratio (median of pairs): {ratio:.4f}  ({(ratio - 1) * 100:+.2f}%)  target <= 1.02")


if __name__ == "__main__":
    main()
