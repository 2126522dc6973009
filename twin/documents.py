"""The twin's state document: JSON merge-patch rules and the schemas of both halves.

The document is kept as plain JSON (dicts, lists, scalars) because that is what travels on the
wire and what is persisted; pydantic models are used only to *check* a candidate document at
the boundary, so what a client wrote is stored as it wrote it (no silent coercion).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Mapping, TypeAlias, Union

from pydantic import JsonValue as AnyJson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

JsonValue: TypeAlias = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]
JsonObject: TypeAlias = dict[str, JsonValue]

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

#: Reported keys that only the twin writes; the controller may not send them.
TWIN_MAINTAINED_KEYS = frozenset({"desired_status", "online"})

DESIRED_KEYS = (
    "charging_enabled",
    "current_limit_a",
    "schedules",
    "departure_goal",
    "dr_opt_out",
    "settings",
    "prices",
)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class FieldProblem:
    """One bad key in a document: dotted path, the offending value, and why."""

    key: str
    value: JsonValue
    message: str

    def as_json(self) -> JsonObject:
        return {"key": self.key, "value": self.value, "message": self.message}


class DocumentError(ValueError):
    """A patch, report, event or session that fails validation; nothing was changed."""

    def __init__(self, code: str, half: str, problems: list[FieldProblem]) -> None:
        self.code = code
        self.half = half
        self.problems = problems
        first = problems[0] if problems else FieldProblem("", None, "invalid")
        prefix = f"{half}.{first.key}" if first.key else half
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{prefix}: {json.dumps(first.value, default=str)} is not allowed ({first.message}){more}"
        )


_UNION_TAGS = frozenset({"weekly", "one_off"})


def _problems_from(exc: ValidationError, source: Mapping[str, Any]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors():
        loc = [p for p in err["loc"] if p not in _UNION_TAGS]
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        if loc and loc[-1] == "[key]":
            # A bad mapping key: name the key itself as the offending value.
            loc = loc[:-1]
            value: Any = loc[-1] if loc else None
            message = f"bad name: {message}"
        else:
            value = _lookup(source, loc)
        key = ".".join(str(p) for p in loc)
        if (key, message) in seen:
            continue
        seen.add((key, message))
        problems.append(FieldProblem(key, _jsonable(value), message))
    return problems


def _lookup(source: Mapping[str, Any], loc: list[int | str]) -> Any:
    cur: Any = source
    for part in loc:
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return None
    return cur


def _jsonable(value: Any) -> JsonValue:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- merge patch


def merge_patch(target: JsonValue, patch: JsonValue) -> JsonValue:
    """RFC 7386 merge patch; returns a new value and never mutates its inputs."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: JsonObject = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def diff_patch(old: JsonObject, new: JsonObject) -> JsonObject:
    """The smallest merge patch that turns ``old`` into ``new`` (lists are replaced whole)."""
    patch: JsonObject = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
            continue
        before = old[key]
        if isinstance(before, dict) and isinstance(value, dict):
            sub = diff_patch(before, value)
            if sub:
                patch[key] = sub
        elif before != value or type(before) is not type(value):
            patch[key] = copy.deepcopy(value)
    return patch


def ensure_object(value: object, half: str, code: str) -> JsonObject:
    """Check that a decoded body part is a JSON object with string keys."""
    if not isinstance(value, dict):
        raise DocumentError(code, half, [FieldProblem("", _jsonable(value), "must be an object")])
    for key in value:
        if not isinstance(key, str):
            raise DocumentError(code, half, [FieldProblem(str(key), None, "keys must be strings")])
    return value


# --------------------------------------------------------------------------- desired schema

HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WindowId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
SettingName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class WeeklyWindow(_Strict):
    id: WindowId
    start: HHMM
    end: HHMM
    days: list[Weekday] = Field(min_length=1, max_length=7)
    enabled: bool = True

    @model_validator(mode="after")
    def _distinct_days(self) -> WeeklyWindow:
        if len(set(self.days)) != len(self.days):
            raise ValueError("days must not repeat")
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class OneOffWindow(_Strict):
    id: WindowId
    start: AwareDatetime
    end: AwareDatetime
    enabled: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> OneOffWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def _window_kind(value: Any) -> str:
    """Weekly windows have ``days`` or an ``HH:MM`` start; everything else is one-off."""
    if isinstance(value, dict):
        start = value.get("start")
        if "days" in value or (isinstance(start, str) and len(start) <= 5):
            return "weekly"
        return "one_off"
    return "weekly" if hasattr(value, "days") else "one_off"


ScheduleWindow = Annotated[
    Annotated[WeeklyWindow, Tag("weekly")] | Annotated[OneOffWindow, Tag("one_off")],
    Discriminator(_window_kind),
]


class DepartureGoal(_Strict):
    ready_by: AwareDatetime
    energy_wh: Annotated[int | float, Field(gt=0, le=200_000)] | None = None
    target_soc_pct: Annotated[int | float, Field(gt=0, le=100)] | None = None
    battery_kwh: Annotated[int | float, Field(ge=1, le=300)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> DepartureGoal:
        if (self.energy_wh is None) == (self.target_soc_pct is None):
            raise ValueError("give exactly one of energy_wh or target_soc_pct")
        return self


class PriceEntry(_Strict):
    start: AwareDatetime
    end: AwareDatetime
    price_per_kwh: int | float

    @model_validator(mode="after")
    def _ordered(self) -> PriceEntry:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class DemandResponseWish(_Strict):
    """A local demand-response event (e.g. from a Home Assistant automation)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    start: AwareDatetime
    end: AwareDatetime
    level: Annotated[int | float, Field(ge=0, le=3)] | None = None
    limit_a: Annotated[int | float, Field(ge=0, le=80)] | None = None

    @model_validator(mode="after")
    def _checks(self) -> DemandResponseWish:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.level is None and self.limit_a is None:
            raise ValueError("give level (0-3) or limit_a (amps)")
        return self


_ShortText = Annotated[str, StringConstraints(max_length=500)]
# Scalars, plus the two structured station settings: tag lists and per-weekday hour windows.
SettingValue = (
    _ShortText
    | int
    | float
    | bool
    | None
    | Annotated[list[_ShortText], Field(max_length=200)]
    | Annotated[dict[Annotated[str, StringConstraints(max_length=16)], list[_ShortText]], Field(max_length=7)]
)


class DesiredDocument(_Strict):
    """The whole desired half after a patch; every key optional, unknown keys rejected."""

    charging_enabled: bool | None = None
    current_limit_a: Annotated[int, Field(ge=0, le=80)] | None = None
    schedules: Annotated[list[ScheduleWindow], Field(max_length=32)] | None = None
    departure_goal: DepartureGoal | None = None
    dr_opt_out: bool | None = None
    settings: dict[SettingName, SettingValue] | None = None
    prices: Annotated[list[PriceEntry], Field(max_length=500)] | None = None
    demand_response: DemandResponseWish | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> DesiredDocument:
        if self.schedules:
            ids = [w.id for w in self.schedules]
            if len(set(ids)) != len(ids):
                raise ValueError("schedule window ids must be unique")
        if self.prices:
            ordered = sorted(self.prices, key=lambda p: p.start)
            for a, b in zip(ordered, ordered[1:], strict=False):
                if b.start < a.end:
                    raise ValueError("price entries must not overlap")
        return self


def validate_desired(document: JsonObject) -> DesiredDocument:
    """Check a whole candidate desired half; raises :class:`DocumentError` naming bad keys."""
    try:
        return DesiredDocument.model_validate_json(json.dumps(document), strict=True)
    except ValidationError as exc:
        raise DocumentError("invalid_patch", "desired", _problems_from(exc, document)) from exc


# --------------------------------------------------------------------------- reported schema

ConnectorStatus = Literal[
    "Initializing",
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEV",
    "SuspendedEVSE",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
]
Number = int | float


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class SessionState(_Lenient):
    id: str | None = None
    started_at: AwareDatetime | None = None
    id_tag: str | None = None
    energy_wh: Number | None = None
    cost: Number | None = None


class LimitState(_Lenient):
    source: str
    amps: Number | None = None
    paused: bool = False
    reason: str


class EvState(_Lenient):
    soc_pct: Annotated[Number, Field(ge=0, le=100)] | None = None
    battery_kwh: Annotated[Number, Field(gt=0, le=300)] | None = None


class KeyStatus(_Strict):
    """The controller's verdict on one desired key (``settings.<name>`` for one setting)."""

    state: Literal["pending", "applied", "rejected"]
    version: int | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None

    @model_validator(mode="after")
    def _reason_for_reject(self) -> KeyStatus:
        if self.state == "rejected" and not self.reason:
            raise ValueError("a rejected key needs a reason")
        return self


class ReportedDocument(_Lenient):
    """The reported half; known keys are type-checked, extra snake_case keys pass through."""

    status: ConnectorStatus | None = None
    pilot: Literal["A", "B", "C", "D", "E", "F"] | None = None
    offered_a: Number | None = None
    current_a: Number | None = None
    voltage_v: Number | None = None
    power_w: Number | None = None
    energy_wh: Annotated[Number, Field(ge=0)] | None = None
    session_energy_wh: Number | None = None
    temperature_c: Number | None = None
    session: SessionState | None = None
    faults: list[AnyJson] | None = None
    limits: list[LimitState] | None = None
    limit_reason: str | None = None
    settings: dict[str, AnyJson] | None = None
    schedule: AnyJson = None
    next_start: AwareDatetime | None = None
    network: dict[str, AnyJson] | None = None
    serial: str | None = None
    firmware: str | None = None
    dip_max_a: int | None = None
    ev: EvState | None = None
    online: bool | None = None
    desired_status: dict[str, KeyStatus] | None = None

    @model_validator(mode="after")
    def _snake_keys(self) -> ReportedDocument:
        for key in self.model_extra or {}:
            if not SNAKE_CASE.match(key):
                raise ValueError(f"reported key {key!r} is not snake_case")
        return self


def validate_reported(document: JsonObject) -> ReportedDocument:
    try:
        return ReportedDocument.model_validate_json(json.dumps(document), strict=True)
    except ValidationError as exc:
        raise DocumentError("invalid_report", "reported", _problems_from(exc, document)) from exc


def check_device_report(patch: JsonObject) -> None:
    """The controller may not write the twin-maintained keys."""
    bad = [k for k in patch if k in TWIN_MAINTAINED_KEYS]
    if bad:
        raise DocumentError(
            "invalid_report",
            "reported",
            [FieldProblem(k, patch[k], "maintained by the twin; the device may not write it")
             for k in bad],
        )


# --------------------------------------------------------------------------- acks, events, sessions


class DesiredAck(_Strict):
    desired_version: Annotated[int, Field(ge=0)]
    statuses: dict[Annotated[str, StringConstraints(min_length=1, max_length=130)], KeyStatus] = (
        Field(default_factory=dict)
    )


def validate_ack(body: JsonObject) -> DesiredAck:
    try:
        return DesiredAck.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        raise DocumentError("invalid_ack", "ack", _problems_from(exc, body)) from exc


class EventIn(_Strict):
    """An event the controller (or the twin) records in the history."""

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    at: AwareDatetime | None = None
    message: Annotated[str, StringConstraints(max_length=500)] = ""
    data: dict[str, AnyJson] = Field(default_factory=dict)


def validate_event(body: JsonObject) -> EventIn:
    try:
        return EventIn.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        raise DocumentError("invalid_event", "event", _problems_from(exc, body)) from exc


class SessionIn(_Strict):
    """A charging session as reported by the controller; upserted by ``id``."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    id_tag: Annotated[str, StringConstraints(max_length=64)] | None = None
    energy_wh: Annotated[Number, Field(ge=0)] = 0
    meter_start_wh: Annotated[Number, Field(ge=0)] | None = None
    meter_stop_wh: Annotated[Number, Field(ge=0)] | None = None
    cost: Number | None = None
    stop_reason: Annotated[str, StringConstraints(max_length=64)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SessionIn:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at must not be before started_at")
        return self


def validate_session(body: JsonObject) -> SessionIn:
    try:
        return SessionIn.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        raise DocumentError("invalid_session", "session", _problems_from(exc, body)) from exc


# --------------------------------------------------------------------------- the document


@dataclass
class TwinDocument:
    """One device's versioned document as held in memory and persisted."""

    device_id: str
    version: int = 0
    desired_version: int = 0
    updated_at: float = 0.0
    reported: JsonObject = field(default_factory=dict)
    desired: JsonObject = field(default_factory=dict)

    def copy(self) -> TwinDocument:
        return TwinDocument(
            self.device_id,
            self.version,
            self.desired_version,
            self.updated_at,
            copy.deepcopy(self.reported),
            copy.deepcopy(self.desired),
        )

    def as_json(self) -> JsonObject:
        return {
            "device_id": self.device_id,
            "version": self.version,
            "desired_version": self.desired_version,
            "updated_at": iso(self.updated_at),
            "reported": copy.deepcopy(self.reported),
            "desired": copy.deepcopy(self.desired),
        }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def parse_iso(value: str, name: str) -> float:
    """Parse an ISO datetime that carries an offset; raises ValueError naming ``name``."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {value!r} is not an ISO 8601 datetime") from exc
    if dt.tzinfo is None:
        raise ValueError(f"{name}: {value!r} has no UTC offset")
    return dt.timestamp()
