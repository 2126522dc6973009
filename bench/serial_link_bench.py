"""Figures for the board boundary: codec throughput, pty round trip, physics in virtual time.

Run: .venv/bin/python bench/serial_link_bench.py
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

from controller.clock import AsyncioClock, VirtualClock
from controller.hal.messages import (
    BoardEvent,
    Keepalive,
    LedPattern,
    MeterReading,
    SetContactor,
    SetLed,
    SetPwm,
)
from controller.hal.protocol import FrameDecoder, encode_frame
from controller.hal.serial_link import SerialBoardLink
from twin.physics import EV, BoardConfig, EVSpec, SimBoard
from twin.pty_board import PtyBoard


def bench_codec() -> None:
    frames = [encode_frame(i % 256, MeterReading(240.1, 31.998, 123456 + i, 31.2)) for i in range(20000)]
    data = b"".join(frames)
    t = time.perf_counter()
    for i in range(20000):
        encode_frame(i % 256, MeterReading(240.1, 31.998, 123456 + i, 31.2))
    enc = time.perf_counter() - t
    decoder = FrameDecoder()
    t = time.perf_counter()
    for i in range(0, len(data), 512):
        decoder.feed(data[i : i + 512])
    dec = time.perf_counter() - t
    noise = random.Random(1).randbytes(1_000_000)
    t = time.perf_counter()
    FrameDecoder().feed(noise)
    garbage = time.perf_counter() - t
    print(f"encode MeterReading frame:  {enc / 20000 * 1e6:.1f} µs")
    print(f"decode MeterReading frame:  {dec / 20000 * 1e6:.1f} µs "
          f"({len(data) / dec / 1e6:.1f} MB/s, 512-byte chunks)")
    print(f"scan random garbage:        {len(noise) / garbage / 1e6:.1f} MB/s")


async def bench_pty() -> None:
    board = PtyBoard(config=BoardConfig(watchdog_s=None))
    board.start()
    link = SerialBoardLink(board.port_path, AsyncioClock(), lambda e: None)
    link.open()
    await link.drain(2.0)
    samples = []
    for i in range(300):
        t = time.perf_counter()
        link.send(SetLed(LedPattern.GREEN_STEADY if i % 2 else LedPattern.OFF))
        await link.drain(2.0)
        samples.append(time.perf_counter() - t)
    link.close()
    board.stop()
    samples.sort()
    print(f"pty command -> ACK round trip: median {statistics.median(samples) * 1e3:.2f} ms, "
          f"p99 {samples[int(len(samples) * 0.99)] * 1e3:.2f} ms (300 commands)")


def bench_virtual_year() -> None:
    clock = VirtualClock(1_800_000_000.0)
    events: list[BoardEvent] = []
    board = SimBoard(clock, events.append, random.Random(3),
                     config=BoardConfig(watchdog_s=None, meter_interval_s=900.0))
    board.start()
    t = time.perf_counter()
    for _day in range(365):
        ev = EV(clock, EVSpec(battery_kwh=75.0), soc=0.3, target_soc=0.9)
        board.plug(ev)
        board.handle(SetPwm(53.33))
        clock.advance(2.0)
        board.handle(SetContactor(True))
        clock.advance(10 * 3600)
        board.handle(SetContactor(False))
        board.handle(SetPwm(100.0))
        board.unplug()
        board.handle(Keepalive())
        clock.advance(14 * 3600 - 2.0)
    wall = time.perf_counter() - t
    print(f"virtual year, 365 sessions, 15-min meter: {wall:.2f} s wall, {len(events)} events, "
          f"{board.true_energy_wh / 1000:.0f} kWh")


if __name__ == "__main__":
    bench_codec()
    asyncio.run(bench_pty())
    bench_virtual_year()
