"""Charge windows: semantics, the clock-driven APScheduler job store, restore after a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from controller.charging.status import ChargerStatus
from controller.clock import VirtualClock
from controller.scheduling.clock_scheduler import ClockScheduler, JobFire
from controller.scheduling.schedules import ScheduleError
from controller.scheduling.wiring import SchedulingParts, attach
from controller.settings import StationSettings
from controller.storage import Storage
from controller.twin_bridge import TwinBridge
from tests.station_harness import Harness
from twin.device_link import EmbeddedDeviceLink
from twin.documents import DocumentError
from twin.service import TwinService
from twin.store import TwinStore

LA = ZoneInfo("America/Los_Angeles")
MONDAY_18 = datetime(2026, 1, 5, 18, tzinfo=LA).timestamp()
NIGHT: dict[str, Any] = {"id": "night", "start": "23:00", "end": "06:30", "days": ["mon", "tue", "wed", "thu", "fri"]}


def la(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=LA).timestamp()


def boot(db: Path, clock: VirtualClock) -> tuple[Harness, SchedulingParts]:
    h = Harness(storage=Storage(db), clock=clock)
    h.boot()
    return h, attach(h.station)


def shutdown(h: Harness, parts: SchedulingParts) -> None:
    parts.close()
    h.storage.close()


# --------------------------------------------------------------------------- clock scheduler


def test_clock_scheduler_fires_cron_on_the_virtual_clock_across_dst(tmp_path: Path) -> None:
    clock = VirtualClock(la(2026, 3, 7, 12))
    store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.db'}")
    sched = ClockScheduler(clock, store, LA, owns_store=True)
    fired: list[JobFire] = []
    sched.on("t", fired.append)
    sched.add("daily", "t", CronTrigger(hour=2, minute=30, timezone=LA), {"n": 1})
    sched.start()
    clock.run_until(la(2026, 3, 10, 0))
    # 02:30 does not exist on Sunday 8 March: it fires at 10:30 UTC (= 03:30 PDT), the same
    # instant the hours and windows read that wall time as; on Monday at 02:30 PDT (09:30 UTC)
    assert [f.fire_time.astimezone(UTC).strftime("%d %H:%M") for f in fired] == ["08 10:30", "09 09:30"]
    assert all(f.payload == {"n": 1} and f.missed == 0 for f in fired)
    sched.close()


def test_missed_fires_while_off_fire_once_on_start(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    clock = VirtualClock(la(2026, 1, 5, 0))
    sched = ClockScheduler(clock, SQLAlchemyJobStore(url=f"sqlite:///{db}"), LA, owns_store=True)
    # an interval trigger's default start is the wall clock: give it the injected clock's now
    start = datetime.fromtimestamp(clock.now(), tz=UTC)
    sched.add("tick", "t", IntervalTrigger(hours=1, start_date=start, timezone=LA), {})
    sched.close()  # the daemon stops
    clock.advance(5 * 3600 + 60)  # six fires (00:00 … 05:00) pass while nothing runs
    again = ClockScheduler(clock, SQLAlchemyJobStore(url=f"sqlite:///{db}"), LA, owns_store=True)
    fired: list[JobFire] = []
    again.on("t", fired.append)
    again.start()
    clock.advance(1)
    assert len(fired) == 1 and fired[0].missed == 5
    nxt = again.next_fire("tick")
    assert nxt is not None and nxt.timestamp() == la(2026, 1, 5, 6)
    again.close()


def test_date_job_is_removed_from_the_store_after_it_fired(tmp_path: Path) -> None:
    clock = VirtualClock(la(2026, 1, 5, 0))
    sched = ClockScheduler(clock, SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'j.db'}"), LA, True)
    fired: list[JobFire] = []
    sched.on("once", fired.append)
    when = datetime(2026, 1, 5, 1, tzinfo=LA)
    sched.add("once", "once", DateTrigger(run_date=when), {})
    # a date already past fires once, at once (like a fire missed while off)
    sched.add("past", "once", DateTrigger(run_date=datetime(2020, 1, 1, tzinfo=UTC)), {})
    clock.advance(0)
    assert [f.job_id for f in fired] == ["past"]
    clock.advance(7200)
    assert [f.job_id for f in fired] == ["past", "once"] and sched.jobs() == []
    sched.close()


# --------------------------------------------------------------------------- windows as a limit


def test_outside_windows_pauses_and_inside_allows(tmp_path: Path) -> None:
    clock = VirtualClock(MONDAY_18)
    h, parts = boot(tmp_path / "mq.db", clock)
    parts.windows.set_windows([NIGHT])
    h.start_charging()
    snap = h.station.snapshot()
    assert snap.status is ChargerStatus.SUSPENDED_EVSE
    assert snap.limit_source == "schedule"
    assert snap.limit_reason == "outside the charge windows; next window Mon 23:00"
    assert parts.schedule.next_start is not None
    clock.run_until(la(2026, 1, 5, 23))
    h.meter(240.0, 32.0)
    snap = h.station.snapshot()
    assert snap.status is ChargerStatus.CHARGING
    sched_limit = h.station.arbiter.limit("schedule")
    assert sched_limit is not None and sched_limit.reason == "inside charge window 'night' until Tue 06:30"
    clock.run_until(la(2026, 1, 6, 6, 30))
    assert h.station.snapshot().status is ChargerStatus.SUSPENDED_EVSE
    shutdown(h, parts)


def test_schedule_never_overrides_a_user_pause_or_the_hours(tmp_path: Path) -> None:
    clock = VirtualClock(la(2026, 1, 5, 23, 30))
    h, parts = boot(tmp_path / "mq.db", clock)
    parts.windows.set_windows([NIGHT])
    h.start_charging()
    assert h.station.arbiter.decision.offered_a == 32.0
    h.station.arbiter.set_limit("user", 0, "paused by the user")
    assert h.station.snapshot().status is ChargerStatus.SUSPENDED_EVSE
    assert h.station.snapshot().limit_source == "user"
    h.station.arbiter.set_limit("user", None, "no user limit")
    h.station.apply_settings({"hours_of_operation": {"mon": ["0800", "2300"]}})
    assert h.station.snapshot().limit_source == "hours"
    shutdown(h, parts)


def test_no_enabled_window_means_no_restriction(tmp_path: Path) -> None:
    clock = VirtualClock(MONDAY_18)
    h, parts = boot(tmp_path / "mq.db", clock)
    parts.windows.set_windows([NIGHT | {"enabled": False}])
    limit = h.station.arbiter.limit("schedule")
    assert limit is not None and limit.amps is None and limit.reason == "no charge schedule"
    assert len(parts.windows.windows) == 1  # kept, but not in force
    shutdown(h, parts)


def test_bad_windows_are_refused_and_the_old_ones_stay(tmp_path: Path) -> None:
    clock = VirtualClock(MONDAY_18)
    h, parts = boot(tmp_path / "mq.db", clock)
    parts.windows.set_windows([NIGHT])
    with pytest.raises(ScheduleError, match=r"schedules.1.days.0"):
        parts.windows.set_windows([NIGHT | {"id": "a"}, NIGHT | {"id": "b", "days": ["mox"]}])
    with pytest.raises(ScheduleError, match="duplicate window id 'night'"):
        parts.windows.set_windows([NIGHT, NIGHT])
    assert [w.id for w in parts.windows.windows] == ["night"]
    assert len(parts.scheduler.jobs("charge_window")) == 2
    shutdown(h, parts)


def test_windows_persist_and_are_restored_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "mq.db"
    clock = VirtualClock(MONDAY_18)
    h, parts = boot(db, clock)
    trip = {"id": "trip", "start": "2026-01-07T10:00:00-08:00", "end": "2026-01-07T12:00:00-08:00"}
    parts.windows.set_windows([NIGHT, trip, NIGHT | {"id": "off", "enabled": False}])
    shutdown(h, parts)
    # the controller is off over the start of the night window
    clock.run_until(la(2026, 1, 5, 23, 15))
    h2, parts2 = boot(db, clock)
    assert [w.id for w in parts2.windows.windows] == ["night", "trip", "off"]
    clock.advance(0)
    limit = h2.station.arbiter.limit("schedule")
    assert limit is not None and limit.amps is None and "'night'" in limit.reason
    # the one-off window fires on the clock and disappears from the store after its end
    clock.run_until(la(2026, 1, 7, 10, 30))
    limit = h2.station.arbiter.limit("schedule")
    assert limit is not None and "'trip'" in limit.reason
    clock.run_until(la(2026, 1, 7, 12, 1))
    assert [w.id for w in parts2.windows.windows] == ["night", "off"]
    assert not [j for j in parts2.scheduler.jobs() if ":trip:" in j.id]
    shutdown(h2, parts2)
    h3, parts3 = boot(db, clock)
    assert [w.id for w in parts3.windows.windows] == ["night", "off"]
    shutdown(h3, parts3)


def test_schedules_through_the_twin_desired_state(tmp_path: Path) -> None:
    clock = VirtualClock(MONDAY_18)
    h = Harness(storage=Storage(tmp_path / "mq.db"), clock=clock,
                settings=StationSettings(local_list=["ABCD1234"]))
    h.boot()
    service = TwinService(TwinStore(tmp_path / "twin.db"), "MQ200-S", clock)
    bridge = TwinBridge(h.station, EmbeddedDeviceLink(service), {"serial": "MQ200-S"})
    parts = attach(h.station, bridge)
    bridge.start()
    service.set_desired({"schedules": [NIGHT]}, actor="test")
    reported: dict[str, Any] = service.state().reported
    assert reported["desired_status"]["schedules"]["state"] == "applied"
    assert reported["limit_reason"] == "outside the charge windows; next window Mon 23:00"
    assert reported["schedule"]["windows"] == 1
    assert reported["next_start"] == "2026-01-06T07:00:00+00:00"
    # the twin refuses a malformed list itself; nothing reaches the controller
    with pytest.raises(DocumentError, match="unique"):
        service.set_desired({"schedules": [NIGHT, NIGHT]}, actor="test")
    assert [w.id for w in parts.windows.windows] == ["night"]
    service.set_desired({"schedules": None}, actor="test")
    assert service.state().reported["limit_reason"] != "outside the charge windows; next window Mon 23:00"
    limit = h.station.arbiter.limit("schedule")
    assert limit is not None and limit.amps is None
    parts.close()
