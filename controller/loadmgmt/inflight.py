"""Counting LAN work that has been started but not yet handled, so a simulation can wait for it.

``mq200 simulate`` runs the gateway and its clients over real sockets while the stations live on
a virtual clock.  Before the clock moves on, the runner awaits :meth:`InFlight.settled`: every
frame sent has been read and handled (and whatever it caused has been sent and handled too), so
a run is deterministic for its seed.  Each side counts a frame when it queues it and the peer
uncounts it after handling it, hence one tracker shared by every controller of a simulation.
The daemon does not use one (its peers are other processes).
"""

from __future__ import annotations

import asyncio


class LanNotSettled(RuntimeError):
    """LAN work still pending after the wall-clock guard: a bug (a frame counted, never handled)."""


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self._count

    def begin(self) -> None:
        self._count += 1
        self._idle.clear()

    def end(self) -> None:
        self._count = max(0, self._count - 1)
        if self._count == 0:
            self._idle.set()

    async def settled(self, guard_s: float = 10.0) -> None:
        """Return once nothing is pending; ``guard_s`` of wall time turns a leak into an error."""
        while self._count:
            try:
                await asyncio.wait_for(self._idle.wait(), guard_s)
            except TimeoutError:
                raise LanNotSettled(
                    f"{self._count} LAN frame(s) or connection attempt(s) still pending "
                    f"after {guard_s} s"
                ) from None
