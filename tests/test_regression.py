"""The regression policy: one metric's decision, and a test held against its baseline at
equal machine speed, with seen-before levels."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence

import pytest

from pytest_perfbudget.baseline import Baseline, BaselineRun
from pytest_perfbudget.budget import Budget
from pytest_perfbudget.measure import Measurement
from pytest_perfbudget.regression import check_regression
from pytest_perfbudget.result import judge


def lognormal(seed: int, mu: float, sigma: float, n: int) -> list[float]:
    generator = random.Random(seed)
    return [generator.lognormvariate(mu, sigma) for _ in range(n)]


def test_no_baseline_is_reported_not_failed() -> None:
    check = check_regression("p50", [1.0] * 10, [], 0.2)
    assert check.outcome == "no-baseline"
    assert not check.regressed


def test_clear_slowdown_regresses_with_a_p_value() -> None:
    baseline = lognormal(1, 0.0, 0.1, 100)
    current = lognormal(2, math.log(1.5), 0.1, 30)
    check = check_regression("p50", current, baseline, 0.2)
    assert check.outcome == "regressed"
    assert check.p_value is not None
    assert check.p_value < 0.01
    assert check.change == pytest.approx(0.5, abs=0.1)


def test_change_within_threshold_is_ok_however_significant() -> None:
    baseline = lognormal(1, 0.0, 0.01, 100)
    current = lognormal(2, math.log(1.1), 0.01, 100)
    assert check_regression("p50", current, baseline, 0.2).outcome == "ok"


def test_large_but_insignificant_change_does_not_fail() -> None:
    baseline = [1.0, 1.1, 5.0, 0.9, 4.0, 1.2, 6.0, 1.0]
    current = [1.5, 6.0, 1.4, 5.5, 1.3, 4.5]
    check = check_regression("p50", current, baseline, 0.2)
    assert check.outcome == "not-significant"
    assert check.noisy


def test_too_few_samples_report_without_failing() -> None:
    check = check_regression("p50", [2.0, 2.1, 2.2], [1.0, 1.1, 0.9, 1.2, 1.0, 1.05], 0.2)
    assert check.outcome == "too-few-samples"


def test_deterministic_samples_are_judged_on_the_threshold() -> None:
    assert check_regression("p50", [2.0] * 3, [1.0] * 3, 0.2).outcome == "regressed"


def test_one_sample_is_not_deterministic() -> None:
    # a test measured once (rounds=1) against a baseline of one run: one call each says
    # nothing of their spread, so this is too few samples, not an exact comparison
    check = check_regression("p50", [0.476], [0.231], 0.2)
    assert check.outcome == "too-few-samples"
    assert check_regression("p50", [0.476], [0.231] * 5, 0.2).outcome == "too-few-samples"


def test_exact_metric_uses_threshold_and_absolute_floor() -> None:
    mib = 1024 * 1024
    grown = check_regression("memory", [10 * mib], [4 * mib, 4 * mib], 0.5, exact=True)
    assert grown.outcome == "regressed"
    assert grown.p_value is None
    jitter = check_regression("memory", [8192.0], [4096.0], 0.5, min_change=mib, exact=True)
    assert jitter.outcome == "ok"


def test_throughput_regresses_downwards() -> None:
    baseline = lognormal(1, math.log(1000), 0.05, 100)
    slower = lognormal(2, math.log(700), 0.05, 30)
    faster = lognormal(3, math.log(1500), 0.05, 30)
    check = check_regression("throughput", slower, baseline, 0.15, higher_is_worse=False)
    assert check.outcome == "regressed"
    assert check.change is not None
    assert check.change < -0.15
    assert (
        check_regression("throughput", faster, baseline, 0.15, higher_is_worse=False).outcome
        == "ok"
    )


def measurement(wall: Sequence[float]) -> Measurement:
    return Measurement(wall=tuple(wall), cpu=tuple(wall), memory=())


def baseline_of(
    wall: Sequence[float], *, reference: float | None = None, cpu_share: float = 1.0
) -> Baseline:
    ordered = sorted(wall)
    runs = (BaselineRun(reference, cpu_share, tuple(wall)),)
    return Baseline(tuple(wall), (), 1.0, {"p50": ordered[len(ordered) // 2]}, runs)


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


def test_a_slowdown_the_machine_does_not_explain_is_not_called_the_machines() -> None:
    # the issue's note: "p50 changed +46.1% against the baseline, but the machine itself
    # ran +1.4% slower ... not counted as a regression". Two levels, as microsecond tests
    # often have: the baseline 17 samples at 1 ms and 13 at 1.5 ms, this run 10 at 1.5 ms,
    # interleaved with the baseline's. Rescaled by the machine's +1.4%, the baseline's
    # 1.5 ms samples move past this run's: still +47%, but no longer significant
    low = [(0.990 + k * 0.001) * 1e-3 for k in range(17)]
    high = [(1.486 + k * 0.0016) * 1e-3 for k in range(13)]
    runs = tuple(BaselineRun(100e-6, 1.0, tuple((low + high)[i::3])) for i in range(3))
    baseline = Baseline(tuple(v for run in runs for v in run.wall), (), 1.0, {}, runs)
    current = at_reference([(1.486 + k * 0.0032) * 1e-3 for k in range(10)], 101.4e-6)
    as_measured = check_regression("p50", current.wall, baseline.wall, 0.2)
    assert as_measured.outcome == "regressed"
    assert as_measured.p_value is not None
    assert as_measured.p_value < 0.002
    judgement = judge("t", Budget(), current, baseline, warn_only=False)
    assert judgement.verdict == "pass"  # as before: at the machine's speed, not significant
    (check,) = judgement.regressions
    assert check.outcome == "not-significant"
    assert check.change == pytest.approx(0.47, abs=0.01)
    assert check.machine_change == pytest.approx(0.014)
    assert judgement.notes == ()  # no "the machine itself ran +1.4% slower" excuse


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
    (message,) = judgement.messages
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
    (message,) = judgement.messages
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
