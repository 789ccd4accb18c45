"""The ``perf`` fixture's object: ``perf(func)``, ``await perf(coroutine_function)``,
and ``with`` / ``async with perf.measure()``, each measured by the test's
:class:`~pytest_perfbudget.measure.Sampler`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import nullcontext
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from .measure import Rounds, Sampler, qualname

__all__ = ["Block", "PerfMeter"]

T = TypeVar("T")
P = ParamSpec("P")


class Block(Protocol):
    """A block measured once, entered by ``with`` or ``async with``."""

    def __enter__(self) -> None: ...

    def __exit__(self, error_type: type[BaseException] | None, *rest: object) -> None: ...

    async def __aenter__(self) -> None: ...

    async def __aexit__(self, error_type: type[BaseException] | None, *rest: object) -> None: ...


class PerfMeter:
    """The ``perf`` fixture: measures just the code a test hands it.

    Without a sampler (``--perf-disable``) it only runs that code, once.
    """

    def __init__(
        self, sampler: Sampler | None, *, rounds: Rounds, warmup: int, max_time: float
    ) -> None:
        self._sampler = sampler
        self._rounds: Rounds = rounds
        self._warmup = warmup
        self._max_time = max_time
        #: The coroutines ``perf(coroutine_function)`` returned that were not awaited yet,
        #: with the function's name.
        self._pending: list[tuple[Coroutine[Any, Any, Any], str]] = []

    @overload
    def __call__(
        self, func: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def __call__(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...

    def __call__(self, func: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Measure ``func(*args, **kwargs)`` over the rounds; return its last result. For a
        coroutine function, return a coroutine that does so when awaited, each call
        awaited."""
        if self._sampler is None:
            return func(*args, **kwargs)
        call = functools.partial(func, *args, **kwargs) if args or kwargs else func
        if inspect.iscoroutinefunction(func):
            return self._awaitable(self._sampler, call, qualname(func))
        result = self._sampler.run(
            call,
            rounds=self._rounds,
            warmup=self._warmup,
            max_time=self._max_time,
        )
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # its never-awaited warning would only repeat this error
            raise TypeError(
                f"perf({qualname(func)}) timed calls that return an awaitable without "
                "awaiting it: only making the awaitable was measured. Hand perf the "
                "coroutine function itself and await the result: "
                "`await perf(fetch, *args)`"
            )
        return result

    def _awaitable(
        self, sampler: Sampler, call: Callable[[], Awaitable[T]], name: str
    ) -> Coroutine[Any, Any, T]:
        """A coroutine that measures ``call`` when awaited, held until it is, so that one
        never awaited is found (:meth:`close_unawaited`)."""
        self._pending = [
            (pending, pending_name)
            for pending, pending_name in self._pending
            if inspect.getcoroutinestate(pending) == inspect.CORO_CREATED
        ]
        coroutine = sampler.run_async(
            call, rounds=self._rounds, warmup=self._warmup, max_time=self._max_time
        )
        self._pending.append((coroutine, name))
        return coroutine

    def close_unawaited(self) -> list[str]:
        """The functions whose ``perf(...)`` coroutine was never awaited, so nothing of
        them was measured; those coroutines are closed (Python would warn of them
        too)."""
        names = []
        for coroutine, name in self._pending:
            if inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
                coroutine.close()
                names.append(name)
        self._pending.clear()
        return names

    def measure(self) -> Block:
        """Measure the ``with`` or ``async with`` block, once."""
        if self._sampler is None:
            return nullcontext()
        # A paired run's blocks are sync only, but they are reached only from a sync
        # test's call: an async test is not paired, and a fixture measures alone.
        return cast(Block, self._sampler.sample())
