"""A live copy of the twin state for front ends that must answer synchronously.

The fauxmo switch is asked "on or off?" inside a protocol callback where nothing can be
awaited, so it reads this mirror, which follows the twin's WebSocket push (snapshot, then
deltas).  If the socket drops, the mirror forgets the state (so nobody answers from stale
data) and reconnects after a delay on the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp

from controller.clock import Clock, TimerHandle
from twin.client import TwinApiError, TwinClient, TwinState

log = logging.getLogger(__name__)

DEFAULT_RETRY_S = 5.0


class TwinMirror:
    def __init__(self, twin: TwinClient, clock: Clock, *, retry_s: float = DEFAULT_RETRY_S) -> None:
        if retry_s <= 0:
            raise ValueError(f"retry_s must be positive, got {retry_s}")
        self.twin = twin
        self.clock = clock
        self.retry_s = retry_s
        self.state: TwinState | None = None
        self._task: asyncio.Task[None] | None = None
        self._retry: TimerHandle | None = None
        self._listeners: list[Callable[[TwinState], None]] = []
        self._stopped = False

    def on_change(self, listener: Callable[[TwinState], None]) -> None:
        self._listeners.append(listener)

    def start(self, delay_s: float = 0.0) -> None:
        """Follow the twin, first connecting after ``delay_s`` on the clock (0 = now)."""
        self._stopped = False
        if delay_s > 0:
            self._retry = self.clock.call_later(delay_s, self._spawn)
        else:
            self._spawn()

    def _spawn(self) -> None:
        self._retry = None
        if self._stopped or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        try:
            async for state in self.twin.watch():
                self.state = state
                for listener in list(self._listeners):
                    listener(state)
        except (TwinApiError, aiohttp.ClientError, OSError) as exc:
            log.warning("twin mirror lost the twin: %s", exc)
        self.state = None
        if not self._stopped:
            self._retry = self.clock.call_later(self.retry_s, self._spawn)

    async def stop(self) -> None:
        self._stopped = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = None
