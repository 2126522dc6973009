"""A charge point (real OCPP layer, real SQLite, real WebSocket) wired to the Node central system."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Callable
from typing import Any

from controller.clock import TimerHandle, VirtualClock
from controller.ocpp.charge_point import OcppChargePoint
from controller.ocpp.connection import CentralSystemLink
from controller.ocpp.database import open_database
from controller.ocpp.firmware import FirmwareService
from controller.ocpp.ocpp_settings import OcppSettings
from tests.ocpp_cs_driver import CentralSystem
from tests.ocpp_station_double import StationDouble

START = 1_790_000_000.0  # 2026-09-21, a fixed virtual "now"


class ObservedClock(VirtualClock):
    """A VirtualClock a test can wait on: "has the code armed a timer for then yet?"."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self._armed = asyncio.Event()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        handle = super().call_at(when, callback)
        self._armed.set()
        return handle

    async def timer_due_by(self, when: float, timeout: float = 10.0) -> None:
        """Wait until some pending timer falls due at or before ``when``."""

        async def wait() -> None:
            while True:
                deadline = self.next_deadline()
                if deadline is not None and deadline <= when:
                    return
                self._armed.clear()
                await self._armed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def advance_to_timer(self, dt: float, timeout: float = 10.0) -> None:
        """Advance ``dt`` once a timer due within it has been armed."""
        await self.timer_due_by(self.now() + dt, timeout)
        self.advance(dt)


@dataclass
class Rig:
    cs: CentralSystem
    clock: ObservedClock
    station: StationDouble
    cp: OcppChargePoint
    link: CentralSystemLink
    task: asyncio.Task[None]
    db: Path

    async def stop(self) -> None:
        await self.link.stop()
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass

    async def booted(self, after: int = 0) -> None:
        """Boot accepted: the charge point reports connector 1 right after acceptance."""
        await self.cs.wait_call("StatusNotification", after=after,
                                where=lambda e: e["params"]["connectorId"] == 1)

    def assert_strict_clean(self) -> None:
        failures = self.cs.validation_failures()
        assert failures == [], failures


def settings_for(cs: CentralSystem, **overrides: Any) -> OcppSettings:
    base = OcppSettings(charge_point_id="MQ200-TEST", central_system_url=cs.url,
                        boot_retry_interval=30, pdu_timeout=3600, reconnect_min_delay=1.0)
    return replace(base, **overrides)


async def make_rig(
    tmp_path: Path,
    cs_options: dict[str, Any] | None = None,
    cs: CentralSystem | None = None,
    clock: ObservedClock | None = None,
    station: StationDouble | None = None,
    firmware: FirmwareService | None = None,
    **settings: Any,
) -> Rig:
    cs = cs or await CentralSystem.start(cs_options)
    clock = clock or ObservedClock(START)
    station = station or StationDouble(clock)
    db = tmp_path / "ocpp.sqlite"
    s = settings_for(cs, **settings)
    cp = OcppChargePoint(s, clock, station, open_database(db),
                         firmware=firmware)
    station.events = cp
    link = CentralSystemLink(cp)
    task = asyncio.ensure_future(link.run())
    return Rig(cs, clock, station, cp, link, task, db)
