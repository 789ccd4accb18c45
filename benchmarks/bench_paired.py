"""The paired comparison (``--perf-against``) against the history, on the same tests, for real.

Twelve CPU-bound budgeted tests of 0.1-3 ms, in a git repository made for the run:

- paired A/A: ``--perf-against=HEAD`` with the working tree at HEAD, ``--compared`` runs
  (120 comparisons by default; target: no regression);
- paired A/B: the code made 10% slower in a commit, ``--perf-against=HEAD~1`` (target: at
  least 11 of 12 caught), and 5% slower (reported);
- cost: sessions with and without ``--perf-against``, interleaved, median ratio of their
  wall times (target: at most 2.5), and the median number of pairs a test needed; and the
  ratio to a session compared with a history of 5 saved runs (the other way to look for a
  regression: at least 100 calls a test), interleaved with them;
- the history, on the same tests in the same run: 5 runs saved, ``--compared`` runs
  compared (A/A), then the code 10% and 35% slower (A/B).

``--blocks`` instead redoes the table behind the paired comparison without the plugin: two
processes run the same loop in blocks of ``--block-ms`` (5 ms, the plugin's once a test
has 6 pairs, which take 3 ms; the issue's experiment used 20), timed one after the
other, alternating on any CPU, or alternating pinned to one CPU; the spread of the ratio of
identical code and of code made 10% slower, over 40 tests of 15 pairs.

    python benchmarks/bench_paired.py [--compared 10] [--cost-pairs 5]
    python benchmarks/bench_paired.py --blocks [--block-ms 5]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

SUITE = """
import pytest

SLOWDOWN = {slowdown!r}
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
    iterations = 20_000
    start = time.perf_counter()
    total = 0
    for number in range(iterations):
        total += number * number % 7
    per_iteration = (time.perf_counter() - start) / iterations
    targets = [0.0001 * (30 ** (index / 11)) for index in range(12)]
    return {f"t{index:02d}_{target * 1e3:.2f}ms": int(target / per_iteration)
            for index, target in enumerate(targets)}  # fmt: skip


class Repository:
    """A git repository holding the suite, its working tree at some slowdown."""

    def __init__(self, directory: Path, work: dict[str, int]) -> None:
        self.directory = directory
        self.work = work
        self.git("init", "-q")

    def git(self, *args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
            cwd=self.directory, check=True, capture_output=True,
        )  # fmt: skip

    def write(self, slowdown: float) -> None:
        (self.directory / "test_cpu.py").write_text(
            SUITE.format(slowdown=slowdown, work=self.work)
        )

    def commit(self, slowdown: float) -> None:
        self.write(slowdown)
        self.git("add", "test_cpu.py")
        self.git("commit", "-q", "--allow-empty", "-m", f"slowdown {slowdown}")

    def run(self, *args: str) -> tuple[list[dict[str, Any]], float]:
        """The tests of one session's JSON report, and the session's wall time."""
        report = self.directory / "report.json"
        report.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-p", "no:xdist", f"--perf-report={report}", *args, "test_cpu.py",
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=self.directory, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        tests: list[dict[str, Any]] = json.loads(report.read_text())["tests"]
        return tests, elapsed


def p50_check(test: dict[str, Any]) -> dict[str, Any]:
    checks: list[dict[str, Any]] = test["regressions"]
    (check,) = [check for check in checks if check["metric"] == "p50"]
    return check


def regressed(test: dict[str, Any]) -> bool:
    return bool(p50_check(test)["outcome"] == "regressed")


def describe(test: dict[str, Any]) -> str:
    check = p50_check(test)
    text = f"{check['outcome']}, change {check['change']:+.1%}"
    if check.get("ci_low") is not None:
        text += f", CI {check['ci_low']:+.1%}..{check['ci_high']:+.1%}, {check['pairs']} pairs"
    return text


def paired_trial(repository: Repository, compared: int) -> dict[str, Any]:
    """Paired A/A, A/B +10% and +5%; the ratios and pairs seen."""
    repository.git("checkout", "-q", "main")
    false_alarms = comparisons = 0
    ratios: list[float] = []
    pairs: list[int] = []
    for index in range(compared):
        tests, _ = repository.run("--perf-against=HEAD")
        alarms = [test for test in tests if regressed(test)]
        false_alarms += len(alarms)
        comparisons += len(tests)
        ratios += [1 + p50_check(test)["change"] for test in tests]
        pairs += [p50_check(test)["pairs"] or 0 for test in tests]
        print(f"  paired A/A run {index + 1}: {len(alarms)} of {len(tests)} flagged")
        for test in alarms:
            print(f"    {test['nodeid']}: {describe(test)}")
    caught = {}
    for slowdown in (1.10, 1.05):
        repository.git("checkout", "-q", "-B", "slower", "main")
        repository.commit(slowdown)
        tests, _ = repository.run("--perf-against=HEAD~1")
        caught[slowdown] = sum(regressed(test) for test in tests)
        missed = [test for test in tests if not regressed(test)]
        print(f"  paired A/B {slowdown - 1:+.0%}: {caught[slowdown]} of {len(tests)} caught")
        for test in missed:
            print(f"    missed {test['nodeid']}: {describe(test)}")
        repository.git("checkout", "-q", "main")
    ratios.sort()
    return {
        "false": false_alarms,
        "comparisons": comparisons,
        "caught_10": caught[1.10],
        "caught_5": caught[1.05],
        "aa_ratio_range": (ratios[0], ratios[-1]),
        "median_pairs": statistics.median(pairs),
    }


def cost(repository: Repository, rounds: int) -> tuple[list[float], list[float], float]:
    """Interleaved sessions at HEAD: unpaired with nothing to compare, compared with a
    history of 5 saved runs (the other way to look for a regression), and paired. The
    wall time ratios of paired to each, and the median pairs a test needed."""
    repository.git("checkout", "-q", "main")
    history = repository.directory / "cost-history.json"
    history.unlink(missing_ok=True)
    for _ in range(5):
        repository.run(f"--perf-history={history}", "--perf-save")
    to_plain, to_history, pairs = [], [], []
    for _ in range(rounds):
        _, plain = repository.run("--perf-no-compare")
        _, compared = repository.run(f"--perf-history={history}")
        tests, paired = repository.run("--perf-against=HEAD")
        to_plain.append(paired / plain)
        to_history.append(paired / compared)
        pairs += [p50_check(test)["pairs"] or 0 for test in tests]
    return to_plain, to_history, statistics.median(pairs)


def history_trial(repository: Repository, compared: int) -> dict[str, Any]:
    """The history on the same tests: 5 saved, ``compared`` compared, +10% and +35%."""
    repository.git("checkout", "-q", "main")
    history = repository.directory / "history.json"
    history.unlink(missing_ok=True)
    for _ in range(5):
        repository.run(f"--perf-history={history}", "--perf-save")
    false_alarms = comparisons = 0
    for _ in range(compared):
        tests, _ = repository.run(f"--perf-history={history}")
        false_alarms += sum(regressed(test) for test in tests)
        comparisons += len(tests)
    caught = {}
    for slowdown in (1.10, 1.35):
        repository.write(slowdown)  # uncommitted: the history does not care
        tests, _ = repository.run(f"--perf-history={history}")
        caught[slowdown] = sum(regressed(test) for test in tests)
    repository.write(1.0)
    return {
        "false": false_alarms,
        "comparisons": comparisons,
        "caught_10": caught[1.10],
        "caught_35": caught[1.35],
    }


def main_suite(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        repository = Repository(Path(temporary), calibrate())
        repository.commit(1.0)
        repository.git("branch", "-M", "main")
        print("paired:")
        paired = paired_trial(repository, args.compared)
        ratios, to_history, cost_pairs = cost(repository, args.cost_pairs)
        print("history:")
        history = history_trial(repository, args.compared)
    low, high = paired["aa_ratio_range"]
    print(
        f"paired A/A: {paired['false']} false regressions in {paired['comparisons']} "
        f"(target 0); ratios of unchanged code {low:.3f}..{high:.3f}"
    )
    print(f"paired A/B +10%: {paired['caught_10']} of 12 caught (target >= 11)")
    print(f"paired A/B +5%: {paired['caught_5']} of 12 caught")
    print(
        f"median pairs a test needed: {paired['median_pairs']:g} "
        f"(in the cost runs: {cost_pairs:g})"
    )
    print(
        f"cost: paired / unpaired session, median {statistics.median(ratios):.2f} "
        f"(target <= 2.5; {', '.join(f'{ratio:.2f}' for ratio in ratios)}); paired / "
        f"compared with the history, median {statistics.median(to_history):.2f} "
        f"({', '.join(f'{ratio:.2f}' for ratio in to_history)})"
    )
    print(
        f"history A/A: {history['false']} false regressions in {history['comparisons']}; "
        f"A/B +10%: {history['caught_10']} of 12; +35%: {history['caught_35']} of 12"
    )


# --blocks: the experiment behind the paired comparison, without the plugin.


def work(iterations: int) -> int:
    total = 0
    for number in range(iterations):
        total += number * number % 7
    return total


def worker(connection: Connection, slowdown: float, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    while True:
        message = connection.recv()
        if message is None:
            return
        iterations, calls = message
        times = []
        for _ in range(calls):
            start = time.perf_counter_ns()
            work(int(iterations * slowdown))
            times.append(time.perf_counter_ns() - start)
        connection.send(statistics.median(times))


def one_test(slowdown: float, iterations: int, mode: str, block: float, pairs: int = 15) -> float:
    """The ratio (second / first) of one test's blocks of about ``block`` seconds, by
    ``mode``."""
    cpu = max(os.sched_getaffinity(0)) if mode == "pinned" else None
    ends = [multiprocessing.Pipe() for _ in range(2)]
    processes = [
        multiprocessing.Process(target=worker, args=(child, factor, cpu))
        for (_, child), factor in zip(ends, (1.0, slowdown), strict=True)
    ]
    for process in processes:
        process.start()
    first, second = ends[0][0], ends[1][0]
    calls = max(1, int(block / (iterations * 6e-8)))
    for connection in (first, second):  # a block each to warm up
        connection.send((iterations, calls))
        connection.recv()
    times: tuple[list[float], list[float]] = ([], [])
    if mode == "sequential":
        for connection, out in ((first, times[0]), (second, times[1])):
            for _ in range(pairs):
                connection.send((iterations, calls))
                out.append(connection.recv())
    else:
        for index in range(pairs):
            order = [(first, times[0]), (second, times[1])]
            for connection, out in order if index % 2 == 0 else order[::-1]:
                connection.send((iterations, calls))
                out.append(connection.recv())
    for connection in (first, second):
        connection.send(None)
    for process in processes:
        process.join()
    if mode == "sequential":
        return statistics.median(times[1]) / statistics.median(times[0])
    logs = [math.log(b / a) for a, b in zip(*times, strict=True)]
    return math.exp(statistics.median(logs))


def spread(values: Sequence[float]) -> tuple[float, float, float, float]:
    ordered = sorted(values)
    return ordered[0], ordered[len(ordered) // 10], statistics.median(ordered), ordered[-1]


def main_blocks(block: float) -> None:
    sizes = [2000, 20000, 100000, 250000]
    print(f"blocks of about {block * 1e3:g} ms, 40 tests of 15 pairs")
    for mode in ("sequential", "unpinned", "pinned"):
        same = [one_test(1.0, sizes[index % 4], mode, block) for index in range(40)]
        slower = [one_test(1.10, sizes[index % 4], mode, block) for index in range(40)]
        low, _, _, high = spread(same)
        _, p10, middle, _ = spread(slower)
        print(
            f"{mode:>10}: identical code {low:.2f} .. {high:.2f}; "
            f"10% slower p10 {p10:.2f}, median {middle:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compared", type=int, default=10)
    parser.add_argument("--cost-pairs", type=int, default=5)
    parser.add_argument("--blocks", action="store_true", help="the table, without the plugin")
    parser.add_argument("--block-ms", type=float, default=5.0, help="with --blocks")
    args = parser.parse_args()
    if args.blocks:
        main_blocks(args.block_ms / 1e3)
    else:
        main_suite(args)


if __name__ == "__main__":
    main()
