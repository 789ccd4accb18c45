"""A judged test: :func:`judge` holds a measurement against its budget and its baseline and
makes the :class:`PerfResult` that the report, the CI output, xdist and the history read.

A result travels between processes and files as JSON (:meth:`PerfResult.to_json`, the
entry of the ``--perf-report`` document) and is read back with :meth:`PerfResult.from_json`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from .baseline import Baseline
from .budget import Budget, Level, Limit
from .history import SavedResult, thin
from .measure import Measurement, Stopped
from .regression import RegressionCheck, check_regressions, describe_regression, notes
from .summary_row import Status

if TYPE_CHECKING:  # a paired run's modules are imported only when it is one
    from .paired import Against, PairingData

__all__ = ["PerfResult", "Verdict", "judge"]

Verdict = Literal["pass", "warn", "fail"]


@dataclasses.dataclass(frozen=True)
class PerfResult:
    """What one judged test measured and how it was judged; numbers in base units."""

    nodeid: str
    verdict: Verdict
    level: Level
    #: How ``--perf-save`` files it: ``accepted`` into the baseline, ``rejected`` (it
    #: regressed) or ``rebased`` (it regressed and ``--perf-accept`` takes it as the new
    #: start).
    status: Status
    rounds: int
    ops: float
    metrics: Mapping[str, float]
    limits: tuple[Limit, ...]
    #: The metrics whose limit was broken.
    broken: tuple[str, ...]
    #: Per metric, the baseline's value; None without a baseline.
    baseline: Mapping[str, float] | None
    regressions: tuple[RegressionCheck, ...]
    memory_method: str | None
    #: The machine's speed while measuring (reference kernel seconds), when known.
    reference: float | None
    #: What traced or profiled the code while it was measured, or None.
    tracer: str | None
    #: At most 16 evenly spaced order statistics of the wall times (:func:`.thin`).
    wall_samples: tuple[float, ...]
    memory_samples: tuple[float, ...]
    #: One line per broken limit and per regression.
    messages: tuple[str, ...]
    #: What did not fail the test but should be said (noisy baseline, slower machine).
    notes: tuple[str, ...]
    #: The test function's file (relative to the rootdir) and line (1-based), when known.
    file: str | None = None
    line: int | None = None
    #: In a paired run, what the test was compared with (a revision or an interpreter),
    #: and the commit it resolved to.
    against: str | None = None
    against_sha: str | None = None
    #: Why measuring stopped: ``certain`` (every verdict settled), ``max_time``, or
    #: ``rounds`` (the rounds asked for); None when another tool or ``with`` blocks did.
    stopped: Stopped | None = None

    @property
    def regressed(self) -> bool:
        return any(check.regressed for check in self.regressions)

    def saved(self) -> SavedResult:
        """What ``--perf-save`` writes of this result."""
        return SavedResult(
            nodeid=self.nodeid,
            status=self.status,
            rounds=self.rounds,
            ops=self.ops,
            metrics=self.metrics,
            wall=self.wall_samples,
            memory=self.memory_samples,
            reference=self.reference,
            limits=_limits_json(self.limits),
            stopped=self.stopped,
        )

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready builtins: the test's entry of the JSON report."""
        return {
            "nodeid": self.nodeid,
            "file": self.file,
            "line": self.line,
            "verdict": self.verdict,
            "level": self.level,
            "status": self.status,
            "rounds": self.rounds,
            "ops": self.ops,
            "metrics": dict(self.metrics),
            "limits": _limits_json(self.limits),
            "broken": list(self.broken),
            "baseline": None if self.baseline is None else dict(self.baseline),
            "regressions": [dataclasses.asdict(check) for check in self.regressions],
            "memory_method": self.memory_method,
            "reference": self.reference,
            "tracer": self.tracer,
            "samples": {"wall": list(self.wall_samples), "memory": list(self.memory_samples)},
            "messages": list(self.messages),
            "notes": list(self.notes),
            "against": None
            if self.against is None
            else {"ref": self.against, "sha": self.against_sha},
            "stopped": self.stopped,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PerfResult:
        """A result from :meth:`to_json`'s output (as an xdist worker sends it)."""
        return cls(
            nodeid=data["nodeid"],
            verdict=data["verdict"],
            level=data["level"],
            status=data["status"],
            rounds=data["rounds"],
            ops=data["ops"],
            metrics=data["metrics"],
            limits=tuple(
                Limit(metric, bound)
                for metric, kinds in data["limits"].items()
                for bound in kinds.values()
            ),
            broken=tuple(data["broken"]),
            baseline=data["baseline"],
            regressions=tuple(RegressionCheck(**check) for check in data["regressions"]),
            memory_method=data["memory_method"],
            reference=data["reference"],
            tracer=data["tracer"],
            wall_samples=tuple(data["samples"]["wall"]),
            memory_samples=tuple(data["samples"]["memory"]),
            messages=tuple(data["messages"]),
            notes=tuple(data["notes"]),
            file=data["file"],
            line=data["line"],
            against=None if data["against"] is None else data["against"]["ref"],
            against_sha=None if data["against"] is None else data["against"]["sha"],
            stopped=data["stopped"],
        )


def _limits_json(limits: tuple[Limit, ...]) -> dict[str, dict[str, float]]:
    return {limit.metric: {"min" if limit.is_minimum else "max": limit.bound} for limit in limits}


def judge(
    nodeid: str,
    budget: Budget,
    measurement: Measurement,
    baseline: Baseline | None = None,
    *,
    warn_only: bool,
    accept: bool = False,
    file: str | None = None,
    line: int | None = None,
    paired: PairingData | None = None,
    against: Against | None = None,
) -> PerfResult:
    """Compare a test's measurement with its limits and, given one, its baseline, or in a
    paired run the control's blocks (``paired``, from the comparison ``against``).

    Findings fail the test, or only warn under ``level="warn"`` or ``warn_only``. Times
    taken under a tracer (coverage, a debugger) are not held against the baseline. A
    regressed test is ``rebased`` with ``accept``, else ``rejected``.
    """
    metrics = measurement.metrics()
    broken = budget.broken_limits(metrics)
    regressions: tuple[RegressionCheck, ...] = ()
    extra_notes: list[str] = []
    throughput = budget.limits_metric("throughput")
    traced = measurement.tracer is not None
    if not traced and paired is not None and against is not None:
        unpaired = paired.unpaired
        if unpaired is None and not paired.control_wall:
            unpaired = f"no measuring point of it was paired with {against.name}"
        if unpaired is not None:
            extra_notes.append(f"perf note: no paired verdict: {unpaired}")
        else:
            from .paired import paired_checks, paired_notes

            regressions = paired_checks(
                paired, measurement, budget.regression, throughput=throughput,
                against=against.name,
            )  # fmt: skip
            extra_notes = paired_notes(regressions)
    elif not traced and baseline is not None:
        regressions = check_regressions(
            measurement, baseline, budget.regression, throughput=throughput
        )
    regressed = any(check.regressed for check in regressions)
    verdict: Verdict = "pass"
    if broken or regressed:
        verdict = "warn" if warn_only or budget.level == "warn" else "fail"
    status: Status = "accepted"
    if regressed:
        status = "rebased" if accept else "rejected"
    rounds = measurement.rounds
    counted = f"{rounds} {'round' if rounds == 1 else 'rounds'}"
    messages = [
        f"perf budget exceeded: {limit.describe_breach(metrics[limit.metric])} ({counted})"
        for limit in broken
    ] + [describe_regression(check) for check in regressions if check.regressed]
    baseline_values = dict(baseline.metrics) if baseline else {}
    baseline_values.update(
        (check.metric, check.baseline) for check in regressions if check.baseline is not None
    )
    return PerfResult(
        nodeid=nodeid,
        verdict=verdict,
        level=budget.level,
        status=status,
        rounds=rounds,
        ops=measurement.ops,
        metrics=metrics,
        limits=budget.limits,
        broken=tuple(limit.metric for limit in broken),
        baseline=baseline_values or None,
        regressions=regressions,
        memory_method=measurement.memory_method,
        reference=measurement.reference,
        tracer=measurement.tracer,
        wall_samples=tuple(thin(measurement.wall)),
        memory_samples=measurement.memory,
        messages=tuple(messages),
        notes=tuple(notes(regressions) + extra_notes),
        file=file,
        line=line,
        against=None if against is None else against.name,
        against_sha=None if against is None else against.sha,
        stopped=measurement.stopped,
    )
