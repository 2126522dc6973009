"""Departure planner vs. the LP optimum (HiGHS) on 100 seeded random weeks of dynamic prices.

For each week: quarter-hour prices with morning/evening peaks, noise and sunny-noon negative
prices, in America/Los_Angeles (some weeks contain a DST change); one random goal with a random
current limit, sometimes hours of operation, and a 15 min / 5 % safety margin.  Feasible goals
are also solved as a linear program with HiGHS on the same slots; the planner's cost is compared
with the LP optimum and with charging flat out from plug-in.

Run: .venv/bin/python bench/planner_vs_lp.py [--weeks 100] [--seed 2024]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import highspy

from controller.scheduling.planner import (
    ChargingGoal,
    PlanningSlot,
    PowerCap,
    SafetyMargin,
    asap_plan,
    plan_charging,
    plan_for_tariff,
    planning_slots,
    power_cap_w,
)
from controller.scheduling.tariff import DynamicTariff, PriceInterval, slot_prices

ZONE_NAME = "America/Los_Angeles"
ZONE = ZoneInfo(ZONE_NAME)
MARGIN = SafetyMargin(finish_before=timedelta(minutes=15), extra_energy_fraction=0.05)


@dataclass
class Case:
    tariff: DynamicTariff
    now: datetime
    goal: ChargingGoal
    amps: int
    blocked_hours: tuple[int, int] | None


def random_week(rng: random.Random) -> DynamicTariff:
    """Eight days of quarter-hour prices (one spare day so goals may end after day 7)."""
    day0 = datetime(2024, 1, 1, tzinfo=ZONE) + timedelta(days=rng.randrange(0, 358))
    start = datetime(day0.year, day0.month, day0.day, tzinfo=ZONE).astimezone(UTC)
    base = rng.uniform(0.08, 0.20)
    sunny_days = [rng.random() < 0.3 for _ in range(8)]
    intervals = []
    for q in range(8 * 24 * 4):
        a = start + timedelta(minutes=15 * q)
        local = a.astimezone(ZONE)
        h = local.hour + local.minute / 60
        shape = 0.06 * math.exp(-((h - 8) ** 2) / 4) + 0.12 * math.exp(-((h - 19) ** 2) / 6)
        solar = -0.18 * math.exp(-((h - 13) ** 2) / 3) if sunny_days[q // 96] else 0.0
        price = base + shape + solar + rng.gauss(0, 0.015)
        intervals.append(PriceInterval(a, a + timedelta(minutes=15), round(price, 3)))
    return DynamicTariff(tuple(intervals), timezone=ZONE_NAME)


def random_case(rng: random.Random) -> Case:
    tariff = random_week(rng)
    now = tariff.horizon_start + timedelta(minutes=rng.randrange(0, 5 * 24 * 60))
    departure = now + timedelta(minutes=rng.randrange(4 * 60, 48 * 60))
    need = rng.uniform(5_000, 70_000)
    amps = rng.choice([16, 24, 32, 40, 48])
    blocked = None
    if rng.random() < 0.3:
        first = rng.randrange(0, 24)
        blocked = (first, first + rng.randrange(1, 6))
    return Case(tariff, now, ChargingGoal(departure, need), amps, blocked)


def cap_for(case: Case) -> PowerCap:
    full = power_cap_w(case.amps, 240)
    if case.blocked_hours is None:
        return full
    lo, hi = case.blocked_hours

    def cap(start: datetime, end: datetime) -> float:
        hour = start.astimezone(ZONE).hour
        return 0.0 if lo <= hour < hi or lo <= hour + 24 < hi else full

    return cap


def slots_for(case: Case, end: datetime) -> list[PlanningSlot]:
    prices = slot_prices(case.tariff, case.now, end, 15)
    cap = cap_for(case)
    caps = [cap(p.start, p.end) if callable(cap) else cap for p in prices]
    return planning_slots(prices, caps)


def lp_optimum(slots: list[PlanningSlot], deadline: datetime, target_wh: float) -> float:
    """min sum(price * e) s.t. 0 <= e_i <= cap_i * hours_i, sum(e) = target, by HiGHS."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    variables = []
    for s in slots:
        end = min(s.end, deadline)
        if end <= s.start:
            continue
        hours = (end - s.start).total_seconds() / 3600
        assert s.price_per_kwh is not None
        variables.append(
            h.addVariable(lb=0.0, ub=s.max_power_w * hours, obj=s.price_per_kwh / 1000)
        )
    h.addConstr(sum(variables) == target_wh)
    h.minimize()
    status = h.modelStatusToString(h.getModelStatus())
    if status != "Optimal":
        raise RuntimeError(f"HiGHS did not find an optimum: {status}")
    return float(h.getInfo().objective_function_value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weeks", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    gaps: list[float] = []
    abs_gaps: list[float] = []
    savings: list[float] = []
    infeasible = 0
    t_full: list[float] = []
    t_core: list[float] = []
    t_lp: list[float] = []
    slot_counts: list[int] = []
    for _ in range(args.weeks):
        case = random_case(rng)
        t0 = time.perf_counter()
        plan = plan_for_tariff(case.tariff, case.goal, case.now, cap_for(case), 15, MARGIN)
        t_full.append(time.perf_counter() - t0)
        slots = slots_for(case, case.goal.departure)
        slot_counts.append(len(slots))
        t0 = time.perf_counter()
        core = plan_charging(case.goal, case.now, slots, MARGIN)
        t_core.append(time.perf_counter() - t0)
        assert core.feasible == plan.feasible
        if not plan.feasible:
            infeasible += 1
            continue
        assert abs(core.cost - plan.cost) < 1e-9, (core.cost, plan.cost)
        t0 = time.perf_counter()
        optimum = lp_optimum(slots, plan.deadline, plan.target_energy_wh)
        t_lp.append(time.perf_counter() - t0)
        abs_gaps.append(plan.cost - optimum)
        gaps.append((plan.cost - optimum) / max(abs(optimum), 0.01))
        asap = asap_plan(case.goal, case.now, slots, MARGIN)
        if asap.cost > 0.01:
            savings.append((asap.cost - plan.cost) / asap.cost)

    feasible = len(gaps)
    print(f"highspy {importlib.metadata.version('highspy')}")
    print(
        f"weeks: {args.weeks} (seed {args.seed}); feasible goals: {feasible}; "
        f"infeasible (reported, ASAP fallback): {infeasible}"
    )
    print(
        f"slots per goal (15 min): mean {statistics.mean(slot_counts):.0f}, max {max(slot_counts)}"
    )
    print(
        f"cost gap vs LP optimum: max {max(gaps) * 100:.6f} %, mean {statistics.mean(gaps) * 100:.6f} %, "
        f"max absolute {max(abs_gaps):.2e} USD, min {min(gaps) * 100:.6f} %"
    )
    print(
        f"saving vs charging flat out at plug-in: mean {statistics.mean(savings) * 100:.1f} %, "
        f"median {statistics.median(savings) * 100:.1f} %, over {len(savings)} goals"
    )
    print(
        f"runtime plan_for_tariff (slots + pricing + plan): mean {statistics.mean(t_full) * 1e3:.2f} ms, "
        f"max {max(t_full) * 1e3:.2f} ms"
    )
    print(
        f"runtime plan_charging (planner only): mean {statistics.mean(t_core) * 1e3:.3f} ms, "
        f"max {max(t_core) * 1e3:.3f} ms"
    )
    print(f"runtime HiGHS LP (build + solve): mean {statistics.mean(t_lp) * 1e3:.2f} ms")
    ok = max(gaps) <= 0.005
    print("target (<= 0.5 % above the LP optimum):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
