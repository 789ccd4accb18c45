"""Carrying out the steps of measuring a test, written once as a generator: each step
performed by a call (a sync test) or an ``await`` (an async one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar, cast

__all__ = ["run_steps", "run_steps_async"]

S = TypeVar("S")
T = TypeVar("T")


def run_steps(steps: Generator[S, object, T], perform: Callable[[S], object]) -> T:
    """Carry out ``steps``: ``perform`` each step the generator yields, send it the
    result or throw in what it raised; the generator's return value."""
    reply: object = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return cast(T, stop.value)
        try:
            reply, error = perform(step), None
        except BaseException as raised:  # the generator decides what it stops
            reply, error = None, raised


async def run_steps_async(
    steps: Generator[S, object, T], perform: Callable[[S], Awaitable[object]]
) -> T:
    """:func:`run_steps` with each step awaited."""
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
