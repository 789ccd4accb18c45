"""Parsing a JSON API response: latency percentiles and throughput."""

from __future__ import annotations

import json

import pytest

ORDER = json.dumps(
    {
        "id": 1234,
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "lines": [{"sku": f"SKU-{n}", "quantity": n % 5 + 1, "price": 9.99} for n in range(50)],
    }
)


def order_total(document: str) -> float:
    order = json.loads(document)
    return float(sum(line["quantity"] * line["price"] for line in order["lines"]))


@pytest.mark.perf_budget(p50="2ms", p95="5ms", p99="20ms")
def test_parse_order() -> None:
    assert order_total(ORDER) == pytest.approx(1498.5)


@pytest.mark.perf_budget(throughput="500/s", ops=10)
def test_parse_batch_of_orders() -> None:
    batch = [ORDER] * 10
    assert len([order_total(document) for document in batch]) == 10
