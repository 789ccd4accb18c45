"""The JSON history of results: load, read a test's saved runs, merge a run, retain, save.

Layout (version 1; every number in base units)::

    {
      "version": 1,
      "summary_columns": ["run", "status", "rounds", "ops", "reference", "p50", ...],
      "machines": {"<fingerprint>": {"cpu": ..., "cores": ..., "os": ..., "python": ...}},
      "runs": {"<run>": {"time": ..., "commit": ..., "branch": ..., "machine": ...}},
      "tests": {
        "<node id>": {
          "<fingerprint>": {
            "summaries": [[<one value per summary column>], ...],   # oldest first
            "samples": {"<run>": {"wall": [...], "memory": [...]}},
            "limits": {"<metric>": {"max": ...}}
          }
        }
      }
    }

The columns are :data:`.SUMMARY_COLUMNS` (:mod:`.summary_row`); what the file must hold
is :mod:`.schema`'s; which runs form a baseline is :mod:`.baseline`'s.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import functools
import json
import operator
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import files
from .baseline import (
    RECENT_RUNS_READ,
    SPEED_WINDOW,
    Baseline,
    baseline_rows,
    build_baseline,
    older_than,
)
from .files import collector_paused, locked, write_json_atomic
from .measure import Stopped
from .schema import (
    VERSION,
    HistoryError,
    check_document,
    entry_error,
    entry_is_indexed,
    no_constant,
    runs_hold_numbers,
)
from .summary_row import SUMMARY_COLUMNS, Rows, Status, SummaryRow, status_code

__all__ = [
    "SAMPLES_PER_RUN",
    "History",
    "HistoryError",
    "RunInfo",
    "SavedResult",
    "SavedRuns",
    "format_time",
    "save_results",
    "thin",
]

#: Raw wall-time samples kept per run: evenly spaced order statistics of the run's samples.
SAMPLES_PER_RUN = 16
#: Saved numbers keep this many significant digits (0.5% at worst: far below any threshold).
SIGNIFICANT_DIGITS = 3
_ROUNDED = f".{SIGNIFICANT_DIGITS}g"
#: How a run's time is written: UTC, to the second.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_RUN, _REFERENCE = SUMMARY_COLUMNS.index("run"), SUMMARY_COLUMNS.index("reference")
_METRIC_COLUMNS = SUMMARY_COLUMNS[_REFERENCE + 1 :]
_run_of = operator.itemgetter(_RUN)


def format_time(moment: datetime.datetime) -> str:
    """A run's time as the history writes it (UTC)."""
    return moment.astimezone(datetime.timezone.utc).strftime(TIME_FORMAT)


def _round(value: float) -> float | int:
    """``value`` to :data:`SIGNIFICANT_DIGITS`, as an int when it is whole (bytes, counts)."""
    rounded = float(format(value, _ROUNDED))
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


@functools.lru_cache(maxsize=64)
def _spread(length: int, count: int) -> operator.itemgetter[Any]:
    """Picks ``count`` evenly spaced items, first and last included, of ``length``."""
    step = (length - 1) / (count - 1)
    return operator.itemgetter(*(round(index * step) for index in range(count)))


def thin(samples: Sequence[float], count: int = SAMPLES_PER_RUN) -> list[float]:
    """At most ``count`` evenly spaced order statistics of ``samples``, rounded."""
    ordered = sorted(samples)
    if len(ordered) > count:
        ordered = list(_spread(len(ordered), count)(ordered))
    return [float(format(value, _ROUNDED)) for value in ordered]


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What is known of one pytest session that saves results."""

    machine: str
    machine_description: Mapping[str, object]
    time: str
    commit: str | None
    branch: str | None
    #: Where the run came from when it was not a pytest session (an imported file).
    source: str | None = None

    @staticmethod
    def now_utc() -> str:
        return format_time(datetime.datetime.now(datetime.timezone.utc))


@dataclasses.dataclass(frozen=True)
class SavedResult:
    """One judged test to be saved: its metrics and its raw samples."""

    nodeid: str
    status: Status
    rounds: int
    ops: float
    metrics: Mapping[str, float]
    #: At most :data:`SAMPLES_PER_RUN` order statistics, as :func:`thin` gives them.
    wall: Sequence[float]
    memory: Sequence[float]
    reference: float | None = None
    #: The test's limits, per metric ``{"max": bound}`` or ``{"min": bound}``.
    limits: Mapping[str, Mapping[str, float]] | None = None
    #: Why measuring stopped.
    stopped: Stopped | None = None


@dataclasses.dataclass(frozen=True)
class SavedRuns:
    """A test's saved runs on one machine, as a history holds them."""

    nodeid: str
    machine: str
    #: One row per run, oldest first.
    rows: Rows
    #: The limits the test had when it was last saved, per metric ``{"max": bound}``.
    limits: Mapping[str, Mapping[str, float]]
    _samples: Mapping[str, Mapping[str, Sequence[float]]]

    def samples(self, run: int) -> Mapping[str, Sequence[float]]:
        """The raw samples kept for ``run`` (``wall``, ``memory``); empty once it can no
        longer be part of a baseline."""
        return self._samples.get(str(run), {})


def _empty_document() -> dict[str, Any]:
    return {
        "version": VERSION,
        "summary_columns": list(SUMMARY_COLUMNS),
        "machines": {},
        "runs": {},
        "tests": {},
    }


def _new_row(run: int, result: SavedResult) -> list[Any]:
    """The summary row of ``result`` in ``run``, its numbers rounded."""
    reference = None if result.reference is None else _round(result.reference)
    status = status_code(result.status, result.stopped)
    row = [run, status, result.rounds, _round(result.ops), reference]
    return row + [
        _round(result.metrics[column]) if column in result.metrics else None
        for column in _METRIC_COLUMNS
    ]


def _retain(entry: dict[str, Any], keep: int) -> set[int]:
    """Keep ``keep`` summaries of a test on one machine, and samples only for the runs a
    baseline can use; returns the runs whose summaries were dropped."""
    summaries = entry["summaries"]
    # merging does not check an entry's values (see History.saved_runs); an id that is not
    # a number names no run
    dropped = {row[_RUN] for row in summaries[:-keep] if type(row[_RUN]) is int}
    del summaries[:-keep]
    if len(summaries) > SPEED_WINDOW:  # the speed of older runs is not read any more
        summaries[-SPEED_WINDOW - 1][_REFERENCE] = None
    wanted = {str(row.run) for row in baseline_rows(Rows(summaries), None)}
    samples = entry["samples"]
    for run in [run for run in samples if run not in wanted]:
        del samples[run]
    return dropped


class History:
    """A history document in memory."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document
        #: (node id, machine) of the entries whose values were checked.
        self._checked: set[tuple[str, str]] = set()

    @classmethod
    def load(cls, path: Path) -> History:
        """Read a history file; a missing file is an empty history.

        Raises :class:`HistoryError` naming the file when it cannot be used.
        """
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return cls(path, _empty_document())
        except OSError as error:
            raise HistoryError(f"{path}: cannot read the history: {error}") from None
        fast = files.fast_json()
        with collector_paused():
            try:
                document = (
                    fast.loads(text)
                    if fast
                    else json.loads(text.decode("utf-8"), parse_constant=no_constant)
                )
            except (UnicodeDecodeError, ValueError) as error:
                raise HistoryError(
                    f"{path}: cannot read the history as JSON ({error}); "
                    "the file was left as it is"
                ) from None
            return cls(path, check_document(path, document))

    @property
    def runs(self) -> Mapping[str, Mapping[str, Any]]:
        """Each run's time, commit, branch and machine, by run id."""
        runs: Mapping[str, Mapping[str, Any]] = self.document["runs"]
        return runs

    def matching(self, pattern: str = "*") -> Iterator[SavedRuns]:
        """The saved runs of every test whose node id matches the glob, or is the pattern
        itself (a parametrized id's brackets are a character class in a glob), per machine."""
        for nodeid, machines in self.document["tests"].items():
            if nodeid == pattern or fnmatch.fnmatchcase(nodeid, pattern):
                for machine, entry in machines.items():
                    yield self._saved_runs(nodeid, machine, entry)

    def saved_runs(self, nodeid: str, machine: str) -> SavedRuns | None:
        """The test's saved runs on ``machine``, or None; raises :class:`HistoryError` when
        their run ids, statuses or limits are not what their places hold."""
        entry: dict[str, Any] | None = self.document["tests"].get(nodeid, {}).get(machine)
        return None if entry is None else self._saved_runs(nodeid, machine, entry)

    def _saved_runs(self, nodeid: str, machine: str, entry: dict[str, Any]) -> SavedRuns:
        """An entry's values are checked where they are read, not when the file is
        loaded: checking every value of a large history costs about as much as parsing it.
        Here, the run ids and statuses that choose a baseline, once per entry."""
        if (nodeid, machine) not in self._checked:
            if not entry_is_indexed(entry):
                raise entry_error(self.path, nodeid, machine, entry)
            self._checked.add((nodeid, machine))
        rows = Rows(entry["summaries"])
        return SavedRuns(nodeid, machine, rows, entry.get("limits", {}), entry["samples"])

    def check_runs(
        self, saved: SavedRuns, rows: Sequence[SummaryRow], recent: Sequence[SummaryRow] = ()
    ) -> None:
        """Raise :class:`HistoryError` naming the first value that its place cannot hold
        among ``rows`` of a test's saved runs and their samples, and the machine speed and
        p50 of its ``recent`` rows."""
        samples = [saved.samples(row.run) for row in rows]
        values = [row.values for row in rows]
        if not runs_hold_numbers(values, samples, [row.values for row in recent]):
            entry = self.document["tests"][saved.nodeid][saved.machine]
            raise entry_error(self.path, saved.nodeid, saved.machine, entry)

    def baseline(self, nodeid: str, machine: str, *, before: int | None = None) -> Baseline | None:
        """The test's baseline on ``machine`` (from the runs older than run ``before`` when
        given), or None without an accepted run; raises :class:`HistoryError` when a value
        it reads is not what its place holds."""
        saved = self.saved_runs(nodeid, machine)
        if saved is None:
            return None
        chosen = baseline_rows(saved.rows, before)
        if not chosen:
            return None
        recent = list(older_than(saved.rows, before)[-RECENT_RUNS_READ:])
        self.check_runs(saved, chosen, recent)
        return build_baseline(chosen, recent, saved.samples)

    def add_run(self, run: RunInfo, results: Sequence[SavedResult], keep: int) -> str:
        """Merge one session's results as a new run; returns the run's id. A test given
        twice keeps its last result: a run holds one result per test."""
        results = list({result.nodeid: result for result in results}.values())
        document = self.document
        run_id = str(max((int(key) for key in document["runs"]), default=0) + 1)
        document["machines"][run.machine] = dict(run.machine_description)
        document["runs"][run_id] = {
            "time": run.time,
            "commit": run.commit,
            "branch": run.branch,
            "machine": run.machine,
        }
        if run.source is not None:
            document["runs"][run_id]["source"] = run.source
        dropped: set[int] = set()
        for result in results:
            machines = document["tests"].setdefault(result.nodeid, {})
            entry = machines.get(run.machine)
            if entry is None:
                entry = machines[run.machine] = {"summaries": [], "samples": {}}
            entry["summaries"].append(_new_row(int(run_id), result))
            if result.limits:
                entry["limits"] = {metric: dict(bound) for metric, bound in result.limits.items()}
            entry["samples"][run_id] = {
                "wall": list(result.wall),
                "memory": [_round(value) for value in result.memory],
            }
            dropped |= _retain(entry, keep)
        self._drop_unused_runs(dropped)
        return run_id

    def prune(self, keep: int) -> None:
        """Drop all but the newest ``keep`` runs of every test and machine."""
        dropped: set[int] = set()
        for machines in self.document["tests"].values():
            for entry in machines.values():
                dropped |= _retain(entry, keep)
        self._drop_unused_runs(dropped)

    def _holds(self, run: int) -> bool:
        """Whether any test still has a summary of ``run``."""
        for machines in self.document["tests"].values():
            for entry in machines.values():
                rows = entry["summaries"]
                oldest = rows[0][_RUN] if rows else None
                # rows are in run order: most tests' oldest row is newer than ``run``
                if type(oldest) is int and oldest > run:
                    continue
                if run in map(_run_of, rows):
                    return True
        return False

    def _drop_unused_runs(self, candidates: set[int]) -> None:
        """Forget the runs among ``candidates`` that no test holds any more, and the
        machines that no run names."""
        runs = self.document["runs"]
        for run in candidates:
            if str(run) in runs and not self._holds(run):
                del runs[str(run)]
        machines_used = {run["machine"] for run in runs.values()}
        known = self.document["machines"]
        for machine in [machine for machine in known if machine not in machines_used]:
            del known[machine]

    def save(self) -> None:
        write_json_atomic(self.path, self.document, indent=None)


def save_results(path: Path, run: RunInfo, results: Sequence[SavedResult], keep: int) -> str:
    """Lock, re-read, merge this run, prune and write atomically; returns the run's id.

    Re-reading under the lock means two sessions saving at once both land.
    """
    path = Path(os.path.realpath(path))  # a symbolic link is saved through, see locked()
    with locked(path), collector_paused():
        for stale in path.parent.glob(f".{path.name}.*"):
            stale.unlink(missing_ok=True)  # left by a saver that was killed mid-write
        history = History.load(path)
        run_id = history.add_run(run, results, keep)
        history.save()
        del history  # freed while the collector is paused, so it never traverses it
    return run_id
