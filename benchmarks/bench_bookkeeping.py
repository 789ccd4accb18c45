"""Where a budgeted run's time goes besides the measured calls: 200 trivial budgeted tests.

Sessions of the same 200 trivial tests, interleaved ``--pairs`` times: without budgets,
and with a budget (``p95="1s"``, ``max_time`` 20 ms: each test stops once its verdict is
certain, at 90 calls, else at ``max_time``); then one budgeted session under cProfile.
Per test it prints:

- outside the measured calls: the budgeted session's wall time, less the unbudgeted
  one's and less the time the measured calls took themselves (their wall samples;
  target: under 2 ms a test);
- the plugin's own bookkeeping: the budgeted session's wall time, less the unbudgeted
  one's and less the time spent measuring (the measuring loops with their calls, memory
  probes and reference kernel readings, the readings between them, and the clock's
  calibration, but not the stopping rule's looks), which a small plugin times in the
  budgeted session by wrapping those entry points (a few clock reads a call of them, no
  profiler; target: under 0.5 ms a test);
- from the profile, the plugin's functions that take the most (cProfile slows every
  call, so those times are upper bounds).

    python benchmarks/bench_bookkeeping.py [--pairs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = 200
BUDGETED = """
import pytest

pytestmark = pytest.mark.perf_budget(p95="1s", max_time="20ms")

{tests}
"""
#: What measuring is, in the profile: the loop, the probes, the kernel, calibration.
MEASURING = ("_measure", "measure_block", "start", "stop", "reference_seconds", "read_cost_ns")
#: A plugin that adds up the wall time spent in the plugin's measuring entry points (the
#: outermost call only: a loop reads the machine's speed inside), less the looks of the
#: stopping rule made inside them (bookkeeping), and writes it out.
TIMERS = """
import json
import os
import time

from pytest_perfbudget import measure, runtest

spent = [0]
looks = [0]
calls = [0.0]
depth = [0]


def measuring(function):
    def wrapper(self, *args, **kwargs):
        if depth[0]:
            return function(self, *args, **kwargs)
        depth[0] += 1
        start = time.perf_counter_ns()
        before = getattr(self, "recorded", None)  # a Sampler's calls so far
        try:
            return function(self, *args, **kwargs)
        finally:
            if before is not None:
                calls[0] += sum(self.wall_since(before))
            spent[0] += time.perf_counter_ns() - start
            depth[0] -= 1

    return wrapper


def looking(function):
    def wrapper(*args, **kwargs):
        if not depth[0]:
            return function(*args, **kwargs)
        start = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            looks[0] += time.perf_counter_ns() - start

    return wrapper


for name in ("run", "measure_block", "note_machine_speed"):
    setattr(measure.Sampler, name, measuring(getattr(measure.Sampler, name)))
measure.Clock.read_cost_ns = measuring(measure.Clock.read_cost_ns)
measure.Sampler.measurement = looking(measure.Sampler.measurement)
runtest.settled = looking(runtest.settled)


def pytest_unconfigure(config):
    with open(os.environ["MEASURING_SECONDS"], "w") as output:
        json.dump({"measuring": (spent[0] - looks[0]) / 1e9, "calls": calls[0]}, output)
"""


def write(directory: Path, budgeted: bool) -> None:
    directory.mkdir()
    tests = "\n".join(f"def test_{n}():\n    pass\n" for n in range(TESTS))
    body = BUDGETED.format(tests=tests) if budgeted else tests
    (directory / "test_trivial.py").write_text(body)


def session(directory: Path, *args: str, env: dict[str, str] | None = None) -> float:
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        "-p", "no:xdist", *args, str(directory),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=env)
    return time.perf_counter() - start


def profile(directory: Path) -> pstats.Stats:
    output = directory.parent / "profile.out"
    command = [
        sys.executable, "-m", "cProfile", "-o", str(output), "-m", "pytest", "-q",
        "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", str(directory),
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


def shown(values: list[float]) -> str:
    """Seconds per test, as milliseconds: the median, then each pair's."""
    each = ", ".join(f"{value * 1e3:.2f}" for value in values)
    return f"median {statistics.median(values) * 1e3:.2f} ms ({each})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        plain, budgeted = root / "plain", root / "budgeted"
        write(plain, budgeted=False)
        write(budgeted, budgeted=True)
        (root / "measuring_timers.py").write_text(TIMERS)
        spent = root / "measuring.json"
        timed_env = {**os.environ, "PYTHONPATH": str(root), "MEASURING_SECONDS": str(spent)}
        outside, bookkeeping = [], []
        for _ in range(args.pairs):  # interleaved: both see the same machine speed
            without = session(plain)
            with_budgets = session(budgeted, "-p", "measuring_timers", env=timed_env)
            extra = with_budgets - without
            timed = json.loads(spent.read_text())
            outside.append((extra - timed["calls"]) / TESTS)
            bookkeeping.append((extra - timed["measuring"]) / TESTS)
        stats = profile(budgeted)
    rows = plugin_rows(stats)
    measuring = sum(own for name, own, _ in rows if name.split(":")[1] in MEASURING)
    plugin_own = sum(own for _, own, _ in rows)
    print(f"outside the measured calls, per test: {shown(outside)}; target < 2 ms")
    print(f"the plugin's own bookkeeping, per test: {shown(bookkeeping)}; target < 0.5 ms")
    print(
        f"the plugin's own functions under cProfile, per test: {plugin_own / TESTS * 1e3:.2f} ms, "
        f"of which measuring {measuring / TESTS * 1e3:.2f} ms (cProfile slows every call)"
    )
    print("the plugin's functions taking the most time of their own, per test:")
    for name, own, cumulative in sorted(rows, key=lambda row: -row[1])[:12]:
        print(
            f"  {own / TESTS * 1e6:8.1f} us own  "
            f"{cumulative / TESTS * 1e6:8.1f} us with callees  {name}"
        )


if __name__ == "__main__":
    main()
