"""The controller's SerialBoardLink against the pty board, over a real pseudo-terminal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from controller.clock import AsyncioClock, VirtualClock
from controller.hal.frame_link import FrameLink, LinkConfig, LinkError
from controller.hal.messages import (
    BoardCommand,
    BoardHello,
    Keepalive,
    GroundMonitor,
    LedPattern,
    MeterReading,
    PilotChanged,
    PilotState,
    PowerEvent,
    PowerNotice,
    SetContactor,
    SetDisplay,
    SetLed,
    SetPwm,
    TagPresented,
    WatchdogTripped,
)
from controller.hal.protocol import START, Message, encode_frame, type_code
from controller.hal.serial_link import SerialBoardLink
from twin.physics import BoardConfig, EVSpec
from twin.pty_board import PtyBoard

T = TypeVar("T")
TIMEOUT = 3.0
WATCHDOG_S = 1.0


class Inbox:
    """Collects items and lets a test await the first one matching a predicate."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._waiters: list[tuple[Callable[[Any], bool], asyncio.Future[Any]]] = []

    def __call__(self, item: Any) -> None:
        self.items.append(item)
        for pred, fut in list(self._waiters):
            if not fut.done() and pred(item):
                fut.set_result(item)

    async def wait(self, pred: Callable[[Any], bool], timeout: float = TIMEOUT, *,
                   seen: bool = True) -> Any:
        if seen:
            for item in self.items:
                if pred(item):
                    return item
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.remove((pred, fut))

    async def wait_for(self, item: Any, timeout: float = TIMEOUT, *, seen: bool = True) -> Any:
        return await self.wait(lambda x: x == item, timeout, seen=seen)

    async def wait_type(self, kind: type[T], timeout: float = TIMEOUT, *,
                        seen: bool = True) -> T:
        found: T = await self.wait(lambda x: isinstance(x, kind), timeout, seen=seen)
        return found


@dataclass
class Line:
    board: PtyBoard
    link: SerialBoardLink
    at_controller: Inbox
    at_board: Inbox  # commands the board accepted
    emitted: Inbox  # events the board emitted
    link_errors: Inbox


@pytest.fixture
async def line() -> AsyncIterator[Line]:
    board = PtyBoard(
        dip=(False, True, True),
        config=BoardConfig(watchdog_s=WATCHDOG_S, meter_interval_s=0.2),
    )
    emitted, at_board, at_controller = Inbox(), Inbox(), Inbox()
    board.add_event_listener(emitted)
    board.add_command_listener(at_board)
    board.start()
    errors = Inbox()
    link = SerialBoardLink(board.port_path, AsyncioClock(), at_controller, on_link_error=errors)
    link.open()
    try:
        yield Line(board, link, at_controller, at_board, emitted, errors)
    finally:
        link.close()
        board.stop()


async def _start_charging(line: Line) -> None:
    line.board.plug(EVSpec(ready_delay_s=0.05), soc=0.4)
    await line.at_controller.wait_for(PilotChanged(PilotState.B))
    line.link.send(SetPwm(53.33))
    await line.at_controller.wait_for(PilotChanged(PilotState.C))
    line.link.send(SetContactor(True))
    await line.at_board.wait_for(SetContactor(True))
    assert line.board.board.contactor_closed


async def test_events_and_commands_cross_the_real_pty(line: Line) -> None:
    hello = await line.at_controller.wait_type(BoardHello)
    assert hello == BoardHello(False, True, True, board_fw="1.0.0", boot_reason="power_on")
    await line.at_controller.wait_for(GroundMonitor(present=True))
    await line.at_controller.wait_for(PilotChanged(PilotState.A))

    await _start_charging(line)
    reading: MeterReading = await line.at_controller.wait(
        lambda e: isinstance(e, MeterReading) and e.current_a > 30.0
    )
    assert 31.0 < reading.current_a < 33.0

    line.link.send(SetLed(LedPattern.BLUE_SLOW))
    line.link.send(SetDisplay("Charging 7.7 kW"))
    await line.at_board.wait_for(SetDisplay("Charging 7.7 kW"))
    assert line.board.board.led is LedPattern.BLUE_SLOW
    assert line.board.board.display_text == "Charging 7.7 kW"

    line.board.present_tag("04A1B2C3D4")
    await line.at_controller.wait_for(TagPresented("04A1B2C3D4"))

    line.board.unplug()
    await line.at_controller.wait_for(PilotChanged(PilotState.A))
    counters = line.link.counters
    assert counters.frames_in > 5 and counters.frames_out > 5
    assert counters.corrupt == counters.retries == counters.link_errors == 0
    assert line.link_errors.items == []


async def test_garbage_mid_stream_is_counted_and_dropped(line: Line) -> None:
    await line.at_controller.wait_for(PilotChanged(PilotState.A))
    noise = bytes(range(0x00, 0xA0)) * 3
    fake_header = START + b"\x10\x00\x11\x22\x33"  # start marker with a bad length check
    damaged = bytearray(encode_frame(9, TagPresented("DEADBEEF")))
    damaged[-1] ^= 0xFF  # bad CRC
    line.board.inject_garbage(noise + fake_header + bytes(damaged) + noise)
    line.board.present_tag("CAFE01")
    await line.at_controller.wait_for(TagPresented("CAFE01"), seen=False)
    counters = line.link.counters
    assert counters.garbage_bytes >= 2 * len(noise)
    assert counters.corrupt >= 2
    assert TagPresented("DEADBEEF") not in line.at_controller.items
    line.board.present_tag("CAFE02")  # and the line keeps working
    await line.at_controller.wait_for(TagPresented("CAFE02"), seen=False)


async def test_silent_controller_trips_the_board_watchdog(line: Line) -> None:
    await _start_charging(line)
    # an idle but running controller keeps the board alive with keepalives
    with pytest.raises(asyncio.TimeoutError):
        await line.emitted.wait_type(WatchdogTripped, timeout=WATCHDOG_S * 1.6)
    assert line.board.board.contactor_closed
    loop = asyncio.get_running_loop()
    silent_at = loop.time()
    line.link.close()
    await line.emitted.wait_type(WatchdogTripped, timeout=WATCHDOG_S + 1.0)
    elapsed = loop.time() - silent_at
    assert WATCHDOG_S - 0.6 <= elapsed <= WATCHDOG_S + 0.5
    assert not line.board.board.contactor_closed
    assert line.board.board.true_current_a == 0


async def test_lost_acks_make_the_controller_retry_without_duplicates(line: Line) -> None:
    await line.at_controller.wait_for(PilotChanged(PilotState.A))
    line.board.lose_acks(2)
    line.link.send(SetLed(LedPattern.GREEN_FAST))
    await line.at_board.wait_for(SetLed(LedPattern.GREEN_FAST))
    await line.link.drain(TIMEOUT)  # the controller finally had its ACK
    assert line.link.counters.retries >= 2
    assert line.link.counters.link_errors == 0
    assert line.at_board.items.count(SetLed(LedPattern.GREEN_FAST)) == 1
    assert line.board.counters.duplicates >= 2


async def test_ack_never_arriving_is_a_link_error(line: Line) -> None:
    await line.at_controller.wait_for(PilotChanged(PilotState.A))
    line.board.lose_acks(LinkConfig().max_retries + 1)
    line.link.send(SetLed(LedPattern.RED_FLASH))
    error: LinkError = await line.link_errors.wait_type(LinkError, timeout=TIMEOUT)
    assert error.message == SetLed(LedPattern.RED_FLASH)
    assert line.link.counters.link_errors == 1
    assert line.link.counters.retries == LinkConfig().max_retries
    assert line.at_board.items.count(SetLed(LedPattern.RED_FLASH)) == 1


async def test_power_cut_and_restore_over_the_line(line: Line) -> None:
    await _start_charging(line)
    line.board.cut_power()
    await line.at_controller.wait_for(PowerNotice(PowerEvent.POWER_FAIL))
    assert not line.board.board.contactor_closed
    line.board.restore_power()
    hello = await line.at_controller.wait(
        lambda e: isinstance(e, BoardHello) and e.boot_reason == "power_restored"
    )
    assert (hello.dip_sw1, hello.dip_sw2, hello.dip_sw3) == (False, True, True)
    line.link.send(SetLed(LedPattern.YELLOW_FLASH))  # the rebooted board talks again
    await line.at_board.wait_for(SetLed(LedPattern.YELLOW_FLASH))


async def test_send_rejects_non_commands(line: Line) -> None:
    with pytest.raises(TypeError, match="not a board command"):
        line.link.send(PilotChanged(PilotState.A))  # type: ignore[arg-type]
    bad: BoardCommand = SetPwm(900.0)
    with pytest.raises(ValueError, match="SetPwm.duty_pct"):
        line.link.send(bad)


def test_open_missing_port_is_a_clear_error() -> None:
    async def go() -> None:
        link = SerialBoardLink("/dev/does-not-exist-mq200", AsyncioClock(), lambda e: None)
        with pytest.raises(ConnectionError, match="does-not-exist"):
            link.open()

    asyncio.run(go())



async def test_send_after_close_is_reported_not_raised(line: Line) -> None:
    line.link.close()
    line.link.send(SetLed(LedPattern.OFF))
    error: LinkError = await line.link_errors.wait_type(LinkError)
    assert "closed" in error.reason and error.message == SetLed(LedPattern.OFF)


# ----- the same link engine, back to back on a virtual clock (exact timings) ---------------


@dataclass
class Pair:
    clock: VirtualClock
    a: FrameLink
    b: FrameLink
    got_a: list[Message]
    got_b: list[Message]
    wire_ab: list[bytes]


def _pair(loss_ab: Callable[[bytes], bool] = lambda _: False) -> Pair:
    clock = VirtualClock(100.0)
    got_a: list[Message] = []
    got_b: list[Message] = []
    wire_ab: list[bytes] = []
    holder: dict[str, FrameLink] = {}

    def a_writes(data: bytes) -> None:
        wire_ab.append(data)
        if not loss_ab(data):
            clock.call_later(0.001, lambda: holder["b"].receive(data))

    def b_writes(data: bytes) -> None:
        clock.call_later(0.001, lambda: holder["a"].receive(data))

    a = FrameLink(clock, a_writes, got_a.append, accepts=(TagPresented,), keepalive=Keepalive)
    b = FrameLink(clock, b_writes, got_b.append, accepts=(SetLed, Keepalive))
    holder.update(a=a, b=b)
    a.start()
    b.start()
    return Pair(clock, a, b, got_a, got_b, wire_ab)


def test_keepalive_goes_out_after_half_a_second_of_silence() -> None:
    pair = _pair()
    pair.clock.advance(0.49)
    assert pair.got_b == []
    pair.clock.advance(0.02)
    assert pair.got_b == [Keepalive()]
    pair.a.send(SetLed(LedPattern.OFF))  # any traffic re-arms the idle timer
    pair.clock.advance(0.45)
    assert pair.got_b == [Keepalive(), SetLed(LedPattern.OFF)]
    pair.clock.advance(10.0)
    assert pair.got_b.count(Keepalive()) == 21


def test_order_survives_loss_and_retries_are_bounded() -> None:
    dropped = {"n": 0}

    def lose_two_data_frames(data: bytes) -> bool:
        if data[4] == type_code(SetLed) and dropped["n"] < 2:
            dropped["n"] += 1
            return True
        return False

    pair = _pair(lose_two_data_frames)
    patterns = [LedPattern.RED_STEADY, LedPattern.GREEN_STEADY, LedPattern.BLUE_SLOW]
    for pattern in patterns:
        pair.a.send(SetLed(pattern))
    pair.clock.advance(2.0)
    assert [m for m in pair.got_b if isinstance(m, SetLed)] == [SetLed(p) for p in patterns]
    assert pair.a.counters.retries == 2 and pair.a.counters.link_errors == 0

    dead = _pair(lambda data: True)  # nothing ever arrives
    errors: list[LinkError] = []
    dead.a._on_link_error = errors.append
    dead.a.send(SetLed(LedPattern.OFF))
    dead.clock.advance(0.2 * 3 + 0.01)
    assert errors == []
    dead.clock.advance(0.2)
    assert len(errors) == 1 and dead.a.counters.retries == 3
    assert len([w for w in dead.wire_ab if w[4] == type_code(SetLed)]) == 4


def test_a_restarted_sender_is_not_mistaken_for_a_retransmission() -> None:
    pair = _pair()
    for pattern in (LedPattern.OFF, LedPattern.GREEN_STEADY):
        pair.a.send(SetLed(pattern))
        pair.clock.advance(0.1)
    # a new controller process: fresh link, seq 0 again, SYN set
    fresh = FrameLink(pair.clock, lambda d: pair.b.receive(d), lambda m: None,
                      accepts=(TagPresented,))
    fresh.send(SetLed(LedPattern.OFF))
    assert pair.got_b.count(SetLed(LedPattern.OFF)) == 2


async def test_restarted_controller_catches_up_with_a_running_board() -> None:
    """A daemon restart while the board keeps power: RequestStatus brings the new one up to date."""
    import random
    import tempfile
    from pathlib import Path

    from controller.charging.dip import dip_for_amps
    from controller.charging.station import Station
    from controller.clock import AsyncioClock
    from controller.hal.serial_link import SerialBoardLink
    from controller.settings import StationSettings
    from controller.storage import Storage
    from twin.physics.ev import EVSpec
    from twin.pty_board import PtyBoard

    class Port:
        link: SerialBoardLink | None = None

        def send(self, command: BoardCommand) -> None:
            assert self.link is not None
            self.link.send(command)

    clock = AsyncioClock()
    async with PtyBoard(dip=dip_for_amps(24), seed=3) as pty:
        pty.plug(EVSpec(), soc=0.4)
        with tempfile.TemporaryDirectory() as tmp:
            storage = Storage(Path(tmp) / "c.db")
            charging = asyncio.Event()  # the board itself has closed the contactor
            pty.add_command_listener(
                lambda cmd: charging.set() if isinstance(cmd, SetContactor) and cmd.closed else None
            )
            for attempt in range(2):  # the second controller starts while the board runs on
                port = Port()
                settings = StationSettings(plug_and_charge_id="PNC-0001", resume_charge_after_reboot=True)
                station = Station(clock, port, storage, settings, random.Random(attempt))
                link = SerialBoardLink(pty.port_path, clock, station.handle_board_event)
                link.open()
                port.link = link
                station.request_board_status()
                charging.clear()
                await asyncio.wait_for(charging.wait(), 10)
                snap = station.snapshot()
                assert snap.dip_max_a == 24 and snap.pilot == "C" and pty.board.contactor_closed
                assert snap.session is not None and snap.session["id"] == 1  # resumed, not a new one
                link.close()
            storage.close()
