"""pytest-benchmark, seen from here: its timings and a stand-in for profiling runs.

Duck-typed on pytest-benchmark's ``BenchmarkFixture`` (``disabled``, ``stats.stats.data``),
so that pytest-benchmark stays optional.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BenchmarkStandIn", "benchmark_disabled", "benchmark_timings"]


def benchmark_disabled(fixture: Any) -> bool:
    """Whether pytest-benchmark runs without timing (``--benchmark-disable``, or under xdist)."""
    return bool(getattr(fixture, "disabled", False))


def benchmark_timings(fixture: Any) -> list[float]:
    """Seconds per call of each round pytest-benchmark measured; empty when it measured
    nothing (the test never called ``benchmark``)."""
    metadata = getattr(fixture, "stats", None)
    stats = getattr(metadata, "stats", None)
    data = getattr(stats, "data", None)
    return [float(value) for value in data] if data else []


class BenchmarkStandIn:
    """Takes the ``benchmark`` fixture's place when a test runs again to be profiled: it
    calls the function once (pytest-benchmark's fixture can be used only once a test)."""

    def __init__(self, fixture: Any) -> None:
        self._fixture = fixture

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
        **_: Any,
    ) -> Any:
        if setup is not None:
            prepared = setup()
            if prepared is not None:
                args, kwargs = prepared
        result = target(*args, **(kwargs or {}))
        if teardown is not None:
            teardown(*args, **(kwargs or {}))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fixture, name)
