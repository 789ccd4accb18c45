"""A passing budgeted suite runs no slower because profiles are available.

The same generated suite of passing budgeted tests (fixed rounds, so both sides do the
same work) runs with pyinstrument installed and usable, and with pyinstrument made
unimportable, in interleaved pairs; the median of the per-pair ratios of the child's CPU
time and wall time is printed (target: 1.00 within the machine's noise). A probe plugin
reports whether pyinstrument was imported at all in the session with profiles available
(expected: no, as nothing failed). For scale, one more session under ``--perf-profile``
shows what profiling every test costs when asked.

With ``--instructions`` it also counts one session each way under valgrind's callgrind.

    python benchmarks/bench_profile_cost.py [--pairs 7] [--tests 200] [--instructions]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = """
import sys


def pytest_unconfigure(config):
    print(f"PYINSTRUMENT-IMPORTED {'pyinstrument' in sys.modules}")
"""
BLOCKER = """
import sys

sys.modules["pyinstrument"] = None  # profiles unavailable: importing it fails
"""


def write_suite(directory: Path, tests: int) -> None:
    body = ["import pytest", ""]
    for number in range(tests):
        body += [
            '@pytest.mark.perf_budget(p95="10s", memory="1GiB", rounds=20, warmup=1)',
            f"def test_{number}():",
            f"    sorted(range({number % 50 * 20 + 200}, 0, -1))",
            "",
        ]
    (directory / "test_budgeted.py").write_text("\n".join(body))
    (directory / "perf_probe.py").write_text(PROBE)
    (directory / "perf_blocker.py").write_text(BLOCKER)


def command(directory: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:randomly", "-p", "perf_probe", *extra, str(directory / "test_budgeted.py"),
    ]  # fmt: skip


def run_suite(directory: Path, *extra: str) -> tuple[float, float, str]:
    """CPU seconds, wall seconds and output of one session."""
    environment = {**os.environ, "PYTHONPATH": str(directory)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(
        command(directory, *extra), capture_output=True, text=True, env=environment, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"the suite did not pass:\n{completed.stdout}\n{completed.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, completed.stdout


def instructions(directory: Path, *extra: str) -> int:
    counts = directory / "callgrind.out"
    environment = {**os.environ, "PYTHONPATH": str(directory)}
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={counts}",
         *command(directory, *extra)],
        capture_output=True, check=True, env=environment,
    )  # fmt: skip
    for line in counts.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit("callgrind wrote no totals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--instructions", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        write_suite(directory, options.tests)
        blocked = ("-p", "perf_blocker")
        run_suite(directory)  # warm the file system cache and the bytecode
        cpu_ratios, wall_ratios = [], []
        imported = set()
        for _ in range(options.pairs):
            cpu_available, wall_available, output = run_suite(directory)
            cpu_blocked, wall_blocked, _ = run_suite(directory, *blocked)
            cpu_ratios.append(cpu_available / cpu_blocked)
            wall_ratios.append(wall_available / wall_blocked)
            imported.add("PYINSTRUMENT-IMPORTED True" in output)
        _, wall_profiled, _ = run_suite(directory, "--perf-profile")
        print(f"{options.tests} passing budgeted tests, {options.pairs} interleaved pairs")
        print(f"pyinstrument imported with profiles available: {sorted(imported)}")
        print("CPU ratio, available / unavailable: " + ", ".join(f"{r:.3f}" for r in cpu_ratios))
        print(f"median CPU ratio: {statistics.median(cpu_ratios):.3f} (target 1.00)")
        print(f"median wall ratio: {statistics.median(wall_ratios):.3f} (target 1.00)")
        print(
            f"for scale, --perf-profile (every test profiled): {wall_profiled:.1f} s vs "
            f"{statistics.median([wall_available, wall_blocked]):.1f} s"
        )
        if options.instructions:
            available = instructions(directory)
            unavailable = instructions(directory, *blocked)
            print(
                f"instructions (callgrind): {available:,} vs {unavailable:,} = "
                f"{available / unavailable:.4f}"
            )


if __name__ == "__main__":
    main()
