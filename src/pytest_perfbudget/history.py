"""The JSON history of results: schema, load, baselines, merge, atomic save, retention.

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
            "samples": {"<run>": {"wall": [...], "memory": [...]}}
          }
        }
      }
    }

A run's status is ``a``, accepted (part of the baseline), ``r``, rejected (it regressed, so
the baseline ignores it) or ``b``, rebased (accepted on purpose although it regressed: the
baseline starts again from it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fnmatch
import functools
import gc
import itertools
import json
import operator
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from .stats import median, speed_factor

__all__ = [
    "BASELINE_RUNS",
    "SAMPLES_PER_RUN",
    "SPEED_WINDOW",
    "SUMMARY_COLUMNS",
    "VERSION",
    "Baseline",
    "BaselineRun",
    "History",
    "HistoryError",
    "RunInfo",
    "RunSamples",
    "SavedResult",
    "collector_paused",
    "encode_json",
    "fast_json",
    "locked",
    "metric_values",
    "save_results",
    "thin",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

VERSION = 1
#: The baseline pools the raw samples of this many of the newest accepted runs.
BASELINE_RUNS = 5
#: How many of a test's newest runs tell which slow levels it has reached and left again.
TRANSIENT_WINDOW = 20
#: How many of a test's newest runs tell whether its times follow the machine's speed.
SPEED_WINDOW = 20
#: The newest runs a baseline reads beyond the ones it pools.
_RECENT_RUNS_READ = max(TRANSIENT_WINDOW, SPEED_WINDOW)
#: Raw wall-time samples kept per run: evenly spaced order statistics of the run's samples.
SAMPLES_PER_RUN = 16
#: How long a saver waits for another to release the history's lock (seconds), and how
#: often it tries.
LOCK_TIMEOUT = 120.0
LOCK_POLL = 0.02
SUMMARY_COLUMNS = (
    "run", "status", "rounds", "ops", "reference",
    "p50", "p90", "p95", "p99", "max", "cpu", "memory",
)  # fmt: skip
METRIC_COLUMNS = SUMMARY_COLUMNS[5:]
#: The columns before ``reference`` was one (it was kept with the samples): still read.
_COLUMNS_WITHOUT_REFERENCE = [column for column in SUMMARY_COLUMNS if column != "reference"]
#: Saved numbers keep this many significant digits (0.5% at worst: far below any threshold).
SIGNIFICANT_DIGITS = 3
_ROUNDED = f".{SIGNIFICANT_DIGITS}g"

Status = Literal["accepted", "rejected", "rebased"]
#: How a status is written in a summary row (one letter: the rows are most of the file).
STATUS_CODES: dict[str, str] = {"accepted": "a", "rejected": "r", "rebased": "b"}
_run_of = operator.itemgetter(0)
_status_of = operator.itemgetter(1)
_NUMBER_TYPES = frozenset({int, float})
_INT_TYPE, _STR_TYPE, _LIST_TYPE = frozenset({int}), frozenset({str}), frozenset({list})
_NONE_TYPE = frozenset({type(None)})
_STATUS_LETTERS = frozenset(STATUS_CODES.values())
_LARGEST = sys.float_info.max
_RUN, _STATUS, _ROUNDS, _OPS, _REFERENCE, _P50, _CPU = map(
    SUMMARY_COLUMNS.index, ("run", "status", "rounds", "ops", "reference", "p50", "cpu")
)
_rounds_of, _ops_of = operator.itemgetter(_ROUNDS), operator.itemgetter(_OPS)
_speed_and_p50_of = operator.itemgetter(_REFERENCE, _P50)
_measured_of = operator.itemgetter(*range(_REFERENCE, len(SUMMARY_COLUMNS)))


class HistoryError(Exception):
    """A history file that cannot be used; the message names the file."""


def fast_json() -> Any | None:
    """orjson, when installed (the ``fast`` extra): it reads and writes a large history
    several times faster than the standard library; None otherwise."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def encode_json(document: object, *, indent: int | None) -> bytes:
    """``document`` as UTF-8 JSON with sorted keys: compact, or indented by ``indent``."""
    fast = fast_json() if indent is None else None
    if fast is not None:
        encoded: bytes = fast.dumps(document, option=fast.OPT_SORT_KEYS)
        return encoded + b"\n"
    separators = (",", ":") if indent is None else (",", ": ")
    # dumps, not dump: only the one-shot encoder is the fast one written in C
    text = json.dumps(document, indent=indent, separators=separators, sort_keys=True)
    return (text + "\n").encode("utf-8")


def write_json_atomic(path: Path, document: object, *, indent: int | None = 2) -> None:
    """Write JSON atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, encode_json(document, indent=indent))


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, fsync and rename.

    A crash at any moment leaves either the old file or the new one. A symbolic link is
    written through, to the file it names (a history kept in a shared or cached place).
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
        os.chmod(temporary, mode)  # mkstemp makes it private; keep the file's own mode
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive inter-process lock beside ``path`` (``<path>.lock``; beside the
    file a symbolic link names, so that every link to one file shares its lock).

    Raises :class:`HistoryError` when another process holds it for :data:`LOCK_TIMEOUT`
    seconds: a saver that hangs must not hang every CI job that saves after it.
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as lock_file:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            lock_file.seek(0)
            msvcrt.locking(lock_file.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                lock_file.seek(0)
                msvcrt.locking(lock_file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise HistoryError(
                            f"{lock_path}: another process has held this lock for "
                            f"{LOCK_TIMEOUT:g} s; {path} was left as it is"
                        ) from None
                    time.sleep(LOCK_POLL)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a history is read, merged and written.

    A large history is millions of lists and numbers, none of them in a cycle; while they
    are created the collector would otherwise traverse them again and again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


def metric_values(rows: Sequence[Sequence[Any]], metric: str) -> list[float | None]:
    """One metric of summary ``rows``, run by run: None where it was not measured (or
    where the file holds something other than a number of at least 0)."""
    index = SUMMARY_COLUMNS.index(metric)
    return [
        float(value) if type(value) in _NUMBER_TYPES and 0 <= value <= _LARGEST else None
        for value in map(operator.itemgetter(index), rows)
    ]


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
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A test's baseline on one machine: its newest accepted runs.

    ``wall`` and ``memory`` pool those runs' raw samples; ``metrics`` holds, per metric, the
    median over those runs of their summaries; ``runs`` keeps each run's own samples with
    the machine's speed then.
    """

    wall: tuple[float, ...]
    memory: tuple[float, ...]
    ops: float
    metrics: Mapping[str, float]
    runs: tuple[BaselineRun, ...]
    #: The slowest p50 of the recent rejected runs that the test came back from (a later
    #: run was accepted): a level it has reached and left again on this machine.
    transient_p50: float | None = None
    #: (reference, p50) of the test's recent runs, rejected ones too: whether its times
    #: follow the machine's speed.
    speed_history: tuple[tuple[float, float], ...] = ()

    def runs_at_each_speed(self, reference: float, slope: float) -> RunSamples | None:
        """Each run's wall samples rescaled from its own machine speed to ``reference`` as
        far as ``slope`` says the test follows the machine's speed (see
        :func:`.stats.machine_speed_slope`); None when a run's speed is unknown."""
        if any(not run.reference for run in self.runs):
            return None
        return self._scaled(
            speed_factor(reference, float(run.reference or 1), slope) for run in self.runs
        )

    def runs_at_speed(self, reference: float) -> RunSamples | None:
        """Each run's wall samples as if measured at the machine speed ``reference``; None
        when a run's speed is unknown.

        The baseline's speed is the median of its runs' readings, not each run's own: one
        reading taken at a bad moment would otherwise rescale its run by far too much.
        Only the share of the time spent on the CPU (CPU time over wall time) scales with
        the machine's speed; time spent waiting does not.
        """
        readings = [run.reference for run in self.runs]
        if any(reading is None or reading <= 0 for reading in readings):
            return None
        speed_change = reference / median([float(reading or 0) for reading in readings]) - 1
        return self._scaled(1 + run.cpu_share * speed_change for run in self.runs)

    @property
    def runs_as_measured(self) -> RunSamples:
        """Each run's wall samples as measured."""
        return RunSamples(run.wall for run in self.runs)

    def _scaled(self, factors: Iterable[float]) -> RunSamples:
        """Each run's wall samples multiplied by its own factor."""
        pairs = zip(self.runs, factors, strict=True)
        return RunSamples(tuple(value * factor for value in run.wall) for run, factor in pairs)


@dataclasses.dataclass(frozen=True)
class BaselineRun:
    """One run of a baseline: the machine's speed then, its CPU share and its samples."""

    reference: float | None
    cpu_share: float
    wall: tuple[float, ...]


class RunSamples(tuple[tuple[float, ...], ...]):
    """The wall samples of a baseline's runs, one tuple per run."""

    @property
    def pooled(self) -> tuple[float, ...]:
        return tuple(value for run in self for value in run)

    @property
    def slowest_p50(self) -> float | None:
        """The median of the slowest run: a level the code itself has run at."""
        return max((median(run) for run in self if run), default=None)


def _shape_error(path: Path, where: str, expected: str, *, got: object = ...) -> HistoryError:
    found = "" if got is ... else f", got {got!r}"
    return HistoryError(
        f"{path}: not a pytest-perfbudget history: {where} should be {expected}{found}; "
        "the file was left as it is"
    )


def _check_shape(path: Path, document: object) -> dict[str, Any]:
    """The document, if it has the shape of a version 1 history."""
    if not isinstance(document, dict):
        raise _shape_error(path, "the top level", "an object")
    version = document.get("version")
    if version != VERSION:
        raise HistoryError(
            f"{path}: history version {version!r} is not supported (expected {VERSION}); "
            "the file was left as it is"
        )
    columns = document.get("summary_columns")
    if columns != list(SUMMARY_COLUMNS) and columns != _COLUMNS_WITHOUT_REFERENCE:
        raise _shape_error(path, '"summary_columns"', f"{list(SUMMARY_COLUMNS)}")
    for key in ("machines", "runs", "tests"):
        if not isinstance(document.get(key), dict):
            raise _shape_error(path, f'"{key}"', "an object")
    for nodeid, machines in document["tests"].items():
        if not isinstance(machines, dict):
            raise _shape_error(path, f'"tests"/"{nodeid}"', "an object")
        for machine, entry in machines.items():
            where = f'"tests"/"{nodeid}"/"{machine}"'
            if not isinstance(entry, dict):
                raise _shape_error(path, where, "an object")
            summaries, samples = entry.get("summaries"), entry.get("samples")
            # map over builtins: this runs once per row of the file
            if not isinstance(summaries, list) or not (
                set(map(type, summaries)) <= {list} and set(map(len, summaries)) <= {len(columns)}
            ):
                raise _shape_error(path, f"{where}/summaries", "a list of rows")
            if not isinstance(samples, dict) or not all(
                isinstance(run, dict) for run in samples.values()
            ):
                raise _shape_error(path, f"{where}/samples", "an object of objects")
            if not isinstance(entry.get("limits", {}), dict):
                raise _shape_error(path, f"{where}/limits", "an object")
    if columns == _COLUMNS_WITHOUT_REFERENCE:
        _move_reference_to_summaries(document)
    _check_runs(path, document)
    return document


def _counts(values: Sequence[Any]) -> bool:
    """Whether every value is a whole number of at least 1."""
    return set(map(type, values)) <= _INT_TYPE and (not values or min(values) >= 1)


def _sizes(values: Sequence[Any], *, null: bool = False) -> bool:
    """Whether every value is a finite number of at least 0 (a time, a size, a reading),
    or None where ``null`` allows it. (NaN is refused when the file is parsed.)"""
    kinds = set(map(type, values))
    if null and kinds >= _NONE_TYPE:
        kinds -= _NONE_TYPE
        values = [value for value in values if value is not None]
    if not kinds <= _NUMBER_TYPES:
        return False
    return not values or (min(values) >= 0 and max(values) <= _LARGEST)


def _rates(values: Sequence[Any]) -> bool:
    return _sizes(values) and (not values or min(values) > 0)


def _status_codes(values: Sequence[Any]) -> bool:
    return set(map(type, values)) <= _STR_TYPE and set(values) <= _STATUS_LETTERS


def _no_constant(name: str) -> None:
    """Refuse NaN and Infinity, as orjson does: JSON has neither."""
    raise ValueError(f"{name} is not a JSON number")


_SIZE_OR_NULL = (functools.partial(_sizes, null=True), "a number of at least 0, or null")
#: What each summary column holds: a check of a whole column, and its words.
_COLUMN_CHECKS: dict[str, tuple[Callable[[Sequence[Any]], bool], str]] = {
    "run": (_counts, "a whole number of at least 1"),
    "status": (_status_codes, '"a", "r" or "b"'),
    "rounds": (_counts, "a whole number of at least 1"),
    "ops": (_rates, "a number above 0"),
    **dict.fromkeys(SUMMARY_COLUMNS[_REFERENCE:], _SIZE_OR_NULL),
}
_SAMPLE_KEYS = ("wall", "memory")


def _check_runs(path: Path, document: dict[str, Any]) -> None:
    """Each run's id, machine, time, commit and branch, and each machine's description."""
    for run, info in document["runs"].items():
        where = f'"runs"/"{run}"'
        if not run.isdigit():
            raise _shape_error(path, '"runs"', "keyed by run numbers", got=run)
        if not isinstance(info, dict):
            raise _shape_error(path, where, "an object", got=info)
        if not isinstance(info.get("machine"), str):
            raise _shape_error(path, f'{where}/"machine"', "a string", got=info.get("machine"))
        for key in ("time", "commit", "branch", "source"):
            if not isinstance(info.get(key), str | None):
                raise _shape_error(path, f'{where}/"{key}"', "a string or null", got=info[key])
    for machine, description in document["machines"].items():
        if not isinstance(description, dict):
            raise _shape_error(path, f'"machines"/"{machine}"', "an object", got=description)


def _entry_is_indexed(entry: dict[str, Any]) -> bool:
    """Whether a test's entry has the run ids and statuses that choose its baseline, and
    limits that are numbers."""
    rows = entry["summaries"]
    if not (_counts(list(map(_run_of, rows))) and _status_codes(list(map(_status_of, rows)))):
        return False
    bounds = entry.get("limits", {}).values()
    return all(isinstance(bound, dict) and _sizes(list(bound.values())) for bound in bounds)


def _runs_hold_numbers(
    rows: Sequence[Sequence[Any]],
    samples: Iterable[Mapping[str, Any]],
    recent: Sequence[Sequence[Any]],
) -> bool:
    """Whether every value of summary ``rows`` (but their run ids and statuses, which
    :func:`_entry_is_indexed` checks) and of those runs' ``samples``, and the machine speed
    and p50 of the ``recent`` rows, is what its place holds (all at once: fast, but says
    nothing of where)."""
    series = [run.get(key, []) for run in samples for key in _SAMPLE_KEYS]
    summarized = list(itertools.chain.from_iterable(map(_measured_of, rows)))
    summarized += itertools.chain.from_iterable(map(_speed_and_p50_of, recent))
    return (
        set(map(type, series)) <= _LIST_TYPE
        and _sizes(list(itertools.chain(*series)))
        and _sizes(summarized, null=True)  # a summary may lack a measurement
        and _counts(list(map(_rounds_of, rows)))
        and _rates(list(map(_ops_of, rows)))
    )


def _entry_error(path: Path, nodeid: str, machine: str, entry: dict[str, Any]) -> HistoryError:
    """The error naming the first value of an entry that its place cannot hold."""

    def error(place: str, expected: str, got: object) -> HistoryError:
        return HistoryError(
            f"{path}: cannot use the results of {nodeid} on machine {machine}: {place} "
            f"should be {expected}, got {got!r} (correct or delete them)"
        )

    for row in entry["summaries"]:
        for (column, (check, expected)), value in zip(_COLUMN_CHECKS.items(), row, strict=True):
            if not check([value]):
                return error(f'"{column}" of run {row[_RUN]!r}', expected, value)
    for run, samples in entry["samples"].items():
        for key in _SAMPLE_KEYS:
            values = samples.get(key, [])
            if not isinstance(values, list) or not _sizes(values):
                return error(f'"{key}" samples of run {run}', "numbers of at least 0", values)
    for metric, bound in entry.get("limits", {}).items():
        if not (isinstance(bound, dict) and _sizes(list(bound.values()))):
            return error(f'the limit of "{metric}"', 'like {"max": 0.05}', bound)
    raise AssertionError("called for an entry that holds numbers")


def _move_reference_to_summaries(document: dict[str, Any]) -> None:
    """Bring a history written before ``reference`` was a summary column up to date."""
    for machines in document["tests"].values():
        for entry in machines.values():
            for row in entry["summaries"]:
                samples = entry["samples"].get(str(row[0]), {})
                row.insert(_REFERENCE, samples.pop("reference", None))
    document["summary_columns"] = list(SUMMARY_COLUMNS)


def _empty_document() -> dict[str, Any]:
    return {
        "version": VERSION,
        "summary_columns": list(SUMMARY_COLUMNS),
        "machines": {},
        "runs": {},
        "tests": {},
    }


def _baseline_rows(summaries: Sequence[list[Any]], before: int | None) -> list[list[Any]]:
    """See :meth:`History.baseline_runs`."""
    chosen: list[list[Any]] = []
    for row in reversed(summaries):
        if before is not None and row[0] >= before:
            continue
        status = row[1]
        if status in ("a", "b"):
            chosen.append(row)
        if status == "b" or len(chosen) == BASELINE_RUNS:
            break
    return chosen


def _retain(entry: dict[str, Any], keep: int) -> set[int]:
    """Keep ``keep`` summaries of a test on one machine, and samples only for the runs a
    baseline can use; returns the runs whose summaries were dropped."""
    summaries = entry["summaries"]
    # merging does not check an entry's values (see History.entry); an id that is not a
    # number names no run
    dropped = {row[_RUN] for row in summaries[:-keep] if type(row[_RUN]) is int}
    del summaries[:-keep]
    if len(summaries) > SPEED_WINDOW:  # the speed of older runs is not read any more
        summaries[-SPEED_WINDOW - 1][_REFERENCE] = None
    wanted = {str(row[0]) for row in _baseline_rows(summaries, None)}
    samples = entry["samples"]
    for run in [run for run in samples if run not in wanted]:
        del samples[run]
    return dropped


def _since_rebase(
    rows: Sequence[Sequence[Any]], before: int | None, window: int
) -> Sequence[Sequence[Any]]:
    """The last ``window`` rows older than run ``before`` (when given), none older than the
    newest rebase: the runs before it timed other code."""
    recent = [row for row in rows if before is None or row[_RUN] < before][-window:]
    for index in range(len(recent) - 1, -1, -1):
        if recent[index][_STATUS] == "b":
            return recent[index:]
    return recent


def _transient_p50(rows: Sequence[Sequence[Any]], before: int | None) -> float | None:
    """The slowest p50 among the last :data:`TRANSIENT_WINDOW` runs (see
    :func:`_since_rebase`) that were rejected and followed by a faster accepted run."""
    recent = _since_rebase(rows, before, TRANSIENT_WINDOW)
    fastest_after: float | None = None  # of the accepted runs after the one looked at
    slowest: float | None = None
    for row in reversed(recent):
        if row[_P50] is None:
            continue
        level = float(row[_P50])
        if row[1] == "a":
            fastest_after = level if fastest_after is None else min(fastest_after, level)
        elif row[1] == "r" and fastest_after is not None and fastest_after < level:
            slowest = level if slowest is None else max(slowest, level)
    return slowest


def _speed_history(
    rows: Sequence[Sequence[Any]], before: int | None
) -> tuple[tuple[float, float], ...]:
    """(reference, p50) of the last :data:`SPEED_WINDOW` runs (see :func:`_since_rebase`)
    that have both. Across a rebase the code's own change would pass for the machine's."""
    recent = _since_rebase(rows, before, SPEED_WINDOW)
    return tuple(
        (float(row[_REFERENCE]), float(row[_P50]))
        for row in recent
        if row[_REFERENCE] and row[_P50]
    )


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
        fast = fast_json()
        with collector_paused():
            try:
                document = (
                    fast.loads(text)
                    if fast
                    else json.loads(text.decode("utf-8"), parse_constant=_no_constant)
                )
            except (UnicodeDecodeError, ValueError) as error:
                raise HistoryError(
                    f"{path}: cannot read the history as JSON ({error}); "
                    "the file was left as it is"
                ) from None
            return cls(path, _check_shape(path, document))

    def matching(self, pattern: str = "*") -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(node id, machine, entry) of every test whose node id matches the glob, or is
        the pattern itself (a parametrized id's brackets are a character class in a glob)."""
        for nodeid, machines in self.document["tests"].items():
            if nodeid == pattern or fnmatch.fnmatchcase(nodeid, pattern):
                for machine, entry in machines.items():
                    yield nodeid, machine, self._checked_entry(nodeid, machine, entry)

    def entry(self, nodeid: str, machine: str) -> dict[str, Any] | None:
        """The test's results on ``machine``, or None; raises :class:`HistoryError` when
        their run ids, statuses or limits are not what their places hold."""
        entry: dict[str, Any] | None = self.document["tests"].get(nodeid, {}).get(machine)
        return None if entry is None else self._checked_entry(nodeid, machine, entry)

    def _checked_entry(self, nodeid: str, machine: str, entry: dict[str, Any]) -> dict[str, Any]:
        """An entry's values are checked where they are read, not when the file is
        loaded: checking every value of a large history costs about as much as parsing it.
        Here, the run ids and statuses that choose a baseline, once per entry."""
        if (nodeid, machine) not in self._checked:
            if not _entry_is_indexed(entry):
                raise _entry_error(self.path, nodeid, machine, entry)
            self._checked.add((nodeid, machine))
        return entry

    def check_runs(
        self,
        nodeid: str,
        machine: str,
        rows: Sequence[Sequence[Any]],
        recent: Sequence[Sequence[Any]] = (),
    ) -> None:
        """Raise :class:`HistoryError` naming the first value that its place cannot hold
        among a test's summary ``rows`` and their samples, and the machine speed and p50
        of its ``recent`` rows."""
        entry = self._checked_entry(nodeid, machine, self.document["tests"][nodeid][machine])
        samples = [entry["samples"].get(str(row[_RUN]), {}) for row in rows]
        if not _runs_hold_numbers(rows, samples, recent):
            raise _entry_error(self.path, nodeid, machine, entry)

    def baseline_runs(
        self, nodeid: str, machine: str, *, before: int | None = None
    ) -> list[list[Any]]:
        """Summary rows of the runs the baseline pools: the newest accepted ones (older than
        run ``before`` when given), at most :data:`BASELINE_RUNS`, none older than the
        newest rebased run."""
        entry = self.entry(nodeid, machine)
        return _baseline_rows(entry["summaries"], before) if entry else []

    def baseline(self, nodeid: str, machine: str, *, before: int | None = None) -> Baseline | None:
        """The pooled samples of the test's baseline runs (older than run ``before`` when
        given), or None without any."""
        entry = self.entry(nodeid, machine)
        rows = self.baseline_runs(nodeid, machine, before=before)
        if entry is None or not rows:
            return None
        earlier = [row for row in entry["summaries"] if before is None or row[_RUN] < before]
        self.check_runs(nodeid, machine, rows, earlier[-_RECENT_RUNS_READ:])
        wall: list[float] = []
        memory: list[float] = []
        runs: list[BaselineRun] = []
        for row in rows:
            samples = entry["samples"].get(str(row[0]), {})
            wall.extend(samples.get("wall", []))
            memory.extend(samples.get("memory", []))
            p50, cpu = row[_P50], row[_CPU]
            known = p50 is not None and cpu is not None and p50 > 0
            cpu_share = min(1.0, max(0.0, cpu / p50)) if known else 1.0
            runs.append(BaselineRun(row[_REFERENCE], cpu_share, tuple(samples.get("wall", []))))
        metrics = {
            column: median(known)
            for index, column in enumerate(SUMMARY_COLUMNS)
            if column in METRIC_COLUMNS
            and (known := [row[index] for row in rows if row[index] is not None])
        }  # a metric no run measured (memory without a probe, say) has no baseline
        ops = median([row[_OPS] for row in rows])
        if metrics.get("p50", 0) > 0:
            metrics["throughput"] = ops / metrics["p50"]
        transient = _transient_p50(entry["summaries"], before)
        speed_history = _speed_history(entry["summaries"], before)
        return Baseline(
            tuple(wall), tuple(memory), ops, metrics, tuple(runs), transient, speed_history
        )

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
            reference = None if result.reference is None else _round(result.reference)
            row = [
                int(run_id), STATUS_CODES[result.status], result.rounds, _round(result.ops),
                reference,
            ]  # fmt: skip
            row += [
                _round(result.metrics[column]) if column in result.metrics else None
                for column in METRIC_COLUMNS
            ]
            entry["summaries"].append(row)
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
