"""A history of 5,000 tests x 50 runs: its size, and the cost of one more saved run.

Builds the history through the plugin's own code (every run a realistic result per test:
samples of a 0.1-3 ms test, thinned as the plugin thins them when it judges the test),
prints its size (target: under 25 MB), then times loading it, merging one more run of the
5,000 tests and saving it, against the time pytest takes to run 5,000 trivial tests
(target: at most 10%), both measured here.

    python benchmarks/bench_history_scale.py [--pairs 5] [--stdlib]

The two are timed in interleaved pairs, so both see the same machine speed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_perfbudget.files import fast_json
from pytest_perfbudget.history import (
    History,
    RunInfo,
    SavedResult,
    save_results,
    thin,
)

TESTS = 5000
RUNS = 50


def results(generator: random.Random, run: int) -> list[SavedResult]:
    batch = []
    for number in range(TESTS):
        center = 0.0001 * (30 ** ((number % 97) / 96))
        wall = sorted(center * generator.lognormvariate(0, 0.1) for _ in range(200))
        p50 = wall[100]
        metrics = {
            "p50": p50, "p90": wall[180], "p95": wall[190], "p99": wall[198],
            "mean": sum(wall) / len(wall), "max": wall[-1], "cpu": p50 * 0.98,
            "memory": float([0, 4096, 8192, 1 << 20][number % 4]),
        }  # fmt: skip
        batch.append(
            SavedResult(
                nodeid=f"tests/test_module_{number // 50}.py::test_case[{number}]",
                status="accepted",
                rounds=200,
                ops=1.0,
                metrics=metrics,
                wall=thin(wall),  # as the plugin hands them over: thinned when judged
                memory=[metrics["memory"]] * 3,
                reference=0.0001 * generator.uniform(0.9, 1.1),
            )
        )
    return batch


def run_info(run: int) -> RunInfo:
    commit = f"{run:040x}"
    return RunInfo(
        "m" * 16, {"cpu": "bench"}, f"2026-11-{run % 28 + 1:02d}T00:00:00Z", commit, "main"
    )


def write_suite(directory: Path) -> list[str]:
    """5,000 trivial tests; returns the pytest command that runs them."""
    for module in range(TESTS // 100):
        tests = "\n".join(f"def test_{n}():\n    pass\n" for n in range(100))
        (directory / f"test_trivial_{module}.py").write_text(tests)
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs to time")
    parser.add_argument(
        "--stdlib", action="store_true", help="use the standard library's json, not orjson"
    )
    options = parser.parse_args()
    if options.stdlib:
        sys.modules["orjson"] = None  # type: ignore[assignment]
    generator = random.Random(5000)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        path = directory / "history.json"
        history = History.load(path)
        for run in range(RUNS):
            history.add_run(run_info(run), results(generator, run), keep=RUNS)
        history.save()
        del history
        size = path.stat().st_size
        extra = results(generator, RUNS)
        suite = directory / "suite"
        suite.mkdir()
        command = write_suite(suite)
        ratios, merge_times, pytest_times = [], [], []
        for attempt in range(options.pairs):  # interleaved: both see the same machine speed
            copy = directory / f"copy{attempt}.json"
            copy.write_bytes(path.read_bytes())
            start = time.perf_counter()
            save_results(copy, run_info(RUNS), extra, keep=RUNS)
            merge_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            pytest_times.append(time.perf_counter() - start)
            ratios.append(merge_times[-1] / pytest_times[-1])
    codec = "standard library json" if options.stdlib else "orjson" if fast_json() else "json"
    print(f"history of {TESTS} tests x {RUNS} runs: {size / 1e6:.1f} MB (target < 25 MB)")
    print(f"codec: {codec}; {options.pairs} interleaved pairs")
    print(f"load + merge one run + save: median {statistics.median(merge_times):.2f} s")
    print(f"pytest running {TESTS} trivial tests: median {statistics.median(pytest_times):.2f} s")
    print("ratios: " + ", ".join(f"{ratio:.3f}" for ratio in ratios))
    print(f"median ratio: {statistics.median(ratios):.3f} (target <= 0.10)")


if __name__ == "__main__":
    main()
