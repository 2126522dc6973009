"""Scheduling events of scenarios (tariff, schedule, goal, dr, hours, pricing) and the costs
they add to the summary.

Each charger's controller gets the same scheduling parts the daemon wires
(:func:`controller.scheduling.wiring.attach`); an event becomes the call the twin, the central
system or the OpenADR VEN would make.  Everything that must survive a power cut (windows, goal,
tariff, pricing, hours) is in the charger's database, so it is back after ``power_loss``;
demand-response events live in memory and are lost with the power, as on the real charger.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.charging.station import Station
from controller.demand_response.limits import DrEvent, DrInterval
from controller.pricing import SessionCost
from controller.scheduling.wiring import SchedulingParts, attach
from twin.scenario.model import (
    DemandResponseEvent,
    GoalEvent,
    HoursEvent,
    PricingEvent,
    ScheduleEvent,
    TariffEvent,
)

SCHEDULING_EVENTS = (TariffEvent, ScheduleEvent, GoalEvent, DemandResponseEvent, HoursEvent, PricingEvent)


@dataclass
class SchedulingRun:
    parts: SchedulingParts | None = None
    session_cost: float = 0.0
    priced_sessions: int = 0
    energy_cost_before: float = 0.0

    def attach(self, station: Station, rng: random.Random,
               soc_pct: Callable[[], float | None]) -> SchedulingParts:
        parts = attach(station, rng=rng, soc_provider=soc_pct)
        parts.pricing.on_priced(self._priced)
        self.parts = parts
        return parts

    def detach(self) -> None:
        if self.parts is not None:
            self.energy_cost_before += self.parts.energy.cost
            self.parts.close()
            self.parts = None

    def _priced(self, _session_id: int, cost: SessionCost, _data: dict[str, Any]) -> None:
        self.session_cost += cost.total
        self.priced_sessions += 1

    def apply(self, event: Any, t0: float) -> dict[str, Any]:
        """Act on one scheduling event; returns what to log (``ignored`` when unpowered)."""
        parts = self.parts
        if parts is None:
            return {"ignored": "no power"}
        if isinstance(event, TariffEvent):
            if event.tariff is not None:
                parts.prices.set_base(event.tariff)
                return {"tariff": event.tariff.get("type")}
            parts.prices.set_prices(event.prices)
            return {"prices": len(event.prices or [])}
        if isinstance(event, ScheduleEvent):
            parts.windows.set_windows(event.windows or None)
            return {"windows": [w.get("id") for w in event.windows]}
        if isinstance(event, GoalEvent):
            if event.clear:
                parts.goals.set_goal(None)
                return {"cleared": True}
            ready = event.ready_by or datetime.fromtimestamp(t0 + (event.ready_by_s or 0.0), tz=UTC)
            goal: dict[str, Any] = {"ready_by": ready.isoformat()}
            for key in ("energy_wh", "target_soc_pct", "battery_kwh"):
                value = getattr(event, key)
                if value is not None:
                    goal[key] = value
            parts.goals.set_goal(goal)
            plan = parts.goals.plan
            return {"ready_by": goal["ready_by"],
                    "feasible": plan.feasible if plan is not None else None,
                    "verdict": plan.verdict if plan is not None else parts.goals.plan_error}
        if isinstance(event, DemandResponseEvent):
            if event.opt_out is not None:
                parts.set_dr_opt_out(event.opt_out)
                return {"opt_out": event.opt_out}
            assert event.level is not None and event.end_s is not None
            event_id = event.id or f"dr-{event.at_s:g}"
            start = datetime.fromtimestamp(t0 + event.at_s, tz=UTC)
            end = datetime.fromtimestamp(t0 + event.end_s, tz=UTC)
            parts.demand_response.add_event(
                DrEvent(event_id, (DrInterval(start, end, event.level),), "scenario")
            )
            return {"id": event_id, "level": event.level, "end_s": event.end_s}
        if isinstance(event, HoursEvent):
            if event.central:
                parts.hours.set_central_hours(event.hours)
            else:
                parts.station.apply_settings({"hours_of_operation": event.hours})
            return {"hours": parts.hours.table, "origin": parts.hours.origin}
        if isinstance(event, PricingEvent):
            parts.pricing.apply(event.pricing)
            return {}
        raise TypeError(f"not a scheduling event: {event!r}")

    def summary(self) -> dict[str, Any]:
        energy_cost = self.energy_cost_before + (self.parts.energy.cost if self.parts else 0.0)
        return {"cost": round(self.session_cost, 2), "energy_cost": round(energy_cost, 4)}
