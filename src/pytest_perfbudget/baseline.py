"""A test's baseline: which of its saved runs form it, and what a regression check reads.

The baseline of a test on one machine pools the raw samples of its newest accepted runs
(:data:`BASELINE_RUNS`), none older than its newest rebased run. A regression check also
reads two things of the test's recent runs (rejected ones too): the slow levels it reached
and came back from, and how its times followed the machine's speed.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence

from .metrics import SAVED_METRICS
from .stats import median
from .summary_row import Status, SummaryRow

__all__ = [
    "BASELINE_RUNS",
    "RECENT_RUNS_READ",
    "SPEED_WINDOW",
    "Baseline",
    "BaselineRun",
    "RunSamples",
    "baseline_rows",
    "build_baseline",
    "older_than",
]

#: The baseline pools the raw samples of this many of the newest accepted runs.
BASELINE_RUNS = 5
#: How many of a test's newest runs tell which slow levels it has reached and left again.
TRANSIENT_WINDOW = 20
#: How many of a test's newest runs tell whether its times follow the machine's speed.
SPEED_WINDOW = 20
#: The newest runs a baseline reads beyond the ones it pools.
RECENT_RUNS_READ = max(TRANSIENT_WINDOW, SPEED_WINDOW)

#: A saved run's raw samples, by kind (``wall``, ``memory``).
SamplesOf = Callable[[int], Mapping[str, Sequence[float]]]


class RunSamples(tuple[tuple[float, ...], ...]):
    """The wall samples of a baseline's runs, one tuple per run."""

    @property
    def pooled(self) -> tuple[float, ...]:
        return tuple(value for run in self for value in run)

    @property
    def slowest_p50(self) -> float | None:
        """The median of the slowest run: a level the code itself has run at."""
        return max((median(run) for run in self if run), default=None)


@dataclasses.dataclass(frozen=True)
class BaselineRun:
    """One run of a baseline: the machine's speed then, its CPU share and its samples."""

    reference: float | None
    cpu_share: float
    wall: tuple[float, ...]


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

    @property
    def runs_as_measured(self) -> RunSamples:
        """Each run's wall samples as measured."""
        return RunSamples(run.wall for run in self.runs)


def older_than(rows: Sequence[SummaryRow], before: int | None) -> Sequence[SummaryRow]:
    """The rows of the runs older than run ``before`` (all of them without one). Rows are
    in run order, so this looks at a few of them, not at every one."""
    if before is None:
        return rows
    return rows[: bisect.bisect_left(rows, before, key=operator.attrgetter("run"))]


def baseline_rows(rows: Sequence[SummaryRow], before: int | None) -> list[SummaryRow]:
    """The rows of the runs a baseline pools, newest first: the newest accepted ones (older
    than run ``before`` when given), at most :data:`BASELINE_RUNS`, none older than the
    newest rebased run."""
    chosen: list[SummaryRow] = []
    for row in reversed(older_than(rows, before)):
        status = row.status
        if status in ("accepted", "rebased"):
            chosen.append(row)
        if status == "rebased" or len(chosen) == BASELINE_RUNS:
            break
    return chosen


def build_baseline(
    chosen: Sequence[SummaryRow], recent: Sequence[SummaryRow], samples_of: SamplesOf
) -> Baseline:
    """The baseline of the runs ``chosen`` (:func:`baseline_rows`, at least one) with what
    the ``recent`` runs tell (the last :data:`RECENT_RUNS_READ` before it, oldest first);
    their values checked."""
    wall: list[float] = []
    memory: list[float] = []
    runs: list[BaselineRun] = []
    for row in chosen:
        samples = samples_of(row.run)
        wall.extend(samples.get("wall", []))
        memory.extend(samples.get("memory", []))
        p50, cpu = row.metric("p50"), row.metric("cpu")
        cpu_share = 1.0
        if p50 is not None and cpu is not None and p50 > 0:
            cpu_share = min(1.0, max(0.0, cpu / p50))
        runs.append(BaselineRun(row.reference, cpu_share, tuple(samples.get("wall", []))))
    metrics = {
        name: median(known)
        for name in SAVED_METRICS
        if (known := [value for row in chosen if (value := row.metric(name)) is not None])
    }  # a metric no run measured (memory without a probe, say) has no baseline
    ops = median([row.ops for row in chosen])
    if metrics.get("p50", 0) > 0:
        metrics["throughput"] = ops / metrics["p50"]
    levels = [(row.status, row.metric("p50"), row.reference) for row in recent]
    return Baseline(
        tuple(wall),
        tuple(memory),
        ops,
        metrics,
        tuple(runs),
        _transient_p50(levels[-TRANSIENT_WINDOW:]),
        _speed_history(levels[-SPEED_WINDOW:]),
    )


#: What a recent run tells a regression check: its status, p50 and machine speed.
Level = tuple["Status | None", float | None, float | None]


def _since_rebase(levels: Sequence[Level]) -> Sequence[Level]:
    """``levels`` from the newest rebase on: the runs before it timed other code."""
    for index in range(len(levels) - 1, -1, -1):
        if levels[index][0] == "rebased":
            return levels[index:]
    return levels


def _transient_p50(levels: Sequence[Level]) -> float | None:
    """The slowest p50 among recent runs (the last :data:`TRANSIENT_WINDOW`, since the
    newest rebase) that were rejected and followed by a faster accepted run."""
    fastest_after: float | None = None  # of the accepted runs after the one looked at
    slowest: float | None = None
    for status, level, _ in reversed(_since_rebase(levels)):
        if level is None:
            continue
        if status == "accepted":
            fastest_after = level if fastest_after is None else min(fastest_after, level)
        elif status == "rejected" and fastest_after is not None and fastest_after < level:
            slowest = level if slowest is None else max(slowest, level)
    return slowest


def _speed_history(levels: Sequence[Level]) -> tuple[tuple[float, float], ...]:
    """(reference, p50) of recent runs (the last :data:`SPEED_WINDOW`, since the newest
    rebase) that have both. Across a rebase the code's own change would pass for the
    machine's."""
    return tuple(
        (reference, p50) for _, p50, reference in _since_rebase(levels) if reference and p50
    )
