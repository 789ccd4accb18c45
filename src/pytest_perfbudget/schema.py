"""What a history file must hold: its shape, checked when it is loaded, and the values of
a test's results, checked where they are read.

Checking every value of a large history costs about as much as parsing it, so a load
checks the shape and the runs, and a test's values are checked when its baseline is read
(:class:`.History` calls :func:`entry_is_indexed` and :func:`runs_hold_numbers`). Each
check names the file, the place and the value it found.
"""

from __future__ import annotations

import functools
import itertools
import operator
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from .summary_row import STATUS_CODES, STOP_CODES, SUMMARY_COLUMNS

__all__ = [
    "VERSION",
    "HistoryError",
    "check_document",
    "entry_error",
    "entry_is_indexed",
    "no_constant",
    "runs_hold_numbers",
]

VERSION = 1
#: The columns that identify a run and how it was taken: every file has them.
_IDENTITY_COLUMNS = ("run", "status", "rounds", "ops")
_RUN, _STATUS, _ROUNDS, _OPS, _REFERENCE = map(
    SUMMARY_COLUMNS.index, (*_IDENTITY_COLUMNS, "reference")
)
_P50 = SUMMARY_COLUMNS.index("p50")
_run_of = operator.itemgetter(_RUN)
_status_of = operator.itemgetter(_STATUS)
_rounds_of, _ops_of = operator.itemgetter(_ROUNDS), operator.itemgetter(_OPS)
_speed_and_p50_of = operator.itemgetter(_REFERENCE, _P50)
_measured_of = operator.itemgetter(*range(_REFERENCE, len(SUMMARY_COLUMNS)))
_NUMBER_TYPES = frozenset({int, float})
_INT_TYPE, _STR_TYPE, _LIST_TYPE = frozenset({int}), frozenset({str}), frozenset({list})
_NONE_TYPE = frozenset({type(None)})
_STATUS_LETTERS = frozenset(
    status + stop for status in STATUS_CODES.values() for stop in ("", *STOP_CODES.values())
)
_LARGEST = sys.float_info.max


class HistoryError(Exception):
    """A history file that cannot be used; the message names the file."""


def _shape_error(path: Path, where: str, expected: str, *, got: object = ...) -> HistoryError:
    found = "" if got is ... else f", got {got!r}"
    return HistoryError(
        f"{path}: not a pytest-perfbudget history: {where} should be {expected}{found}; "
        "the file was left as it is"
    )


def check_document(path: Path, document: object) -> dict[str, Any]:
    """The document, if it has the shape of a version 1 history, with its rows in the
    columns of :data:`SUMMARY_COLUMNS`; raises :class:`HistoryError` naming the file."""
    if not isinstance(document, dict):
        raise _shape_error(path, "the top level", "an object")
    version = document.get("version")
    if version != VERSION:
        raise HistoryError(
            f"{path}: history version {version!r} is not supported (expected {VERSION}); "
            "the file was left as it is"
        )
    columns = document.get("summary_columns")
    if not _known_columns(columns):
        unknown = (
            [column for column in columns if column not in SUMMARY_COLUMNS]
            if isinstance(columns, list)
            else []
        )
        if unknown:
            raise HistoryError(
                f"{path}: the history has columns this version of pytest-perfbudget does not "
                f"know ({', '.join(map(str, unknown))}): a later version wrote it; upgrade "
                "pytest-perfbudget. The file was left as it is"
            )
        raise _shape_error(
            path, '"summary_columns"', f"columns of {list(SUMMARY_COLUMNS)}", got=columns
        )
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
    if columns != list(SUMMARY_COLUMNS):
        _upgrade_columns(document)
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


def no_constant(name: str) -> None:
    """Refuse NaN and Infinity, as orjson does: JSON has neither."""
    raise ValueError(f"{name} is not a JSON number")


_SIZE_OR_NULL = (functools.partial(_sizes, null=True), "a number of at least 0, or null")
#: What each summary column holds: a check of a whole column, and its words.
_COLUMN_CHECKS: dict[str, tuple[Callable[[Sequence[Any]], bool], str]] = {
    "run": (_counts, "a whole number of at least 1"),
    "status": (_status_codes, '"a", "r" or "b", then "c", "t", "r" or nothing'),
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


def entry_is_indexed(entry: dict[str, Any]) -> bool:
    """Whether a test's entry has the run ids and statuses that choose its baseline, and
    limits that are numbers."""
    rows = entry["summaries"]
    if not (_counts(list(map(_run_of, rows))) and _status_codes(list(map(_status_of, rows)))):
        return False
    bounds = entry.get("limits", {}).values()
    return all(isinstance(bound, dict) and _sizes(list(bound.values())) for bound in bounds)


def runs_hold_numbers(
    rows: Sequence[Sequence[Any]],
    samples: Iterable[Mapping[str, Any]],
    recent: Sequence[Sequence[Any]],
) -> bool:
    """Whether every value of summary ``rows`` (but their run ids and statuses, which
    :func:`entry_is_indexed` checks) and of those runs' ``samples``, and the machine speed
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


def entry_error(path: Path, nodeid: str, machine: str, entry: dict[str, Any]) -> HistoryError:
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


def _known_columns(columns: object) -> TypeGuard[list[str]]:
    """Whether a file's ``summary_columns`` are columns this version reads: every one of
    them known, none twice, those that identify a run among them."""
    return (
        isinstance(columns, list)
        and all(isinstance(column, str) for column in columns)
        and len(set(columns)) == len(columns)
        and set(_IDENTITY_COLUMNS) <= set(columns) <= set(SUMMARY_COLUMNS)
    )


def _upgrade_columns(document: dict[str, Any]) -> None:
    """Bring rows written with other columns to :data:`SUMMARY_COLUMNS`, by name: a column
    the file lacks is null (a metric saved since), but ``reference``, which files written
    before it was a column kept with each run's samples."""
    positions = {column: index for index, column in enumerate(document["summary_columns"])}
    for machines in document["tests"].values():
        for entry in machines.values():
            rows = entry["summaries"]
            for number, row in enumerate(rows):
                legacy: dict[str, Any] = {}
                if "reference" not in positions:
                    samples = entry["samples"].get(str(row[positions["run"]]), {})
                    legacy["reference"] = samples.pop("reference", None)
                rows[number] = [
                    row[positions[column]] if column in positions else legacy.get(column)
                    for column in SUMMARY_COLUMNS
                ]
    document["summary_columns"] = list(SUMMARY_COLUMNS)
