"""``perfbudget import-benchmark``: pytest-benchmark's saves as history runs.

Each JSON save (``.benchmarks/<machine>/NNNN_<commit>_<date>.json``) becomes one run,
filed under a machine fingerprint made from its ``machine_info`` the way the plugin makes
its own, with the save's time, commit and branch. A save imported before is skipped.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .environment import machine_fingerprint
from .history import (
    History,
    HistoryError,
    RunInfo,
    SavedResult,
    format_time,
    save_results,
    thin,
)
from .metrics import PERCENTILES
from .stats import percentile
from .units import UnitError, parse_count

__all__ = ["BenchmarkSaveError", "import_benchmark", "read_save"]


class BenchmarkSaveError(Exception):
    """A file that is not a pytest-benchmark save; the message names it and the key."""


def _require(document: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    value = document.get(key)
    if not isinstance(value, kind):
        raise BenchmarkSaveError(
            f"{path}: not a pytest-benchmark save: {key!r} should be "
            f"{'an object' if kind is dict else 'a list' if kind is list else kind.__name__}, "
            f"got {value!r:.60}"
        )
    return value


def _machine(info: dict[str, Any]) -> dict[str, str]:
    cpu: dict[str, Any] = info["cpu"] if isinstance(info.get("cpu"), dict) else {}
    version = str(info.get("python_version", "")).split(".")
    return {
        "cpu": str(cpu.get("brand_raw") or info.get("processor") or "unknown"),
        "cores": str(cpu.get("count") or 0),
        "os": f"{info.get('system', '')} {info.get('machine', '')}",
        "python": f"{str(info.get('python_implementation', '')).lower()} " + ".".join(version[:2]),
    }


def _time(text: object) -> str:
    try:
        moment = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return RunInfo.now_utc()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return format_time(moment)


def _is_measure(value: object) -> bool:
    """A number a history can hold (seconds, a count): finite, at least 0, not a bool."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _result(benchmark: dict[str, Any], path: Path) -> SavedResult:
    nodeid = _require(benchmark, "fullname", str, path)
    stats = _require(benchmark, "stats", dict, path)
    for key in ("median", "mean", "min", "max"):
        if not _is_measure(stats.get(key)):
            raise BenchmarkSaveError(
                f"{path}: {nodeid}: stats {key!r} should be a number of at least 0, "
                f"got {stats.get(key)!r:.60}"
            )
    try:
        rounds = parse_count(stats.get("rounds"), minimum=1)
    except UnitError:
        raise BenchmarkSaveError(
            f"{path}: {nodeid}: stats 'rounds' should be a whole number of at least 1, "
            f"got {stats.get('rounds')!r:.60}"
        ) from None
    metrics = {
        "p50": float(stats["median"]),
        "mean": float(stats["mean"]),
        "min": float(stats["min"]),
        "max": float(stats["max"]),
    }
    data: Sequence[float] = [
        float(value) for value in stats.get("data") or [] if _is_measure(value)
    ]
    if data:  # saved with --benchmark-save-data: the percentiles are known
        ordered = sorted(data)
        metrics.update((name, percentile(ordered, q)) for name, q in PERCENTILES.items())
    return SavedResult(
        nodeid=nodeid,
        status="accepted",
        rounds=rounds,
        ops=1.0,
        metrics=metrics,
        wall=thin(data),
        memory=(),
    )


def read_save(path: Path) -> tuple[RunInfo, list[SavedResult]]:
    """The run and results of one pytest-benchmark save; raises :class:`BenchmarkSaveError`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BenchmarkSaveError(f"{path}: cannot read it as JSON: {error}") from None
    if not isinstance(document, dict):
        raise BenchmarkSaveError(f"{path}: not a pytest-benchmark save: not a JSON object")
    info = _require(document, "machine_info", dict, path)
    benchmarks = _require(document, "benchmarks", list, path)
    raw_commit_info: object = document.get("commit_info")
    commit_info: dict[str, Any] = raw_commit_info if isinstance(raw_commit_info, dict) else {}
    description = _machine(info)
    commit = commit_info.get("id")
    branch = commit_info.get("branch")
    run = RunInfo(
        machine=machine_fingerprint(description),
        machine_description=description,
        time=_time(document.get("datetime")),
        commit=commit if isinstance(commit, str) and commit != "unversioned" else None,
        branch=branch if isinstance(branch, str) and branch != "(unknown)" else None,
        source=f"pytest-benchmark:{path.name}",
    )
    results = [_result(benchmark, path) for benchmark in benchmarks if isinstance(benchmark, dict)]
    return run, results


def import_benchmark(history_path: Path, source: Path, keep: int, out: TextIO) -> int:
    """Import every save under ``source`` (a directory or one file), oldest first."""
    if not source.exists():
        raise BenchmarkSaveError(f"{source}: no such file or directory")
    files = sorted(source.rglob("*.json")) if source.is_dir() else [source]
    if not files:
        raise BenchmarkSaveError(f"{source}: no pytest-benchmark saves (*.json) in it")
    saves = sorted((read_save(path) for path in files), key=lambda save: save[0].time)
    try:
        known = {run.get("source") for run in History.load(history_path).document["runs"].values()}
    except HistoryError as error:
        raise BenchmarkSaveError(str(error)) from None
    imported = skipped = 0
    for run, results in saves:
        if run.source in known or not results:
            skipped += 1
            continue
        save_results(history_path, run, results, keep)
        imported += 1
    out.write(
        f"{history_path}: imported {imported} pytest-benchmark saves"
        + (f", skipped {skipped} (imported before, or empty)" if skipped else "")
        + "\n"
    )
    return 0
