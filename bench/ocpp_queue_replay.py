"""Bench: replay of 10,000 queued transaction messages after a reconnect, and idle RSS.

Prints (1) the raw ``ocpp`` package's round-trip rate (MeterValues CALLs against the same
strict ocpp-rpc central system), (2) our persistent queue's replay rate after a reconnect,
(3) their ratio (target >= 0.8) and (4) the idle RSS of a charge point process (target <= 60 MB).

usage: python bench/ocpp_queue_replay.py [messages]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets
from ocpp.v16 import ChargePoint as RawChargePoint
from ocpp.v16 import call

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.clock import AsyncioClock  # noqa: E402
from controller.ocpp.charge_point import OcppChargePoint  # noqa: E402
from controller.ocpp.connection import CentralSystemLink  # noqa: E402
from controller.ocpp.database import open_database  # noqa: E402
from controller.ocpp.ocpp_settings import OcppSettings  # noqa: E402
from controller.ocpp.tx_queue import TransactionQueue  # noqa: E402
from tests.ocpp_cs_driver import CentralSystem  # noqa: E402
from tests.ocpp_station_double import StationDouble  # noqa: E402

TIMESTAMP = "2026-09-21T00:00:00.000Z"


def meter_payload(i: int) -> dict[str, Any]:
    return {"connectorId": 1, "meterValue": [{"timestamp": TIMESTAMP, "sampledValue": [
        {"value": str(i), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
         "context": "Sample.Periodic"}]}]}


async def raw_rate(cs: CentralSystem, n: int) -> float:
    async with websockets.connect(f"{cs.url}/RAW", subprotocols=[websockets.Subprotocol("ocpp1.6")]) as ws:
        cp = RawChargePoint("RAW", ws)
        reader = asyncio.ensure_future(cp.start())
        await cp.call(call.BootNotification(charge_point_model="raw", charge_point_vendor="bench"))
        begin = time.perf_counter()
        for i in range(n):
            await cp.call(call.MeterValues(connector_id=1, transaction_id=1,
                                           meter_value=meter_payload(i)["meterValue"]))
        elapsed = time.perf_counter() - begin
        reader.cancel()
    return n / elapsed


async def queue_rate(cs: CentralSystem, n: int, db: Path) -> float:
    engine = open_database(db)
    queue = TransactionQueue(engine)
    tx = queue.new_transaction()
    queue.enqueue("StartTransaction", {"connectorId": 1, "idTag": "BENCH", "meterStart": 0,
                                       "timestamp": TIMESTAMP}, tx)
    for i in range(n - 2):
        queue.enqueue("MeterValues", meter_payload(i), tx)
    queue.enqueue("StopTransaction", {"meterStop": n, "timestamp": TIMESTAMP}, tx)
    clock = AsyncioClock()
    station = StationDouble(clock)
    settings = OcppSettings(charge_point_id="MQ200-BENCH", central_system_url=cs.url)
    cp = OcppChargePoint(settings, clock, station, engine)
    cp.config.set("MinimumStatusDuration", "0")
    station.events = cp
    mark = len(cs.events)
    link = CentralSystemLink(cp)
    task = asyncio.ensure_future(link.run())
    await cs.wait_call("StartTransaction", after=mark, timeout=60)
    begin = time.perf_counter()
    await cs.wait_call("StopTransaction", after=mark, timeout=600)
    elapsed = time.perf_counter() - begin
    await link.stop()
    task.cancel()
    return (n - 1) / elapsed


async def idle_rss_mb(cs: CentralSystem, tmp: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.ocpp_cp_process", str(tmp / "rss.sqlite"),
        str(tmp / "rss-register.txt"), cs.url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env)
    assert proc.stdout is not None
    running = json.loads(await proc.stdout.readline())
    mark = len(cs.events)
    await cs.wait_call("StatusNotification", after=mark, timeout=30,
                       where=lambda e: e["params"]["connectorId"] == 1)
    status = Path(f"/proc/{running['pid']}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    assert proc.stdin is not None
    proc.stdin.close()
    await proc.wait()
    return rss_kb / 1024


async def main(n: int) -> None:
    cs = await CentralSystem.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw = await raw_rate(cs, n)
            ours = await queue_rate(cs, n, Path(tmp) / "bench.sqlite")
            rss = await idle_rss_mb(cs, Path(tmp))
    finally:
        await cs.stop()
    failures = cs.validation_failures()
    print(f"messages: {n}")
    print(f"raw ocpp package round trips: {raw:.0f} msg/s")
    print(f"persistent queue replay:      {ours:.0f} msg/s")
    print(f"ratio: {ours / raw:.2f} (target >= 0.8)")
    print(f"idle RSS of a charge point process: {rss:.1f} MB (target <= 60 MB)")
    print(f"strict validation failures at the central system: {len(failures)}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
