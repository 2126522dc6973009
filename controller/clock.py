"""The one time source of the controller.

Logic never reads the system time or sleeps: it asks a :class:`Clock` for "now" and schedules
callbacks on it.  The daemon uses :class:`AsyncioClock` (wall time on the asyncio loop); tests
and ``mq200 simulate`` use :class:`VirtualClock`, which jumps straight to the next timer so a
year of charging runs in seconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


def utc_datetime(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.now(), tz=timezone.utc)


class AsyncioClock:
    """Wall-clock time with timers on the running asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_later(when - self.now(), callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self.loop.call_later(max(0.0, delay), callback)


@dataclass(order=True)
class _VirtualTimer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Deterministic clock for tests and scenarios: time moves only when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[_VirtualTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _VirtualTimer(max(when, self._now), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_at(self._now + max(0.0, delay), callback)

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def step(self) -> bool:
        """Run the earliest pending timer (and move time to it). False when none is left."""
        deadline = self.next_deadline()
        if deadline is None:
            return False
        timer = heapq.heappop(self._heap)
        self._now = timer.when
        timer.callback()
        return True

    def run_until(self, t: float) -> None:
        """Fire every timer due up to ``t`` in order, then leave the clock at ``t``."""
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > t:
                break
            self.step()
        self._now = max(self._now, t)

    def advance(self, dt: float) -> None:
        self.run_until(self._now + dt)


class ScopedClock:
    """A view of a clock whose timers can all be cancelled at once.

    A controller that "loses power" in a simulation, or restarts inside the daemon, drops its
    scope so none of its old timers fire into the new instance's world.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._handles: dict[int, TimerHandle] = {}
        self._ids = itertools.count()
        self._closed = False

    def now(self) -> float:
        return self._clock.now()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        key = next(self._ids)
        handle = self._clock.call_at(when, self._guard(key, callback))
        return self._track(key, handle)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_at(self._clock.now() + max(0.0, delay), callback)

    def close(self) -> None:
        self._closed = True
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _guard(self, key: int, callback: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            self._handles.pop(key, None)
            if not self._closed:
                callback()

        return run

    def _track(self, key: int, handle: TimerHandle) -> TimerHandle:
        if self._closed:
            handle.cancel()
        else:
            self._handles[key] = handle
        return _ScopedHandle(self._handles, key, handle)


class _ScopedHandle:
    def __init__(self, registry: dict[int, TimerHandle], key: int, inner: TimerHandle) -> None:
        self._registry = registry
        self._key = key
        self._inner = inner

    def cancel(self) -> None:
        self._registry.pop(self._key, None)
        self._inner.cancel()
