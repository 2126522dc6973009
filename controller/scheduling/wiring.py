"""Plug hours of operation, schedules, goals, tariffs, demand response and pricing into a station.

The daemon and the scenario runner call :func:`attach` once per controller instance (again
after a restart: everything that must survive is in the station's database, including the
APScheduler job store).  With a twin bridge, the desired keys ``schedules``,
``departure_goal``, ``dr_opt_out``, ``prices`` (and ``demand_response`` once the twin schema
has it) are handled here, and ``schedule``, ``next_start``, ``demand_response``,
``session.cost`` and ``energy_cost`` are added to the reported state.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from controller.charging.station import Station
from controller.clock import Clock
from controller.demand_response.limits import (
    DemandResponseError,
    DemandResponseLimits,
    LevelMap,
    event_from_dict,
)
from controller.demand_response.ven import DemandResponseVen, VenConfig
from controller.pricing import SessionCost, SessionPricer
from controller.scheduling.clock_scheduler import ClockScheduler
from controller.scheduling.energy_cost import EnergyCostMeter
from controller.scheduling.goals import DepartureGoals, GoalConfig, GoalError
from controller.scheduling.hours import HoursOfOperation
from controller.scheduling.planner import ChargingPlan
from controller.scheduling.price_source import PriceSource
from controller.scheduling.schedule_limit import ScheduleLimit
from controller.scheduling.schedules import ChargeWindows, ScheduleError
from controller.scheduling.tariff import TariffError
from controller.settings import StationSettings
from controller.twin_bridge import TwinBridge, iso

log = logging.getLogger(__name__)

JOBS_TABLE = "scheduled_jobs"


@dataclass
class SchedulingParts:
    station: Station
    hours: HoursOfOperation
    scheduler: ClockScheduler
    prices: PriceSource
    windows: ChargeWindows
    goals: DepartureGoals
    schedule: ScheduleLimit
    demand_response: DemandResponseLimits
    pricing: SessionPricer
    energy: EnergyCostMeter
    bridge: TwinBridge | None = None
    ven: DemandResponseVen | None = None
    session_costs: dict[int, SessionCost] = field(default_factory=dict)

    async def start_ven(self, config: VenConfig) -> DemandResponseVen:
        """Register with an OpenADR VTN (needs the running asyncio loop)."""
        snapshot = self.station.snapshot
        ven = DemandResponseVen(self.demand_response, config, lambda: snapshot().power_w)
        await ven.start()
        self.ven = ven
        return ven

    async def stop_ven(self) -> None:
        if self.ven is not None:
            await self.ven.stop()
            self.ven = None

    def set_dr_opt_out(self, opt_out: bool) -> None:
        if self.ven is not None:
            self.ven.set_opt_out(opt_out)
        else:
            self.demand_response.set_opt_out(opt_out)

    def report(self, reported: dict[str, Any]) -> None:
        reported.update(self.schedule.report())
        reported.update(self.demand_response.report())
        reported["energy_cost"] = {
            "energy_wh": self.energy.energy_wh,
            "cost": round(self.energy.cost, 4),
            "currency": self.prices.tariff.currency,
        }
        session = reported.get("session")
        if isinstance(session, dict):
            cost = self.pricing.running_cost()
            if cost is not None:
                reported["session"] = session | {"cost": cost.total}

    def close(self) -> None:
        self.schedule.close()
        self.hours.close()
        self.demand_response.close()
        self.scheduler.close()


def attach(
    station: Station,
    bridge: TwinBridge | None = None,
    clock: Clock | None = None,
    storage_path: str | Path | None = None,
    rng: random.Random | None = None,
    *,
    soc_provider: Callable[[], float | None] | None = None,
    goal_config: GoalConfig | None = None,
    level_map: LevelMap | None = None,
    dr_resume_delay_s: tuple[float, float] | None = None,
) -> SchedulingParts:
    """Wire everything to ``station`` (and ``bridge``); returns the parts for tests and the CLI.

    ``storage_path``: a separate SQLite file for the job store; by default the jobs live in the
    station's own database (table ``scheduled_jobs``).
    """
    clock = clock or station.clock
    if storage_path is None:
        store = SQLAlchemyJobStore(engine=station.storage.engine, tablename=JOBS_TABLE)
        owns = False
    else:
        store = SQLAlchemyJobStore(url=f"sqlite:///{storage_path}", tablename=JOBS_TABLE)
        owns = True
    hours = HoursOfOperation(station)
    scheduler = ClockScheduler(clock, store, hours.zone, owns_store=owns)
    prices = PriceSource(station.storage, lambda: station.settings.time_zone)
    windows = ChargeWindows(scheduler, lambda: hours.zone, clock.now)
    windows.restore()
    goals = DepartureGoals(station, scheduler, windows, hours, prices, soc_provider, goal_config)
    goals.restore()
    schedule = ScheduleLimit(station, windows, goals, hours)
    dr = DemandResponseLimits(station, rng or random.Random(), level_map, dr_resume_delay_s)
    pricing = SessionPricer(station)
    energy = EnergyCostMeter(station, prices)
    parts = SchedulingParts(
        station, hours, scheduler, prices, windows, goals, schedule, dr, pricing, energy, bridge
    )
    prices.on_change(lambda: goals.replan("prices changed"))
    zone_seen = [station.settings.time_zone, station.settings.daylight_saving]

    def on_settings(settings: StationSettings) -> None:
        now = [settings.time_zone, settings.daylight_saving]
        if now != zone_seen:
            zone_seen[:] = now
            windows.rezone()
        goals.replan("settings changed")

    station.on_settings(on_settings)
    pricing.on_priced(lambda sid, cost, _data: parts.session_costs.__setitem__(sid, cost))
    scheduler.start()
    goals.replan("controller started")
    schedule.refresh()
    if bridge is not None:
        _connect_bridge(parts, bridge)
    return parts


def _connect_bridge(parts: SchedulingParts, bridge: TwinBridge) -> None:
    def schedules(_key: str, value: Any) -> str | None:
        try:
            parts.windows.set_windows(value)
        except ScheduleError as exc:
            return str(exc)
        return None

    def departure_goal(_key: str, value: Any) -> str | None:
        try:
            parts.goals.set_goal(value)
        except GoalError as exc:
            return str(exc)
        return None

    def dr_opt_out(_key: str, value: Any) -> str | None:
        try:
            parts.set_dr_opt_out(bool(value) if value is not None else False)
        except DemandResponseError as exc:
            return str(exc)
        return None

    def prices(_key: str, value: Any) -> str | None:
        try:
            parts.prices.set_prices(value)
        except TariffError as exc:
            return f"prices: {exc}"
        return None

    def demand_response(_key: str, value: Any) -> str | None:
        """A DR event from Home Assistant: {id, start, end, level}; None ends twin events."""
        if value is None:
            for event_id, ev in list(parts.demand_response.events.items()):
                if ev.origin == "twin":
                    parts.demand_response.cancel_event(event_id)
            return None
        try:
            parts.demand_response.add_event(event_from_dict(value, origin="twin"))
        except DemandResponseError as exc:
            return str(exc)
        return None

    bridge.handlers.update(
        schedules=schedules,
        departure_goal=departure_goal,
        dr_opt_out=dr_opt_out,
        prices=prices,
        demand_response=demand_response,
    )
    bridge.reported_hooks.append(parts.report)

    def push() -> None:
        try:
            bridge.push()
        except Exception:  # the twin must never take the charge logic down
            log.exception("twin push failed")

    parts.goals.on_change(push)
    parts.windows.on_change(push)
    parts.demand_response.on_change(push)

    def priced(session_id: int, cost: SessionCost, data: dict[str, Any]) -> None:
        record = {
            "id": str(session_id),
            "started_at": iso(data.get("started_at")),
            "ended_at": iso(parts.station.clock.now()),
            "id_tag": data.get("id_tag"),
            "energy_wh": max(0, data.get("energy_wh", 0)),
            "meter_stop_wh": data.get("meter_stop_wh"),
            "stop_reason": data.get("reason"),
            "cost": cost.total,
        }

        def send() -> None:
            try:
                bridge.link.record_session(record)
            except Exception:
                log.exception("twin session cost record failed")

        # after the bridge's own record of the stop (an upsert that carries no cost)
        parts.station.clock.call_later(0.0, send)

    def infeasible(plan: ChargingPlan) -> None:
        try:
            bridge.link.record_event(
                {
                    "kind": "goal_infeasible",
                    "at": datetime.fromtimestamp(parts.station.clock.now(), tz=UTC).isoformat(),
                    "data": {"verdict": plan.verdict[:480],
                             "shortfall_wh": round(plan.shortfall_wh)},
                }
            )
        except Exception:
            log.exception("twin event record failed")

    parts.pricing.on_priced(priced)
    parts.goals.on_infeasible(infeasible)
    push()
