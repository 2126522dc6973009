"""One order of precedence across every limit source, and the binding reason in the twin."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from controller.charging.arbiter import PRECEDENCE
from controller.charging.status import ChargerStatus
from controller.clock import VirtualClock
from controller.demand_response.limits import DrEvent, DrInterval
from controller.hal.messages import GroundMonitor
from controller.scheduling.wiring import SchedulingParts, attach
from controller.settings import StationSettings
from controller.storage import Storage
from controller.twin_bridge import TwinBridge
from tests.station_harness import Harness
from twin.device_link import EmbeddedDeviceLink
from twin.service import TwinService
from twin.store import TwinStore

LA = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 1, 5, 18, tzinfo=LA).timestamp()  # Monday 18:00


def test_documented_order() -> None:
    # docs/limits.md: safety and faults; demand response; load management; OCPP charging
    # profiles; hours of operation; the user's schedule and goals; the user's pause/resume
    order = [s for s in PRECEDENCE if s in (
        "fault", "demand_response", "load_management", "ocpp", "hours", "schedule", "user")]
    assert order == ["fault", "demand_response", "load_management", "ocpp", "hours", "schedule", "user"]
    assert PRECEDENCE.index("dip") < PRECEDENCE.index("demand_response")
    assert PRECEDENCE.index("cold_load") < PRECEDENCE.index("demand_response")


def setup(tmp_path: Path) -> tuple[Harness, SchedulingParts, TwinService]:
    clock = VirtualClock(T0)
    h = Harness(storage=Storage(tmp_path / "mq.db"), clock=clock,
                settings=StationSettings(local_list=["ABCD1234"]))
    h.boot()
    service = TwinService(TwinStore(tmp_path / "twin.db"), "MQ200-L", clock)
    bridge = TwinBridge(h.station, EmbeddedDeviceLink(service), {"serial": "MQ200-L"})
    parts = attach(h.station, bridge, rng=random.Random(1), dr_resume_delay_s=(60, 60))
    bridge.start()
    h.start_charging()
    return h, parts, service


def binding(h: Harness, service: TwinService) -> tuple[str | None, str]:
    snap = h.station.snapshot()
    reported = service.state().reported
    assert reported["limit_reason"] == snap.limit_reason  # always visible in the twin
    assert reported["status"] == snap.status.value
    return snap.limit_source, snap.limit_reason


def test_walk_through_every_source_with_the_binding_reason(tmp_path: Path) -> None:
    h, parts, service = setup(tmp_path)
    arbiter = h.station.arbiter
    assert binding(h, service)[0] == "dip" and arbiter.decision.offered_a == 32.0

    # every source pauses at once; each one released in turn hands over to the next
    service.set_desired({"charging_enabled": False}, actor="app")
    parts.windows.set_windows([{"id": "night", "start": "23:00", "end": "06:00", "days": ["mon"]}])
    h.station.apply_settings({"hours_of_operation": {"mon": ["2000", "2359"]}})
    arbiter.set_limit("ocpp", 0, "OCPP charging profile")  # as the OCPP charge point does
    arbiter.set_limit("load_management", 0, "load management: no current left on the site")
    now = datetime.fromtimestamp(h.clock.now(), tz=UTC)
    end = datetime.fromtimestamp(h.clock.now() + 7200, tz=UTC)
    parts.demand_response.add_event(DrEvent("grid-1", (DrInterval(now, end, 3),)))
    h.station.handle_board_event(GroundMonitor(present=False))

    expected = [
        ("fault", "fault: no ground"),
        ("demand_response", "demand response event grid-1 (OpenADR, special): paused"),
        ("load_management", "load management: no current left on the site"),
        ("ocpp", "OCPP charging profile"),
        ("hours", "outside hours of operation (station settings); opens Mon 20:00"),
        ("schedule", "outside the charge windows; next window Mon 23:00"),
        ("user", "paused by the user"),
    ]
    releases: list[Callable[[], object]] = [
        lambda: h.station.handle_board_event(GroundMonitor(present=True)),
        lambda: parts.set_dr_opt_out(True),  # opted out: DR no longer limits
        lambda: arbiter.set_limit("load_management", None, "load management: no limit"),
        lambda: arbiter.set_limit("ocpp", None, "no OCPP charging profile"),
        lambda: h.station.apply_settings({"hours_of_operation": {"mon": ["0000", "2359"]}}),
        lambda: parts.windows.set_windows(None),
        lambda: service.set_desired({"charging_enabled": True}, actor="app"),
    ]
    for (source, reason), release in zip(expected, releases, strict=True):
        got_source, got_reason = binding(h, service)
        assert got_source == source
        assert got_reason.startswith(reason), (got_reason, reason)
        assert h.station.snapshot().status in (ChargerStatus.SUSPENDED_EVSE, ChargerStatus.FAULTED)
        assert not h.port.contactor
        release()
    h.meter(240.0, 32.0)
    assert binding(h, service)[0] == "dip"
    assert h.station.snapshot().status is ChargerStatus.CHARGING
    parts.close()


def test_the_lowest_current_binds_whatever_its_rank(tmp_path: Path) -> None:
    h, parts, service = setup(tmp_path)
    now = datetime.fromtimestamp(h.clock.now(), tz=UTC)
    end = datetime.fromtimestamp(h.clock.now() + 3600, tz=UTC)
    parts.demand_response.add_event(DrEvent("m", (DrInterval(now, end, 1),)))  # 16 A
    assert binding(h, service)[0] == "demand_response" and h.station.arbiter.decision.offered_a == 16
    service.set_desired({"current_limit_a": 10}, actor="app")  # the user asks for less
    assert binding(h, service) == ("user", "current limit 10 A set by the user")
    assert h.station.arbiter.decision.offered_a == 10
    # a schedule inside its window allows; it never raises the current above the user's 10 A
    parts.windows.set_windows([{"id": "eve", "start": "17:00", "end": "22:00", "days": ["mon"]}])
    assert h.station.arbiter.decision.offered_a == 10
    parts.close()


def test_schedule_reason_and_next_start_are_in_the_twin(tmp_path: Path) -> None:
    h, parts, service = setup(tmp_path)
    parts.windows.set_windows([{"id": "night", "start": "23:00", "end": "06:00", "days": ["mon"]}])
    reported: dict[str, Any] = service.state().reported
    assert reported["limit_reason"] == "outside the charge windows; next window Mon 23:00"
    assert reported["next_start"] == "2026-01-06T07:00:00+00:00"
    limits = {lim["source"]: lim for lim in reported["limits"]}
    assert limits["schedule"]["paused"] is True
    parts.close()


def test_desired_keys_owned_by_scheduling_get_a_verdict(tmp_path: Path) -> None:
    h, parts, service = setup(tmp_path)
    now = datetime.fromtimestamp(h.clock.now(), tz=UTC)
    end = datetime.fromtimestamp(h.clock.now() + 3600, tz=UTC)
    parts.demand_response.add_event(DrEvent("g", (DrInterval(now, end, 3),)))
    service.set_desired({"dr_opt_out": True}, actor="home-assistant")
    assert h.station.snapshot().limit_source != "demand_response"
    service.set_desired({
        "prices": [{"start": now.isoformat(), "end": end.isoformat(), "price_per_kwh": 0.05}],
        # the station does not know the EV's state of charge: refused, with the reason
        "departure_goal": {"ready_by": end.isoformat(), "target_soc_pct": 80, "battery_kwh": 60},
    }, actor="home-assistant")
    status: dict[str, Any] = service.state().reported["desired_status"]  # type: ignore[assignment]
    assert status["dr_opt_out"]["state"] == "applied"
    assert status["prices"]["state"] == "applied"
    assert status["departure_goal"]["state"] == "rejected"
    assert "state of charge is not known" in status["departure_goal"]["reason"]
    assert parts.prices.price_at(now) == 0.05
    service.set_desired({"departure_goal": {"energy_wh": 2000, "target_soc_pct": None,
                                            "battery_kwh": None}}, actor="app")  # a merge patch
    reported: dict[str, Any] = service.state().reported
    assert reported["desired_status"]["departure_goal"]["state"] == "applied"
    assert reported["schedule"]["goal"]["feasible"] is True
    parts.close()
