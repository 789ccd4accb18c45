"""When a test has been measured enough, on synthetic samples (no timing)."""

from __future__ import annotations

import random

import pytest

from pytest_perfbudget import stopping
from pytest_perfbudget.baseline import Baseline, BaselineRun
from pytest_perfbudget.budget import Budget, Limit
from pytest_perfbudget.measure import Measurement
from pytest_perfbudget.regression import RegressionCheck
from pytest_perfbudget.stopping import (
    _binomial_cdf,
    _ranks,
    fewest_to_settle,
    quantile_bounds,
    regression_verdict,
    settled,
)

THRESHOLDS = {"latency": 0.2, "memory": 0.5, "throughput": 0.15}


def samples(count: int, center: float, seed: int = 1, sigma: float = 0.1) -> tuple[float, ...]:
    generator = random.Random(seed)
    return tuple(center * generator.lognormvariate(0, sigma) for _ in range(count))


def measured(wall: tuple[float, ...], memory: tuple[float, ...] = ()) -> Measurement:
    return Measurement(wall=wall, cpu=wall, memory=memory)


def test_the_binomial_distribution_holds_up_where_a_naive_product_underflows() -> None:
    cdf = _binomial_cdf(200, 0.99)
    assert cdf[-1] == pytest.approx(1.0)
    assert cdf[198] == pytest.approx(1 - 0.99**200 - 200 * 0.01 * 0.99**199, rel=1e-6)


def test_a_percentile_is_bounded_only_by_enough_samples() -> None:
    # the max of n samples lies above the 95th percentile with 1 - 0.95^n: 99% from 90 on
    assert _ranks(89, 0.95, 0.99)[1] is None
    assert _ranks(90, 0.95, 0.99)[1] == 90
    low, high = _ranks(1000, 0.5, 0.99)
    assert low is not None
    assert high is not None
    assert 450 < low < 500 < high < 550  # the median's bounds, from the normal approximation
    ordered = sorted(samples(100, 0.001))
    bounds = quantile_bounds(ordered, 50)
    assert bounds.low is not None
    assert bounds.high is not None
    assert bounds.low < ordered[49] < bounds.high


@pytest.mark.parametrize(
    ("limits", "fewest"),
    [
        ((Limit("p95", 1.0),), 90),
        ((Limit("p50", 1.0),), 7),
        ((Limit("p90", 1.0),), 44),
        ((Limit("p99", 1.0),), 722),  # the normal approximation's, past 200 (exact: 459)
        ((Limit("cpu", 1.0), Limit("throughput", 10.0)), 7),  # the median's bound
        ((Limit("mean", 1.0), Limit("max", 1.0), Limit("memory", 1e6)), 0),
        ((Limit("p50", 1.0), Limit("p95", 1.0)), 90),
    ],
)
def test_the_fewest_samples_that_can_show_every_limit_kept(
    limits: tuple[Limit, ...], fewest: int
) -> None:
    budget = Budget(limits=limits)
    assert fewest_to_settle(budget) == fewest
    if fewest:  # a clear pass is settled at that count, and not one sample before
        wall = samples(fewest, 0.001)
        assert settled(budget, measured(wall), None, memory_done=True)
        assert not settled(budget, measured(wall[:-1]), None, memory_done=True)


def test_a_clear_pass_stops_early_and_a_clear_fail_earlier() -> None:
    generous = Budget(limits=(Limit("p95", 1.0),))
    assert not settled(generous, measured(samples(59, 0.001)), None, memory_done=True)
    assert settled(generous, measured(samples(90, 0.001)), None, memory_done=True)
    tight = Budget(limits=(Limit("p95", 0.001),))
    assert settled(tight, measured(samples(10, 0.01)), None, memory_done=True)


def test_a_borderline_limit_keeps_measuring() -> None:
    wall = samples(2000, 0.001)
    p95 = sorted(wall)[1899]
    near = Budget(limits=(Limit("p95", p95 * 1.005),))
    assert not settled(near, measured(wall), None, memory_done=True)


def test_each_kind_of_limit() -> None:
    wall = samples(200, 0.001)
    assert settled(Budget(limits=(Limit("max", 0.0001),)), measured(wall), None, memory_done=True)
    assert not settled(Budget(limits=(Limit("max", 1.0),)), measured(wall), None, memory_done=True)
    assert settled(Budget(limits=(Limit("mean", 1.0),)), measured(wall), None, memory_done=True)
    assert settled(Budget(limits=(Limit("cpu", 1.0),)), measured(wall), None, memory_done=True)
    fast = Budget(limits=(Limit("throughput", 10.0),))
    assert settled(fast, measured(wall), None, memory_done=True)
    memory = Budget(limits=(Limit("memory", 1e6),))
    assert settled(memory, measured(wall, (5e5,)), None, memory_done=True)
    assert not settled(memory, measured(wall, (5e5,)), None, memory_done=False)


def baseline(center: float) -> Baseline:
    runs = tuple(BaselineRun(None, 1.0, samples(16, center, seed)) for seed in range(5))
    pooled = tuple(value for run in runs for value in run.wall)
    return Baseline(pooled, (), 1.0, {"p50": center}, runs)


def test_a_regression_check_settles_when_the_median_is_clearly_on_one_side() -> None:
    against = regression_verdict(baseline(0.010), THRESHOLDS, throughput=False)
    no_limits = Budget()
    assert settled(no_limits, measured(samples(100, 0.010, seed=9)), against, memory_done=True)
    assert settled(no_limits, measured(samples(100, 0.020, seed=9)), against, memory_done=True)
    # at the threshold, the median's bounds straddle it: more samples could tell
    assert not settled(no_limits, measured(samples(100, 0.012, seed=9)), against, memory_done=True)


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        ("regressed", True),
        ("ok", False),
        ("not-significant", None),
        ("too-few-samples", None),
        # excuses of a change measured past the threshold rest on readings of the
        # machine's speed that more calls refine: never a reason to stop
        ("machine-slower", None),
        ("seen-before", None),
    ],
)
def test_only_a_plain_regression_or_ok_is_a_verdict_to_stop_on(
    monkeypatch: pytest.MonkeyPatch, outcome: str, verdict: bool | None
) -> None:
    check = RegressionCheck("p50", outcome, current=0.012, threshold=0.2)  # type: ignore[arg-type]
    monkeypatch.setattr(stopping, "check_regressions", lambda *args, **kwargs: [check])
    against = regression_verdict(baseline(0.010), THRESHOLDS, throughput=False)
    assert against(measured(samples(20, 0.012))) is verdict
