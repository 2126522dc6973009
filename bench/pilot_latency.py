"""Pilot change at the simulated board -> the controller's contactor command back at the board.

Everything real: the simulated board on a pseudo-terminal, the controller's pyserial link, the
framed protocol with acks, the station's charge logic.  A charging EV's pilot dips to B for
20 ms and comes back to C; each dip is two pilot changes, each answered by a SetContactor
command.  Prints p50/p99/max over >= 1,000 events (target p99 <= 10 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from controller.charging.dip import dip_for_amps
from controller.charging.station import Station
from controller.clock import AsyncioClock
from controller.hal.messages import BoardCommand, BoardEvent, PilotChanged, PilotState, SetContactor
from controller.hal.serial_link import SerialBoardLink
from controller.settings import StationSettings
from controller.storage import Storage
from twin.physics.ev import EVSpec
from twin.pty_board import PtyBoard


class _Port:
    def __init__(self) -> None:
        self.link: SerialBoardLink | None = None

    def send(self, command: BoardCommand) -> None:
        assert self.link is not None
        self.link.send(command)


async def measure(events: int, glitch_s: float) -> list[float]:
    clock = AsyncioClock()
    with tempfile.TemporaryDirectory() as tmp:
        storage = Storage(Path(tmp) / "bench.db")
        pty = PtyBoard(dip=dip_for_amps(32), seed=1)
        port = _Port()
        station = Station(clock, port, storage, StationSettings(plug_and_charge_id="BENCH-001"),
                          random.Random(1))
        pty.start()
        link = SerialBoardLink(pty.port_path, clock, station.handle_board_event)
        link.open()
        port.link = link

        pending: dict[str, float] = {}
        latencies: list[float] = []
        answered = asyncio.Event()

        def on_board_event(event: BoardEvent) -> None:
            if isinstance(event, PilotChanged) and event.state in (PilotState.B, PilotState.C):
                pending["t"] = time.perf_counter()

        def on_command(command: BoardCommand) -> None:
            if isinstance(command, SetContactor) and "t" in pending:
                latencies.append((time.perf_counter() - pending.pop("t")) * 1000)
                answered.set()

        pty.add_event_listener(on_board_event)
        pty.add_command_listener(on_command)
        charging = asyncio.Event()
        station.on_change(lambda snap: charging.set() if snap.contactor else None)
        pty.plug(EVSpec(battery_kwh=500, max_current_a=32), soc=0.1)
        await asyncio.wait_for(charging.wait(), 10)
        latencies.clear()
        while len(latencies) < events:
            answered.clear()
            pty.board.glitch_pilot(PilotState.B, glitch_s)
            await asyncio.wait_for(answered.wait(), 2)
            answered.clear()
            await asyncio.wait_for(answered.wait(), 2)
            await asyncio.sleep(0.005)  # let the settle/ack traffic drain between rounds
        link.close()
        pty.stop()
        storage.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--glitch-ms", type=float, default=20.0)
    args = parser.parse_args()
    lat = asyncio.run(measure(args.events, args.glitch_ms / 1000))
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(f"pilot change -> contactor command over the pty: n={len(lat)} "
          f"p50={p50:.2f} ms p99={p99:.2f} ms max={lat[-1]:.2f} ms (target p99 <= 10 ms)")


if __name__ == "__main__":
    main()
