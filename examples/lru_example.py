"""An LRU cache: lookups must stay fast, CPU-bound, and small."""

from __future__ import annotations

from collections import OrderedDict

import pytest


class LRUCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[int, str] = OrderedDict()

    def get(self, key: int) -> str | None:
        if key not in self.entries:
            return None
        self.entries.move_to_end(key)
        return self.entries[key]

    def put(self, key: int, value: str) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        if len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


@pytest.fixture
def cache() -> LRUCache:
    filled = LRUCache(capacity=1000)
    for key in range(1000):
        filled.put(key, f"value-{key}")
    return filled


@pytest.mark.perf_budget(p90="5ms", cpu="5ms", throughput="100k/s", ops=1000)
def test_hot_lookups(cache: LRUCache) -> None:
    for key in range(1000):
        assert cache.get(key) is not None


@pytest.mark.perf_budget(p95="50ms", memory="8MiB")
def test_churn_stays_bounded(cache: LRUCache) -> None:
    for key in range(1000, 6000):
        cache.put(key, f"value-{key}")
    assert len(cache.entries) == 1000


@pytest.mark.perf_budget(p95="1ms", level="warn", rounds=5)
def test_cold_fill_is_only_watched() -> None:
    """level="warn": a breach is reported as a warning, never a failure."""
    fresh = LRUCache(capacity=100)
    for key in range(200):
        fresh.put(key, "x")
    assert len(fresh.entries) == 100
