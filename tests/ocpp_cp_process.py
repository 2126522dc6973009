"""A charge point daemon process for the crash tests: real OCPP layer, wall clock, SQLite.

usage: python -m tests.ocpp_cp_process <db> <register-file> <central-system-url>
stdin (JSON lines): {"cmd": "start", "tag": "T1"} | {"cmd": "stop"} | {"cmd": "drain"}; stdout: JSON events.
The station double's energy register is kept in <register-file> (as the real core keeps its
meter register), so a SIGKILL never makes it go backwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from controller.clock import AsyncioClock
from controller.ocpp.charge_point import OcppChargePoint
from controller.ocpp.connection import CentralSystemLink
from controller.ocpp.database import open_database
from controller.ocpp.ocpp_settings import OcppSettings
from controller.ocpp.station_port import MeterSnapshot
from tests.ocpp_station_double import StationDouble


class PersistentRegisterStation(StationDouble):
    register_file: Path | None = None

    def meter(self) -> MeterSnapshot:
        snapshot = super().meter()
        if self.register_file is not None:
            tmp = self.register_file.with_suffix(".tmp")
            tmp.write_text(repr(self.energy_wh))
            os.replace(tmp, self.register_file)
        return snapshot


def out(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def main(db: str, register: str, url: str) -> None:
    clock = AsyncioClock()
    register_file = Path(register)
    station = PersistentRegisterStation(clock, ev_max_amps=32.0)
    station.register_file = register_file
    if register_file.exists():
        station.energy_wh = float(register_file.read_text())
    settings = OcppSettings(charge_point_id="MQ200-CRASH", central_system_url=url,
                            boot_retry_interval=1, pdu_timeout=5, reconnect_min_delay=0.05,
                            reconnect_max_delay=0.2)
    cp = OcppChargePoint(settings, clock, station, open_database(db))
    cp.config.set("MinimumStatusDuration", "0")
    cp.config.set("MeterValueSampleInterval", "1")
    cp.config.set("TransactionMessageRetryInterval", "0")
    station.events = cp
    link = CentralSystemLink(cp)
    runner = asyncio.ensure_future(link.run())
    out({"event": "running", "pid": os.getpid()})
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        if command["cmd"] == "start":
            station.plug_in()
            station.present_tag(command["tag"])
        elif command["cmd"] == "stop":
            station.unplug()
        elif command["cmd"] == "drain":
            await cp.queue_drained()
        out({"event": "done", "cmd": command["cmd"], "queued": len(cp.queue)})
    await link.stop()
    runner.cancel()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
