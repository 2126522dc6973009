"""Session pricing (SPEC §Station settings, "Default pricing"): what a session costs the driver.

Settings: a member and a non-member price scheme; each scheme has usage rules (by session,
charging time or kWh) and parking rules (idle time), each for some weekdays and a local time
window, with a unit interval, a rate and a grace period; then an initial grace period, a cap on
parking, a tax rate and a service fee.  The exact meaning of every field is in docs/pricing.md.

:func:`session_cost` is pure: it takes a :class:`SessionUsage` (when the session ran, how its
energy grew, when energy was flowing) and returns a :class:`SessionCost` with a breakdown.
:class:`SessionPricer` tracks usage from the station and stores the cost with the session.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from controller.charging.station import Station, StationEvent, StationSnapshot
from controller.charging.status import ChargerStatus
from controller.scheduling.local_windows import (
    WEEKDAYS,
    DailyWindow,
    parse_hhmm,
    station_zone,
    window_intervals,
)

log = logging.getLogger(__name__)

PRICING_KEY = "pricing_settings"
HHMMText = Annotated[str, Field(pattern=r"^([01]\d|2[0-3])[0-5]\d$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Money = Annotated[float, Field(ge=0, le=100_000)]
_ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PricingError(ValueError):
    """Pricing settings that cannot be used; the message names the field."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(default_factory=lambda: list(_ALL_DAYS), min_length=1)
    start: HHMMText = "0000"
    end: HHMMText = "2359"
    unit_interval_s: int = Field(default=3600, gt=0, le=86400)
    interval_rate: Money = 0.0
    grace_period_s: int = Field(default=0, ge=0, le=86400)

    def window(self) -> DailyWindow:
        days = frozenset(WEEKDAYS.index(d) for d in self.days)
        return DailyWindow(days, parse_hhmm(self.start, "start"), parse_hhmm(self.end, "end", end=True))


class UsageRule(_Rule):
    type: Literal["Session", "Time", "kWh"]


class ParkingRule(_Rule):
    type: Literal["Time"] = "Time"


class PriceScheme(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    usage: list[UsageRule] = Field(default_factory=list, max_length=32)
    parking: list[ParkingRule] = Field(default_factory=list, max_length=32)


class PricingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_scheme_id: str | None = None
    non_member_scheme_id: str | None = None
    schemes: list[PriceScheme] = Field(default_factory=list, max_length=16)
    member_tags: list[str] = Field(default_factory=list)
    local_list_members: bool = True
    """Tags in the station's local authorization list count as members."""
    initial_grace_period_s: int = Field(default=0, ge=0, le=86400)
    parking_rate_cap: Money | None = None
    tax_rate_pct: float = Field(default=0.0, ge=0, le=100)
    service_fee: Money = 0.0
    currency: str = Field(default="USD", min_length=3, max_length=3)

    @model_validator(mode="after")
    def _known_schemes(self) -> PricingSettings:
        ids = [s.id for s in self.schemes]
        if len(set(ids)) != len(ids):
            raise ValueError("scheme ids must be unique")
        for name in ("member_scheme_id", "non_member_scheme_id"):
            value = getattr(self, name)
            if value is not None and value not in ids:
                raise ValueError(f"{name}: no scheme {value!r} (known: {', '.join(ids) or 'none'})")
        return self

    def scheme(self, scheme_id: str | None) -> PriceScheme | None:
        for s in self.schemes:
            if s.id == scheme_id:
                return s
        return None


def parse_pricing(data: Any) -> PricingSettings:
    """Validate pricing settings; PricingError names the first bad field."""
    try:
        return PricingSettings.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise PricingError(f"pricing{'.' + loc if loc else ''}: {msg}") from None
    except (TypeError, ValueError) as exc:
        raise PricingError(f"pricing: {exc}") from None


# --------------------------------------------------------------------------- usage and cost


@dataclass(frozen=True)
class SessionUsage:
    id_tag: str
    started_at: float
    stopped_at: float
    energy: tuple[tuple[float, float], ...]
    """(time, Wh since the session started), in time order."""
    charging: tuple[tuple[float, float], ...]
    """Intervals [a, b) when energy was flowing."""

    def energy_at(self, t: float) -> float:
        """Session energy at ``t``, linear between samples."""
        if not self.energy:
            return 0.0
        times = [p[0] for p in self.energy]
        i = bisect.bisect_right(times, t)
        if i == 0:
            return self.energy[0][1] if t >= times[0] else 0.0
        if i >= len(self.energy):
            return self.energy[-1][1]
        (t0, e0), (t1, e1) = self.energy[i - 1], self.energy[i]
        return e0 + (e1 - e0) * (t - t0) / (t1 - t0) if t1 > t0 else e1


@dataclass(frozen=True)
class CostLine:
    item: str
    amount: float


@dataclass(frozen=True)
class SessionCost:
    total: float
    currency: str
    scheme_id: str | None
    member: bool
    lines: tuple[CostLine, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "currency": self.currency,
            "scheme_id": self.scheme_id,
            "member": self.member,
            "lines": [{"item": line.item, "amount": line.amount} for line in self.lines],
        }


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if hi > lo else None


def _rule_intervals(rule: _Rule, zone: tzinfo, start: float, end: float) -> list[tuple[float, float]]:
    a = datetime.fromtimestamp(start, tz=UTC)
    b = datetime.fromtimestamp(max(end, start), tz=UTC)
    return [(x.timestamp(), y.timestamp()) for x, y in window_intervals([rule.window()], zone, a, b)]


def _clip_all(
    spans: list[tuple[float, float]], within: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    for s in spans:
        for w in within:
            o = _overlap(s, w)
            if o is not None:
                out.append(o)
    return out


def _units(seconds: float, unit_s: int) -> int:
    return math.ceil(seconds / unit_s - 1e-9) if seconds > 0 else 0


def session_cost(
    usage: SessionUsage, settings: PricingSettings, zone: tzinfo, member: bool
) -> SessionCost:
    """The cost of one session under ``settings`` (rules in docs/pricing.md)."""
    scheme_id = settings.member_scheme_id if member else settings.non_member_scheme_id
    scheme = settings.scheme(scheme_id)
    start, stop = usage.started_at, max(usage.stopped_at, usage.started_at)
    currency = settings.currency
    if stop - start <= settings.initial_grace_period_s and settings.initial_grace_period_s > 0:
        return SessionCost(0.0, currency, scheme_id, member,
                           (CostLine("initial grace period: no charge", 0.0),))
    lines: list[CostLine] = []
    if scheme is not None:
        for i, rule in enumerate(scheme.usage):
            billable = (start + rule.grace_period_s, stop)
            if billable[1] <= billable[0]:
                continue
            windows = _rule_intervals(rule, zone, start, stop)
            label = f"usage[{i}] {rule.type} {','.join(rule.days)} {rule.start}-{rule.end}"
            if rule.type == "Session":
                if any(a <= start < b for a, b in _rule_intervals(rule, zone, start, start + 1)):
                    lines.append(CostLine(f"{label}: session", rule.interval_rate))
            elif rule.type == "Time":
                spans = _clip_all(_clip_all(list(usage.charging), windows), [billable])
                seconds = sum(b - a for a, b in spans)
                units = _units(seconds, rule.unit_interval_s)
                if units:
                    lines.append(CostLine(f"{label}: {units} × {rule.unit_interval_s} s charging",
                                          units * rule.interval_rate))
            else:
                spans = _clip_all(windows, [billable])
                wh = sum(usage.energy_at(b) - usage.energy_at(a) for a, b in spans)
                if wh > 0:
                    lines.append(CostLine(f"{label}: {wh / 1000:.3f} kWh", wh / 1000 * rule.interval_rate))
        idle_from = max((b for _, b in usage.charging), default=start)
        parking_total = 0.0
        for i, prule in enumerate(scheme.parking):
            billable = (idle_from + prule.grace_period_s, stop)
            if billable[1] <= billable[0]:
                continue
            spans = _clip_all(_rule_intervals(prule, zone, idle_from, stop), [billable])
            units = _units(sum(b - a for a, b in spans), prule.unit_interval_s)
            if units:
                amount = units * prule.interval_rate
                parking_total += amount
                lines.append(CostLine(
                    f"parking[{i}] {','.join(prule.days)} {prule.start}-{prule.end}: "
                    f"{units} × {prule.unit_interval_s} s idle", amount))
        cap = settings.parking_rate_cap
        if cap is not None and parking_total > cap:
            lines.append(CostLine(f"parking capped at {cap:.2f}", cap - parking_total))
    if settings.service_fee:
        lines.append(CostLine("service fee", settings.service_fee))
    subtotal = sum(line.amount for line in lines)
    if settings.tax_rate_pct and subtotal:
        lines.append(CostLine(f"tax {settings.tax_rate_pct:g} %", subtotal * settings.tax_rate_pct / 100))
    total = round(sum(line.amount for line in lines) + 1e-9, 2)
    rounded = tuple(CostLine(line.item, round(line.amount, 4)) for line in lines)
    return SessionCost(max(0.0, total), currency, scheme_id, member, rounded)


# --------------------------------------------------------------------------- the station side


@dataclass
class _Tracking:
    session_id: int
    id_tag: str
    started_at: float
    energy: list[tuple[float, float]]
    charging: list[tuple[float, float]]
    charging_since: float | None = None


class SessionPricer:
    """Follows each session's energy and charging time and prices it when it stops."""

    def __init__(self, station: Station) -> None:
        self._station = station
        self.settings = self._load()
        self._track: _Tracking | None = None
        self._listeners: list[Callable[[int, SessionCost, dict[str, Any]], None]] = []
        self.last_cost: SessionCost | None = None
        station.on_event(self._on_event)
        station.on_change(self._on_change)

    def on_priced(self, listener: Callable[[int, SessionCost, dict[str, Any]], None]) -> None:
        """Called with (session id, cost, the session_stopped data) after the cost is stored."""
        self._listeners.append(listener)

    def _load(self) -> PricingSettings:
        stored = self._station.storage.get_json(PRICING_KEY)
        if stored is None:
            return PricingSettings()
        try:
            return parse_pricing(stored)
        except PricingError as exc:
            log.error("stored pricing settings refused (%s); sessions are free", exc)
            return PricingSettings()

    def apply(self, data: Any) -> PricingSettings:
        """Validate, persist, then use new pricing settings (PricingError: nothing changes)."""
        settings = parse_pricing(data)
        self._station.storage.put_json(PRICING_KEY, settings.model_dump(mode="json"))
        self.settings = settings
        return settings

    def is_member(self, id_tag: str) -> bool:
        s = self.settings
        if id_tag in s.member_tags:
            return True
        return s.local_list_members and id_tag in self._station.settings.local_list

    def _zone(self) -> tzinfo:
        st = self._station.settings
        return station_zone(st.time_zone, st.daylight_saving)

    # ------------------------------------------------------------------ tracking
    def _on_event(self, event: StationEvent) -> None:
        if event.kind in ("session_started", "session_resumed") and (
            self._track is None or self._track.session_id != event.data.get("session_id")
        ):
            session = self._station.session
            started = session.started_at if session is not None else event.at
            self._track = _Tracking(
                int(event.data["session_id"]),
                str(event.data.get("id_tag") or (session.id_tag if session else "")),
                started,
                [(started, 0.0)],
                [],
            )
        elif event.kind == "session_stopped":
            self._price(event)

    def _on_change(self, snap: StationSnapshot) -> None:
        track = self._track
        if track is None or snap.session is None or snap.session.get("id") != track.session_id:
            return
        now = self._station.clock.now()
        energy = float(snap.session_energy_wh)
        if not track.energy or track.energy[-1][1] != energy:
            track.energy.append((now, energy))
        charging = snap.status is ChargerStatus.CHARGING
        if charging and track.charging_since is None:
            track.charging_since = now
        elif not charging and track.charging_since is not None:
            track.charging.append((track.charging_since, now))
            track.charging_since = None

    def usage(self, stopped_at: float | None = None) -> SessionUsage | None:
        """The running session's usage so far (or up to ``stopped_at``)."""
        track = self._track
        if track is None:
            return None
        end = stopped_at if stopped_at is not None else self._station.clock.now()
        charging = list(track.charging)
        if track.charging_since is not None:
            charging.append((track.charging_since, end))
        return SessionUsage(track.id_tag, track.started_at, end, tuple(track.energy), tuple(charging))

    def running_cost(self) -> SessionCost | None:
        usage = self.usage()
        if usage is None or self._station.session is None or self._station.session.stopped:
            return None
        return session_cost(usage, self.settings, self._zone(), self.is_member(usage.id_tag))

    def _price(self, event: StationEvent) -> None:
        session_id = int(event.data["session_id"])
        track = self._track
        if track is not None and track.session_id == session_id:
            usage = self.usage(event.at)
            assert usage is not None
            if usage.energy[-1][1] != float(event.data["energy_wh"]):
                usage = SessionUsage(
                    usage.id_tag, usage.started_at, usage.stopped_at,
                    usage.energy + ((event.at, float(event.data["energy_wh"])),), usage.charging,
                )
        else:
            # no tracking (e.g. the session ran across a restart): assume steady charging
            started = float(event.data.get("started_at", event.at))
            energy = float(max(0, event.data["energy_wh"]))
            usage = SessionUsage(
                str(event.data["id_tag"]), started, event.at,
                ((started, 0.0), (event.at, energy)),
                ((started, event.at),) if energy > 0 else (),
            )
        self._track = None
        cost = session_cost(usage, self.settings, self._zone(), self.is_member(usage.id_tag))
        self._station.storage.set_session_cost(session_id, cost.total)
        self.last_cost = cost
        for listener in list(self._listeners):
            listener(session_id, cost, dict(event.data))

