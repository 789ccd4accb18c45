"""The table of metrics, and that every part of the plugin agrees with it."""

from __future__ import annotations

from pytest_perfbudget.budget import Defaults, build_budget
from pytest_perfbudget.measure import Measurement
from pytest_perfbudget.metrics import LIMIT_KEYWORDS, METRICS, SAVED_METRICS, format_metric
from pytest_perfbudget.summary_row import SUMMARY_COLUMNS


def test_every_metric_of_the_table_is_measured() -> None:
    measured = Measurement(wall=(0.01, 0.02), cpu=(0.01, 0.02), memory=(4096.0,)).metrics()
    assert set(measured) == {row.name for row in METRICS}


def test_the_history_saves_the_metrics_the_table_saves_and_says_why_not_the_others() -> None:
    assert SUMMARY_COLUMNS[-len(SAVED_METRICS) :] == SAVED_METRICS
    for row in METRICS:
        assert row.saved == (row.name in SAVED_METRICS)
        assert row.saved or row.not_saved


def test_every_limitable_metric_takes_a_limit_in_its_own_unit() -> None:
    written = {"duration": "5ms", "size": "5MiB", "rate": "5k/s"}
    for keyword, row in LIMIT_KEYWORDS.items():
        (limit,) = build_budget({keyword: written[row.kind]}, Defaults()).limits
        assert limit.metric == row.name
        assert format_metric(row.name, limit.bound) == written[row.kind]
    assert LIMIT_KEYWORDS["latency"].name == "p50"
    assert "min" not in LIMIT_KEYWORDS
    assert [row.name for row in METRICS if row.is_minimum] == ["throughput"]
