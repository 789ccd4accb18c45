"""A real test suite budgeted whole: ``match = "*"`` with generous limits, against the same
suite unbudgeted, sessions interleaved.

The suite (a directory holding a project and its tests, such as an unpacked sdist) is
copied to a temporary directory; its pyproject.toml gets a ``[tool.perfbudget]`` table
(created if it has none) with one budget entry for every test (``p95 = "1s"``,
``memory = "256MiB"``; ``--percentile p50`` limits that percentile instead). Each trial
runs the suite unbudgeted (``-p no:perfbudget``) and budgeted with the plugin's defaults,
the order rotated each trial; the ratio of their wall times is printed per trial, then
the median (target: at most 3). The budgeted runs
also say how their tests stopped, how much of the session the measured calls took
(rounds x mean, from the JSON report), and which tests took longest (pytest's
``--durations``), with the rounds each took; and the floor: the time the calls would take
if each test stopped at the fewest calls that can show its limit kept at the plugin's
confidence without assuming a distribution (90 under ``p95``, 7 under ``p50``), or at
``max_time``, added to the unbudgeted session (no rule of that confidence can cost less).

    python benchmarks/bench_whole_suite.py SUITE [--trials 3] [--full] [--percentile p95]
        [-- PYTEST_ARGS]

``--full`` adds a budgeted session with ``--perf-rounds=full`` to each trial (the rule
before sequential stopping). Arguments after ``--`` go to every pytest session (test
paths, ``--ignore=...``); ``PYTHONPATH`` and the rest of the environment pass through.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_perfbudget.budget import Defaults, build_budget
from pytest_perfbudget.metrics import PERCENTILES
from pytest_perfbudget.stopping import fewest_to_settle

BUDGET = """

[tool.perfbudget]
history = "{history}"

[[tool.perfbudget.budget]]
match = "*"
{percentile} = "1s"
memory = "256MiB"
"""
COMMON = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist"]


def session(directory: Path, args: list[str]) -> tuple[float, str]:
    """The wall time of one pytest session in ``directory``, and its output."""
    command = [sys.executable, "-m", "pytest", *COMMON, *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)}: exit {done.returncode}\n{done.stdout[-3000:]}")
    return elapsed, done.stdout


def summary(output: str) -> str:
    """pytest's last line: how many passed, failed..."""
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


def slowest(output: str, report: Path, count: int) -> list[str]:
    """The ``count`` slowest test calls of a run, with the rounds each took and why it
    stopped."""
    tests = {test["nodeid"]: test for test in json.loads(report.read_text())["tests"]}
    lines = []
    for match in re.finditer(r"^([\d.]+)s call\s+(\S+)$", output, re.MULTILINE):
        seconds, nodeid = match.groups()
        test = tests.get(nodeid)
        how = "not measured" if test is None else f"{test['rounds']} rounds, {test['stopped']}"
        lines.append(f"    {seconds:>7} s  {nodeid}  ({how})")
        if len(lines) == count:
            break
    return lines


def floor_seconds(tests: list[dict[str, Any]], fewest: int, max_time: float) -> float:
    """The time the measured calls would take beyond the one an unbudgeted session makes,
    had each test stopped at ``fewest`` calls or ``max_time``."""
    means = [float(test["metrics"]["mean"]) for test in tests]
    return sum(min(fewest * mean, max_time) - mean for mean in means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--percentile", choices=sorted(PERCENTILES), default="p95")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.pytest_args = argv[split + 1 :]
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary) / "suite"
        shutil.copytree(args.suite, directory)
        pyproject = directory / "pyproject.toml"
        existing = pyproject.read_text() if pyproject.exists() else ""
        history = Path(temporary) / "history.json"
        pyproject.write_text(existing + BUDGET.format(history=history, percentile=args.percentile))
        report = Path(temporary) / "report.json"
        kinds = {
            "unbudgeted": ["-p", "no:perfbudget"],
            "budgeted": [f"--perf-report={report}", "--durations=10"],
        }
        if args.full:
            kinds["budgeted, --perf-rounds=full"] = [
                f"--perf-report={report}",
                "--perf-rounds=full",
            ]
        ratios: dict[str, list[float]] = {kind: [] for kind in kinds if kind != "unbudgeted"}
        budget = build_budget({args.percentile: "1s", "memory": "256MiB"}, Defaults())
        fewest = fewest_to_settle(budget)
        floors: list[float] = []
        budgeted_tests: list[dict[str, Any]] = []
        for trial in range(args.trials):
            times = {}
            names = list(kinds)
            shift = trial % len(names)
            for kind in names[shift:] + names[:shift]:
                times[kind], output = session(directory, [*kinds[kind], *args.pytest_args])
                print(f"trial {trial + 1}: {kind}: {times[kind]:.2f} s ({summary(output)})")
                if kind == "budgeted":
                    tests = budgeted_tests = json.loads(report.read_text())["tests"]
                    stopped = Counter(str(test["stopped"]) for test in tests)
                    rounds = statistics.median(int(test["rounds"]) for test in tests)
                    measured = sum(
                        float(test["rounds"]) * test["metrics"]["mean"] for test in tests
                    )
                    print(
                        f"  {len(tests)} measured: {dict(stopped)}, median {rounds:g} rounds;"
                        f" the measured calls took {measured:.2f} s; slowest calls:"
                    )
                    print("\n".join(slowest(output, report, 5)))
            for kind, values in ratios.items():
                values.append(times[kind] / times["unbudgeted"])
                print(f"trial {trial + 1}: {kind} / unbudgeted: {values[-1]:.2f}")
            floor = floor_seconds(budgeted_tests, fewest, budget.max_time)
            floors.append((times["unbudgeted"] + floor) / times["unbudgeted"])
            print(
                f"trial {trial + 1}: floor: {fewest} calls a test (or max_time) take "
                f"{floor:.2f} s more than unbudgeted: {floors[-1]:.2f} x unbudgeted"
            )
        for kind, values in ratios.items():
            shown = ", ".join(f"{value:.2f}" for value in values)
            print(f"{kind} / unbudgeted: median {statistics.median(values):.2f} ({shown})")
        shown = ", ".join(f"{value:.2f}" for value in floors)
        print(f"floor / unbudgeted: median {statistics.median(floors):.2f} ({shown})")


if __name__ == "__main__":
    main()
