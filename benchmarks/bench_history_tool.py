"""``perfbudget show``, ``trend`` and ``check`` on a history of 5,000 tests x 50 runs,
each against a bare ``json.load`` of the same file.

Every command runs as users run it, a new process (``python -m pytest_perfbudget``), and
so does the reference (``python -c "import json; json.load(...)"``), in interleaved
rounds so both see the same machine speed. Prints the median ratio per command
(target: at most 2.0). The history is built through the plugin's own code, with a step
8 runs ago in a tenth of the tests for ``trend`` to find, and another tenth slower in the
newest run only, for ``check``; the findings are counted and printed too.

    python benchmarks/bench_history_tool.py [--rounds 5] [--stdlib]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_history_scale import RUNS, TESTS, results, run_info

from pytest_perfbudget import cli
from pytest_perfbudget.history import History, SavedResult

COMMANDS = {
    "show": ["show", "--width", "80"],
    "trend": ["trend"],
    "check": ["check"],
}


def slower(result: SavedResult) -> SavedResult:
    return dataclasses.replace(
        result,
        metrics={key: value * 1.4 for key, value in result.metrics.items()},
        wall=[value * 1.4 for value in result.wall],
    )


def build(path: Path) -> None:
    generator = random.Random(5000)
    history = History.load(path)
    for run in range(RUNS):
        batch = results(generator, run)
        # every tenth test got 40% slower 8 runs ago (for trend), every tenth but five
        # in the newest run only (for check)
        batch = [
            slower(result)
            if (number % 10 == 0 and run >= RUNS - 8) or (number % 10 == 5 and run == RUNS - 1)
            else result
            for number, result in enumerate(batch)
        ]
        history.add_run(run_info(run), batch, keep=RUNS)
    history.save()


def seconds(command: list[str], environment: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment, check=False
    )
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 1):
        raise SystemExit(f"{command} failed: {completed.stderr.decode()}")
    return elapsed


def count_findings(path: Path, arguments: list[str]) -> int:
    """Lines naming a test in the command's output."""
    output = io.StringIO()
    cli.main(["--history", str(path), *arguments], out=output)
    return sum("::test_case[" in line for line in output.getvalue().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stdlib", action="store_true", help="hide orjson from the tool")
    options = parser.parse_args()
    environment = dict(os.environ)
    if options.stdlib:  # a sitecustomize that makes orjson unimportable
        blocker = Path(tempfile.mkdtemp()) / "sitecustomize.py"
        blocker.write_text("import sys\nsys.modules['orjson'] = None\n")
        environment["PYTHONPATH"] = str(blocker.parent)
    with tempfile.TemporaryDirectory() as temporary:
        path = Path(temporary) / "history.json"
        build(path)
        reference = [sys.executable, "-c", f"import json; json.load(open({str(path)!r}))"]
        tool = [sys.executable, "-m", "pytest_perfbudget", "--history", str(path)]
        ratios: dict[str, list[float]] = {name: [] for name in COMMANDS}
        loads: list[float] = []
        for _ in range(options.rounds):
            for name, arguments in COMMANDS.items():
                load = seconds(reference, environment)
                ratios[name].append(seconds([*tool, *arguments], environment) / load)
                loads.append(load)
        size = path.stat().st_size
        findings = {name: count_findings(path, arguments) for name, arguments in COMMANDS.items()}
    codec = "standard library json" if options.stdlib else "installed codec (orjson if present)"
    print(f"history of {TESTS} tests x {RUNS} runs, {size / 1e6:.1f} MB; tool reads with {codec}")
    print(f"bare json.load in a new process: median {statistics.median(loads):.2f} s")
    for name, values in ratios.items():
        shown = ", ".join(f"{value:.2f}" for value in values)
        print(
            f"{name}: ratio to json.load {statistics.median(values):.2f} (target <= 2.0); {shown}"
        )
    print(
        f"findings: trend {findings['trend']} (stepped tests: {TESTS // 10}), "
        f"check {findings['check']} (tests slower in the newest run: {TESTS // 10})"
    )


if __name__ == "__main__":
    main()
