"""Is a test that allocates and touches 100 MiB measured at 100 MiB?

Runs a generated suite under pytest with ``--perf-report`` and prints, per test, the
measured peak growth over 100 MiB. Each 100 MiB test runs alone, right after a test that
allocated and freed 150 MiB as one buffer, right after one that freed 150 MiB of small
heap objects (which only ``malloc_trim`` returns to the OS, as one kept object pins the top
of the heap), and, as 1 KiB objects, right after one that left 150 MiB of cyclic garbage in
the oldest generation, which a full collection during its first call frees for it to
reuse (its next reading follows a full collection). Target: every ratio 1 +- 0.05.

    python benchmarks/bench_memory_accuracy.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

MiB = 1024 * 1024

SUITE = """
import gc

import pytest

MiB = 1024 * 1024
kept = []


def test_a_alone():
    held = bytearray(b"x") * (100 * MiB)


def test_b_free_150mib_buffer():
    freed = bytearray(b"x") * (150 * MiB)
    del freed


@pytest.mark.perf_budget(memory="1GiB", rounds=1)
def test_c_after_freed_buffer():
    held = bytearray(b"x") * (100 * MiB)


def test_d_free_150mib_small_objects():
    freed = [bytes(1024) + bytes([n % 256]) for n in range(150 * 1024)]
    kept.append(freed[-1])  # pins the top of the heap, so free() alone returns nothing
    del freed


@pytest.mark.perf_budget(memory="1GiB", rounds=1)
def test_e_after_freed_small_objects():
    held = bytearray(b"x") * (100 * MiB)


def test_f_leave_150mib_old_garbage():
    cycle = [bytes(1024) + bytes([n % 256]) for n in range(150 * 1024)]
    cycle.append(cycle)  # garbage once this returns, which only a collection can free
    gc.collect()  # into the oldest generation, which young collections leave alone


@pytest.mark.perf_budget(memory="1GiB", rounds=5)
def test_g_after_old_garbage_small_objects():
    gc.collect()  # frees the old garbage during the call, for the call to reuse
    held = [bytes(990) + bytes([n % 256]) for n in range(100 * 1024)]  # 1 KiB objects
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        source = SUITE.replace(
            "def test_a_alone",
            '@pytest.mark.perf_budget(memory="1GiB", rounds=1)\ndef test_a_alone',
        )
        (directory / "test_memory.py").write_text(source)
        report = directory / "report.json"
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            f"--perf-report={report}", str(directory),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        tests = json.loads(report.read_text())["tests"]
    for test in tests:
        measured = test["metrics"]["memory"]
        name = test["nodeid"].split("::")[1]
        print(
            f"{name:40} measured {measured / MiB:7.2f} MiB, ratio to 100 MiB "
            f"{measured / (100 * MiB):.3f} (target 0.95-1.05), method {test['memory_method']}"
        )


if __name__ == "__main__":
    main()
