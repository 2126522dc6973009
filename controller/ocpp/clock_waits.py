"""Awaiting on the injected clock: timers, never sleeps or polling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from controller.clock import Clock

T = TypeVar("T")


def clock_delay(clock: Clock, delay: float) -> asyncio.Future[None]:
    """A future that completes when ``delay`` seconds have passed on ``clock``."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fire() -> None:
        if not future.done():
            future.set_result(None)

    handle = clock.call_later(delay, fire)
    future.add_done_callback(lambda _f: handle.cancel())
    return future


async def clock_timeout(clock: Clock, awaitable: Awaitable[T], timeout: float) -> T:
    """Await ``awaitable`` but raise TimeoutError after ``timeout`` seconds of clock time."""
    task: asyncio.Future[T] = asyncio.ensure_future(awaitable)
    timer = clock_delay(clock, timeout)
    waiting: set[asyncio.Future[Any]] = {task, timer}
    try:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        timer.cancel()
        raise
    if task in done:
        timer.cancel()
        return task.result()
    task.cancel()
    raise TimeoutError(f"no answer within {timeout} s")
