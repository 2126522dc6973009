"""`mq200 simulate` scheduling events: tariff, schedule, goal, dr, hours, pricing; cost in the summary."""

from __future__ import annotations

from typing import Any

import pytest

from twin.scenario.model import ScenarioError, parse_scenario
from twin.scenario.runner import run_scenario

TOU: dict[str, Any] = {
    "type": "time_of_use",
    "timezone": "America/Los_Angeles",
    "seasons": [{
        "name": "all",
        "base_price_per_kwh": 0.30,
        "periods": [
            {"name": "night", "days": ["all"], "start": "23:00", "end": "06:00", "price_per_kwh": 0.12},
        ],
    }],
}
H = 3600.0


def scenario(events: list[dict[str, Any]], duration_s: float = 14 * H, **ev: Any) -> dict[str, Any]:
    return {
        "start": "2026-01-05T18:00:00-08:00",  # Monday
        "duration_s": duration_s,
        "seed": 4,
        "sample_s": 300,
        "chargers": [{"id": "cp1", "dip_a": 32, "local_list": ["ABCD1234"]}],
        "evs": [{"id": "ev1", "charger": "cp1", "battery_kwh": 75, "soc": 0.2, "max_a": 32,
                 "arrive_s": 0, "tag": "ABCD1234"} | ev],
        "events": events,
    }


def run(data: dict[str, Any]) -> dict[str, Any]:
    return run_scenario(parse_scenario(data))


def charging_times(timeline: dict[str, Any]) -> list[float]:
    return [s["t_s"] for s in timeline["samples"] if s["status"] == "Charging"]


def test_schedule_window_and_tariff_cost() -> None:
    timeline = run(scenario([
        {"at_s": 0, "type": "tariff", "tariff": TOU},
        {"at_s": 0, "type": "schedule", "charger": "cp1",
         "windows": [{"id": "night", "start": "23:00", "end": "06:00", "days": ["mon"]}]},
    ]))
    times = charging_times(timeline)
    assert times and min(times) >= 5 * H and max(times) <= 12 * H
    waiting = [s for s in timeline["samples"] if 60 < s["t_s"] < 5 * H]
    assert waiting and all(s["status"] == "SuspendedEVSE" for s in waiting)
    assert waiting[-1]["limit_reason"] == "outside the charge windows; next window Mon 23:00"
    summary = timeline["summary"]["chargers"]["cp1"]
    assert summary["energy_wh"] > 40000
    assert summary["energy_cost"] == pytest.approx(summary["energy_wh"] / 1000 * 0.12, rel=0.01)
    assert summary["cost"] == 0.0  # no session pricing configured
    assert [e["type"] for e in timeline["events"] if e["type"] in ("tariff", "schedule")] == ["tariff", "schedule"]


def test_departure_goal_charges_in_the_cheap_night_and_meets_the_goal() -> None:
    timeline = run(scenario([
        {"at_s": 0, "type": "tariff", "tariff": TOU},
        {"at_s": 0, "type": "goal", "charger": "cp1", "ready_by_s": 13.5 * H, "energy_wh": 20000},
    ], duration_s=13.5 * H))
    goal_log = next(e for e in timeline["events"] if e["type"] == "goal")
    assert goal_log["feasible"] is True
    times = charging_times(timeline)
    assert times and min(times) >= 5 * H  # nothing before the 0.12 night
    summary = timeline["summary"]["chargers"]["cp1"]
    assert 20000 <= summary["energy_wh"] <= 22000  # the goal plus the 5 % margin
    assert summary["energy_cost"] == pytest.approx(summary["energy_wh"] / 1000 * 0.12, rel=0.02)


def test_soc_goal_uses_the_ev_state_of_charge() -> None:
    timeline = run(scenario([
        {"at_s": 0, "type": "goal", "charger": "cp1", "ready_by_s": 10 * H,
         "target_soc_pct": 40, "battery_kwh": 75},
    ], duration_s=10 * H))
    final = timeline["summary"]["evs"]["ev1"]["final_soc"]
    assert 0.4 <= final <= 0.45


def test_dr_event_pauses_then_resumes_after_a_random_delay() -> None:
    timeline = run(scenario([
        {"at_s": 1800, "type": "dr", "end_s": 3600, "level": 3, "id": "peak"},
    ], duration_s=3 * H))
    during = [s for s in timeline["samples"] if 1800 <= s["t_s"] < 3600]
    assert during and all(s["status"] == "SuspendedEVSE" for s in during)
    assert "demand response event peak (scenario, special): paused" in during[-1]["limit_reason"]
    after = [s for s in timeline["samples"] if s["t_s"] >= 3600 and s["status"] == "Charging"]
    restart = after[0]["t_s"] - 3600
    assert 120 <= restart <= 720 + 10


def test_dr_opt_out_keeps_charging() -> None:
    timeline = run(scenario([
        {"at_s": 0, "type": "dr", "opt_out": True},
        {"at_s": 1800, "type": "dr", "end_s": 3600, "level": 3},
    ], duration_s=2 * H))
    during = [s for s in timeline["samples"] if 1800 <= s["t_s"] < 3600]
    assert during and all(s["status"] == "Charging" for s in during)


def test_hours_table_and_central_override() -> None:
    timeline = run(scenario([
        {"at_s": 0, "type": "hours", "charger": "cp1",
         "hours": {"mon": ["2000", "2359"], "tue": ["0000", "0000"]}},
        {"at_s": 3 * H, "type": "hours", "charger": "cp1", "central": True,
         "hours": {"mon": ["2200", "2359"]}},
    ], duration_s=5 * H))
    times = charging_times(timeline)
    # 20:00-21:00 by the settings; from 21:00 the central system's table: open again at 22:00
    assert times and 2 * H <= min(times)
    assert not [t for t in times if 3 * H + 1 < t < 4 * H]
    assert [t for t in times if 4 * H < t <= 5 * H]
    assert any(s["limit_reason"].startswith("outside hours of operation (central system)")
               for s in timeline["samples"])


def test_pricing_gives_the_session_cost_in_the_summary() -> None:
    pricing = {"member_scheme_id": "home", "non_member_scheme_id": "home",
               "schemes": [{"id": "home", "usage": [{"type": "kWh", "interval_rate": 0.2}]}],
               "service_fee": 1.0}
    timeline = run(scenario([{"at_s": 0, "type": "pricing", "charger": "cp1", "pricing": pricing}],
                            duration_s=3 * H, leave_s=2 * H))
    summary = timeline["summary"]["chargers"]["cp1"]
    assert summary["cost"] == pytest.approx(summary["energy_wh"] / 1000 * 0.2 + 1.0, abs=0.02)


def test_windows_survive_a_power_cut() -> None:
    data = scenario([
        {"at_s": 0, "type": "schedule", "charger": "cp1",
         "windows": [{"id": "late", "start": "21:00", "end": "23:00", "days": ["mon"]}]},
        {"at_s": 1800, "type": "power_loss", "restore_at_s": 1900},
    ], duration_s=6 * H)
    data["chargers"][0]["settings"] = {"resume_charge_after_reboot": True}
    timeline = run(data)
    times = charging_times(timeline)
    assert times and min(times) >= 3 * H and max(times) <= 5 * H


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"type": "schedule", "charger": "cp1", "windows": [{"id": "x", "start": "25:00", "end": "01:00", "days": ["mon"]}]},
         "events[0].windows.0.start"),
        ({"type": "dr", "level": 2}, "needs end_s"),
        ({"type": "dr", "level": 2, "end_s": 5, "at_s": 10}, "events[0].end_s: must come after at_s"),
        ({"type": "goal", "charger": "cp1", "ready_by_s": 100}, "exactly one of energy_wh or target_soc_pct"),
        ({"type": "tariff", "tariff": {"type": "flat"}}, "events[0].tariff: type: unknown tariff type"),
        ({"type": "hours", "charger": "cp1", "hours": {"mon": ["9", "10"]}}, "events[0].hours: mon"),
        ({"type": "pricing", "charger": "cp1", "pricing": {"tax_rate_pct": -1}}, "events[0].pricing.tax_rate_pct"),
        ({"type": "schedule", "charger": "cp9", "windows": []}, "events[0].charger: no charger 'cp9'"),
    ],
)
def test_bad_scheduling_events_are_refused_with_their_path(event: dict[str, Any], problem: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(scenario([{"at_s": 0} | event]))
    assert any(problem in p for p in err.value.problems), err.value.problems
