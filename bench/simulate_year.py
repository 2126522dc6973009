"""One simulated year through `mq200 simulate`'s engine: target <= 5 s wall on this machine.

One 32 A charger, an EV arriving most evenings (seeded), faults now and then, a few power cuts.
Prints wall time, the speed-up over real time and what was simulated.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from twin.scenario.model import parse_scenario
from twin.scenario.runner import run_scenario

FAULTS = ["over_current", "ground_fault", "over_voltage", "under_voltage", "over_temperature", "no_ground"]


def year_scenario(days: int, seed: int, sample_s: float) -> dict[str, Any]:
    rng = random.Random(seed)
    evs, events = [], []
    for day in range(days):
        base = day * 86400
        if rng.random() < 0.8:  # most evenings
            arrive = base + rng.uniform(17, 20) * 3600
            leave = base + 86400 + rng.uniform(6.5, 8) * 3600 - 3600 * 1.0
            evs.append({"id": f"ev{day}", "charger": "cp1", "battery_kwh": 75,
                        "soc": round(rng.uniform(0.2, 0.7), 3), "max_a": 48,
                        "arrive_s": arrive, "leave_s": min(leave, base + 86400 + 16 * 3600),
                        "tag": "HOME0001"})
        if rng.random() < 0.03:
            at = base + rng.uniform(18, 23) * 3600
            events.append({"at_s": at, "type": "fault", "charger": "cp1",
                           "fault": rng.choice(FAULTS), "clear_at_s": at + rng.uniform(5, 600)})
        if rng.random() < 0.01:
            at = base + rng.uniform(0, 24) * 3600
            events.append({"at_s": at, "type": "power_loss", "restore_at_s": at + rng.uniform(10, 3600)})
    # keep EV visits from overlapping at the charger
    evs.sort(key=lambda e: e["arrive_s"])
    for a, b in zip(evs, evs[1:], strict=False):
        a["leave_s"] = min(a["leave_s"], b["arrive_s"] - 60)
    return {
        "start": "2026-01-01T00:00:00-08:00", "duration_s": days * 86400, "seed": seed,
        "sample_s": sample_s,
        "chargers": [{"id": "cp1", "dip_a": 32, "local_list": ["HOME0001"]}],
        "evs": evs, "events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample-s", type=float, default=3600.0)
    args = parser.parse_args()
    scenario = parse_scenario(year_scenario(args.days, args.seed, args.sample_s))
    t0 = time.perf_counter()
    timeline = run_scenario(scenario)
    wall = time.perf_counter() - t0
    c = timeline["summary"]["chargers"]["cp1"]
    print(f"simulated {args.days} days ({len(scenario.evs)} EV visits, {len(scenario.events)} fault/power events) "
          f"in {wall:.2f} s wall (target <= 5 s): {args.days * 86400 / wall:,.0f}x real time; "
          f"{c['energy_wh'] / 1000:,.0f} kWh, {c['sessions']} sessions, {c['fault_count']} faults, "
          f"{len(timeline['samples'])} samples")


if __name__ == "__main__":
    main()
