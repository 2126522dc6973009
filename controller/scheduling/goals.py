"""Departure goals (desired ``departure_goal``): "ready by 07:30 with 20 kWh / 80 %".

A goal is turned into a plan by the planner (cheapest slots under the tariff, the latest among
equal prices, with a safety margin); the plan then drives the ``schedule`` limit source through
:class:`~controller.scheduling.schedule_limit.ScheduleLimit`.  Slots outside the hours of
operation or outside the user's enabled charge windows get no power in the plan, so a goal never
asks for charging a window or the hours forbid.

The goal is stored in the job store as a date job at its departure (so it survives a restart,
and expires by itself); the plan is not stored, it is recomputed: when the goal is set, when
prices, windows, hours or settings change, when a session starts, at the end of every planned
charging window, and when the EV stops taking energy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.date import DateTrigger
from pydantic import ValidationError

from controller.charging.station import Station
from controller.scheduling.clock_scheduler import ClockScheduler, JobFire, job_payload
from controller.scheduling.hours import HoursOfOperation
from controller.scheduling.planner import (
    ChargingGoal,
    ChargingPlan,
    PlanningError,
    SafetyMargin,
    plan_for_tariff,
)
from controller.scheduling.price_source import PriceSource
from controller.scheduling.schedules import ChargeWindows
from controller.scheduling.tariff import TariffError
from controller.scheduling.windows import ChargingWindow, charging_windows
from twin.documents import DepartureGoal

log = logging.getLogger(__name__)

TOPIC = "departure_goal"
JOB_ID = "departure_goal"
CAP_SOURCES = ("dip", "firmware", "temperature", "load_management", "ocpp")


class GoalError(ValueError):
    """A departure goal that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class GoalConfig:
    slot_minutes: int = 15
    finish_before: timedelta = timedelta(minutes=30)
    extra_energy_fraction: float = 0.05
    charge_efficiency: float = 0.9
    default_current_a: float = 32.0
    default_voltage_v: float = 240.0


@dataclass(frozen=True)
class ActiveGoal:
    ready_by: datetime
    energy_wh: float
    """Metered energy wanted from the moment the goal was set."""
    baseline_wh: int
    """The station's energy register when the goal was set."""
    description: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class GoalState:
    charging: bool
    """True inside a planned charging window (or when charging flat out for an unmet goal)."""
    until: datetime | None
    next_start: datetime | None
    reason: str


class DepartureGoals:
    def __init__(
        self,
        station: Station,
        scheduler: ClockScheduler,
        windows: ChargeWindows,
        hours: HoursOfOperation,
        prices: PriceSource,
        soc_provider: Callable[[], float | None] | None = None,
        config: GoalConfig | None = None,
    ) -> None:
        self._station = station
        self._scheduler = scheduler
        self._windows = windows
        self._hours = hours
        self._prices = prices
        self._soc = soc_provider
        self.config = config or GoalConfig()
        self.goal: ActiveGoal | None = None
        self.plan: ChargingPlan | None = None
        self.plan_error: str | None = None
        self._listeners: list[Callable[[], None]] = []
        self._infeasible_listeners: list[Callable[[ChargingPlan], None]] = []
        scheduler.on(TOPIC, self._on_departure)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def on_infeasible(self, listener: Callable[[ChargingPlan], None]) -> None:
        """Called once per plan that cannot meet the goal (to tell the user early)."""
        self._infeasible_listeners.append(listener)

    # ------------------------------------------------------------------ persistence
    def restore(self) -> None:
        for job in self._scheduler.jobs(TOPIC):
            payload = job_payload(job)
            try:
                self.goal = ActiveGoal(
                    ready_by=datetime.fromisoformat(payload["ready_by"]),
                    energy_wh=float(payload["energy_wh"]),
                    baseline_wh=int(payload["baseline_wh"]),
                    description=str(payload["description"]),
                    raw=dict(payload["raw"]),
                )
            except (KeyError, TypeError, ValueError):
                self._scheduler.remove(job.id)

    # ------------------------------------------------------------------ commands
    def set_goal(self, value: Any) -> None:
        """Set (or with None clear) the goal; GoalError says why a goal is refused."""
        if value is None:
            self._clear()
            return
        try:
            parsed = DepartureGoal.model_validate_json(json.dumps(value), strict=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise GoalError(f"departure_goal{'.' + loc if loc else ''}: {err['msg']}") from None
        except (TypeError, ValueError) as exc:
            raise GoalError(f"departure_goal: {exc}") from None
        now = self._now()
        if parsed.ready_by <= now:
            raise GoalError(
                f"departure_goal.ready_by: {parsed.ready_by.isoformat()} is not in the future"
            )
        if parsed.energy_wh is not None:
            energy = float(parsed.energy_wh)
            description = f"{energy / 1000:.1f} kWh"
        else:
            assert parsed.target_soc_pct is not None
            energy = self._energy_for_soc(float(parsed.target_soc_pct), parsed.battery_kwh)
            description = f"{parsed.target_soc_pct:g} % state of charge"
        goal = ActiveGoal(
            ready_by=parsed.ready_by.astimezone(UTC),
            energy_wh=energy,
            baseline_wh=self._station.register_wh,
            description=description,
            raw=dict(value),
        )
        payload = {
            "ready_by": goal.ready_by.isoformat(),
            "energy_wh": goal.energy_wh,
            "baseline_wh": goal.baseline_wh,
            "description": goal.description,
            "raw": goal.raw,
        }
        self._scheduler.add(JOB_ID, TOPIC, DateTrigger(run_date=goal.ready_by), payload)
        self.goal = goal
        self.replan("goal set")

    def _energy_for_soc(self, target_pct: float, battery_kwh: float | None) -> float:
        soc = self._soc() if self._soc is not None else None
        if soc is None:
            raise GoalError(
                "departure_goal.target_soc_pct: the EV's state of charge is not known to this "
                "charger; give energy_wh instead"
            )
        if battery_kwh is None:
            raise GoalError("departure_goal.battery_kwh: needed with target_soc_pct")
        try:
            goal = ChargingGoal.from_soc(
                self._now() + timedelta(hours=1), float(battery_kwh), soc, target_pct,
                self.config.charge_efficiency,
            )
        except PlanningError as exc:
            raise GoalError(f"departure_goal: {exc}") from None
        return goal.energy_wh

    def _clear(self) -> None:
        self._scheduler.remove(JOB_ID)
        self.goal = None
        self.plan = None
        self.plan_error = None
        self._notify()

    def _on_departure(self, _fire: JobFire) -> None:
        log.info("departure goal reached its time; dropping it")
        self.goal = None
        self.plan = None
        self.plan_error = None
        self._notify()

    # ------------------------------------------------------------------ planning
    @property
    def remaining_wh(self) -> float:
        if self.goal is None:
            return 0.0
        delivered = self._station.register_wh - self.goal.baseline_wh
        return max(0.0, self.goal.energy_wh - delivered)

    def replan(self, why: str) -> None:
        goal = self.goal
        if goal is None:
            return
        now = self._now()
        if goal.ready_by <= now:
            self._on_departure(JobFire(JOB_ID, TOPIC, {}, now, 0))
            return
        self.plan_error = None
        remaining = self.remaining_wh
        if remaining <= 0.0:
            self.plan = None
            self._notify()
            return
        cfg = self.config
        try:
            plan = plan_for_tariff(
                self._prices.tariff,
                ChargingGoal(goal.ready_by, remaining),
                now,
                self._power_cap,
                slot_minutes=cfg.slot_minutes,
                margin=SafetyMargin(cfg.finish_before, cfg.extra_energy_fraction),
            )
        except (PlanningError, TariffError) as exc:
            self.plan = None
            self.plan_error = str(exc)
            log.warning("departure goal cannot be planned (%s): %s", why, exc)
            self._notify()
            return
        was_feasible = self.plan.feasible if self.plan is not None else True
        self.plan = plan
        log.info("departure goal re-planned (%s): %s", why, plan.verdict)
        if not plan.feasible and was_feasible:
            for listener in list(self._infeasible_listeners):
                listener(plan)
        self._notify()

    def _power_cap(self, start: datetime, end: datetime) -> float:
        if not self._hours.open_between(start, end):
            return 0.0
        if not self._windows.allows_between(start, end):
            return 0.0
        return self._current_cap_a() * self._voltage()

    def _current_cap_a(self) -> float:
        amps = [
            lim.amps
            for lim in self._station.arbiter.limits()
            if lim.source in CAP_SOURCES and lim.amps is not None and lim.amps > 0
        ]
        return min(amps) if amps else self.config.default_current_a

    def _voltage(self) -> float:
        meter = self._station.meter
        if meter is not None and meter.voltage_v > 100:
            return meter.voltage_v
        return self.config.default_voltage_v

    # ------------------------------------------------------------------ state
    def windows(self) -> list[ChargingWindow]:
        return charging_windows(self.plan) if self.plan is not None else []

    def state(self, instant: datetime | None = None) -> GoalState | None:
        """What the goal asks for now; None without a goal."""
        goal = self.goal
        if goal is None:
            return None
        at = instant or self._now()
        ready = f"ready by {goal.ready_by.astimezone(self._hours.zone):%a %H:%M}"
        if self.plan_error is not None:
            return GoalState(True, None, None, f"departure goal not planned ({self.plan_error})")
        if self.remaining_wh <= 0.0:
            return GoalState(
                False, None, None, f"departure goal reached ({goal.description}, {ready})"
            )
        plan = self.plan
        if plan is None:
            return GoalState(True, None, None, f"departure goal ({ready})")
        upcoming = [w for w in self.windows() if w.end > at]
        for w in upcoming:
            if w.start <= at:
                what = "charging" if plan.feasible else "cannot be met, charging flat out"
                return GoalState(
                    True, w.end, None,
                    f"departure goal {what} until "
                    f"{w.end.astimezone(self._hours.zone):%H:%M} ({ready}, "
                    f"{self.remaining_wh / 1000:.1f} kWh to go)",
                )
        next_start = upcoming[0].start if upcoming else None
        if not plan.feasible:
            reason = f"departure goal cannot be met: {plan.verdict}"
        elif next_start is not None:
            reason = (
                f"departure goal: waiting for the cheapest slot at "
                f"{next_start.astimezone(self._hours.zone):%a %H:%M} ({ready})"
            )
        else:
            reason = f"departure goal: planned energy delivered ({ready})"
        return GoalState(False, None, next_start, reason)

    def summary(self) -> dict[str, Any] | None:
        goal = self.goal
        if goal is None:
            return None
        plan = self.plan
        zone = self._hours.zone
        return {
            "ready_by": goal.ready_by.isoformat(),
            "target": goal.description,
            "remaining_wh": round(self.remaining_wh),
            "feasible": plan.feasible if plan is not None else None,
            "verdict": plan.verdict if plan is not None else (self.plan_error or "reached"),
            "expected_finish": (
                plan.expected_finish.isoformat()
                if plan is not None and plan.expected_finish is not None
                else None
            ),
            "expected_cost": round(plan.cost, 4) if plan is not None else None,
            "windows": [
                {
                    "start": w.start.astimezone(zone).isoformat(),
                    "end": w.end.astimezone(zone).isoformat(),
                    "energy_wh": round(w.energy_wh),
                    "cost": round(w.cost, 4),
                }
                for w in self.windows()
            ],
        }

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._station.clock.now(), tz=UTC)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
