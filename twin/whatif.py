"""What-if answers: when will the EV be full / reach a target, how much energy by a time.

The model is deliberately simple so that Home Assistant and voice can say an answer that is
right to within minutes, not a battery simulation:

- charging power is constant (the measured power, or offered current × voltage) up to 80 %
  state of charge; above 80 % the EV tapers linearly to 25 % of that power at 95 % and holds
  25 % up to 100 %;
- 90 % of the metered energy reaches the battery (charging losses), for SoC arithmetic only;
- if charging waits for a window the controller reported (``next_start``), it starts then;
- cost integrates a price lookup (price per kWh at a time) over the energy; an instant with no
  price makes the whole cost unknown.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from twin.documents import JsonObject, JsonValue, iso

PriceLookup = Callable[[float], float | None]

TAPER_START_PCT = 80.0
TAPER_END_PCT = 95.0
TAPER_FLOOR = 0.25
CHARGE_EFFICIENCY = 0.9
DEFAULT_VOLTAGE_V = 240.0
HORIZON_S = 7 * 24 * 3600.0
STEP_S = 60.0


@dataclass(frozen=True)
class WhatIfQuestion:
    target_soc_pct: float | None = None
    target_energy_wh: float | None = None
    by: float | None = None
    assume_power_w: float | None = None

    def __post_init__(self) -> None:
        if self.target_soc_pct is not None and not 0 < self.target_soc_pct <= 100:
            raise ValueError(f"target_soc_pct: {self.target_soc_pct} is not in 0–100")
        if self.target_energy_wh is not None and not 0 < self.target_energy_wh <= 1_000_000:
            raise ValueError(f"target_energy_wh: {self.target_energy_wh} is not in 0–1000000")
        if self.assume_power_w is not None and not 0 < self.assume_power_w <= 20_000:
            raise ValueError(f"assume_power_w: {self.assume_power_w} is not in 0–20000")


def taper_factor(soc_pct: float) -> float:
    """Fraction of full charging power the EV takes at this state of charge."""
    if soc_pct < TAPER_START_PCT:
        return 1.0
    span = TAPER_END_PCT - TAPER_START_PCT
    return max(TAPER_FLOOR, 1.0 - (1.0 - TAPER_FLOOR) * (soc_pct - TAPER_START_PCT) / span)


def prices_from_desired(desired: JsonObject) -> PriceLookup | None:
    """A lookup over the dynamic tariff clients pushed in ``desired.prices``."""
    raw = desired.get("prices")
    if not isinstance(raw, list) or not raw:
        return None
    spans: list[tuple[float, float, float]] = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        start, end, price = entry.get("start"), entry.get("end"), entry.get("price_per_kwh")
        if isinstance(start, str) and isinstance(end, str) and isinstance(price, (int, float)):
            spans.append(
                (
                    datetime.fromisoformat(start).timestamp(),
                    datetime.fromisoformat(end).timestamp(),
                    float(price),
                )
            )
    spans.sort()
    starts = [s[0] for s in spans]

    def lookup(ts: float) -> float | None:
        i = bisect.bisect_right(starts, ts) - 1
        if i >= 0 and spans[i][0] <= ts < spans[i][1]:
            return spans[i][2]
        return None

    return lookup


@dataclass(frozen=True)
class _Outcome:
    reached: bool
    at: float
    energy_wh: float
    soc_pct: float | None
    cost: float | None


class _Projection:
    """Steps the simple charge model forward from now."""

    def __init__(
        self,
        now: float,
        start_at: float,
        power_w: float,
        soc_pct: float | None,
        battery_wh: float | None,
        price: PriceLookup | None,
    ) -> None:
        self.now = now
        self.start_at = start_at
        self.power_w = power_w
        self.soc_pct = soc_pct
        self.battery_wh = battery_wh
        self.price = price

    def run(
        self,
        energy_wh: float | None = None,
        soc_pct: float | None = None,
        until: float | None = None,
    ) -> _Outcome:
        t = self.start_at
        energy = 0.0
        soc = self.soc_pct
        cost: float | None = 0.0 if self.price is not None else None
        limit = until if until is not None else self.now + HORIZON_S
        if t >= limit:
            return _Outcome(False, limit, 0.0, soc, cost)
        while t < limit:
            if energy_wh is not None and energy >= energy_wh:
                return _Outcome(True, t, energy, soc, cost)
            if soc_pct is not None and soc is not None and soc >= soc_pct:
                return _Outcome(True, t, energy, soc, cost)
            factor = taper_factor(soc) if soc is not None else 1.0
            p = self.power_w * factor
            dt = min(STEP_S, limit - t)
            de = p * dt / 3600.0
            frac = 1.0
            if energy_wh is not None and energy + de > energy_wh:
                frac = (energy_wh - energy) / de
            if soc_pct is not None and soc is not None and self.battery_wh:
                dsoc = de * CHARGE_EFFICIENCY / self.battery_wh * 100.0
                if soc + dsoc > soc_pct:
                    frac = min(frac, (soc_pct - soc) / dsoc)
            de *= frac
            dt *= frac
            if cost is not None and self.price is not None:
                unit = self.price(t + dt / 2)
                cost = None if unit is None else cost + unit * de / 1000.0
            energy += de
            if soc is not None and self.battery_wh:
                soc = min(100.0, soc + de * CHARGE_EFFICIENCY / self.battery_wh * 100.0)
            t += dt
            if frac < 1.0:
                return _Outcome(True, t, energy, soc, cost)
        done = (energy_wh is not None and energy >= energy_wh) or (
            soc_pct is not None and soc is not None and soc >= soc_pct
        )
        return _Outcome(done or until is not None, t, energy, soc, cost)


def _num(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _unreachable(reason: str) -> JsonObject:
    return {"reachable": False, "reason": reason}


def _outcome_json(o: _Outcome, now: float) -> JsonObject:
    out: JsonObject = {
        "reachable": o.reached,
        "at": iso(o.at),
        "seconds": round(o.at - now),
        "energy_wh": round(o.energy_wh),
        "cost": None if o.cost is None else round(o.cost, 2),
    }
    if o.soc_pct is not None:
        out["soc_pct"] = round(o.soc_pct, 1)
    if not o.reached:
        out["reason"] = "not reached within 7 days at this power"
    return out


def answer(
    reported: JsonObject,
    desired: JsonObject,
    now: float,
    question: WhatIfQuestion,
    price: PriceLookup | None = None,
) -> JsonObject:
    """Answer a what-if question from the current document (see the module docstring)."""
    if price is None:
        price = prices_from_desired(desired)
    notes = [
        "charging power assumed constant; EV tapers above 80 % state of charge",
    ]
    status = reported.get("status")
    voltage = _num(reported.get("voltage_v")) or DEFAULT_VOLTAGE_V
    measured = _num(reported.get("power_w")) or 0.0
    offered = _num(reported.get("offered_a")) or 0.0
    charging = status == "Charging" and measured > 0
    start_at = now
    reason: str | None = None
    basis: str
    if question.assume_power_w is not None:
        power, basis = question.assume_power_w, "assumed"
    elif charging:
        power, basis = measured, "measured"
    elif status in ("Charging", "SuspendedEV") and offered > 0:
        power, basis = offered * voltage, "offered"
    else:
        power, basis = 0.0, "none"
        next_start = reported.get("next_start")
        amps = offered or _num(desired.get("current_limit_a")) or _num(reported.get("dip_max_a"))
        if status in (None, "Available", "Unavailable", "Faulted", "Finishing"):
            reason = f"no session can charge now (status {status})"
        elif isinstance(next_start, str) and amps:
            start_at = max(now, datetime.fromisoformat(next_start).timestamp())
            power, basis = amps * voltage, "scheduled"
            notes.append(f"charging assumed to start at {next_start}")
        else:
            reason = "not charging and no scheduled start"

    ev = reported.get("ev")
    ev_obj = ev if isinstance(ev, dict) else {}
    goal_raw = desired.get("departure_goal")
    goal = goal_raw if isinstance(goal_raw, dict) else None
    soc = _num(ev_obj.get("soc_pct"))
    battery_kwh = _num(ev_obj.get("battery_kwh"))
    if battery_kwh is None and goal is not None:
        battery_kwh = _num(goal.get("battery_kwh"))
    battery_wh = battery_kwh * 1000.0 if battery_kwh else None

    result: JsonObject = {
        "at": iso(now),
        "power_w": round(power, 1),
        "power_basis": basis,
        "charging": charging,
        "soc_pct": soc,
        "battery_kwh": battery_kwh,
        "full": None,
        "target": None,
        "by": None,
        "goal": None,
        "notes": list(notes),
    }
    proj = _Projection(now, start_at, power, soc, battery_wh, price)

    def need_soc() -> str | None:
        if reason is not None:
            return reason
        if soc is None or battery_wh is None:
            return "state of charge or battery size of the EV is not known"
        return None

    problem = need_soc()
    result["full"] = (
        _unreachable(problem) if problem else _outcome_json(proj.run(soc_pct=100.0), now)
    )

    if question.target_soc_pct is not None:
        result["target"] = (
            _unreachable(problem)
            if problem
            else _outcome_json(proj.run(soc_pct=question.target_soc_pct), now)
        )
    elif question.target_energy_wh is not None:
        result["target"] = (
            _unreachable(reason)
            if reason
            else _outcome_json(proj.run(energy_wh=question.target_energy_wh), now)
        )

    if question.by is not None:
        if question.by <= now:
            result["by"] = _unreachable("the time asked about is not in the future")
        elif reason:
            result["by"] = {**_outcome_json(_Outcome(True, question.by, 0.0, soc, None), now),
                            "reason": reason}
        else:
            full_soc = 100.0 if soc is not None and battery_wh else None
            by_answer = _outcome_json(proj.run(soc_pct=full_soc, until=question.by), now)
            by_answer["at"] = iso(question.by)
            by_answer["seconds"] = round(question.by - now)
            result["by"] = by_answer

    if goal is not None:
        result["goal"] = _goal(goal, reported, proj, reason, problem, now)
    return result


def _goal(
    goal: JsonObject,
    reported: JsonObject,
    proj: _Projection,
    reason: str | None,
    soc_problem: str | None,
    now: float,
) -> JsonObject:
    ready_raw = goal.get("ready_by")
    if not isinstance(ready_raw, str):
        return _unreachable("departure goal has no ready_by")
    ready_by = datetime.fromisoformat(ready_raw).timestamp()
    target_soc = _num(goal.get("target_soc_pct"))
    target_energy = _num(goal.get("energy_wh"))
    if target_soc is not None:
        if soc_problem:
            return {"ready_by": ready_raw, **_unreachable(soc_problem)}
        outcome = proj.run(soc_pct=target_soc)
        needed = None
    else:
        done = _num(reported.get("session_energy_wh")) or 0.0
        needed = max(0.0, (target_energy or 0.0) - done)
        if needed == 0.0:
            return {"ready_by": ready_raw, "reachable": True, "at": iso(now),
                    "energy_wh": 0, "shortfall_wh": 0}
        if reason:
            return {"ready_by": ready_raw, **_unreachable(reason), "shortfall_wh": round(needed)}
        outcome = proj.run(energy_wh=needed)
    on_time = outcome.reached and outcome.at <= ready_by
    shortfall = 0.0
    if not on_time:
        by_then = proj.run(until=ready_by, soc_pct=100.0 if proj.soc_pct is not None else None)
        if needed is not None:
            shortfall = max(0.0, needed - by_then.energy_wh)
        elif proj.battery_wh and target_soc is not None and by_then.soc_pct is not None:
            shortfall = max(0.0, (target_soc - by_then.soc_pct) / 100.0 * proj.battery_wh
                            / CHARGE_EFFICIENCY)
    return {
        "ready_by": ready_raw,
        "reachable": on_time,
        "at": iso(outcome.at) if outcome.reached else None,
        "energy_wh": round(outcome.energy_wh),
        "shortfall_wh": round(shortfall),
    }
