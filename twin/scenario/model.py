"""The scenario format (docs/scenarios.md): parsing and validation.

A bad scenario is refused with every problem named by its path and value, e.g.
``chargers[0].dip_a: must be one of 12, 16, 24, 32, 40, 48, 50 (got 33)``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from controller.pricing import PricingError, parse_pricing
from controller.scheduling.schedules import ScheduleError, parse_windows
from controller.scheduling.tariff import TariffError, tariff_from_dict
from controller.settings import SettingsError, StationSettings

FaultName = Literal[
    "over_current",
    "over_voltage",
    "under_voltage",
    "over_temperature",
    "ground_fault",
    "no_ground",
    "stuck_relay",
    "short_circuit",
    "pilot_short",
]
DIP_VALUES = (12, 16, 24, 32, 40, 48, 50)


class ScenarioError(ValueError):
    """The scenario file is not valid; ``problems`` lists each one as 'path: message'."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid scenario:\n  " + "\n  ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Site(_Strict):
    voltage_v: float = Field(default=240.0, ge=180, le=264)
    grid_limit_a: float = Field(default=60.0, gt=0, le=4000)
    policy: Literal["UD", "FIFS"] = "UD"
    fallback_a: float = Field(default=10.0, ge=0, le=80)
    wiring: Literal["split_phase_240", "wye_208", "delta_240"] = "split_phase_240"
    ambient_c: float = Field(default=25.0, ge=-40, le=60)


class ChargerSpec(_Strict):
    id: str = Field(min_length=1, max_length=40)
    dip_a: int = 32
    role: Literal["direct", "gateway", "client"] = "direct"
    wire: Literal["L1-L2", "L2-L3", "L1-L3"] = "L1-L2"
    online: bool = True
    plug_and_charge_id: str | None = None
    local_list: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("dip_a")
    @classmethod
    def _dip(cls, value: int) -> int:
        if value not in DIP_VALUES:
            raise ValueError(f"must be one of {', '.join(map(str, DIP_VALUES))}")
        return value

    def station_settings(self) -> StationSettings:
        base: dict[str, Any] = {"local_list": self.local_list}
        if self.plug_and_charge_id:
            base["plug_and_charge_id"] = self.plug_and_charge_id
        base.update(self.settings)
        return StationSettings().apply(base)


class EVSpecModel(_Strict):
    id: str = Field(min_length=1, max_length=40)
    charger: str
    battery_kwh: float = Field(default=60.0, gt=0, le=300)
    soc: float = Field(default=0.5, ge=0, le=1)
    target_soc: float = Field(default=1.0, ge=0, le=1)
    max_a: float = Field(default=32.0, gt=0, le=80)
    arrive_s: float = Field(default=0.0, ge=0)
    leave_s: float | None = Field(default=None, gt=0)
    tag: str | None = Field(default=None, min_length=1, max_length=20)
    needs_ventilation: bool = False

    @model_validator(mode="after")
    def _order(self) -> EVSpecModel:
        if self.leave_s is not None and self.leave_s <= self.arrive_s:
            raise ValueError(f"leave_s ({self.leave_s}) must be after arrive_s ({self.arrive_s})")
        return self


class _EventBase(_Strict):
    at_s: float = Field(ge=0)


class FaultEvent(_EventBase):
    type: Literal["fault"]
    charger: str
    fault: FaultName
    clear_at_s: float | None = None


class PowerLossEvent(_EventBase):
    type: Literal["power_loss"]
    restore_at_s: float
    charger: str | None = None  # None: the whole site


class TagEvent(_EventBase):
    type: Literal["tag"]
    charger: str
    tag: str = Field(min_length=1, max_length=20)


class SettingsEvent(_EventBase):
    type: Literal["settings"]
    charger: str
    settings: dict[str, Any]


class LimitEvent(_EventBase):
    type: Literal["limit"]
    charger: str
    source: Literal["user", "demand_response", "hours", "schedule", "ocpp", "load_management"]
    amps: float | None = Field(default=None, ge=0, le=80)
    reason: str = ""


class AmbientEvent(_EventBase):
    type: Literal["ambient"]
    charger: str
    ambient_c: float = Field(ge=-60, le=100)


class GridVoltageEvent(_EventBase):
    type: Literal["grid_voltage"]
    charger: str | None = None
    voltage_v: float = Field(ge=0, le=320)


class TariffEvent(_EventBase):
    """A tariff (docs/scheduling.md) or pushed dynamic prices take effect (scheduling events)."""

    type: Literal["tariff"]
    charger: str | None = None  # None: every charger
    tariff: dict[str, Any] | None = None
    prices: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one(self) -> TariffEvent:
        if (self.tariff is None) == (self.prices is None):
            raise ValueError("give exactly one of tariff or prices")
        return self


class ScheduleEvent(_EventBase):
    """The user's charge windows (the twin's desired ``schedules``); ``[]`` clears them."""

    type: Literal["schedule"]
    charger: str
    windows: list[dict[str, Any]]


class GoalEvent(_EventBase):
    """A departure goal (desired ``departure_goal``); ``clear: true`` removes it."""

    type: Literal["goal"]
    charger: str
    ready_by: datetime | None = None
    ready_by_s: float | None = Field(default=None, gt=0)
    energy_wh: float | None = Field(default=None, gt=0, le=200_000)
    target_soc_pct: float | None = Field(default=None, gt=0, le=100)
    battery_kwh: float | None = Field(default=None, ge=1, le=300)
    clear: bool = False

    @model_validator(mode="after")
    def _complete(self) -> GoalEvent:
        if self.clear:
            return self
        if (self.ready_by is None) == (self.ready_by_s is None):
            raise ValueError("give exactly one of ready_by or ready_by_s")
        if self.ready_by is not None and self.ready_by.tzinfo is None:
            raise ValueError("ready_by needs a UTC offset")
        if (self.energy_wh is None) == (self.target_soc_pct is None):
            raise ValueError("give exactly one of energy_wh or target_soc_pct")
        return self


class DemandResponseEvent(_EventBase):
    """A grid event from ``at_s`` to ``end_s`` at a SIMPLE ``level``, or a change of opt-out."""

    type: Literal["dr"]
    charger: str | None = None  # None: every charger
    end_s: float | None = None
    level: int | None = Field(default=None, ge=0, le=3)
    opt_out: bool | None = None
    id: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _what(self) -> DemandResponseEvent:
        if (self.level is None) == (self.opt_out is None):
            raise ValueError("give either level (with end_s) or opt_out")
        if self.level is not None and self.end_s is None:
            raise ValueError("a dr event with a level needs end_s")
        return self


class HoursEvent(_EventBase):
    """A weekly hours-of-operation table (weekday -> [start HHMM, end HHMM])."""

    type: Literal["hours"]
    charger: str
    hours: dict[str, Any]
    central: bool = False  # True: sent by the central system (supersedes the settings)


class PricingEvent(_EventBase):
    """Session pricing settings (docs/pricing.md) from now on."""

    type: Literal["pricing"]
    charger: str
    pricing: dict[str, Any]


Event = Annotated[
    FaultEvent | PowerLossEvent | TagEvent | SettingsEvent | LimitEvent | AmbientEvent | GridVoltageEvent
    | TariffEvent | ScheduleEvent | GoalEvent | DemandResponseEvent | HoursEvent | PricingEvent,
    Field(discriminator="type"),
]


class Scenario(_Strict):
    start: datetime
    duration_s: float = Field(gt=0, le=2 * 366 * 86400)
    seed: int = 0
    sample_s: float = Field(default=60.0, gt=0)
    site: Site = Field(default_factory=lambda: Site())
    chargers: list[ChargerSpec] = Field(min_length=1)
    evs: list[EVSpecModel] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-01-05T18:00:00-08:00")
        return value


def parse_scenario(data: Any) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError([f"(top): expected an object, got {type(data).__name__}"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_describe(err) for err in exc.errors()]) from None
    problems = _cross_check(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"{p}: cannot read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text) if p.suffix in (".yaml", ".yml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError([f"{p}: not valid {'YAML' if p.suffix in ('.yaml', '.yml') else 'JSON'}: {exc}"]) from None
    return parse_scenario(data)


def _describe(err: Any) -> str:
    path = ""
    loc = list(err["loc"])
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif i >= 2 and loc[0] == "events" and i == 2 and len(loc) > 3:
            continue  # the discriminator tag pydantic inserts for the union of event types
        else:
            path += f".{part}" if path else str(part)
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    shown = err.get("input")
    return f"{path or '(top)'}: {msg} (got {shown!r})" if err["type"] != "missing" else f"{path}: required"


def _cross_check(s: Scenario) -> list[str]:
    problems: list[str] = []
    ids = [c.id for c in s.chargers]
    for i, cid in enumerate(ids):
        if ids.index(cid) != i:
            problems.append(f"chargers[{i}].id: duplicate id {cid!r}")
    for i, charger in enumerate(s.chargers):
        try:
            charger.station_settings()
        except SettingsError as exc:
            for key, msg in exc.errors.items():
                problems.append(f"chargers[{i}].settings.{key}: {msg}")
    problems.extend(load_management_problems(s))
    known = set(ids)
    ev_ids = [e.id for e in s.evs]
    for i, ev in enumerate(s.evs):
        if ev.charger not in known:
            problems.append(f"evs[{i}].charger: no charger {ev.charger!r} (got {ev.charger!r})")
        if ev_ids.index(ev.id) != i:
            problems.append(f"evs[{i}].id: duplicate id {ev.id!r}")
    by_charger: dict[str, list[tuple[float, float, int]]] = {}
    for i, ev in enumerate(s.evs):
        end = ev.leave_s if ev.leave_s is not None else s.duration_s + 1
        by_charger.setdefault(ev.charger, []).append((ev.arrive_s, end, i))
    for visits in by_charger.values():
        visits.sort()
        for (_, end, _), (start, _, j) in zip(visits, visits[1:], strict=False):
            if start < end:
                problems.append(f"evs[{j}].arrive_s: the charger is still occupied until {end:g} s")
    for i, event in enumerate(s.events):
        target: str | None = getattr(event, "charger", None)
        if target is not None and target not in known:
            problems.append(f"events[{i}].charger: no charger {target!r}")
        until: float | None = getattr(event, "clear_at_s", None) or getattr(event, "restore_at_s", None)
        if until is not None and until <= event.at_s:
            problems.append(f"events[{i}]: the end ({until:g} s) must come after at_s ({event.at_s:g} s)")
        if isinstance(event, SettingsEvent):
            try:
                StationSettings().apply(event.settings)
            except SettingsError as exc:
                for key, msg in exc.errors.items():
                    problems.append(f"events[{i}].settings.{key}: {msg}")
        problems.extend(f"events[{i}].{p}" for p in scheduling_problems(event))
    return problems


def scheduling_problems(event: Any) -> list[str]:
    """Check the payload of a scheduling event the way the controller will (paths relative)."""
    try:
        if isinstance(event, TariffEvent):
            if event.tariff is not None:
                tariff_from_dict(event.tariff, default_timezone="UTC")
            else:
                tariff_from_dict({"type": "dynamic", "timezone": "UTC", "prices": event.prices})
        elif isinstance(event, ScheduleEvent):
            parse_windows(event.windows)
        elif isinstance(event, HoursEvent):
            StationSettings().apply({"hours_of_operation": event.hours})
        elif isinstance(event, PricingEvent):
            parse_pricing(event.pricing)
        elif isinstance(event, DemandResponseEvent) and event.end_s is not None and event.end_s <= event.at_s:
            return [f"end_s: must come after at_s ({event.end_s:g} ≤ {event.at_s:g})"]
        elif isinstance(event, GoalEvent) and event.ready_by_s is not None and event.ready_by_s <= event.at_s:
            return [f"ready_by_s: must come after at_s ({event.ready_by_s:g} ≤ {event.at_s:g})"]
    except TariffError as exc:
        return [f"{'tariff' if isinstance(event, TariffEvent) and event.tariff else 'prices'}: {exc}"]
    except ScheduleError as exc:
        return [str(exc).replace("schedules", "windows", 1)]
    except PricingError as exc:
        return [str(exc)]
    except SettingsError as exc:
        return [f"hours: {msg}" for msg in exc.errors.values()]
    return []


def load_management_problems(s: Scenario) -> list[str]:
    """A load-management group needs one gateway, wire types its site has, at most 20 members."""
    problems: list[str] = []
    gateways = [i for i, c in enumerate(s.chargers) if c.role == "gateway"]
    clients = [i for i, c in enumerate(s.chargers) if c.role == "client"]
    for extra in gateways[1:]:
        problems.append(f"chargers[{extra}].role: a second gateway; a group has exactly one")
    if clients and not gateways:
        problems.append(f"chargers[{clients[0]}].role: a client needs a charger with role 'gateway'")
    if len(gateways[:1]) + len(clients) > 20:
        problems.append(f"chargers: {len(gateways[:1]) + len(clients)} group members; the limit is 20")
    allowed = {"split_phase_240": ("L1-L2",), "wye_208": ("L1-L2", "L2-L3", "L1-L3"),
               "delta_240": ("L1-L3",)}[s.site.wiring]
    for i, charger in enumerate(s.chargers):
        if charger.role != "direct" and charger.wire not in allowed:
            problems.append(f"chargers[{i}].wire: {charger.wire!r} is not possible on a "
                            f"{s.site.wiring} site (use {', '.join(allowed)})")
        if charger.role == "gateway" and not charger.online:
            problems.append(f"chargers[{i}].online: the gateway itself cannot be offline")
    return problems
