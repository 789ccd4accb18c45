"""One saved run of one test, as a history's summary row: the columns and a named view.

The history stores each run of a test as a list, one value per column of
:data:`SUMMARY_COLUMNS` (a list, not an object, because rows are most of the file). Code
outside the storage reads rows through :class:`SummaryRow`, never by position.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any, Literal, overload

from .measure import Stopped
from .metrics import SAVED_METRICS

__all__ = [
    "STATUS_CODES",
    "STOP_CODES",
    "SUMMARY_COLUMNS",
    "Rows",
    "Status",
    "SummaryRow",
    "status_code",
]

#: What identifies a run and how the history took it, then the machine's speed while
#: measuring (seconds of the reference kernel), then the saved metrics.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "run", "status", "rounds", "ops", "reference", *SAVED_METRICS,
)  # fmt: skip

#: ``accepted`` into the baseline; ``rejected``, since it regressed (the baseline ignores
#: it); ``rebased``: accepted on purpose although it regressed, the baseline starts again
#: from it.
Status = Literal["accepted", "rejected", "rebased"]
#: How a status is written in a row (one letter: the rows are most of the file), followed
#: by one for why measuring stopped (:data:`STOP_CODES`; none in rows saved before).
STATUS_CODES: dict[Status, str] = {"accepted": "a", "rejected": "r", "rebased": "b"}
STOP_CODES: dict[Stopped, str] = {"certain": "c", "max_time": "t", "rounds": "r"}
_STATUS_OF_CODE: dict[str, Status] = {code: status for status, code in STATUS_CODES.items()}
_STOP_OF_CODE: dict[str, Stopped] = {code: stopped for stopped, code in STOP_CODES.items()}
_COLUMN = {column: index for index, column in enumerate(SUMMARY_COLUMNS)}
_RUN, _STATUS, _ROUNDS, _OPS, _REFERENCE = range(5)
_NUMBER_TYPES = frozenset({int, float})
_LARGEST = sys.float_info.max


def status_code(status: Status, stopped: Stopped | None) -> str:
    """How a run's status, and why its measuring stopped, are written in its row."""
    return STATUS_CODES[status] + ("" if stopped is None else STOP_CODES[stopped])


def _number(value: Any) -> float | None:
    """``value`` when it is a number a measurement can be (finite, at least 0), else None."""
    if type(value) in _NUMBER_TYPES and 0 <= value <= _LARGEST:
        return float(value)
    return None


class SummaryRow:
    """A named view of a summary row as stored (no copy is made)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"SummaryRow({list(self.values)!r})"

    @property
    def run(self) -> int:
        """The run's number (checked by the storage before a baseline reads it)."""
        run: int = self.values[_RUN]
        return run

    @property
    def status(self) -> Status | None:
        """How the history took the run; None for a letter it does not know (a file
        edited by hand: the storage checks statuses before a baseline reads them)."""
        try:
            return _STATUS_OF_CODE.get(self.values[_STATUS][:1])
        except (TypeError, KeyError):  # not letters at all: a number, a table
            return None

    @property
    def stopped(self) -> Stopped | None:
        """Why measuring stopped in that run; None when it was not said (saved before it
        was, or measured by another tool)."""
        try:
            return _STOP_OF_CODE.get(self.values[_STATUS][1:2])
        except (TypeError, KeyError):
            return None

    @property
    def rounds(self) -> int:
        rounds: int = self.values[_ROUNDS]
        return rounds

    @property
    def ops(self) -> float:
        return float(self.values[_OPS])

    @property
    def reference(self) -> float | None:
        """The machine's speed while measuring (reference kernel seconds), when known."""
        return _number(self.values[_REFERENCE]) or None

    def metric(self, name: str) -> float | None:
        """A saved metric's value; None where it was not measured (or where the file holds
        something other than a number of at least 0)."""
        value = self.values[_COLUMN[name]]  # _number, inlined: read millions of times
        return float(value) if type(value) in _NUMBER_TYPES and 0 <= value <= _LARGEST else None


class Rows(Sequence[SummaryRow]):
    """A test's stored rows seen as :class:`SummaryRow`s, each made when it is read: a
    history holds millions of rows, and most reads look at a few of the newest."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Sequence[Any]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[SummaryRow]:
        return map(SummaryRow, self._rows)

    def __reversed__(self) -> Iterator[SummaryRow]:
        return map(SummaryRow, reversed(self._rows))

    @overload
    def __getitem__(self, index: int) -> SummaryRow: ...

    @overload
    def __getitem__(self, index: slice) -> Rows: ...

    def __getitem__(self, index: int | slice) -> SummaryRow | Rows:
        if isinstance(index, slice):
            return Rows(self._rows[index])
        return SummaryRow(self._rows[index])

    def metric(self, name: str) -> list[float | None]:
        """One saved metric of every row, as :meth:`SummaryRow.metric` reads it (a whole
        column at once: a chart or a sparkline reads every row)."""
        column = _COLUMN[name]
        return [_number(values[column]) for values in self._rows]

    def runs(self) -> list[int]:
        """The run of every row."""
        return [values[_RUN] for values in self._rows]
