"""Charging profiles and the composite schedule (OCPP 1.6 §3.13), as pure functions.

Per purpose the valid profile with the highest stack level wins; a TxProfile replaces the
TxDefaultProfile for its transaction; the result is capped by the ChargePointMaxProfile.
Limits are in amperes only (the MQ 200 is a current-controlled EVSE).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from controller.ocpp.id_tag_info import format_ocpp_time, parse_ocpp_time

DAY = 86400.0
WEEK = 7 * DAY


class Purpose(str, enum.Enum):
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class ProfileError(ValueError):
    """A profile the charge point cannot accept (the message names the field)."""


@dataclass(frozen=True)
class SchedulePeriod:
    start_period: float
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class ChargingProfile:
    profile_id: int
    connector_id: int
    stack_level: int
    purpose: Purpose
    kind: str  # Absolute | Recurring | Relative
    periods: tuple[SchedulePeriod, ...]
    transaction_id: int | None = None
    recurrency: str | None = None  # Daily | Weekly
    valid_from: float | None = None
    valid_to: float | None = None
    start_schedule: float | None = None
    duration: float | None = None
    min_charging_rate: float | None = None

    def schedule_start(self, at: float, tx_start: float | None) -> float | None:
        """When the schedule that is in force at ``at`` started (None: not applicable)."""
        if self.kind == "Relative":
            return tx_start
        anchor = self.start_schedule if self.start_schedule is not None else self.valid_from
        if anchor is None:
            return None
        if self.kind == "Recurring":
            period = WEEK if self.recurrency == "Weekly" else DAY
            if at < anchor:
                return None
            return anchor + ((at - anchor) // period) * period
        return anchor

    def limit_at(self, at: float, tx_start: float | None) -> float | None:
        if self.valid_from is not None and at < self.valid_from:
            return None
        if self.valid_to is not None and at >= self.valid_to:
            return None
        start = self.schedule_start(at, tx_start)
        if start is None or at < start:
            return None
        offset = at - start
        if self.duration is not None and offset >= self.duration:
            return None
        current: float | None = None
        for period in self.periods:
            if period.start_period <= offset:
                current = period.limit
        return current

    def change_points(self, begin: float, end: float, tx_start: float | None) -> set[float]:
        """Instants in [begin, end) where this profile's contribution may change."""
        points: set[float] = set()
        for edge in (self.valid_from, self.valid_to):
            if edge is not None:
                points.add(edge)
        starts: list[float] = []
        if self.kind == "Recurring":
            period = WEEK if self.recurrency == "Weekly" else DAY
            first = self.schedule_start(begin, tx_start)
            anchor = self.start_schedule if self.start_schedule is not None else self.valid_from
            if first is None and anchor is not None:
                first = anchor
            if first is not None:
                moment = first
                while moment < end:
                    starts.append(moment)
                    moment += period
        else:
            start = self.schedule_start(begin, tx_start)
            if start is not None:
                starts.append(start)
        for start in starts:
            for p in self.periods:
                points.add(start + p.start_period)
            if self.duration is not None:
                points.add(start + self.duration)
        return {p for p in points if begin <= p < end}


def parse_profile(data: dict[str, Any], max_periods: int = 32, max_stack: int = 99) -> ChargingProfile:
    """An OCPP csChargingProfiles object (camelCase) to a ChargingProfile, or ProfileError."""
    try:
        schedule = data["chargingSchedule"]
        unit = schedule["chargingRateUnit"]
        if unit != "A":
            raise ProfileError(f"chargingRateUnit {unit!r}: only 'A' is supported")
        raw_periods = schedule["chargingSchedulePeriod"]
        if not raw_periods:
            raise ProfileError("chargingSchedulePeriod is empty")
        if len(raw_periods) > max_periods:
            raise ProfileError(f"{len(raw_periods)} schedule periods, at most {max_periods}")
        periods = tuple(
            SchedulePeriod(float(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
            for p in raw_periods
        )
        starts = [p.start_period for p in periods]
        if starts[0] != 0 or starts != sorted(set(starts)):
            raise ProfileError("startPeriod must begin at 0 and increase strictly")
        if any(p.limit < 0 for p in periods):
            raise ProfileError("limit must not be negative")
        stack = int(data["stackLevel"])
        if not 0 <= stack <= max_stack:
            raise ProfileError(f"stackLevel {stack} outside 0..{max_stack}")
        kind = data["chargingProfileKind"]
        recurrency = data.get("recurrencyKind")
        if kind == "Recurring" and recurrency not in ("Daily", "Weekly"):
            raise ProfileError("a Recurring profile needs recurrencyKind Daily or Weekly")
        if kind == "Recurring" and "startSchedule" not in schedule:
            raise ProfileError("a Recurring profile needs chargingSchedule.startSchedule")
        purpose = Purpose(data["chargingProfilePurpose"])
        return ChargingProfile(
            profile_id=int(data["chargingProfileId"]),
            connector_id=int(data.get("connectorId", 1)),
            stack_level=stack,
            purpose=purpose,
            kind=str(kind),
            periods=periods,
            transaction_id=data.get("transactionId"),
            recurrency=recurrency,
            valid_from=parse_ocpp_time(data["validFrom"]) if data.get("validFrom") else None,
            valid_to=parse_ocpp_time(data["validTo"]) if data.get("validTo") else None,
            start_schedule=(
                parse_ocpp_time(schedule["startSchedule"]) if schedule.get("startSchedule") else None
            ),
            duration=float(schedule["duration"]) if schedule.get("duration") is not None else None,
            min_charging_rate=schedule.get("minChargingRate"),
        )
    except (KeyError, TypeError) as error:
        raise ProfileError(f"charging profile is missing or has a bad field: {error}") from None


def _winner(
    profiles: Iterable[ChargingProfile], purpose: Purpose, at: float, tx_start: float | None
) -> float | None:
    best: tuple[int, float] | None = None
    for profile in profiles:
        if profile.purpose is not purpose:
            continue
        limit = profile.limit_at(at, tx_start)
        if limit is not None and (best is None or profile.stack_level > best[0]):
            best = (profile.stack_level, limit)
    return None if best is None else best[1]


def composite_limit(
    profiles: Sequence[ChargingProfile],
    at: float,
    tx_start: float | None,
    tx_id: int | None,
) -> float | None:
    """The limit in force at ``at`` (None: no profile limits charging)."""
    applicable = [
        p
        for p in profiles
        if p.purpose is not Purpose.TX
        or (tx_start is not None and (p.transaction_id is None or p.transaction_id == tx_id))
    ]
    cap = _winner(applicable, Purpose.CHARGE_POINT_MAX, at, tx_start)
    tx_limit = _winner(applicable, Purpose.TX, at, tx_start) if tx_start is not None else None
    if tx_limit is None:
        tx_limit = _winner(applicable, Purpose.TX_DEFAULT, at, tx_start)
    limits = [x for x in (cap, tx_limit) if x is not None]
    return min(limits) if limits else None


def next_change(
    profiles: Sequence[ChargingProfile], after: float, horizon: float, tx_start: float | None
) -> float | None:
    """The first instant in (after, after+horizon) where the composite limit may change."""
    points: set[float] = set()
    for profile in profiles:
        points |= profile.change_points(after, after + horizon, tx_start)
    later = sorted(p for p in points if p > after)
    return later[0] if later else None


@dataclass(frozen=True)
class CompositePeriod:
    start_period: int
    limit: float


def composite_schedule(
    profiles: Sequence[ChargingProfile],
    start: float,
    duration: int,
    tx_start: float | None,
    tx_id: int | None,
    unlimited: float,
) -> list[CompositePeriod]:
    """GetCompositeSchedule: periods from ``start`` for ``duration`` s; gaps use ``unlimited``."""
    end = start + duration
    points = {start}
    for profile in profiles:
        points |= profile.change_points(start, end, tx_start)
    periods: list[CompositePeriod] = []
    for point in sorted(points):
        offset = int(point - start)
        limit = composite_limit(profiles, point, tx_start, tx_id)
        value = round(unlimited if limit is None else min(limit, unlimited), 1)
        if periods and periods[-1].limit == value:
            continue
        if periods and periods[-1].start_period == offset:
            periods[-1] = CompositePeriod(offset, value)
            continue
        periods.append(CompositePeriod(offset, value))
    return periods


def schedule_payload(periods: Sequence[CompositePeriod], start: float, duration: int) -> dict[str, Any]:
    return {
        "duration": duration,
        "startSchedule": format_ocpp_time(start),
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": p.start_period, "limit": p.limit} for p in periods
        ],
    }
