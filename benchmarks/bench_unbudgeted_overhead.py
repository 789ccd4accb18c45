"""Cost of the plugin on a suite of 3000 tests without budgets.

Deterministic first: how many hook implementations pytest calls in the whole session with
the plugin and without it (a counting plugin reports it), so the difference is exactly the
plugin's per-session and per-test work; and the CPU time of importing the plugin. Then
timed: the same generated suite with the plugin and under ``-p no:perfbudget``, in
interleaved pairs, with the median of the per-pair ratios of the child process's CPU time
(user + system) and of its wall time. Target: within 2% (ratio <= 1.02).

With ``--instructions`` it also counts the instructions of one run each way under
valgrind's callgrind, which do not depend on the machine's speed.

    python benchmarks/bench_unbudgeted_overhead.py [--pairs 9] [--tests 3000] [--instructions]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS_PER_FILE = 100
#: The sessions run as in an installed project: with the bytecode of the plugin and pytest
#: cached (pip compiles it when it installs), even where PYTHONDONTWRITEBYTECODE is set.
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def write_suite(directory: Path, tests: int) -> None:
    for file_number in range(tests // TESTS_PER_FILE):
        body = "\n".join(
            f"def test_{n}():\n    assert {n} + 1 > {n}\n" for n in range(TESTS_PER_FILE)
        )
        (directory / f"test_suite_{file_number}.py").write_text(body)


COUNTER = """
calls = 0


def _before(hook_name, hook_impls, kwargs):
    global calls
    calls += len(hook_impls)


def pytest_configure(config):
    config.pluginmanager.add_hookcall_monitoring(_before, lambda *args: None)


def pytest_unconfigure(config):
    print(f"HOOKIMPL-CALLS {calls}")
"""


def hookimpl_calls(directory: Path, *extra: str) -> int:
    """Hook implementations pytest called in one session of the suite."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:hypothesispytest", "-p", "no:randomly", "-p", "perfbudget_counter", *extra,
        str(directory / "suite"),
    ]  # fmt: skip
    environment = {**ENVIRONMENT, "PYTHONPATH": str(directory)}
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment, check=False
    )
    output = completed.stdout
    return int(output.rsplit("HOOKIMPL-CALLS ", 1)[1].split()[0])


IMPORT_TIMER = """
import time
import pytest
start = time.process_time()
import pytest_perfbudget.plugin
print(time.process_time() - start)
"""


def import_seconds() -> float:
    """CPU seconds to import the plugin into a fresh interpreter that has pytest loaded."""
    runs = [
        float(subprocess.run([sys.executable, "-c", IMPORT_TIMER], capture_output=True,
                             text=True, check=True, env=ENVIRONMENT).stdout)
        for _ in range(7)
    ]  # fmt: skip
    return statistics.median(runs)


def instructions(directory: Path, *extra: str) -> int:
    """Instructions executed by one pytest run of the suite, counted by valgrind's callgrind:
    the same for the same work, however fast or busy the machine is."""
    counts = directory.parent / "callgrind.out"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={counts}",
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:hypothesispytest", "-p", "no:randomly", *extra, str(directory),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, check=True, env=ENVIRONMENT)
    for line in counts.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit("callgrind wrote no totals")


def run_suite(directory: Path, *extra: str) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one pytest run of the suite."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:hypothesispytest", "-p", "no:randomly", *extra, str(directory),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, env=ENVIRONMENT
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"suite failed:\n{completed.stdout[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions under valgrind (several minutes; needs valgrind)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        (Path(temporary) / "perfbudget_counter.py").write_text(COUNTER)
        directory = Path(temporary) / "suite"
        directory.mkdir()
        write_suite(directory, args.tests)
        with_calls = hookimpl_calls(Path(temporary))
        without_calls = hookimpl_calls(Path(temporary), "-p", "no:perfbudget")
        counted = None
        if args.instructions and shutil.which("valgrind"):
            counted = (instructions(directory), instructions(directory, "-p", "no:perfbudget"))
        run_suite(directory)  # warm the file cache and bytecode
        cpu_ratios, wall_ratios, without_cpu = [], [], []
        for pair in range(args.pairs):
            if pair % 2:
                without = run_suite(directory, "-p", "no:perfbudget")
                with_plugin = run_suite(directory)
            else:
                with_plugin = run_suite(directory)
                without = run_suite(directory, "-p", "no:perfbudget")
            cpu_ratios.append(with_plugin[0] / without[0])
            without_cpu.append(without[0])
            wall_ratios.append(with_plugin[1] / without[1])
    importing = import_seconds()
    session_cpu = statistics.median(without_cpu)
    cpu_ratio = statistics.median(cpu_ratios)
    wall_ratio = statistics.median(wall_ratios)
    print(f"{args.tests} unbudgeted tests, hook implementations called in the session:")
    print(
        f"  with plugin {with_calls}, -p no:perfbudget {without_calls}: "
        f"{with_calls - without_calls} more in all, "
        f"{(with_calls - without_calls) / args.tests:.4f} per test"
    )
    print(
        f"  importing the plugin: {importing * 1e3:.1f} ms CPU, "
        f"{importing / session_cpu * 100:.2f}% of a {session_cpu:.2f} s session"
    )
    if counted is not None:
        ratio = counted[0] / counted[1]
        print(
            f"  instructions (callgrind): {counted[0]:,} vs {counted[1]:,}, "
            f"ratio {ratio:.4f} ({(ratio - 1) * 100:+.2f}%)  target <= 1.02"
        )
    print(f"{args.tests} unbudgeted tests, {args.pairs} interleaved pairs:")
    print("  plugin loaded vs -p no:perfbudget")
    print(f"  CPU time ratio (median of pairs):  {cpu_ratio:.4f} ({(cpu_ratio - 1) * 100:+.2f}%)")
    print(
        f"  wall time ratio (median of pairs): {wall_ratio:.4f} ({(wall_ratio - 1) * 100:+.2f}%)"
    )
    print("  target: <= 1.02")


if __name__ == "__main__":
    main()
