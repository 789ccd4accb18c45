"""The paired statistic on synthetic pairs (no timing)."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest

from pytest_perfbudget.paired import (
    CONFIDENCE,
    EXACT_PAIRS,
    INTERIM_CONFIDENCE,
    MIN_PAIRS,
    PairingData,
    _interval_rank,
    _signed_rank_cdf,
    is_settled,
    log_ratios,
    paired_estimate,
    verdicts_settled,
)


def test_the_signed_rank_distribution_is_exact() -> None:
    cdf = _signed_rank_cdf(3)  # sums of subsets of {1, 2, 3}: 0,1,2,3,3,4,5,6
    assert cdf == pytest.approx([1 / 8, 2 / 8, 3 / 8, 5 / 8, 6 / 8, 7 / 8, 1.0])
    # the textbook critical values of the two-sided 5% test: T <= 0 at n=6, T <= 8 at n=12
    assert _interval_rank(6, 0.95) == 1
    assert _interval_rank(12, 0.95) == 14
    assert _interval_rank(5, 0.95) == 0  # no 95% interval from five pairs


def test_the_interval_covers_as_often_as_it_says() -> None:
    generator = random.Random(7)
    for pairs in (6, 10, 25):
        covered = 0
        for _ in range(2000):
            logs = [generator.gauss(0.05, 0.03) for _ in range(pairs)]
            estimate = paired_estimate(logs)
            assert estimate is not None
            covered += estimate.low <= math.exp(0.05) <= estimate.high
        assert covered / 2000 >= 0.94


def test_the_ratio_is_the_hodges_lehmann_estimate() -> None:
    logs = [math.log(ratio) for ratio in (1.10, 1.12, 1.09, 1.11, 1.13, 1.10, 1.11)]
    estimate = paired_estimate(logs)
    assert estimate is not None
    assert estimate.ratio == pytest.approx(1.11, abs=0.005)
    assert estimate.low < estimate.ratio < estimate.high
    assert estimate.pairs == 7
    assert paired_estimate(logs[: MIN_PAIRS - 1]) is None


def test_one_disturbed_block_moves_the_estimate_little() -> None:
    steady = [math.log(1.02)] * 9 + [math.log(1.03)] * 9
    disturbed = [*steady[:-1], math.log(3.0)]  # one block hit by something else
    first, second = paired_estimate(steady), paired_estimate(disturbed)
    assert first is not None
    assert second is not None
    assert second.ratio == pytest.approx(first.ratio, abs=0.01)


def test_log_ratios_leave_out_pairs_without_a_time() -> None:
    assert log_ratios([2.0, 0.0, 3.0], [1.0, 1.0, 3.0]) == pytest.approx([math.log(2), 0.0])


def test_a_verdict_is_settled_when_the_interval_is_on_one_side_of_the_threshold() -> None:
    clear = [math.log(1.20)] * 5 + [math.log(1.21)] * 5  # 99.5% needs 9 pairs or more
    same = [math.log(1.00)] * 3 + [math.log(1.01)] * 3
    straddling = [math.log(r) for r in (0.98, 1.12, 1.01, 1.09, 1.03, 1.07)]
    assert is_settled(clear, 0.05, higher_is_worse=True)
    assert is_settled(same, 0.05, higher_is_worse=True)
    assert not is_settled(straddling, 0.05, higher_is_worse=True)
    assert not is_settled(clear[:5], 0.05, higher_is_worse=True)  # no interval yet
    slower_rate = [math.log(0.8)] * 10  # throughput: lower is worse
    assert is_settled(slower_rate, 0.05, higher_is_worse=False)


def test_a_regression_settles_only_on_the_stricter_interval() -> None:
    # past the threshold at 95% but not at 99.5%: measuring goes on, since looking after
    # every pair would otherwise add false regressions
    ratios = (1.084, 1.035, 1.091, 1.077, 1.054, 1.032, 1.099, 1.068, 1.088, 1.1)
    logs = [math.log(ratio) for ratio in ratios]
    estimate = paired_estimate(logs)
    strict = paired_estimate(logs, INTERIM_CONFIDENCE)
    assert estimate is not None
    assert strict is not None
    assert estimate.low > 1.05 > strict.low
    assert not is_settled(logs, 0.05, higher_is_worse=True)
    assert is_settled([*logs, *logs, *logs], 0.05, higher_is_worse=True)


def test_the_normal_approximation_takes_over_close_to_the_exact_interval() -> None:
    # at the largest exact count, the approximation's rank is the exact one or a few
    # below it: an interval as wide or a little wider, never narrower
    for confidence, ranks in ((CONFIDENCE, 1), (INTERIM_CONFIDENCE, 5)):
        exact = _interval_rank(EXACT_PAIRS, confidence)
        cdf = _signed_rank_cdf(EXACT_PAIRS)
        assert cdf[exact - 1] <= (1 - confidence) / 2 < cdf[exact]
        mean = EXACT_PAIRS * (EXACT_PAIRS + 1) / 4
        spread = math.sqrt(EXACT_PAIRS * (EXACT_PAIRS + 1) * (2 * EXACT_PAIRS + 1) / 24)
        z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
        assert 0 <= exact - math.floor(mean - z * spread + 0.5) <= ranks
    assert _interval_rank(200, CONFIDENCE) > 0  # no exact table needed


def test_verdicts_settle_on_latency_and_on_throughput_when_limited() -> None:
    data = PairingData(candidate_blocks=[1.0] * 4 + [1.01] * 4, control_blocks=[1.0] * 8)
    thresholds = {"latency": 0.05, "throughput": 0.05, "memory": 0.5}
    assert verdicts_settled(data, thresholds, throughput=False)
    assert verdicts_settled(data, thresholds, throughput=True)
    noisy = PairingData(
        candidate_blocks=[1.0, 1.12, 0.97, 1.10, 1.02, 1.09, 1.01, 1.08], control_blocks=[1.0] * 8
    )
    assert not verdicts_settled(noisy, thresholds, throughput=False)
