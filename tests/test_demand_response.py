"""Demand response: level mapping, opt-out, randomized resume; the OpenADR VEN against a real
openleadr VTN on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openleadr import OpenADRServer

from controller.charging.status import ChargerStatus
from controller.clock import AsyncioClock, VirtualClock
from controller.demand_response.limits import (
    DemandResponseError,
    DemandResponseLimits,
    DrEvent,
    DrInterval,
    event_from_dict,
)
from controller.demand_response.ven import VenConfig, event_from_openadr
from controller.scheduling.wiring import attach
from controller.storage import Storage
from tests.station_harness import Harness

T0 = 1_767_650_400.0  # 2026-01-05T18:00:00-08:00


def at(offset_s: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset_s, tz=UTC)


def event(event_id: str, start_s: float, end_s: float, level: float) -> DrEvent:
    return DrEvent(event_id, (DrInterval(at(start_s), at(end_s), level),))


def charging_station() -> tuple[Harness, DemandResponseLimits]:
    h = Harness(start=T0)
    h.boot()
    h.start_charging()
    return h, DemandResponseLimits(h.station, random.Random(7))


# --------------------------------------------------------------------------- the limit source


def test_levels_map_to_a_limit_or_a_pause() -> None:
    h, dr = charging_station()
    dr.add_event(DrEvent("e1", (
        DrInterval(at(60), at(120), 1),
        DrInterval(at(120), at(180), 2),
        DrInterval(at(180), at(240), 3),
    )))
    assert h.station.arbiter.decision.offered_a == 32.0  # not started yet
    h.clock.run_until(T0 + 60)
    assert h.station.arbiter.decision.offered_a == 16.0
    assert h.station.snapshot().limit_source == "demand_response"
    h.clock.run_until(T0 + 120)
    assert h.station.arbiter.decision.offered_a == 6.0
    h.clock.run_until(T0 + 180)
    snap = h.station.snapshot()
    assert snap.status is ChargerStatus.SUSPENDED_EVSE
    assert "demand response event e1 (OpenADR, special): paused" in snap.limit_reason


def test_resume_after_the_event_is_randomized_in_the_cold_load_range() -> None:
    delays = []
    for seed in range(5):
        h = Harness(start=T0)
        h.boot()
        dr = DemandResponseLimits(h.station, random.Random(seed))
        dr.add_event(event("e", 0, 600, 3))
        h.clock.run_until(T0 + 600)
        limit = h.station.arbiter.limit("demand_response")
        assert limit is not None and limit.amps == 0 and "resuming in" in limit.reason
        assert dr.resume_at is not None
        delays.append(dr.resume_at - (T0 + 600))
        h.clock.run_until(dr.resume_at)
        limit = h.station.arbiter.limit("demand_response")
        assert limit is not None and limit.amps is None
    assert all(120 <= d <= 720 for d in delays)
    assert len(set(delays)) == 5  # every charger waits a different time


def test_opt_out_ignores_events_and_cuts_the_resume_delay() -> None:
    h, dr = charging_station()
    dr.set_opt_out(True)
    dr.add_event(event("e", 0, 600, 3))
    limit = h.station.arbiter.limit("demand_response")
    assert limit is not None and limit.amps is None and "opted out by the homeowner" in limit.reason
    dr.set_opt_out(False)
    assert h.station.arbiter.decision.offered_a == 0
    h.clock.run_until(T0 + 600)
    assert dr.resume_at is not None
    dr.set_opt_out(True)  # the homeowner does not want to wait
    assert dr.resume_at is None and h.station.arbiter.decision.offered_a == 32.0


def test_cancelled_event_also_resumes_after_a_delay() -> None:
    h, dr = charging_station()
    dr.add_event(event("e", 0, 3600, 2))
    h.clock.advance(300)
    dr.cancel_event("e")
    assert dr.resume_at is not None and h.station.arbiter.decision.offered_a == 0


def test_twin_event_form_and_its_errors() -> None:
    ev = event_from_dict(
        {"id": "ha-1", "start": "2026-01-05T18:00:00-08:00", "end": "2026-01-05T19:00:00-08:00", "level": 2}
    )
    assert ev.origin == "twin" and ev.end - ev.start == timedelta(hours=1)
    with pytest.raises(DemandResponseError, match="needs 'level' or 'limit_a'"):
        event_from_dict({"id": "x", "start": "2026-01-05T18:00:00-08:00", "end": "2026-01-05T19:00:00-08:00"})
    with pytest.raises(DemandResponseError, match=r"event.start: '18:00'"):
        event_from_dict({"id": "x", "start": "18:00", "end": "2026-01-05T19:00:00-08:00", "level": 1})
    with pytest.raises(DemandResponseError, match="not after start"):
        event_from_dict({"id": "x", "start": "2026-01-05T19:00:00-08:00", "end": "2026-01-05T18:00:00-08:00", "level": 1})
    with pytest.raises(DemandResponseError, match="level must be a number"):
        event_from_dict({"id": "x", "start": "2026-01-05T18:00:00-08:00", "end": "2026-01-05T19:00:00-08:00", "level": "high"})


def test_openadr_event_dict_with_sequential_intervals() -> None:
    start = at(0)
    parsed = event_from_openadr({
        "event_descriptor": {"event_id": "ev", "event_status": "far", "modification_number": 0},
        "active_period": {"dtstart": start, "duration": timedelta(hours=1)},
        "event_signals": [
            {"signal_name": "simple", "signal_type": "level", "intervals": [
                {"duration": timedelta(minutes=30), "signal_payload": 1.0},
                {"duration": timedelta(minutes=30), "signal_payload": 3.0},
            ]},
            {"signal_name": "ELECTRICITY_PRICE", "signal_type": "price", "intervals": [
                {"duration": timedelta(hours=1), "signal_payload": 0.3},
            ]},
        ],
    })
    assert parsed is not None
    assert [(i.start, i.end, i.level) for i in parsed.intervals] == [
        (start, start + timedelta(minutes=30), 1.0),
        (start + timedelta(minutes=30), start + timedelta(hours=1), 3.0),
    ]


def test_dr_is_wired_to_the_scenario_virtual_clock(tmp_path: Path) -> None:
    clock = VirtualClock(T0)
    h = Harness(storage=Storage(tmp_path / "mq.db"), clock=clock)
    h.boot()
    parts = attach(h.station, rng=random.Random(1), dr_resume_delay_s=(30, 30))
    parts.demand_response.add_event(event("v", 10, 20, 3))
    clock.run_until(T0 + 10)
    assert h.station.arbiter.decision.binding is not None
    assert h.station.arbiter.decision.binding.source == "demand_response"
    clock.run_until(T0 + 50)
    assert h.station.arbiter.limit("demand_response").amps is None  # type: ignore[union-attr]
    parts.close()


# --------------------------------------------------------------------------- a real VTN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChangeWaiter:
    """Futures that complete the first time a condition holds after a DR change."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def until(self, check: Callable[[], bool]) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self._loop.create_future()
        self._pending.append((check, fut))
        self.changed()
        return fut

    def changed(self) -> None:
        for check, fut in self._pending:
            if not fut.done() and check():
                fut.set_result(None)


async def test_ven_against_a_real_openleadr_vtn(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    port = free_port()
    server = OpenADRServer(
        vtn_id="UTILITY-VTN", http_host="127.0.0.1", http_port=port,
        requested_poll_freq=timedelta(seconds=1), show_fingerprint=False,
    )
    registered: list[str] = []
    report_values: asyncio.Future[list[Any]] = loop.create_future()

    async def on_create_party_registration(info: dict[str, Any]) -> tuple[str, str]:
        registered.append(info["ven_name"])
        return "VEN-MQ200", "REG-1"

    async def on_register_report(ven_id: str, resource_id: str, measurement: str, unit: str,
                                 scale: str, min_sampling_interval: timedelta,
                                 max_sampling_interval: timedelta) -> Any:
        async def receive(data: list[Any]) -> None:
            if not report_values.done():
                report_values.set_result(data)
        return receive, min_sampling_interval

    server.add_handler("on_create_party_registration", on_create_party_registration)
    server.add_handler("on_register_report", on_register_report)
    await server.run_async()

    h = Harness(storage=Storage(tmp_path / "mq.db"), clock=AsyncioClock())  # type: ignore[arg-type]
    h.boot()
    h.start_charging()
    parts = attach(h.station, rng=random.Random(3), dr_resume_delay_s=(0.05, 0.2))
    waiter = ChangeWaiter(loop)
    parts.demand_response.on_change(waiter.changed)
    try:
        ven = await parts.start_ven(VenConfig(
            vtn_url=f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b", ven_name="mq200-garage",
            report_sampling_s=1.0,
        ))
        assert registered == ["mq200-garage"] and ven.registered

        answer: asyncio.Future[str] = loop.create_future()
        limited = waiter.until(lambda: h.station.arbiter.decision.offered_a == 6.0)
        event_id = server.add_event(
            ven_id="VEN-MQ200", signal_name="simple", signal_type="level",
            intervals=[{"dtstart": datetime.now(UTC), "duration": timedelta(minutes=10),
                        "signal_payload": 2.0}],
            callback=lambda ven_id, event_id, opt_type: answer.set_result(opt_type),
        )
        assert await asyncio.wait_for(answer, 10) == "optIn"
        await asyncio.wait_for(limited, 10)
        assert h.station.snapshot().limit_source == "demand_response"
        assert f"demand response event {event_id} (OpenADR, high)" in h.station.snapshot().limit_reason

        # the VEN reports the charger's power to the VTN
        data = await asyncio.wait_for(report_values, 10)
        assert data and data[0][1] == pytest.approx(h.station.snapshot().power_w)

        # the homeowner opts out: the limit goes and the VTN hears optOut for that event
        second: asyncio.Future[str] = loop.create_future()
        server.event_callbacks[event_id] = (
            None, lambda ven_id, event_id, opt_type: second.set_result(opt_type)
        )
        parts.set_dr_opt_out(True)
        assert h.station.arbiter.decision.offered_a == 32.0
        assert await asyncio.wait_for(second, 10) == "optOut"

        # opted back in; the utility cancels: resume after the randomized delay
        parts.set_dr_opt_out(False)
        assert h.station.arbiter.decision.offered_a == 6.0
        delayed = waiter.until(lambda: parts.demand_response.resume_at is not None)
        resumed = waiter.until(
            lambda: parts.demand_response.resume_at is None
            and h.station.arbiter.decision.offered_a == 32.0
        )
        server.cancel_event("VEN-MQ200", event_id)
        await asyncio.wait_for(delayed, 10)
        await asyncio.wait_for(resumed, 10)
        assert not parts.demand_response.events
    finally:
        await parts.stop_ven()
        parts.close()
        await server.stop()


def test_twin_event_with_an_explicit_current() -> None:
    event = event_from_dict({"id": "ha-2", "start": "2026-01-05T18:00:00-08:00",
                             "end": "2026-01-05T19:00:00-08:00", "limit_a": 12})
    assert event.intervals[0].limit_a == 12
    with pytest.raises(DemandResponseError, match="limit_a must be 0…80 A"):
        event_from_dict({"id": "x", "start": "2026-01-05T18:00:00-08:00",
                         "end": "2026-01-05T19:00:00-08:00", "limit_a": 99})
