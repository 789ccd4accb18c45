"""pytest-benchmark, seen from here: its timings and a stand-in for profiling runs.

Duck-typed on pytest-benchmark's ``BenchmarkFixture`` (``disabled``, ``stats.stats.data``),
so that pytest-benchmark stays optional.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .budget import Budget
from .measure import Sampler

__all__ = ["BenchmarkStandIn", "MeasuredBenchmark", "benchmark_disabled", "benchmark_timings"]


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


class MeasuredBenchmark:
    """Takes the ``benchmark`` fixture's place in a paired run (``--perf-against``): its
    calls are measured by the plugin's sampler, in blocks paired with the control's,
    instead of by pytest-benchmark's timer, which is told it was left out on purpose."""

    def __init__(self, fixture: Any, sampler: Sampler, budget: Budget) -> None:
        # pytest-benchmark warns at teardown about a fixture it did not time, unless it
        # was used (its ``_mode``, in versions 3.4 to 5.x): it was, in our hands
        fixture._mode = "pytest-perfbudget's paired blocks"
        self._fixture = fixture
        self._sampler = sampler
        self._budget = budget

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        budget = self._budget
        return self._sampler.run(
            functools.partial(function, *args, **kwargs),
            rounds=budget.rounds,
            warmup=budget.warmup,
            max_time=budget.max_time,
        )

    def pedantic(  # noqa: PLR0917 - pytest-benchmark's own signature
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
        rounds: int = 1,
        **ignored: Any,
    ) -> Any:
        """Without ``setup``, as a call; with it, each of ``rounds`` calls measured as one
        block, its setup and teardown left out."""
        if setup is None:
            return self(target, *args, **(kwargs or {}))
        result = None
        for _ in range(rounds):
            prepared = setup()
            if prepared is not None:
                args, kwargs = prepared
            with self._sampler.sample():
                result = target(*args, **(kwargs or {}))
            if teardown is not None:
                teardown(*args, **(kwargs or {}))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fixture, name)
