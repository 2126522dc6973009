"""Departure goals: cheapest slots, latest on ties, margins, infeasible goals, re-planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.charging.status import ChargerStatus
from controller.clock import VirtualClock
from controller.scheduling.goals import GoalConfig, GoalError
from controller.scheduling.planner import ChargingPlan
from controller.scheduling.wiring import SchedulingParts, attach
from controller.storage import Storage
from tests.station_harness import Harness

LA = ZoneInfo("America/Los_Angeles")
TOU: dict[str, Any] = {
    "type": "time_of_use",
    "timezone": "America/Los_Angeles",
    "seasons": [{
        "name": "all",
        "base_price_per_kwh": 0.30,
        "periods": [
            {"name": "peak", "days": ["all"], "start": "16:00", "end": "21:00", "price_per_kwh": 0.55},
            {"name": "night", "days": ["all"], "start": "23:00", "end": "06:00", "price_per_kwh": 0.12},
        ],
    }],
}
SLOT_KWH = 7.68 * 0.25  # 32 A × 240 V for 15 min


def la(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=LA)


def boot(tmp_path: Path, clock: VirtualClock | None = None, **kw: Any) -> tuple[Harness, SchedulingParts]:
    clock = clock or VirtualClock(la(2026, 1, 5, 18).timestamp())
    h = Harness(storage=Storage(tmp_path / "mq.db"), clock=clock)
    h.boot()
    return h, attach(h.station, **kw)


def goal(ready_by: datetime, **target: Any) -> dict[str, Any]:
    return {"ready_by": ready_by.isoformat(), **target}


def test_goal_picks_the_cheap_night_as_late_as_possible(tmp_path: Path) -> None:
    h, parts = boot(tmp_path)
    parts.prices.set_base(TOU)
    h.start_charging()
    parts.goals.set_goal(goal(la(2026, 1, 6, 7, 30), energy_wh=20000))
    plan = parts.goals.plan
    assert plan is not None and plan.feasible
    assert plan.target_energy_wh == pytest.approx(21000)  # 5 % margin
    windows = parts.goals.windows()
    # all energy in the 0.12 night, ending at 06:00 (the cheap period's end), not earlier
    assert windows[-1].end == la(2026, 1, 6, 6).astimezone(UTC)
    assert all(w.start >= la(2026, 1, 5, 23).astimezone(UTC) for w in windows)
    assert plan.cost == pytest.approx(21 * 0.12)
    snap = h.station.snapshot()
    assert snap.status is ChargerStatus.SUSPENDED_EVSE and snap.limit_source == "schedule"
    assert snap.limit_reason.startswith("departure goal: waiting for the cheapest slot at Tue 03:15")
    assert parts.schedule.next_start == windows[0].start
    # at the slot the schedule lets the station charge
    h.clock.run_until(windows[-1].start.timestamp() + 60)
    h.meter(240.0, 32.0)
    assert h.station.snapshot().status is ChargerStatus.CHARGING
    parts.close()


def test_equal_prices_charge_as_late_as_possible_with_the_time_margin(tmp_path: Path) -> None:
    h, parts = boot(tmp_path, goal_config=GoalConfig(finish_before=timedelta(minutes=30),
                                                     extra_energy_fraction=0.0))
    parts.goals.set_goal(goal(la(2026, 1, 6, 7, 30), energy_wh=SLOT_KWH * 4 * 1000))
    windows = parts.goals.windows()
    assert len(windows) == 1
    assert windows[0].start == la(2026, 1, 6, 6).astimezone(UTC)
    assert windows[0].end == la(2026, 1, 6, 7).astimezone(UTC)  # 30 min before departure
    parts.close()


def test_unreachable_goal_is_said_at_once_and_charges_flat_out(tmp_path: Path) -> None:
    h, parts = boot(tmp_path)
    told: list[ChargingPlan] = []
    parts.goals.on_infeasible(told.append)
    h.start_charging()
    parts.goals.set_goal(goal(la(2026, 1, 5, 22), energy_wh=60000))
    plan = parts.goals.plan
    assert plan is not None and not plan.feasible and told == [plan]
    assert plan.earliest_completion is not None and plan.earliest_completion > la(2026, 1, 5, 22)
    limit = h.station.arbiter.limit("schedule")
    assert limit is not None and limit.amps is None
    assert "cannot be met, charging flat out" in limit.reason
    summary = parts.goals.summary()
    assert summary is not None and summary["feasible"] is False
    assert "infeasible" in summary["verdict"] and "earliest completion" in summary["verdict"]
    parts.close()


def test_hours_of_operation_and_windows_shape_the_plan(tmp_path: Path) -> None:
    h, parts = boot(tmp_path)
    parts.prices.set_base(TOU)
    # the night is cheap but the station closes at 04:00 and the user's window starts 01:00
    h.station.apply_settings({"hours_of_operation": {"tue": ["0000", "0400"], "mon": ["0000", "2359"]}})
    parts.windows.set_windows([{"id": "n", "start": "01:00", "end": "06:00", "days": ["tue"]}])
    parts.goals.set_goal(goal(la(2026, 1, 6, 7, 30), energy_wh=10000))
    windows = parts.goals.windows()
    assert windows and all(
        la(2026, 1, 6, 1) <= w.start and w.end <= la(2026, 1, 6, 4) for w in windows
    )
    parts.close()


def test_price_push_re_plans(tmp_path: Path) -> None:
    h, parts = boot(tmp_path)
    parts.prices.set_base(TOU)
    parts.goals.set_goal(goal(la(2026, 1, 6, 7, 30), energy_wh=5000))
    before = parts.goals.windows()
    assert before[0].start >= la(2026, 1, 5, 23)
    # Home Assistant pushes a negative-price hour at 19:00
    start = la(2026, 1, 5, 19)
    parts.prices.set_prices([
        {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "price_per_kwh": -0.05},
    ])
    after = parts.goals.windows()
    # all 5.25 kWh (goal + 5 %) fit in the negative hour: its latest slots are used
    assert all(start <= w.start and w.end <= start + timedelta(hours=1) for w in after)
    assert after[-1].end == (start + timedelta(hours=1)).astimezone(UTC)
    assert parts.goals.plan is not None and parts.goals.plan.cost < 0
    parts.close()


def test_delivered_energy_counts_and_the_goal_is_reached(tmp_path: Path) -> None:
    h, parts = boot(tmp_path, goal_config=GoalConfig(extra_energy_fraction=0.0))
    h.start_charging()
    parts.goals.set_goal(goal(la(2026, 1, 5, 20), energy_wh=3000))  # infeasible-free: 2 h left
    start = parts.goals.windows()[0].start
    h.clock.run_until(start.timestamp())
    h.meter(240.0, 32.0)
    h.meter(240.0, 32.0, add_wh=1000)
    assert parts.goals.remaining_wh == pytest.approx(2000)
    h.meter(240.0, 32.0, add_wh=2000)
    parts.goals.replan("test")
    limit = h.station.arbiter.limit("schedule")
    assert limit is not None and limit.amps == 0 and "departure goal reached" in limit.reason
    # at the departure time the goal drops and the schedule no longer limits
    h.clock.run_until(la(2026, 1, 5, 20, 0, 1).timestamp())
    assert parts.goals.goal is None
    limit = h.station.arbiter.limit("schedule")
    assert limit is not None and limit.amps is None
    parts.close()


def test_ev_that_stops_taking_energy_triggers_a_re_plan(tmp_path: Path) -> None:
    h, parts = boot(tmp_path)
    h.start_charging()
    parts.goals.set_goal(goal(la(2026, 1, 5, 21), energy_wh=12000))
    first = parts.goals.plan
    assert first is not None
    start = parts.goals.windows()[0].start
    h.clock.run_until(start.timestamp())
    h.meter(240.0, 32.0)
    assert h.station.snapshot().status is ChargerStatus.CHARGING
    h.clock.advance(600)
    h.meter(240.0, 0.0)  # the EV stops drawing
    assert h.station.snapshot().status is ChargerStatus.SUSPENDED_EV
    assert parts.goals.plan is not None and parts.goals.plan.created_at > first.created_at
    parts.close()


def test_goal_persists_across_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock(la(2026, 1, 5, 18).timestamp())
    h, parts = boot(tmp_path, clock)
    parts.goals.set_goal(goal(la(2026, 1, 6, 7, 30), energy_wh=8000))
    parts.close()
    h.storage.close()
    clock.advance(3600)
    h2, parts2 = boot(tmp_path, clock)
    assert parts2.goals.goal is not None
    assert parts2.goals.goal.ready_by == la(2026, 1, 6, 7, 30)
    assert parts2.goals.plan is not None and parts2.goals.plan.feasible
    parts2.close()


def test_soc_goal_needs_the_state_of_charge(tmp_path: Path) -> None:
    h, parts = boot(tmp_path)
    with pytest.raises(GoalError, match="state of charge is not known"):
        parts.goals.set_goal(goal(la(2026, 1, 6, 7), target_soc_pct=80, battery_kwh=60))
    parts.close()
    h.storage.close()
    h2, parts2 = boot(tmp_path, soc_provider=lambda: 50.0)
    parts2.goals.set_goal(goal(la(2026, 1, 6, 7), target_soc_pct=80, battery_kwh=60))
    assert parts2.goals.goal is not None
    assert parts2.goals.goal.energy_wh == pytest.approx(0.3 * 60000 / 0.9)
    parts2.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"ready_by": "2026-01-06T07:00:00-08:00"}, "exactly one of energy_wh or target_soc_pct"),
        ({"ready_by": "2026-01-05T07:00:00-08:00", "energy_wh": 1000}, "not in the future"),
        ({"ready_by": "tomorrow", "energy_wh": 1000}, "departure_goal.ready_by"),
        ({"ready_by": "2026-01-06T07:00:00-08:00", "energy_wh": -5}, "departure_goal.energy_wh"),
    ],
)
def test_bad_goals_are_refused_with_the_field(tmp_path: Path, value: dict[str, Any], message: str) -> None:
    h, parts = boot(tmp_path)
    with pytest.raises(GoalError, match=message):
        parts.goals.set_goal(value)
    assert parts.goals.goal is None
    parts.close()
