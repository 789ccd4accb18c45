"""Budgets from keywords, and judging a measurement against them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import pytest

from pytest_perfbudget.budget import (
    DEFAULT_REGRESSION,
    Budget,
    BudgetError,
    Defaults,
    Limit,
    build_budget,
    judge,
)
from pytest_perfbudget.history import Baseline, BaselineRun
from pytest_perfbudget.measure import Measurement


def test_every_limit_keyword() -> None:
    budget = build_budget(
        {
            "p90": "9ms",
            "p95": "10ms",
            "p99": "20ms",
            "mean": "5ms",
            "max": "1s",
            "cpu": "4ms",
            "memory": "64MiB",
            "throughput": "2k/s",
            "latency": "3ms",
        },
        Defaults(),
    )
    assert {limit.metric: limit.bound for limit in budget.limits} == pytest.approx(
        {
            "p90": 0.009,
            "p95": 0.01,
            "p99": 0.02,
            "mean": 0.005,
            "max": 1.0,
            "cpu": 0.004,
            "memory": 64 * 1024**2,
            "throughput": 2000,
            "p50": 0.003,
        }
    )


def test_options_and_defaults() -> None:
    defaults = Defaults(warmup=3, max_time=0.5, regression={**DEFAULT_REGRESSION})
    assert build_budget({}, defaults) == Budget(warmup=3, max_time=0.5)
    budget = build_budget(
        {
            "rounds": 30,
            "warmup": 0,
            "max_time": "2s",
            "ops": 100,
            "level": "warn",
            "regression": {"latency": "10%"},
        },
        defaults,
    )
    assert (budget.rounds, budget.warmup, budget.max_time, budget.ops, budget.level) == (
        30,
        0,
        2.0,
        100.0,
        "warn",
    )
    assert budget.regression == {"latency": 0.1, "memory": 0.5, "throughput": 0.15}
    assert build_budget({"regression": "5%"}, defaults).regression == dict.fromkeys(
        ("latency", "memory", "throughput"), 0.05
    )


def test_one_round_means_no_warmup_unless_asked() -> None:
    assert build_budget({"rounds": 1}, Defaults(warmup=2)).warmup == 0
    assert build_budget({"rounds": 1, "warmup": 2}, Defaults()).warmup == 2


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"p95": "fast"}, "invalid p95='fast': cannot read 'fast' as a duration"),
        ({"memory": "50ms"}, "invalid memory='50ms': '50ms' is a duration, expected a size"),
        ({"throughput": "-5/s"}, "invalid throughput='-5/s': expected a positive rate"),
        ({"cpu": 0}, "invalid cpu=0: expected a positive duration"),
        ({"max": math.nan}, "invalid max=nan: expected a finite duration"),
        ({"rounds": 2.5}, "invalid rounds=2.5: expected a whole number"),
        ({"rounds": 0}, "invalid rounds=0: expected a positive whole number"),
        (
            {"rounds": "many"},
            "invalid rounds='many': expected a positive whole number or \"auto\"",
        ),
        ({"rounds": True}, "invalid rounds=True: expected a whole number"),
        ({"warmup": -1}, "invalid warmup=-1: expected a positive whole number or 0"),
        ({"max_time": "0s"}, "invalid max_time='0s': expected a positive duration"),
        ({"ops": "lots"}, "invalid ops='lots': expected a positive number"),
        ({"ops": 0}, "invalid ops=0: expected a positive rate"),
        ({"level": "fatal"}, 'invalid level=\'fatal\': expected "error" or "warn"'),
        ({"regression": "lots"}, "invalid regression='lots': cannot read 'lots' as a percentage"),
        ({"regression": {"speed": "5%"}}, "unknown metric family 'speed'"),
        ({"regression": {"latency": 0}}, "expected a positive percentage"),
        ({"p59": "5ms"}, "unknown keyword p59='5ms'"),
        ({"latency": "5ms", "p50": "6ms"}, "p50 is limited twice"),
    ],
)
def test_bad_keywords_name_keyword_and_value(keywords: dict[str, object], message: str) -> None:
    with pytest.raises(BudgetError) as raised:
        build_budget(keywords, Defaults())
    assert message in str(raised.value)


def measurement(
    wall: Sequence[float], memory: Sequence[float] = (), ops: float = 1.0
) -> Measurement:
    return Measurement(wall=tuple(wall), cpu=tuple(wall), memory=tuple(memory), ops=ops)


def test_judge_passes_within_limits() -> None:
    budget = Budget(limits=(Limit("p95", 0.05), Limit("memory", 1000)))
    judgement = judge("t", budget, measurement([0.01] * 10, [500]), warn_only=False)
    assert judgement.verdict == "pass"
    assert judgement.findings == []


def test_judge_fails_with_spec_message() -> None:
    budget = Budget(limits=(Limit("p95", 0.05),))
    judgement = judge("t", budget, measurement([0.0618] * 30), warn_only=False)
    assert judgement.verdict == "fail"
    assert judgement.findings == ["perf budget exceeded: p95 61.8ms > 50ms (30 rounds)"]


def test_throughput_is_a_minimum() -> None:
    budget = Budget(limits=(Limit("throughput", 2000),), ops=10)
    slow = judge("t", budget, measurement([0.01] * 5, ops=10), warn_only=False)
    assert slow.findings == ["perf budget exceeded: throughput 1k/s < 2k/s (5 rounds)"]
    fast = judge("t", budget, measurement([0.001] * 5, ops=10), warn_only=False)
    assert fast.verdict == "pass"


def test_warn_level_and_warn_only_do_not_fail() -> None:
    broken = measurement([1.0])
    warn_budget = Budget(limits=(Limit("p50", 0.1),), level="warn")
    assert judge("t", warn_budget, broken, warn_only=False).verdict == "warn"
    error_budget = Budget(limits=(Limit("p50", 0.1),))
    assert judge("t", error_budget, broken, warn_only=True).verdict == "warn"
    assert judge("t", error_budget, broken, warn_only=False).findings == [
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
    (message,) = judgement.findings
    assert message.startswith("perf regression: p50 14.3ms vs baseline 10.2ms (+40.")
    assert message.endswith("% > +20%, p=3e-11)")


def test_times_taken_under_a_tracer_are_not_held_against_the_baseline() -> None:
    slow = dataclasses.replace(
        measurement([0.0142 + n * 1e-5 for n in range(30)], [4096.0]), tracer="coverage.CTracer"
    )
    baseline = baseline_of([0.0101 + n * 1e-5 for n in range(30)])
    judgement = judge("t", Budget(limits=(Limit("p50", 0.01),)), slow, baseline, warn_only=False)
    assert judgement.regressions == ()
    assert judgement.findings == ["perf budget exceeded: p50 14.3ms > 10ms (30 rounds)"]


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
        " ".join(limited.findings)
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
    assert grown.findings == [
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


def at_reference(wall: Sequence[float], reference: float) -> Measurement:
    return Measurement(wall=tuple(wall), cpu=tuple(wall), memory=(), reference=reference)


def test_a_slowdown_of_the_machine_itself_is_not_a_regression() -> None:
    baseline = baseline_of([0.0100 + n * 1e-5 for n in range(30)], reference=100e-6)
    slower_machine = at_reference([0.0150 + n * 1e-5 for n in range(30)], reference=150e-6)
    judgement = judge("t", Budget(), slower_machine, baseline, warn_only=False)
    assert judgement.verdict == "pass"
    (check,) = judgement.regressions
    assert check.outcome == "machine-slower"
    assert check.machine_change == pytest.approx(0.5)
    (note,) = judgement.notes
    assert note.startswith("perf note: p50 changed +49.")
    assert "machine itself ran +50.0% slower" in note


def test_a_faster_machine_never_makes_a_regression() -> None:
    # as measured, no slower than the baseline; rescaled to a machine that looks 40% faster,
    # 35% slower: the kernel does not see every change of speed, so the rescaling excuses
    # slowdowns but never makes one
    baseline = baseline_of([0.0100 + n * 1e-5 for n in range(30)], reference=100e-6)
    same_code = at_reference([0.0081 + n * 1e-5 for n in range(30)], reference=60e-6)
    judgement = judge("t", Budget(), same_code, baseline, warn_only=False)
    assert judgement.verdict == "pass"
    (check,) = judgement.regressions
    assert check.outcome == "ok"
    assert check.machine_change == pytest.approx(-0.4)


def test_a_slowdown_beyond_the_machine_speed_is_reported_rescaled() -> None:
    baseline = baseline_of([0.0100 + n * 1e-5 for n in range(30)], reference=100e-6)
    code_slower = at_reference([0.0160 + n * 1e-5 for n in range(30)], reference=120e-6)
    judgement = judge("t", Budget(), code_slower, baseline, warn_only=False)
    assert judgement.verdict == "fail"
    (message,) = judgement.findings
    assert message.startswith("perf regression: p50 16.1ms vs baseline 12.2ms (+32.6% > +20%")
    assert message.endswith("baseline rescaled to this run's machine speed (+20%))")


def test_waiting_time_does_not_scale_with_machine_speed() -> None:
    sleeping = baseline_of([0.0100 + n * 1e-5 for n in range(30)], reference=100e-6, cpu_share=0.0)
    same_sleep = at_reference([0.0100 + n * 1e-5 for n in range(30)], reference=60e-6)
    assert judge("t", Budget(), same_sleep, sleeping, warn_only=False).verdict == "pass"


def test_a_slowdown_to_a_level_the_test_came_back_from_is_only_noted() -> None:
    baseline = dataclasses.replace(
        baseline_of([0.0100 + n * 1e-5 for n in range(30)]), transient_p50=0.0160
    )
    as_before = judge(
        "t", Budget(), measurement([0.0150 + n * 1e-5 for n in range(30)]), baseline,
        warn_only=False,
    )  # fmt: skip
    assert as_before.verdict == "pass"
    (check,) = as_before.regressions
    assert check.outcome == "seen-before"
    (note,) = as_before.notes
    assert note.startswith("perf note: p50 changed +49.")
    assert note.endswith(
        "a recent run of this test was as slow (p50 16ms); not counted as a regression"
    )
    slower_still = judge(
        "t", Budget(), measurement([0.0200 + n * 1e-5 for n in range(30)]), baseline,
        warn_only=False,
    )  # fmt: skip
    assert slower_still.verdict == "fail"


def test_a_slowdown_to_the_level_of_one_of_the_baseline_runs_is_only_noted() -> None:
    # whole runs drift together: four runs at 10 ms and one at 16 ms, of the same code
    levels = [0.010] * 4 + [0.016]
    runs = tuple(
        BaselineRun(None, 1.0, tuple(level + n * 1e-5 for n in range(30))) for level in levels
    )
    wall = tuple(value for run in runs for value in run.wall)
    baseline = Baseline(wall, (), 1.0, {"p50": 0.010}, runs)
    as_slow = judge(
        "t",
        Budget(),
        measurement([0.0150 + n * 1e-5 for n in range(30)]),
        baseline,
        warn_only=False,
    )
    (check,) = as_slow.regressions
    assert (check.outcome, as_slow.verdict) == ("seen-before", "pass")
    assert check.seen_p50 == pytest.approx(0.016145)
    (note,) = as_slow.notes
    assert "a recent run of this test was as slow (p50 16.1ms)" in note
    slower_than_every_run = measurement([0.0170 + n * 1e-5 for n in range(30)])
    assert outcomes(slower_than_every_run, baseline) == ["regressed"]


def test_the_baseline_runs_are_held_at_this_runs_machine_speed() -> None:
    # a test that follows the machine's speed (slope 1): at 20 µs its runs took 10 and
    # 14 ms, at 40 µs 20 ms; at 20 µs, 13.5 ms is as slow as a run was, 16 ms is not
    fast, slow = [0.010] * 2 + [0.014], [0.020] * 2
    runs = tuple(
        BaselineRun(speed, 1.0, tuple(level + n * 1e-5 for n in range(30)))
        for speed, levels in ((20e-6, fast), (40e-6, slow))
        for level in levels
    )
    wall = tuple(value for run in runs for value in run.wall)
    history = ((20e-6, 0.010), (40e-6, 0.020)) * 3
    baseline = Baseline(wall, (), 1.0, {"p50": 0.012}, runs, speed_history=history)
    as_slow_as_a_run = at_speeds([0.0135 + n * 1e-5 for n in range(30)], 20e-6)
    assert outcomes(as_slow_as_a_run, baseline) == ["seen-before"]
    slower_than_every_run = at_speeds([0.0160 + n * 1e-5 for n in range(30)], 20e-6)
    assert outcomes(slower_than_every_run, baseline) == ["regressed"]


def outcomes(current: Measurement, baseline: Baseline) -> list[str]:
    """The outcomes of the regression checks of ``current`` against ``baseline``."""
    judgement = judge("t", Budget(), current, baseline, warn_only=False)
    return [check.outcome for check in judgement.regressions]


def following_the_machine(*, follows: bool) -> Baseline:
    """A baseline of two runs, one at each of the machine's two speeds; its history says
    whether the test's times follow the machine's speed."""
    fast = tuple(0.0100 + n * 1e-5 for n in range(30))
    slow = tuple(2 * value for value in fast)
    runs = (BaselineRun(20e-6, 1.0, fast), BaselineRun(40e-6, 1.0, slow))
    history = [(20e-6, 0.010), (40e-6, 0.020)] * 5 if follows else []
    return Baseline(fast + slow, (), 1.0, {"p50": 0.015}, runs, speed_history=tuple(history))


def at_speeds(wall: Sequence[float], speed: float) -> Measurement:
    return Measurement(
        wall=tuple(wall), cpu=tuple(wall), memory=(), reference=speed, speeds=(speed,) * len(wall)
    )


def test_a_slowdown_hidden_by_a_faster_machine_is_found_when_the_test_follows_its_speed() -> None:
    slower_code_fast_machine = at_speeds([0.0135 + n * 1e-5 for n in range(30)], 20e-6)
    judgement = judge(
        "t", Budget(), slower_code_fast_machine, following_the_machine(follows=True),
        warn_only=False,
    )  # fmt: skip
    assert judgement.verdict == "fail"
    (check,) = judgement.regressions
    assert check.outcome == "regressed"
    assert check.change == pytest.approx(0.35, abs=0.01)
    assert check.machine_change == pytest.approx(-1 / 3)
    (message,) = judgement.findings
    assert message.endswith("baseline rescaled to this run's machine speed (-33%))")
    unknown = judge(
        "t", Budget(), slower_code_fast_machine, following_the_machine(follows=False),
        warn_only=False,
    )  # fmt: skip
    assert unknown.verdict == "pass"  # the readings only ever excuse such a test


def test_the_same_code_at_either_speed_passes_when_the_test_follows_the_speed() -> None:
    baseline = following_the_machine(follows=True)
    fast = judge("t", Budget(), at_speeds([0.0101] * 30, 20e-6), baseline, warn_only=False)
    assert [check.outcome for check in fast.regressions] == ["ok"]
    slow = judge("t", Budget(), at_speeds([0.0202] * 30, 40e-6), baseline, warn_only=False)
    assert [check.outcome for check in slow.regressions] == ["machine-slower"]
    assert slow.verdict == "pass"


def at_the_slower_speed(*, history: Sequence[tuple[float, float]]) -> Baseline:
    """A baseline of five runs all read at 36 µs, with the given speed history."""
    runs = tuple(
        BaselineRun(36e-6, 1.0, tuple(0.0100 + n * 1e-5 for n in range(30))) for _ in range(5)
    )
    wall = tuple(value for run in runs for value in run.wall)
    return Baseline(wall, (), 1.0, {"p50": 0.010}, runs, speed_history=tuple(history))


def at_two_speeds(p50_slow: float) -> Measurement:
    """150 samples at 20 µs, then 40 at 36 µs: times that follow the speed (slope 1)."""
    fast = [p50_slow * 20 / 36 * (1 + n / 1000) for n in range(150)]
    slow = [p50_slow * (1 + n / 1000) for n in range(40)]
    wall = tuple(fast + slow)
    speeds = (20e-6,) * 150 + (36e-6,) * 40
    return Measurement(wall=wall, cpu=wall, memory=(), reference=20e-6, speeds=speeds)


def test_a_run_at_two_speeds_shows_a_slowdown_hidden_by_a_faster_machine() -> None:
    # the history never saw another speed; this run did, and its times followed it
    unseen = at_the_slower_speed(history=[(36e-6, 0.010)] * 5)
    slower_code = judge("t", Budget(), at_two_speeds(0.0135), unseen, warn_only=False)
    (check,) = slower_code.regressions
    assert check.outcome == "regressed"
    assert check.change == pytest.approx(0.35, abs=0.02)
    same_code = judge("t", Budget(), at_two_speeds(0.0100), unseen, warn_only=False)
    assert [check.outcome for check in same_code.regressions] == ["ok"]
    # a history of one run knows too little of the test: only the readings' excuse
    one_run = at_the_slower_speed(history=[(36e-6, 0.010)])
    (check,) = judge("t", Budget(), at_two_speeds(0.0135), one_run, warn_only=False).regressions
    assert check.outcome == "ok"
    # a history at both speeds whose times did not follow them outweighs one run
    not_following = at_the_slower_speed(history=[(20e-6, 0.010), (36e-6, 0.010)] * 3)
    (check,) = judge(
        "t", Budget(), at_two_speeds(0.0135), not_following, warn_only=False
    ).regressions
    assert check.outcome == "ok"


def test_a_run_at_two_speeds_only_excuses_when_the_machine_is_slower() -> None:
    # one run's slope (here 0.55) can understate how a test follows the machine; in a
    # slower moment it would accuse, so there the readings only excuse, as for any test
    wall = tuple([0.018 * (1 + n / 1000) for n in range(150)] + [0.013] * 40)
    speeds = (36e-6,) * 150 + (20e-6,) * 40
    slower_moment = Measurement(wall=wall, cpu=wall, memory=(), reference=36e-6, speeds=speeds)
    runs = (BaselineRun(20e-6, 1.0, tuple(0.0100 + n * 1e-5 for n in range(30))),) * 5
    unseen = Baseline(
        tuple(value for run in runs for value in run.wall), (), 1.0, {"p50": 0.010}, runs,
        speed_history=((20e-6, 0.010),) * 5,
    )  # fmt: skip
    judgement = judge("t", Budget(), slower_moment, unseen, warn_only=False)
    assert [check.outcome for check in judgement.regressions] == ["machine-slower"]
    assert judgement.verdict == "pass"


def test_each_sample_is_rescaled_by_the_speed_read_with_it() -> None:
    # the machine slowed down a third of the way through: those samples took twice as long
    wall = (0.0101,) * 10 + (0.0202,) * 20
    mixed = Measurement(
        wall=wall, cpu=wall, memory=(), reference=30e-6, speeds=(20e-6,) * 10 + (40e-6,) * 20
    )
    baseline = following_the_machine(follows=True)
    judgement = judge("t", Budget(), mixed, baseline, warn_only=False)
    (check,) = judgement.regressions
    assert check.outcome == "ok"
    assert check.change == pytest.approx(0.0, abs=0.02)
    one_speed = dataclasses.replace(mixed, speeds=())  # timed by another tool
    (check,) = judge("t", Budget(), one_speed, baseline, warn_only=False).regressions
    assert check.outcome == "regressed"
