"""Push of live station state to open portal pages (Server-Sent Events).

The station calls :meth:`LiveHub.publish` on every change; each open page has a small queue that
keeps only the newest messages, so a slow browser never holds the charge logic up.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

QUEUE_SIZE = 16


class LiveHub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str | None]] = set()

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, event: str, data: Any) -> None:
        if not self._queues:
            return
        message = f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for queue in list(self._queues):
            if queue.full():
                try:
                    queue.get_nowait()  # drop the oldest: newer state supersedes it
                except asyncio.QueueEmpty:
                    pass
            queue.put_nowait(message)

    def close_all(self) -> None:
        """Shutdown: end every stream (None tells the stream to finish)."""
        for queue in list(self._queues):
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)
