"""Budgets from marker keywords and config entries."""

from __future__ import annotations

import math

import pytest

from pytest_perfbudget.budget import (
    DEFAULT_REGRESSION,
    Budget,
    BudgetError,
    Defaults,
    build_budget,
)


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
        ({"rounds": 2.5}, 'invalid rounds=2.5: expected a whole number of at least 1 or "auto"'),
        ({"rounds": 0}, 'invalid rounds=0: expected a whole number of at least 1 or "auto"'),
        (
            {"rounds": "many"},
            "invalid rounds='many': expected a whole number of at least 1 or \"auto\"",
        ),
        ({"rounds": True}, "invalid rounds=True: expected a whole number of at least 1"),
        ({"warmup": -1}, "invalid warmup=-1: expected a whole number of at least 0"),
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
