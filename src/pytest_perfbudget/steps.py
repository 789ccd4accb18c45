"""Carrying out the steps of measuring a test, written once as a generator: each step
performed by a call (a sync test) or an ``await`` (an async one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar, cast

__all__ = ["run_steps", "run_steps_async"]

S = TypeVar("S")
T = TypeVar("T")


async def run_steps_async(
    steps: Generator[S, object, T], perform: Callable[[S], Awaitable[object]]
) -> T:
    """Carry out ``steps``: await ``perform`` of each step the generator yields, send it
    the result or throw in what it raised; the generator's return value."""
    reply: object = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return cast(T, stop.value)
        try:
            reply, error = await perform(step), None
        except BaseException as raised:  # the generator decides what it stops
            reply, error = None, raised


def run_steps(steps: Generator[S, object, T], perform: Callable[[S], object]) -> T:
    """:func:`run_steps_async` with each step a plain call: its coroutine never waits,
    so one ``send`` runs it to the end, with no event loop."""

    async def performed(step: S) -> object:
        return perform(step)

    coroutine = run_steps_async(steps, performed)
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    coroutine.close()
    raise RuntimeError("run_steps: a step waited, which a plain call cannot")
