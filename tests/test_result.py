"""Judging a measurement against its budget and baseline, and the result it makes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from pytest_perfbudget.baseline import Baseline, BaselineRun
from pytest_perfbudget.budget import Budget, Limit
from pytest_perfbudget.measure import Measurement
from pytest_perfbudget.result import PerfResult, judge


def measurement(
    wall: Sequence[float], memory: Sequence[float] = (), ops: float = 1.0
) -> Measurement:
    return Measurement(wall=tuple(wall), cpu=tuple(wall), memory=tuple(memory), ops=ops)


def test_judge_passes_within_limits() -> None:
    budget = Budget(limits=(Limit("p95", 0.05), Limit("memory", 1000)))
    judgement = judge("t", budget, measurement([0.01] * 10, [500]), warn_only=False)
    assert judgement.verdict == "pass"
    assert judgement.messages == ()


def test_judge_fails_with_spec_message() -> None:
    budget = Budget(limits=(Limit("p95", 0.05),))
    judgement = judge("t", budget, measurement([0.0618] * 30), warn_only=False)
    assert judgement.verdict == "fail"
    assert list(judgement.messages) == ["perf budget exceeded: p95 61.8ms > 50ms (30 rounds)"]


def test_throughput_is_a_minimum() -> None:
    budget = Budget(limits=(Limit("throughput", 2000),), ops=10)
    slow = judge("t", budget, measurement([0.01] * 5, ops=10), warn_only=False)
    assert list(slow.messages) == ["perf budget exceeded: throughput 1k/s < 2k/s (5 rounds)"]
    fast = judge("t", budget, measurement([0.001] * 5, ops=10), warn_only=False)
    assert fast.verdict == "pass"


def test_warn_level_and_warn_only_do_not_fail() -> None:
    broken = measurement([1.0])
    warn_budget = Budget(limits=(Limit("p50", 0.1),), level="warn")
    assert judge("t", warn_budget, broken, warn_only=False).verdict == "warn"
    error_budget = Budget(limits=(Limit("p50", 0.1),))
    assert judge("t", error_budget, broken, warn_only=True).verdict == "warn"
    assert list(judge("t", error_budget, broken, warn_only=False).messages) == [
        "perf budget exceeded: p50 1s > 100ms (1 round)"
    ]


def baseline_of(
    wall: Sequence[float],
    memory: Sequence[float] = (4096.0,),
    *,
    reference: float | None = None,
    cpu_share: float = 1.0,
) -> Baseline:
    ordered = sorted(wall)
    runs = (BaselineRun(reference, cpu_share, tuple(wall)),)
    return Baseline(tuple(wall), tuple(memory), 1.0, {"p50": ordered[len(ordered) // 2]}, runs)


def test_regression_against_the_baseline_fails_with_spec_message() -> None:
    budget = Budget()
    slow = measurement([0.0142 + n * 1e-5 for n in range(30)], [4096.0])
    baseline = baseline_of([0.0101 + n * 1e-5 for n in range(30)])
    judgement = judge("t", budget, slow, baseline, warn_only=False)
    assert judgement.verdict == "fail"
    assert judgement.regressed
    (message,) = judgement.messages
    assert message.startswith("perf regression: p50 14.3ms vs baseline 10.2ms (+40.")
    assert message.endswith("% > +20%, p=3e-11)")


def test_times_taken_under_a_tracer_are_not_held_against_the_baseline() -> None:
    slow = dataclasses.replace(
        measurement([0.0142 + n * 1e-5 for n in range(30)], [4096.0]), tracer="coverage.CTracer"
    )
    baseline = baseline_of([0.0101 + n * 1e-5 for n in range(30)])
    judgement = judge("t", Budget(limits=(Limit("p50", 0.01),)), slow, baseline, warn_only=False)
    assert judgement.regressions == ()
    assert list(judgement.messages) == ["perf budget exceeded: p50 14.3ms > 10ms (30 rounds)"]


def test_regressions_only_warn_when_asked() -> None:
    slow = measurement([0.02] * 10 + [0.021] * 10)
    baseline = baseline_of([0.01] * 10 + [0.011] * 10)
    assert judge("t", Budget(level="warn"), slow, baseline, warn_only=False).verdict == "warn"
    assert judge("t", Budget(), slow, baseline, warn_only=True).verdict == "warn"


def test_throughput_is_checked_only_when_limited() -> None:
    slow = measurement([0.02] * 10 + [0.021] * 10, [4096.0])
    baseline = baseline_of([0.01] * 10 + [0.011] * 10)
    plain = judge("t", Budget(), slow, baseline, warn_only=False)
    assert [check.metric for check in plain.regressions] == ["p50", "memory"]
    limited = judge("t", Budget(limits=(Limit("throughput", 1),)), slow, baseline, warn_only=False)
    assert [check.metric for check in limited.regressions] == ["p50", "throughput", "memory"]
    assert "perf regression: throughput 48.8/s vs baseline 95.5/s (-48.9% < -15%" in (
        " ".join(limited.messages)
    )


def test_memory_regression_is_exact_above_a_floor() -> None:
    mib = 1024 * 1024
    wall = [0.01] * 10
    grown = judge(
        "t",
        Budget(),
        measurement(wall, [64 * mib]),
        baseline_of(wall, [16 * mib]),
        warn_only=False,
    )
    assert list(grown.messages) == [
        "perf regression: memory 64MiB vs baseline 16MiB (+300.0% > +50%, exact)"
    ]
    jitter = judge(
        "t", Budget(), measurement(wall, [12288.0]), baseline_of(wall, [4096.0]), warn_only=False
    )
    assert jitter.verdict == "pass"


def test_noisy_baseline_is_noted() -> None:
    noisy = baseline_of([0.01, 0.02, 0.005, 0.03, 0.01, 0.04, 0.008, 0.02])
    judgement = judge("t", Budget(), measurement([0.01] * 8), noisy, warn_only=False)
    assert judgement.verdict == "pass"
    (note,) = judgement.notes
    assert note.startswith("perf noise: the baseline p50 varies by more than half the 20%")


def test_a_result_goes_through_json_and_back_unchanged() -> None:
    slow = measurement([0.0142 + n * 1e-5 for n in range(30)], [4096.0], ops=10)
    baseline = baseline_of([0.0101 + n * 1e-5 for n in range(30)])
    budget = Budget(limits=(Limit("p95", 0.01), Limit("throughput", 1000)), ops=10)
    result = judge("t.py::t", budget, slow, baseline, warn_only=False, file="t.py", line=3)
    data = json.loads(json.dumps(result.to_json()))
    assert data == result.to_json()  # builtins only: what an xdist worker can send
    assert PerfResult.from_json(data) == result
    assert data["limits"] == {"p95": {"max": 0.01}, "throughput": {"min": 1000}}
    assert data["status"] == "rejected"


def test_a_regressed_result_is_saved_as_rejected_or_as_the_new_start() -> None:
    slow = measurement([0.0142 + n * 1e-5 for n in range(30)], [4096.0])
    baseline = baseline_of([0.0101 + n * 1e-5 for n in range(30)])
    rejected = judge("t", Budget(), slow, baseline, warn_only=False)
    rebased = judge("t", Budget(), slow, baseline, warn_only=False, accept=True)
    assert (rejected.saved().status, rebased.saved().status) == ("rejected", "rebased")
    unchanged = judge("t", Budget(), slow, None, warn_only=False, accept=True)
    assert unchanged.saved().status == "accepted"
    assert len(unchanged.saved().wall) == 16  # thinned to what a history keeps
