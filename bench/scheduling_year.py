"""A year of overnight charging with a time-of-use tariff, a charge window and a departure goal
every night, run through `mq200 simulate`'s runner; prints run time, energy and costs.

    python bench/scheduling_year.py [days]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from twin.scenario.model import parse_scenario
from twin.scenario.runner import run_scenario

DAY = 86400.0
TOU: dict[str, Any] = {
    "type": "time_of_use",
    "timezone": "America/Los_Angeles",
    "seasons": [{
        "name": "all",
        "base_price_per_kwh": 0.30,
        "periods": [
            {"name": "peak", "days": ["weekdays"], "start": "16:00", "end": "21:00", "price_per_kwh": 0.55},
            {"name": "night", "days": ["all"], "start": "00:00", "end": "06:00", "price_per_kwh": 0.12},
        ],
    }],
}


def scenario(days: int, with_goal: bool) -> dict[str, Any]:
    evs = []
    events: list[dict[str, Any]] = [{"at_s": 0, "type": "tariff", "tariff": TOU}]
    for d in range(days):
        arrive = d * DAY + 60
        evs.append({"id": f"ev{d}", "charger": "cp1", "battery_kwh": 75, "soc": 0.35, "max_a": 32,
                    "arrive_s": arrive, "leave_s": d * DAY + 12.5 * 3600, "tag": "ABCD1234"})
        if with_goal:
            events.append({"at_s": arrive + 10, "type": "goal", "charger": "cp1",
                           "ready_by_s": d * DAY + 12.5 * 3600, "energy_wh": 25000})
    if not with_goal:
        events.append({"at_s": 0, "type": "schedule", "charger": "cp1", "windows": [
            {"id": "night", "start": "23:00", "end": "06:30",
             "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}]})
    return {"start": "2026-01-05T18:00:00-08:00", "duration_s": days * DAY, "seed": 1,
            "sample_s": 60, "chargers": [{"id": "cp1", "dip_a": 32, "local_list": ["ABCD1234"]}],
            "evs": evs, "events": events}


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 365
    for name, with_goal in (("window 23:00-06:30", False), ("goal 25 kWh by 06:30", True)):
        data = scenario(days, with_goal)
        t = time.perf_counter()
        timeline = run_scenario(parse_scenario(data))
        took = time.perf_counter() - t
        s = timeline["summary"]["chargers"]["cp1"]
        kwh = s["energy_wh"] / 1000
        print(f"{name:22s} {days} days in {took:6.2f} s: {kwh:9.1f} kWh, "
              f"energy cost {s['energy_cost']:8.2f} USD ({s['energy_cost'] / max(kwh, 1e-9):.4f}/kWh)")


if __name__ == "__main__":
    main()
