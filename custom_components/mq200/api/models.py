"""Typed views of the twin's documents (docs/twin-api.md §2) and of what clients may write.

The state keeps the raw JSON halves (so a delta is a cheap merge) and exposes each known key
as a typed property; missing or ill-typed keys read as ``None`` (the twin's "unknown").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from .merge import merge_patch

JsonObject = dict[str, Any]
SettingValue = str | int | float | bool | None

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConnectorStatus(StrEnum):
    """OCPP 1.6 connector status as the twin spells it, plus ``Initializing``."""

    INITIALIZING = "Initializing"
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class LoadManagementPolicy(StrEnum):
    """Local load-management policies of a gateway (SPEC §Local load management)."""

    UNIFORM_DISTRIBUTION = "uniform_distribution"
    FIRST_IN_FIRST_SERVE = "first_in_first_serve"


def parse_time(value: Any) -> datetime | None:
    """An ISO datetime with offset, or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_hhmm(value: Any) -> time | None:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    try:
        return time(int(value[:2]), int(value[3:]))
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _obj(value: Any) -> JsonObject:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Limit:
    source: str
    amps: float | None
    paused: bool
    reason: str


@dataclass(frozen=True)
class Fault:
    code: str
    since: datetime | None
    recoverable: bool


@dataclass(frozen=True)
class GroupMember:
    """A charger in this gateway's load-management group."""

    serial: str
    ip: str | None
    firmware: str | None
    requested_a: float | None
    allowed_a: float | None
    online: bool


@dataclass(frozen=True)
class DemandResponseEvent:
    id: str
    start: datetime
    end: datetime
    limit_a: float | None


@dataclass(frozen=True)
class WeeklyWindow:
    """A window that repeats on the given days (``end`` before ``start`` crosses midnight)."""

    id: str
    start: time
    end: time
    days: tuple[str, ...] = WEEKDAYS
    enabled: bool = True

    def as_json(self) -> JsonObject:
        return {
            "id": self.id,
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "days": list(self.days),
            "enabled": self.enabled,
        }


@dataclass(frozen=True)
class OneOffWindow:
    id: str
    start: datetime
    end: datetime
    enabled: bool = True

    def as_json(self) -> JsonObject:
        return {
            "id": self.id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "enabled": self.enabled,
        }


ScheduleWindow = WeeklyWindow | OneOffWindow


def parse_window(raw: Any) -> ScheduleWindow | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    enabled = raw.get("enabled", True) is not False
    if "days" in raw or parse_hhmm(raw.get("start")) is not None:
        start, end = parse_hhmm(raw.get("start")), parse_hhmm(raw.get("end"))
        days = raw.get("days")
        if start is None or end is None or not isinstance(days, list):
            return None
        return WeeklyWindow(raw["id"], start, end, tuple(str(d) for d in days), enabled)
    begin, finish = parse_time(raw.get("start")), parse_time(raw.get("end"))
    if begin is None or finish is None:
        return None
    return OneOffWindow(raw["id"], begin, finish, enabled)


@dataclass(frozen=True)
class DepartureGoal:
    """Be ready by a time with either this much energy or this state of charge."""

    ready_by: datetime
    energy_wh: float | None = None
    target_soc_pct: float | None = None
    battery_kwh: float | None = None

    def as_json(self) -> JsonObject:
        out: JsonObject = {"ready_by": self.ready_by.isoformat()}
        if self.energy_wh is not None:
            out["energy_wh"] = self.energy_wh
        if self.target_soc_pct is not None:
            out["target_soc_pct"] = self.target_soc_pct
        if self.battery_kwh is not None:
            out["battery_kwh"] = self.battery_kwh
        return out


@dataclass(frozen=True)
class PriceEntry:
    start: datetime
    end: datetime
    price_per_kwh: float

    def as_json(self) -> JsonObject:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "price_per_kwh": self.price_per_kwh,
        }


@dataclass(frozen=True)
class WhatIfAnswer:
    """The twin's "when full" answer (docs/twin-api.md §6), reduced to what HA shows."""

    full_at: datetime | None
    full_reachable: bool
    goal_reachable: bool | None
    raw: JsonObject = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, raw: JsonObject) -> WhatIfAnswer:
        full = _obj(raw.get("full"))
        goal = raw.get("goal")
        return cls(
            full_at=parse_time(full.get("at")) if full.get("reachable") else None,
            full_reachable=full.get("reachable") is True,
            goal_reachable=(_obj(goal).get("reachable") is True) if goal is not None else None,
            raw=raw,
        )


@dataclass(frozen=True)
class Delta:
    """One version step pushed on the WebSocket."""

    version: int
    reported: JsonObject | None
    desired: JsonObject | None
    desired_version: int | None


@dataclass(frozen=True)
class ChargerState:
    """One version of the twin document."""

    device_id: str
    version: int
    desired_version: int
    reported: JsonObject
    desired: JsonObject

    @classmethod
    def from_json(cls, raw: Any) -> ChargerState:
        if not isinstance(raw, dict):
            raise ValueError(f"state: expected an object, got {type(raw).__name__}")
        version = raw.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"state.version: {version!r} is not an integer")
        desired_version = raw.get("desired_version", 0)
        return cls(
            device_id=str(raw.get("device_id", "")),
            version=version,
            desired_version=desired_version if isinstance(desired_version, int) else 0,
            reported=_obj(raw.get("reported")),
            desired=_obj(raw.get("desired")),
        )

    def apply(self, delta: Delta) -> ChargerState:
        """The next version; the caller checks ``delta.version == self.version + 1``."""
        return ChargerState(
            device_id=self.device_id,
            version=delta.version,
            desired_version=(
                delta.desired_version if delta.desired_version is not None
                else self.desired_version
            ),
            reported=(
                merge_patch(self.reported, delta.reported) if delta.reported else self.reported
            ),
            desired=merge_patch(self.desired, delta.desired) if delta.desired else self.desired,
        )

    def as_json(self) -> JsonObject:
        return {
            "device_id": self.device_id,
            "version": self.version,
            "desired_version": self.desired_version,
            "reported": self.reported,
            "desired": self.desired,
        }

    # ------------------------------------------------------------------ identity

    @property
    def serial(self) -> str:
        serial = self.reported.get("serial")
        return serial if isinstance(serial, str) and serial else self.device_id

    @property
    def firmware(self) -> str | None:
        value = self.reported.get("firmware")
        return value if isinstance(value, str) else None

    @property
    def model(self) -> str | None:
        value = self.reported.get("model")
        return value if isinstance(value, str) else None

    @property
    def online(self) -> bool:
        """False only when the twin says the controller is not connected to it."""
        return self.reported.get("online") is not False

    # ------------------------------------------------------------------ measurements

    @property
    def status(self) -> ConnectorStatus | None:
        try:
            return ConnectorStatus(str(self.reported.get("status")))
        except ValueError:
            return None

    @property
    def pilot(self) -> str | None:
        pilot = self.reported.get("pilot")
        return pilot if pilot in ("A", "B", "C", "D", "E", "F") else None

    @property
    def offered_a(self) -> float | None:
        return _number(self.reported.get("offered_a"))

    @property
    def current_a(self) -> float | None:
        return _number(self.reported.get("current_a"))

    @property
    def voltage_v(self) -> float | None:
        return _number(self.reported.get("voltage_v"))

    @property
    def power_w(self) -> float | None:
        return _number(self.reported.get("power_w"))

    @property
    def energy_wh(self) -> float | None:
        return _number(self.reported.get("energy_wh"))

    @property
    def session_energy_wh(self) -> float | None:
        return _number(self.reported.get("session_energy_wh"))

    @property
    def temperature_c(self) -> float | None:
        return _number(self.reported.get("temperature_c"))

    @property
    def session_cost(self) -> float | None:
        return _number(_obj(self.reported.get("session")).get("cost"))

    @property
    def limit_reason(self) -> str | None:
        value = self.reported.get("limit_reason")
        return value if isinstance(value, str) else None

    @property
    def next_start(self) -> datetime | None:
        return parse_time(self.reported.get("next_start"))

    @property
    def dip_max_a(self) -> int | None:
        value = self.reported.get("dip_max_a")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def max_current_a(self) -> int:
        """The highest limit a client may set: the DIP maximum, under the firmware cap."""
        settings = _obj(self.reported.get("settings"))
        cap = _number(settings.get("max_amperage_fw", settings.get("max_amperage_fw_a")))
        dip = self.dip_max_a
        values = [int(v) for v in (cap, dip) if v is not None]
        return min(values) if values else 80

    @property
    def signal_dbm(self) -> float | None:
        return _number(_obj(self.reported.get("network")).get("signal_dbm"))

    @property
    def limits(self) -> list[Limit]:
        out: list[Limit] = []
        for raw in self.reported.get("limits") or []:
            if isinstance(raw, dict) and isinstance(raw.get("source"), str):
                out.append(
                    Limit(raw["source"], _number(raw.get("amps")), raw.get("paused") is True,
                          str(raw.get("reason", "")))
                )
        return out

    def limit(self, source: str) -> Limit | None:
        return next((lim for lim in self.limits if lim.source == source), None)

    @property
    def faults(self) -> list[Fault]:
        out: list[Fault] = []
        for raw in self.reported.get("faults") or []:
            if isinstance(raw, dict):
                out.append(Fault(str(raw.get("code", "unknown")), parse_time(raw.get("since")),
                                 raw.get("recoverable") is True))
        return out

    @property
    def plugged_in(self) -> bool | None:
        pilot = self.pilot
        return None if pilot is None else pilot in ("B", "C", "D")

    @property
    def charging(self) -> bool | None:
        status = self.status
        return None if status is None else status is ConnectorStatus.CHARGING

    @property
    def faulted(self) -> bool:
        return bool(self.faults) or self.status is ConnectorStatus.FAULTED

    @property
    def demand_response_active(self) -> bool:
        lim = self.limit("demand_response")
        return lim is not None and (lim.paused or lim.amps is not None)

    @property
    def central_system_connected(self) -> bool | None:
        value = _obj(self.reported.get("ocpp")).get("connected")
        return value if isinstance(value, bool) else None

    @property
    def load_management_allocation_a(self) -> float | None:
        lm = _number(_obj(self.reported.get("load_management")).get("allocation_a"))
        if lm is not None:
            return lm
        lim = self.limit("load_management")
        return None if lim is None else lim.amps

    # ------------------------------------------------------------------ load management

    @property
    def load_management_role(self) -> str | None:
        role = _obj(self.reported.get("load_management")).get("role")
        return role if isinstance(role, str) else None

    @property
    def is_gateway(self) -> bool:
        return self.load_management_role == "gateway"

    @property
    def load_management_policy(self) -> LoadManagementPolicy | None:
        try:
            return LoadManagementPolicy(
                str(_obj(self.reported.get("load_management")).get("policy"))
            )
        except ValueError:
            return None

    @property
    def group_members(self) -> list[GroupMember]:
        out: list[GroupMember] = []
        for raw in _obj(self.reported.get("load_management")).get("members") or []:
            if isinstance(raw, dict) and isinstance(raw.get("serial"), str):
                out.append(GroupMember(
                    serial=raw["serial"],
                    ip=raw.get("ip") if isinstance(raw.get("ip"), str) else None,
                    firmware=raw.get("firmware") if isinstance(raw.get("firmware"), str) else None,
                    requested_a=_number(raw.get("requested_a")),
                    allowed_a=_number(raw.get("allowed_a")),
                    online=raw.get("online") is not False,
                ))
        return out

    # ------------------------------------------------------------------ firmware, portal, DR

    @property
    def firmware_available(self) -> str | None:
        value = _obj(self.reported.get("firmware_available")).get("version")
        return value if isinstance(value, str) else None

    @property
    def firmware_release_url(self) -> str | None:
        value = _obj(self.reported.get("firmware_available")).get("release_url")
        return value if isinstance(value, str) else None

    @property
    def portal_initial_password(self) -> bool:
        return _obj(self.reported.get("portal")).get("initial_password") is True

    @property
    def demand_response_events(self) -> list[DemandResponseEvent]:
        out: list[DemandResponseEvent] = []
        for raw in _obj(self.reported.get("demand_response")).get("events") or []:
            if not isinstance(raw, dict):
                continue
            start, end = parse_time(raw.get("start")), parse_time(raw.get("end"))
            if start is not None and end is not None:
                out.append(DemandResponseEvent(str(raw.get("id", start.isoformat())), start, end,
                                               _number(raw.get("limit_a"))))
        return out

    # ------------------------------------------------------------------ desired

    @property
    def charging_enabled(self) -> bool:
        return self.desired.get("charging_enabled") is not False

    @property
    def current_limit_a(self) -> int | None:
        value = self.desired.get("current_limit_a")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def schedules(self) -> list[ScheduleWindow]:
        windows = (parse_window(raw) for raw in self.desired.get("schedules") or [])
        return [w for w in windows if w is not None]

    @property
    def departure_goal(self) -> DepartureGoal | None:
        raw = _obj(self.desired.get("departure_goal"))
        ready_by = parse_time(raw.get("ready_by"))
        if ready_by is None:
            return None
        return DepartureGoal(ready_by, _number(raw.get("energy_wh")),
                             _number(raw.get("target_soc_pct")), _number(raw.get("battery_kwh")))

    @property
    def dr_opt_out(self) -> bool:
        return self.desired.get("dr_opt_out") is True

    def desired_rejection(self, key: str) -> str | None:
        """The controller's reason for rejecting a desired key, if it did."""
        status = _obj(_obj(self.reported.get("desired_status")).get(key))
        if status.get("state") == "rejected":
            return str(status.get("reason", "rejected"))
        return None
