"""One LAN WebSocket between a gateway and a client, carrying protocol messages in order.

Sending never blocks the caller (charge logic runs in synchronous callbacks): frames go to a
queue that one writer task drains.  Every frame received is decoded and handed to the owner;
when the connection ends the owner is told once, unless it closed the link itself or muted it.
A muted link (a controller that lost power in a simulation) stays open but silent and reads
without acting, which is what its peer would see of a dead station: nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from aiohttp import WSMsgType

from controller.loadmgmt.inflight import InFlight
from controller.loadmgmt.protocol import LanMessage, LanProtocolError, _Message, decode, encode

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_POLICY = 4001  # rejected: group id, secret, group full, wiring
CLOSE_PROTOCOL = 4002  # malformed frame
CLOSE_TIMEOUT = 4003  # no message within the timeout
CLOSE_REPLACED = 4004  # the same serial joined again on another connection


class WebSocketLike(Protocol):
    """What both aiohttp's server and client WebSockets offer."""

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def receive(self, timeout: float | None = None) -> object: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


class LanLink:
    def __init__(
        self,
        ws: WebSocketLike,
        peer: str,
        on_message: Callable[["LanLink", LanMessage], None],
        on_lost: Callable[["LanLink", str], None],
        inflight: InFlight | None = None,
    ) -> None:
        self.ws = ws
        self.peer = peer  # the remote address, for logs and the status table
        self._on_message = on_message
        self._on_lost = on_lost
        self._inflight = inflight
        self._queue: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue()
        self._muted = False
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self._writer_closing = False
        self.sent = 0
        self.received = 0

    @property
    def open(self) -> bool:
        return not (self._closing or self._muted)

    def send(self, message: _Message) -> None:
        if not self.open:
            return
        if self._inflight is not None:
            self._inflight.begin()
        self._queue.put_nowait(encode(message))

    def mute(self) -> None:
        """Go silent: no more frames out, frames in are read and dropped, no loss reported."""
        self._muted = True
        self._drop_queue()

    def close_soon(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close after the frames already queued; the owner is not told of a loss."""
        if self._closing:
            return
        self._closing = True
        self._queue.put_nowait((code, reason))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        self.close_soon(code, reason)
        writer = self._writer
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)

    async def run(self) -> None:
        """Read until the connection ends; the writer runs alongside."""
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write())
        why = "connection closed by peer"
        try:
            while True:
                msg = await self.ws.receive()
                kind = getattr(msg, "type", None)
                if kind is WSMsgType.TEXT:
                    self._handle(str(getattr(msg, "data", "")))
                elif kind is WSMsgType.BINARY:
                    self._protocol_violation(LanProtocolError("binary frame; the protocol is JSON text"))
                elif kind is WSMsgType.ERROR:
                    why = f"connection error: {getattr(msg, 'data', '')}"
                    break
                else:  # CLOSE, CLOSING, CLOSED
                    break
        except (ConnectionError, asyncio.CancelledError) as exc:
            why = f"connection error: {exc!r}"
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            report = not (self._closing or self._muted)
            self._closing = True
            if self._writer is not None and not self._writer_closing:
                self._writer.cancel()
            self._drop_queue()
            if report:
                self._on_lost(self, why)

    # ------------------------------------------------------------------ internals
    def _handle(self, frame: str) -> None:
        self.received += 1
        try:
            if self._muted:
                return
            try:
                message = decode(frame)
            except LanProtocolError as exc:
                self._protocol_violation(exc)
                return
            try:
                self._on_message(self, message)
            except Exception:  # a bug in a handler must not take the link down
                log.exception("LAN message from %s not handled: %s", self.peer, frame[:200])
        finally:
            if self._inflight is not None:
                self._inflight.end()

    def _protocol_violation(self, exc: LanProtocolError) -> None:
        log.warning("LAN peer %s sent a bad frame: %s", self.peer, exc)
        if not self._closing:
            self._on_lost(self, f"protocol error: {exc}")
            self.close_soon(CLOSE_PROTOCOL, "protocol error")

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, tuple):
                self._writer_closing = True
                code, reason = item
                try:
                    await self.ws.close(code=code, message=reason.encode()[:120])
                except (ConnectionError, RuntimeError) as exc:
                    log.debug("closing LAN link to %s: %s", self.peer, exc)
                self._drop_queue()
                return
            try:
                await self.ws.send_str(item)
                self.sent += 1
            except (ConnectionError, RuntimeError) as exc:
                log.info("LAN frame to %s not sent: %s", self.peer, exc)
                if self._inflight is not None:
                    self._inflight.end()
                self._drop_queue()
                return

    def _drop_queue(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, str) and self._inflight is not None:
                self._inflight.end()
