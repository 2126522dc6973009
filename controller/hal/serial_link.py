"""The controller's end of the serial line to the power board.

Opens the UART (or the twin's pseudo-terminal) with pyserial, reads only when the event loop
says the descriptor is readable (``loop.add_reader``), and hands the bytes to a
:class:`~controller.hal.frame_link.FrameLink` that acks, retransmits, filters duplicates and
sends keepalives.  Writes go straight to the non-blocking descriptor; what the driver does not
take at once waits for ``loop.add_writer`` (pyserial's own non-blocking write spins on EAGAIN).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Callable, cast, get_args

import serial

from controller.clock import Clock
from controller.hal.frame_link import FrameLink, LinkConfig, LinkCounters, LinkError
from controller.hal.messages import BoardCommand, BoardEvent, BoardEventHandler, Keepalive
from controller.hal.protocol import Message

log = logging.getLogger(__name__)

BAUDRATE = 115200
MAX_WRITE_BACKLOG = 64 * 1024  # bytes the driver has not taken yet; beyond that the line is dead

_COMMAND_TYPES: tuple[type, ...] = get_args(BoardCommand)
_EVENT_TYPES: tuple[type, ...] = get_args(BoardEvent)


class SerialBoardLink:
    """:class:`~controller.hal.messages.BoardPort` over a serial device."""

    def __init__(
        self,
        port: str,
        clock: Clock,
        on_event: BoardEventHandler,
        *,
        on_link_error: Callable[[LinkError], None] | None = None,
        config: LinkConfig | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not isinstance(port, str) or not port:
            raise ValueError(f"serial port must be a non-empty path or URL, got {port!r}")
        self.port = port
        self._clock = clock
        self._on_event = on_event
        self._on_link_error = on_link_error
        self._loop = loop
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._backlog = bytearray()
        self._writer_armed = False
        self._ever_opened = False
        self._port_errors = 0  # failures of the device itself, on top of the link's own
        self._link = FrameLink(
            clock,
            self._write,
            self._deliver,
            accepts=_EVENT_TYPES,
            config=config,
            on_link_error=self._report,
            keepalive=Keepalive,
            on_drained=self._on_drained,
        )
        self._drain_waiters: list[asyncio.Future[None]] = []

    # ----- lifecycle -------------------------------------------------------------------

    def open(self) -> None:
        """Open the port and start reading; call from inside the running event loop."""
        if self._serial is not None:
            raise RuntimeError(f"{self.port} is already open")
        if self._link.closed:
            raise RuntimeError(f"{self.port}: a closed link cannot be reopened; make a new one")
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        try:
            port = serial.serial_for_url(self.port, baudrate=BAUDRATE, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionError(f"cannot open serial port {self.port}: {exc}") from exc
        try:
            fd = port.fileno()
        except (AttributeError, NotImplementedError, OSError, serial.SerialException) as exc:
            port.close()
            raise ConnectionError(
                f"{self.port} has no file descriptor; event-driven reading needs one"
            ) from exc
        self._serial, self._fd = port, fd
        self._ever_opened = True
        loop.add_reader(fd, self._on_readable)
        self._link.start()

    def close(self) -> None:
        self._link.close()
        self._on_drained()  # nothing will ever be acknowledged now
        port, self._serial = self._serial, None
        if port is None:
            return
        if self._loop is not None and self._fd >= 0:
            self._loop.remove_reader(self._fd)
            if self._writer_armed:
                self._loop.remove_writer(self._fd)
        self._writer_armed = False
        self._backlog.clear()
        self._fd = -1
        port.close()

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    @property
    def counters(self) -> LinkCounters:
        counters = self._link.counters
        return dataclasses.replace(counters, link_errors=counters.link_errors + self._port_errors)

    @property
    def pending(self) -> int:
        return self._link.pending

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every command sent so far is acknowledged (or given up as a link error)."""
        if self._link.pending == 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            if waiter in self._drain_waiters:
                self._drain_waiters.remove(waiter)

    def _on_drained(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # ----- BoardPort -------------------------------------------------------------------

    def send(self, command: BoardCommand) -> None:
        if not isinstance(command, _COMMAND_TYPES):
            raise TypeError(f"not a board command: {command!r}")
        if self._serial is None:
            if not self._ever_opened:
                raise RuntimeError(f"serial port {self.port} is not open; call open() first")
            # the line died or was closed under the charge logic: report, never raise mid-logic
            self._port_errors += 1
            self._report(LinkError(f"{self.port} is closed; dropped {type(command).__name__}",
                                   command))
            return
        self._link.send(command)

    # ----- bytes in / out --------------------------------------------------------------

    def _on_readable(self) -> None:
        port = self._serial
        if port is None:
            return
        try:
            data = port.read(4096)
        except (serial.SerialException, OSError) as exc:
            self._fail(f"read from {self.port} failed: {exc}")
            return
        if data:
            self._link.receive(bytes(data))

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            return
        if len(self._backlog) + len(data) > MAX_WRITE_BACKLOG:
            self._port_errors += 1
            self._report(LinkError(f"{self.port}: write backlog over {MAX_WRITE_BACKLOG} bytes"))
            return
        self._backlog += data
        if not self._writer_armed:
            self._flush()

    def _flush(self) -> None:
        if self._serial is None or self._loop is None:
            return
        try:
            written = os.write(self._fd, self._backlog) if self._backlog else 0
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._fail(f"write to {self.port} failed: {exc}")
            return
        del self._backlog[:written]
        if self._backlog and not self._writer_armed:
            self._loop.add_writer(self._fd, self._flush)
            self._writer_armed = True
        elif not self._backlog and self._writer_armed:
            self._loop.remove_writer(self._fd)
            self._writer_armed = False

    def _deliver(self, message: Message) -> None:
        if isinstance(message, _EVENT_TYPES):
            self._on_event(cast(BoardEvent, message))

    def _fail(self, reason: str) -> None:
        """The device went away: stop touching it and tell the owner once."""
        if self._loop is not None and self._fd >= 0:
            self._loop.remove_reader(self._fd)
            if self._writer_armed:
                self._loop.remove_writer(self._fd)
        self._writer_armed = False
        port, self._serial = self._serial, None
        self._fd = -1
        self._link.close()
        if port is not None:
            port.close()
        self._port_errors += 1
        self._report(LinkError(reason))

    def _report(self, error: LinkError) -> None:
        if self._on_link_error is not None:
            self._on_link_error(error)
