"""The paired statistic on synthetic pairs (no timing)."""

from __future__ import annotations

import math
import random

import pytest

from pytest_perfbudget.paired import (
    MIN_PAIRS,
    _interval_rank,
    _signed_rank_cdf,
    is_settled,
    log_ratios,
    paired_estimate,
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
    clear = paired_estimate([math.log(1.20)] * 3 + [math.log(1.21)] * 3)
    same = paired_estimate([math.log(1.00)] * 3 + [math.log(1.01)] * 3)
    straddling = paired_estimate([math.log(r) for r in (0.98, 1.12, 1.01, 1.09, 1.03, 1.07)])
    assert is_settled(clear, 0.05, higher_is_worse=True)
    assert is_settled(same, 0.05, higher_is_worse=True)
    assert not is_settled(straddling, 0.05, higher_is_worse=True)
    assert not is_settled(None, 0.05, higher_is_worse=True)
    slower_rate = paired_estimate([math.log(0.8)] * 6)  # throughput: lower is worse
    assert is_settled(slower_rate, 0.05, higher_is_worse=False)
