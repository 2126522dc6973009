"""What-if answers of the twin (the model is described in twin/whatif.py and docs/twin-api.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from controller.clock import VirtualClock
from twin.documents import JsonObject
from twin.service import TwinService
from twin.store import TwinStore
from twin.whatif import PriceLookup, WhatIfQuestion, answer, taper_factor

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def ask(
    reported: JsonObject,
    desired: JsonObject,
    now: float,
    question: WhatIfQuestion,
    price: PriceLookup | None = None,
) -> Any:
    """The answer as loosely typed JSON, so tests can index into it."""
    return answer(reported, desired, now, question, price)


def charging(soc: float | None = 20.0, battery_kwh: float | None = 60.0) -> JsonObject:
    ev: JsonObject = {}
    if soc is not None:
        ev["soc_pct"] = soc
    if battery_kwh is not None:
        ev["battery_kwh"] = battery_kwh
    return {"status": "Charging", "power_w": 7200, "voltage_v": 240, "offered_a": 30,
            "session_energy_wh": 0, "ev": ev}


def test_taper_shape() -> None:
    assert taper_factor(50) == 1.0
    assert taper_factor(80) == 1.0
    assert taper_factor(87.5) == pytest.approx(0.625)
    assert taper_factor(95) == pytest.approx(0.25)
    assert taper_factor(99) == pytest.approx(0.25)


def test_time_to_target_soc_constant_power_below_80() -> None:
    a = ask(charging(), {}, NOW, WhatIfQuestion(target_soc_pct=80))
    target = a["target"]
    assert isinstance(target, dict) and target["reachable"] is True
    # 60 % of 60 kWh = 36 kWh into the battery = 40 kWh metered at 90 % → 40000/7200 h
    assert target["seconds"] == pytest.approx(20000, abs=2)
    assert target["energy_wh"] == pytest.approx(40000, abs=2)
    assert a["power_basis"] == "measured"


def test_full_takes_longer_than_linear_because_of_taper() -> None:
    a = ask(charging(soc=80), {}, NOW, WhatIfQuestion())
    full = a["full"]
    assert isinstance(full, dict) and full["reachable"] is True
    linear = 0.2 * 60000 / 0.9 / 7200 * 3600
    assert full["seconds"] > 1.5 * linear
    assert full["soc_pct"] == 100.0


def test_unknown_soc_still_answers_energy_questions() -> None:
    a = ask(charging(soc=None, battery_kwh=None), {}, NOW,
               WhatIfQuestion(target_energy_wh=7200, by=NOW + 1800))
    full, target, by = a["full"], a["target"], a["by"]
    assert isinstance(full, dict) and full["reachable"] is False
    assert "state of charge" in str(full["reason"])
    assert isinstance(target, dict) and target["seconds"] == pytest.approx(3600, abs=1)
    assert isinstance(by, dict) and by["energy_wh"] == pytest.approx(3600, abs=1)
    assert by["at"] == iso(NOW + 1800)


def test_not_charging_is_unreachable_with_reason() -> None:
    a = ask({"status": "SuspendedEVSE", "offered_a": 0, "power_w": 0}, {}, NOW,
               WhatIfQuestion(target_energy_wh=1000))
    target = a["target"]
    assert isinstance(target, dict) and target["reachable"] is False
    assert "not charging" in str(target["reason"])
    a = ask({"status": "Available"}, {}, NOW, WhatIfQuestion(target_energy_wh=1000))
    assert "no session" in str(a["target"]["reason"])


def test_scheduled_start_is_taken_into_account() -> None:
    reported: JsonObject = {"status": "SuspendedEVSE", "offered_a": 0, "power_w": 0,
                            "voltage_v": 240, "dip_max_a": 32, "next_start": iso(NOW + 7200)}
    a = ask(reported, {}, NOW, WhatIfQuestion(target_energy_wh=7680))
    assert a["power_basis"] == "scheduled" and a["power_w"] == 7680
    assert a["target"]["seconds"] == pytest.approx(7200 + 3600, abs=1)


def test_cost_from_pushed_prices() -> None:
    prices: list[JsonObject] = [
        {"start": iso(NOW), "end": iso(NOW + 3600), "price_per_kwh": 0.10},
        {"start": iso(NOW + 3600), "end": iso(NOW + 7200), "price_per_kwh": 0.30},
    ]
    a = ask(charging(soc=None, battery_kwh=None), {"prices": list(prices)}, NOW,
               WhatIfQuestion(target_energy_wh=14400))
    assert a["target"]["cost"] == pytest.approx(0.72 + 2.16, abs=0.01)
    a = ask(charging(soc=None, battery_kwh=None), {"prices": list(prices)}, NOW,
               WhatIfQuestion(target_energy_wh=20000))  # runs past the last price
    assert a["target"]["cost"] is None
    a = ask(charging(soc=None, battery_kwh=None), {}, NOW,
               WhatIfQuestion(target_energy_wh=7200), price=lambda ts: 0.2)
    assert a["target"]["cost"] == pytest.approx(1.44, abs=0.01)


def test_departure_goal_shortfall() -> None:
    reported = charging(soc=None, battery_kwh=None)
    reported["session_energy_wh"] = 5000
    desired: JsonObject = {"departure_goal": {"ready_by": iso(NOW + 3600), "energy_wh": 20000}}
    goal = ask(reported, desired, NOW, WhatIfQuestion())["goal"]
    assert isinstance(goal, dict)
    assert goal["reachable"] is False
    assert goal["shortfall_wh"] == pytest.approx(15000 - 7200, abs=2)
    desired = {"departure_goal": {"ready_by": iso(NOW + 4 * 3600), "target_soc_pct": 50,
                                  "battery_kwh": 60}}
    goal = ask(charging(soc=30, battery_kwh=None), desired, NOW, WhatIfQuestion())["goal"]
    assert isinstance(goal, dict) and goal["reachable"] is True
    assert goal["shortfall_wh"] == 0


@pytest.mark.parametrize("kwargs", [{"target_soc_pct": 0}, {"target_soc_pct": 101},
                                    {"target_energy_wh": -5}, {"assume_power_w": 50000}])
def test_bad_questions(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        WhatIfQuestion(**kwargs)


def test_service_answers_from_its_document(tmp_path: Path) -> None:
    store = TwinStore(tmp_path / "w.db")
    svc = TwinService(store, "MQ200-W", VirtualClock(NOW))
    svc.report(charging(soc=50, battery_kwh=75))
    a: Any = svc.whatif(WhatIfQuestion(assume_power_w=11000, target_soc_pct=60))
    assert a["power_basis"] == "assumed"
    # 10 % of 75 kWh / 0.9 = 8333 Wh at 11 kW
    assert a["target"]["seconds"] == pytest.approx(8333.3 / 11000 * 3600, abs=2)
    store.close()
