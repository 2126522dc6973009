"""The simulated power board behind a pseudo-terminal.

The controller opens :attr:`PtyBoard.port_path` with pyserial exactly as it would open the real
UART; behind the master side a :class:`~twin.physics.board.SimBoard` speaks the same framed
protocol (acks, retries, duplicate filter) through its own
:class:`~controller.hal.frame_link.FrameLink`.  The control methods are what a test, the demo
or ``mq200 run --sim`` use to act on the world: plug an EV, present a tag, inject faults, cut
the power, spray garbage on the line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import tty
from typing import Callable, cast, get_args

from controller.clock import AsyncioClock, Clock, TimerHandle
from controller.hal.frame_link import FrameLink, LinkConfig, LinkCounters
from controller.hal.messages import BoardCommand, BoardEvent
from controller.hal.protocol import Ack, Frame, Message
from twin.physics.board import BoardConfig, SimBoard
from twin.physics.ev import EV, EVSpec
from twin.physics.faults import BoardFault
from twin.physics.grid import Grid

log = logging.getLogger(__name__)

_COMMAND_TYPES: tuple[type, ...] = get_args(BoardCommand)
MAX_WRITE_BACKLOG = 64 * 1024
HOLD_UP_S = 0.5  # after a power cut the board's capacitors keep the link up this long at most


class PtyBoard:
    """A :class:`SimBoard` served over a pty; create and start it inside a running loop."""

    def __init__(
        self,
        *,
        dip: tuple[bool, bool, bool] = (True, False, False),
        seed: int = 0,
        config: BoardConfig | None = None,
        link_config: LinkConfig | None = None,
        grid: Grid | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock: Clock = clock or AsyncioClock()
        self._link_config = link_config or LinkConfig()
        self.board = SimBoard(
            self._clock, self._on_board_event, random.Random(seed), dip=dip, config=config, grid=grid
        )
        self._event_listeners: list[Callable[[BoardEvent], None]] = []
        self._command_listeners: list[Callable[[BoardCommand], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._master = -1
        self._slave = -1
        self._port_path = ""
        self._backlog = bytearray()
        self._writer_armed = False
        self._acks_to_lose = 0
        self._link: FrameLink | None = None
        self._old_counters = LinkCounters()
        self._hold_up: TimerHandle | None = None
        self._running = False

    # ----- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the pty and boot the board (BoardHello goes out at once)."""
        if self._running:
            raise RuntimeError("pty board already started")
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._port_path = os.ttyname(slave)
        self._running = True
        self._loop.add_reader(master, self._on_readable)
        self._new_link()
        self.board.start()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self.board.stop()
        self._close_link()
        if self._loop is not None:
            self._loop.remove_reader(self._master)
            if self._writer_armed:
                self._loop.remove_writer(self._master)
        self._writer_armed = False
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._master = self._slave = -1

    async def __aenter__(self) -> PtyBoard:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port_path(self) -> str:
        """The slave device (``/dev/pts/N``) to open with pyserial."""
        if not self._port_path:
            raise RuntimeError("pty board not started")
        return self._port_path

    @property
    def counters(self) -> LinkCounters:
        """Board-side link counters, summed over board reboots."""
        now = self._link.counters if self._link is not None else LinkCounters()
        return self._old_counters + now

    # ----- observation hooks (tests, demo) -----------------------------------------------------

    def add_event_listener(self, listener: Callable[[BoardEvent], None]) -> None:
        """Hear every event the board emits (whether or not it reaches the controller)."""
        self._event_listeners.append(listener)

    def add_command_listener(self, listener: Callable[[BoardCommand], None]) -> None:
        """Hear every command the board accepts from the line (after duplicate filtering)."""
        self._command_listeners.append(listener)

    # ----- the world ---------------------------------------------------------------------------

    def plug(
        self,
        spec: EVSpec | None = None,
        *,
        soc: float = 0.5,
        target_soc: float = 1.0,
        needs_ventilation: bool = False,
    ) -> EV:
        ev = EV(self._clock, spec, soc=soc, target_soc=target_soc,
                needs_ventilation=needs_ventilation)
        self.board.plug(ev)
        return ev

    def unplug(self) -> EV:
        return self.board.unplug()

    def present_tag(self, uid: str) -> None:
        self.board.present_tag(uid)

    def inject_fault(self, fault: BoardFault) -> None:
        self.board.inject_fault(fault)

    def clear_fault(self, fault: BoardFault) -> None:
        self.board.clear_fault(fault)

    def set_ambient(self, celsius: float) -> None:
        self.board.set_ambient(celsius)

    def set_grid_voltage(self, volts: float) -> None:
        self.board.set_grid_voltage(volts)

    def cut_power(self) -> None:
        """PowerNotice goes out (hold-up time permitting), then the board falls silent."""
        if not self.board.powered:
            return
        self.board.cut_power()
        link = self._link
        if link is None:
            return
        if link.pending == 0:
            self._close_link()
            return
        link.on_drained = self._close_link
        self._hold_up = self._clock.call_later(HOLD_UP_S, self._close_link)

    def restore_power(self) -> None:
        """The board boots afresh (new link state) and says BoardHello(power_restored)."""
        if self.board.powered:
            return
        self._close_link()
        self._new_link()
        self.board.restore_power()

    def reboot(self, reason: str = "reset") -> None:
        self._close_link()
        self._new_link()
        self.board.reboot(reason)

    # ----- line faults (tests) ---------------------------------------------------------------

    def inject_garbage(self, data: bytes) -> None:
        """Write raw bytes on the line between frames, as electrical noise would."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"garbage must be bytes, got {type(data).__name__}")
        self._write(bytes(data))

    def lose_acks(self, count: int) -> None:
        """Drop the next ``count`` ACKs the board would send, so the controller must retry."""
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        self._acks_to_lose = count

    # ----- internals ---------------------------------------------------------------------------

    def _new_link(self) -> None:
        self._link = FrameLink(
            self._clock,
            self._write,
            self._on_message,
            accepts=_COMMAND_TYPES,
            config=self._link_config,
            on_peer_activity=self.board.feed_watchdog,
            outgoing_filter=self._keep_frame,
        )
        self._link.start()

    def _close_link(self) -> None:
        if self._hold_up is not None:
            self._hold_up.cancel()
            self._hold_up = None
        link, self._link = self._link, None
        if link is not None:
            link.close()
            self._old_counters = self._old_counters + link.counters

    def _keep_frame(self, frame: Frame) -> bool:
        if isinstance(frame.message, Ack) and self._acks_to_lose > 0:
            self._acks_to_lose -= 1
            return False
        return True

    def _on_board_event(self, event: BoardEvent) -> None:
        for listener in list(self._event_listeners):
            listener(event)
        link = self._link
        if link is not None and not link.closed and self._running:
            link.send(event)

    def _on_message(self, message: Message) -> None:
        if not isinstance(message, _COMMAND_TYPES):
            return
        command = cast(BoardCommand, message)
        for listener in list(self._command_listeners):
            listener(command)
        self.board.handle(command)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("pty board read failed: %s", exc)
            return
        link = self._link
        if link is not None and data:
            link.receive(data)  # without a link the board is dead: bytes fall on the floor

    def _write(self, data: bytes) -> None:
        if not self._running:
            return
        if len(self._backlog) + len(data) > MAX_WRITE_BACKLOG:
            log.warning("pty board: nobody reads the line; dropping %d bytes", len(data))
            return
        self._backlog += data
        if not self._writer_armed:
            self._flush()

    def _flush(self) -> None:
        if not self._running or self._loop is None:
            return
        try:
            written = os.write(self._master, self._backlog) if self._backlog else 0
        except BlockingIOError:
            written = 0
        except OSError as exc:
            log.warning("pty board write failed: %s", exc)
            self._backlog.clear()
            written = 0
        del self._backlog[:written]
        if self._backlog and not self._writer_armed:
            self._loop.add_writer(self._master, self._flush)
            self._writer_armed = True
        elif not self._backlog and self._writer_armed:
            self._loop.remove_writer(self._master)
            self._writer_armed = False
