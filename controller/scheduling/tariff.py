"""What a kWh costs at any instant, and the per-slot prices the charging planner works with.

Two kinds of tariff exist in homes: a fixed time-of-use schedule (prices by season, weekday and
time of day on the local clock) and dynamic prices (a list of intervals, e.g. day-ahead market
prices pushed from Home Assistant).  Both answer the same question — the price segments between
two instants — so the slot logic and the planner never care which one they got.

All instants are timezone-aware.  Local-clock rules go through :mod:`zoneinfo`, so a local day
may have 23 or 25 hours and the repeated hour of a fall-back night is priced twice.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALLOWED_SLOT_MINUTES: tuple[int, ...] = (15, 30, 60)
WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAY_NAMES: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "weekdays": (0, 1, 2, 3, 4),
    "weekend": (5, 6),
    "all": (0, 1, 2, 3, 4, 5, 6),
}
_MINUTES_PER_DAY = 1440
_MINUTES_PER_WEEK = 7 * _MINUTES_PER_DAY


class TariffError(ValueError):
    """A tariff, a price file or a price query is invalid; the message names the bad field."""


class PriceGapError(TariffError):
    """No price is known for part of the asked interval (e.g. beyond the day-ahead horizon)."""


# --------------------------------------------------------------------------- small validators


def _check_aware(value: datetime, what: str) -> datetime:
    """The instant in UTC.

    Python compares and subtracts datetimes that share a tzinfo by wall clock, which is wrong
    across a DST change, so every instant is turned into UTC before any arithmetic.
    """
    if not isinstance(value, datetime):
        raise TariffError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TariffError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _check_price(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TariffError(f"{what} must be a number, got {value!r}")
    price = float(value)
    if not math.isfinite(price):
        raise TariffError(f"{what} must be finite, got {value!r}")
    return price


def _zone(name: str, what: str = "timezone") -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise TariffError(
            f"{what} must be an IANA zone name like 'America/Los_Angeles', got {name!r}"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TariffError(f"{what}: unknown time zone {name!r}") from exc


def parse_weekdays(names: Sequence[str], what: str = "days") -> frozenset[int]:
    """Weekday names ('mon', 'Monday', or the groups 'weekdays', 'weekend', 'all') → 0=Mon..6=Sun."""
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise TariffError(f"{what} must be a non-empty list of weekday names, got {names!r}")
    days: set[int] = set()
    for i, raw in enumerate(names):
        if not isinstance(raw, str):
            raise TariffError(f"{what}[{i}] must be a weekday name, got {raw!r}")
        key = raw.strip().lower()
        if key in _DAY_GROUPS:
            days.update(_DAY_GROUPS[key])
        elif key in WEEKDAY_NAMES:
            days.add(WEEKDAY_NAMES.index(key))
        elif key in _FULL_WEEKDAY_NAMES:
            days.add(_FULL_WEEKDAY_NAMES.index(key))
        else:
            raise TariffError(
                f"{what}[{i}]: unknown weekday {raw!r} "
                f"(use mon..sun, monday..sunday, weekdays, weekend or all)"
            )
    return frozenset(days)


def parse_clock_minute(text: str, what: str, allow_24: bool = False) -> int:
    """'HH:MM' on the local clock → minute of the day ('24:00' only where ``allow_24``)."""
    if not isinstance(text, str):
        raise TariffError(f"{what} must be a 'HH:MM' string, got {text!r}")
    parts = text.strip().split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise TariffError(f"{what} must look like 'HH:MM', got {text!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if hour == 24 and minute == 0 and allow_24:
        return _MINUTES_PER_DAY
    if hour > 23 or minute > 59:
        raise TariffError(f"{what}: {text!r} is not a valid time of day")
    return hour * 60 + minute


def _parse_month_day(text: str, what: str) -> tuple[int, int]:
    if not isinstance(text, str):
        raise TariffError(f"{what} must be a 'MM-DD' string, got {text!r}")
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise TariffError(f"{what} must look like 'MM-DD', got {text!r}")
    month, day = int(parts[0]), int(parts[1])
    try:
        date(2024, month, day)  # a leap year, so 02-29 is accepted
    except ValueError as exc:
        raise TariffError(f"{what}: {text!r} is not a calendar day") from exc
    return month, day


# --------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class SlotPrice:
    """One planning slot: [start, end) in absolute time and its time-weighted mean price."""

    start: datetime
    end: datetime
    price_per_kwh: float

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


class Tariff(Protocol):
    """Anything that can price an interval of absolute time."""

    @property
    def timezone(self) -> str: ...

    @property
    def currency(self) -> str: ...

    def price_segments(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, float]]:
        """Consecutive [a, b) pieces of [start, end) with a constant price each."""
        ...


def _check_interval(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start = _check_aware(start, "start")
    end = _check_aware(end, "end")
    if end < start:
        raise TariffError(
            f"end {end.isoformat()} is before start {start.isoformat()} (negative duration)"
        )
    return start, end


def price_at(tariff: Tariff, instant: datetime) -> float:
    """The price in force at ``instant``."""
    instant = _check_aware(instant, "instant")
    for _, _, price in tariff.price_segments(instant, instant + timedelta(microseconds=1)):
        return price
    raise PriceGapError(
        f"no price at {instant.isoformat()}"
    )  # pragma: no cover - segments never empty


def average_price(tariff: Tariff, start: datetime, end: datetime) -> float:
    """Time-weighted mean price over [start, end), which must not be empty."""
    start, end = _check_interval(start, end)
    if end == start:
        raise TariffError(f"empty interval at {start.isoformat()} has no average price")
    total = 0.0
    for a, b, price in tariff.price_segments(start, end):
        total += price * (b - a).total_seconds()
    return total / (end - start).total_seconds()


def slot_grid(
    start: datetime, end: datetime, slot_minutes: int, tz: str
) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) into slots of ``slot_minutes`` aligned to the local clock of ``tz``.

    Every slot lasts exactly ``slot_minutes`` of real time except the first and last, which are
    cut at ``start`` and ``end``.  The grid is aligned to the local clock at ``start`` (…:00,
    :15, :30, :45); across a DST change of a whole hour the alignment still holds, and a 23-hour
    or 25-hour local day simply has fewer or more slots.
    """
    if isinstance(slot_minutes, bool) or slot_minutes not in ALLOWED_SLOT_MINUTES:
        raise TariffError(
            f"slot_minutes must be one of {ALLOWED_SLOT_MINUTES}, got {slot_minutes!r}"
        )
    start_utc, end_utc = _check_interval(start, end)
    zone = _zone(tz)
    step = slot_minutes * 60
    offset = start_utc.astimezone(zone).utcoffset()
    assert offset is not None
    offset_s = int(offset.total_seconds())
    start_ts = start_utc.timestamp()
    # first boundary strictly after start where the local wall clock is a multiple of the slot
    first_boundary_local = (math.floor((start_ts + offset_s) / step) + 1) * step
    boundary = datetime.fromtimestamp(first_boundary_local - offset_s, tz=UTC)
    slots: list[tuple[datetime, datetime]] = []
    cursor = start_utc
    while cursor < end_utc:
        slot_end = min(boundary, end_utc)
        slots.append((cursor, slot_end))
        cursor = slot_end
        boundary = boundary + timedelta(seconds=step)
    return slots


def slot_prices(
    tariff: Tariff, start: datetime, end: datetime, slot_minutes: int
) -> list[SlotPrice]:
    """Prices of the slots between two instants (see :func:`slot_grid` for the cutting rule)."""
    return [
        SlotPrice(a, b, average_price(tariff, a, b))
        for a, b in slot_grid(start, end, slot_minutes, tariff.timezone)
    ]


# --------------------------------------------------------------------------- time of use


@dataclass(frozen=True)
class TouPeriod:
    """A price on some weekdays between two local clock times.

    ``end_minute <= start_minute`` means the period runs past midnight: the part after
    midnight belongs to the weekday the period started on (Mon 22:00–06:00 covers Tue 00:00–06:00).
    """

    days: frozenset[int]
    start_minute: int
    end_minute: int
    price_per_kwh: float
    name: str = ""

    def __post_init__(self) -> None:
        label = f"period {self.name!r}" if self.name else "period"
        if not isinstance(self.days, frozenset) or not self.days:
            raise TariffError(f"{label}: days must be a non-empty frozenset of weekdays 0..6")
        for day in self.days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise TariffError(f"{label}: unknown weekday {day!r} (expected 0=Mon..6=Sun)")
        if not isinstance(self.start_minute, int) or not 0 <= self.start_minute < _MINUTES_PER_DAY:
            raise TariffError(f"{label}: start_minute must be 0..1439, got {self.start_minute!r}")
        if not isinstance(self.end_minute, int) or not 0 <= self.end_minute <= _MINUTES_PER_DAY:
            raise TariffError(f"{label}: end_minute must be 0..1440, got {self.end_minute!r}")
        if self.end_minute == self.start_minute:
            raise TariffError(
                f"{label}: start and end are equal ({self.start_minute} min); "
                "use 00:00–24:00 for a whole day"
            )
        _check_price(self.price_per_kwh, f"{label}: price_per_kwh")

    @classmethod
    def parse(
        cls, days: Sequence[str], start: str, end: str, price_per_kwh: float, name: str = ""
    ) -> TouPeriod:
        """Build from human forms: days ['mon', 'weekend'], start '22:00', end '06:00' or '24:00'."""
        label = f"period {name!r}" if name else "period"
        return cls(
            days=parse_weekdays(days, f"{label}: days"),
            start_minute=parse_clock_minute(start, f"{label}: start"),
            end_minute=parse_clock_minute(end, f"{label}: end", allow_24=True),
            price_per_kwh=_check_price(price_per_kwh, f"{label}: price_per_kwh"),
            name=name,
        )

    def minutes_of_week(self) -> Iterator[int]:
        """Every minute of the week (0 = Monday 00:00) this period covers."""
        length = (self.end_minute - self.start_minute) % _MINUTES_PER_DAY or _MINUTES_PER_DAY
        for day in sorted(self.days):
            first = day * _MINUTES_PER_DAY + self.start_minute
            for k in range(length):
                yield (first + k) % _MINUTES_PER_WEEK


@dataclass(frozen=True)
class Season:
    """Days of the year, from ``start`` to ``end`` inclusive as (month, day); may wrap New Year."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    periods: tuple[TouPeriod, ...]
    base_price_per_kwh: float | None = None
    """Price for every minute no period covers; ``None`` means the periods must cover the week."""

    def __post_init__(self) -> None:
        for what, md in (("start", self.start), ("end", self.end)):
            if not (isinstance(md, tuple) and len(md) == 2):
                raise TariffError(f"season {self.name!r}: {what} must be (month, day), got {md!r}")
            try:
                date(2024, md[0], md[1])
            except (TypeError, ValueError) as exc:
                raise TariffError(
                    f"season {self.name!r}: {what} {md!r} is not a calendar day"
                ) from exc
        if self.base_price_per_kwh is not None:
            _check_price(self.base_price_per_kwh, f"season {self.name!r}: base_price_per_kwh")
        for p in self.periods:
            if not isinstance(p, TouPeriod):
                raise TariffError(f"season {self.name!r}: periods must be TouPeriod, got {p!r}")

    def contains(self, day: date) -> bool:
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end

    def weekly_prices(self) -> list[float]:
        """Price of every minute of the week; raises on overlapping periods or uncovered time."""
        grid: list[float | None] = [None] * _MINUTES_PER_WEEK
        owner: list[str | None] = [None] * _MINUTES_PER_WEEK
        for index, period in enumerate(self.periods):
            label = period.name or f"periods[{index}]"
            for m in period.minutes_of_week():
                if owner[m] is not None:
                    raise TariffError(
                        f"season {self.name!r}: periods {owner[m]!r} and {label!r} overlap "
                        f"at {_describe_minute_of_week(m)}"
                    )
                owner[m] = label
                grid[m] = period.price_per_kwh
        out: list[float] = []
        for m, price in enumerate(grid):
            if price is None:
                if self.base_price_per_kwh is None:
                    raise TariffError(
                        f"season {self.name!r}: no period covers {_describe_minute_of_week(m)} "
                        "and no base_price_per_kwh is set"
                    )
                price = self.base_price_per_kwh
            out.append(price)
        return out


def _describe_minute_of_week(m: int) -> str:
    day, minute = divmod(m, _MINUTES_PER_DAY)
    return f"{WEEKDAY_NAMES[day]} {minute // 60:02d}:{minute % 60:02d}"


def _run_ends(grid: Sequence[float]) -> list[int]:
    """For each minute of the week, the minute of its day (≤ 1440) where the price next changes."""
    ends = [0] * _MINUTES_PER_WEEK
    for day in range(7):
        base = day * _MINUTES_PER_DAY
        end = _MINUTES_PER_DAY
        for minute in range(_MINUTES_PER_DAY - 1, -1, -1):
            if minute < _MINUTES_PER_DAY - 1 and grid[base + minute] != grid[base + minute + 1]:
                end = minute + 1
            ends[base + minute] = end
    return ends


def _next_offset_change(zone: ZoneInfo, a: datetime, b: datetime) -> datetime | None:
    """First instant in (a, b] whose UTC offset differs from a's (one change at most is assumed).

    Zone transitions fall on whole seconds, so the search runs over integer timestamps.
    """
    off_a = a.astimezone(zone).utcoffset()
    if b.astimezone(zone).utcoffset() == off_a:
        return None
    lo, hi = math.floor(a.timestamp()), math.ceil(b.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz=zone).utcoffset() == off_a:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, tz=UTC)


@dataclass(frozen=True)
class TimeOfUseTariff:
    """A fixed schedule of prices by season, weekday and local time of day.

    The season is chosen by the local calendar date of the instant; inside a season the weekly
    grid decides (so a night period that started on the last day of summer ends at midnight,
    and the first night of winter is priced by winter's grid).
    """

    timezone: str
    seasons: tuple[Season, ...]
    currency: str = "USD"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _grids: tuple[tuple[list[float], list[int]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", _zone(self.timezone))
        if not isinstance(self.seasons, tuple) or not self.seasons:
            raise TariffError("seasons must be a non-empty tuple of Season")
        for s in self.seasons:
            if not isinstance(s, Season):
                raise TariffError(f"seasons must hold Season objects, got {s!r}")
        day = date(2024, 1, 1)  # a leap year covers 02-29 too
        while day.year == 2024:
            matches = [s.name for s in self.seasons if s.contains(day)]
            if not matches:
                raise TariffError(f"seasons: no season covers {day:%m-%d}")
            if len(matches) > 1:
                raise TariffError(f"seasons {matches} overlap on {day:%m-%d}")
            day += timedelta(days=1)
        grids = []
        for s in self.seasons:
            grid = s.weekly_prices()
            grids.append((grid, _run_ends(grid)))
        object.__setattr__(self, "_grids", tuple(grids))

    def _season_index(self, day: date) -> int:
        for i, s in enumerate(self.seasons):
            if s.contains(day):
                return i
        raise TariffError(f"no season covers {day}")  # pragma: no cover - checked at init

    def price_segments(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, float]]:
        t, end_utc = _check_interval(start, end)
        while t < end_utc:
            local = t.astimezone(self._zone)
            grid, run_ends = self._grids[self._season_index(local.date())]
            minute_of_day = local.hour * 60 + local.minute
            m = local.weekday() * _MINUTES_PER_DAY + minute_of_day
            into_minute = timedelta(seconds=local.second, microseconds=local.microsecond)
            change = t + timedelta(minutes=run_ends[m] - minute_of_day) - into_minute
            seg_end = min(change, end_utc)
            shift = _next_offset_change(self._zone, t, seg_end)
            if shift is not None:
                seg_end = shift
            yield t, seg_end, grid[m]
            t = seg_end


# --------------------------------------------------------------------------- dynamic prices


@dataclass(frozen=True)
class PriceInterval:
    start: datetime
    end: datetime
    price_per_kwh: float


@dataclass(frozen=True)
class DynamicTariff:
    """Prices per interval, contiguous and without overlaps; negative prices are allowed."""

    intervals: tuple[PriceInterval, ...]
    timezone: str = "UTC"
    """Local zone used to align slots and show times; prices themselves are in absolute time."""
    currency: str = "USD"
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if not isinstance(self.intervals, tuple) or not self.intervals:
            raise TariffError("intervals must be a non-empty tuple of PriceInterval")
        normalized: list[PriceInterval] = []
        for i, iv in enumerate(self.intervals):
            if not isinstance(iv, PriceInterval):
                raise TariffError(f"intervals[{i}] must be a PriceInterval, got {iv!r}")
            start = _check_aware(iv.start, f"intervals[{i}].start")
            end = _check_aware(iv.end, f"intervals[{i}].end")
            if end <= start:
                raise TariffError(
                    f"intervals[{i}]: end {iv.end.isoformat()} is not after start "
                    f"{iv.start.isoformat()}"
                )
            price = _check_price(iv.price_per_kwh, f"intervals[{i}].price_per_kwh")
            normalized.append(PriceInterval(start, end, price))
        ordered = tuple(sorted(normalized, key=lambda iv: iv.start))
        for prev, nxt in itertools.pairwise(ordered):
            if nxt.start < prev.end:
                raise TariffError(
                    f"price intervals overlap: {prev.start.isoformat()}–{prev.end.isoformat()} "
                    f"and {nxt.start.isoformat()}–{nxt.end.isoformat()}"
                )
            if nxt.start > prev.end:
                raise TariffError(
                    f"gap in price intervals: nothing from {prev.end.isoformat()} "
                    f"to {nxt.start.isoformat()}"
                )
        object.__setattr__(self, "intervals", ordered)
        object.__setattr__(self, "_starts", tuple(iv.start for iv in ordered))

    @property
    def horizon_start(self) -> datetime:
        return self.intervals[0].start

    @property
    def horizon_end(self) -> datetime:
        """The instant after which no price is known."""
        return self.intervals[-1].end

    def price_segments(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, float]]:
        start, end = _check_interval(start, end)
        if start < self.horizon_start or end > self.horizon_end:
            raise PriceGapError(
                f"prices are known from {self.horizon_start.isoformat()} to "
                f"{self.horizon_end.isoformat()}, not for {start.isoformat()}–{end.isoformat()}"
            )
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        t = start
        while t < end:
            iv = self.intervals[i]
            seg_end = min(iv.end, end)
            yield t, seg_end, iv.price_per_kwh
            t = seg_end
            i += 1


# --------------------------------------------------------------------------- files and data


def _parse_instant(value: object, zone: ZoneInfo | None, what: str) -> datetime:
    if not isinstance(value, str):
        raise TariffError(f"{what} must be an ISO 8601 date-time string, got {value!r}")
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise TariffError(f"{what}: {value!r} is not an ISO 8601 date-time") from exc
    if instant.tzinfo is None:
        if zone is None:
            raise TariffError(f"{what}: {value!r} has no UTC offset and no timezone is given")
        instant = instant.replace(tzinfo=zone)
    return instant


def _field(data: Mapping[str, object], key: str, where: str) -> object:
    if key not in data:
        raise TariffError(f"{where}: missing field {key!r}")
    return data[key]


def _mapping(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise TariffError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise TariffError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TariffError(f"{what} must be a string, got {value!r}")
    return value


def _parse_tou(data: Mapping[str, object]) -> TimeOfUseTariff:
    tz = _text(_field(data, "timezone", "tariff"), "timezone")
    currency = _text(data.get("currency", "USD"), "currency")
    seasons: list[Season] = []
    for si, raw_season in enumerate(_list(_field(data, "seasons", "tariff"), "seasons")):
        where = f"seasons[{si}]"
        s = _mapping(raw_season, where)
        name = _text(s.get("name", f"season {si}"), f"{where}.name")
        base = s.get("base_price_per_kwh")
        periods: list[TouPeriod] = []
        for pi, raw_period in enumerate(_list(s.get("periods", []), f"{where}.periods")):
            pwhere = f"{where}.periods[{pi}]"
            p = _mapping(raw_period, pwhere)
            days = _field(p, "days", pwhere)
            if isinstance(days, str):
                days = [days]
            if not isinstance(days, list):
                raise TariffError(f"{pwhere}.days must be a list of weekday names")
            periods.append(
                TouPeriod(
                    days=parse_weekdays(
                        [str(d) if not isinstance(d, str) else d for d in days], f"{pwhere}.days"
                    ),
                    start_minute=parse_clock_minute(
                        _text(_field(p, "start", pwhere), f"{pwhere}.start"), f"{pwhere}.start"
                    ),
                    end_minute=parse_clock_minute(
                        _text(_field(p, "end", pwhere), f"{pwhere}.end"),
                        f"{pwhere}.end",
                        allow_24=True,
                    ),
                    price_per_kwh=_check_price(
                        _field(p, "price_per_kwh", pwhere), f"{pwhere}.price_per_kwh"
                    ),
                    name=_text(p.get("name", ""), f"{pwhere}.name"),
                )
            )
        seasons.append(
            Season(
                name=name,
                start=_parse_month_day(
                    _text(s.get("from", "01-01"), f"{where}.from"), f"{where}.from"
                ),
                end=_parse_month_day(_text(s.get("to", "12-31"), f"{where}.to"), f"{where}.to"),
                periods=tuple(periods),
                base_price_per_kwh=(
                    None if base is None else _check_price(base, f"{where}.base_price_per_kwh")
                ),
            )
        )
    return TimeOfUseTariff(timezone=tz, seasons=tuple(seasons), currency=currency)


def _parse_dynamic(data: Mapping[str, object], default_tz: str | None) -> DynamicTariff:
    tz = data.get("timezone", default_tz)
    zone = None if tz is None else _zone(_text(tz, "timezone"))
    currency = _text(data.get("currency", "USD"), "currency")
    intervals: list[PriceInterval] = []
    for i, raw in enumerate(_list(_field(data, "prices", "tariff"), "prices")):
        where = f"prices[{i}]"
        row = _mapping(raw, where)
        intervals.append(
            PriceInterval(
                start=_parse_instant(_field(row, "start", where), zone, f"{where}.start"),
                end=_parse_instant(_field(row, "end", where), zone, f"{where}.end"),
                price_per_kwh=_check_price(
                    _field(row, "price_per_kwh", where), f"{where}.price_per_kwh"
                ),
            )
        )
    if not intervals:
        raise TariffError("prices: the list is empty")
    return DynamicTariff(intervals=tuple(intervals), timezone=str(tz or "UTC"), currency=currency)


def tariff_from_dict(data: object, default_timezone: str | None = None) -> Tariff:
    """Build a tariff from decoded JSON (a file, or data pushed from Home Assistant).

    ``{"type": "time_of_use", ...}`` or ``{"type": "dynamic", ...}``; see docs/scheduling.md.
    """
    mapping = _mapping(data, "tariff")
    kind = _field(mapping, "type", "tariff")
    if kind == "time_of_use":
        return _parse_tou(mapping)
    if kind == "dynamic":
        return _parse_dynamic(mapping, default_timezone)
    raise TariffError(f"type: unknown tariff type {kind!r} (expected 'time_of_use' or 'dynamic')")


def _parse_csv(text: str, default_tz: str | None, currency: str) -> DynamicTariff:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    needed = {"start", "end", "price_per_kwh"}
    header = {h.strip() for h in (reader.fieldnames or [])}
    if not needed <= header:
        raise TariffError(
            f"CSV header must contain {sorted(needed)}, got {sorted(header) or 'nothing'}"
        )
    rows: list[object] = []
    for n, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            price: object = float(clean["price_per_kwh"])
        except ValueError as exc:
            raise TariffError(
                f"CSV line {n}: price_per_kwh {clean['price_per_kwh']!r} is not a number"
            ) from exc
        rows.append({"start": clean["start"], "end": clean["end"], "price_per_kwh": price})
    data: dict[str, object] = {"type": "dynamic", "prices": rows, "currency": currency}
    if default_tz is not None:
        data["timezone"] = default_tz
    return _parse_dynamic(data, default_tz)


def load_tariff_file(
    path: str | Path, timezone: str | None = None, currency: str = "USD"
) -> Tariff:
    """Load a ``.json`` tariff (either kind) or a ``.csv`` of dynamic prices.

    ``timezone`` applies to date-times written without a UTC offset and to slot alignment
    when the file does not name a zone itself.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise TariffError(f"{p}: unsupported price file type {suffix!r} (use .json or .csv)")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TariffError(f"{p}: cannot read price file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TariffError(f"{p}: price file is not UTF-8 text") from exc
    try:
        if suffix == ".csv":
            return _parse_csv(text, timezone, currency)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TariffError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        return tariff_from_dict(data, default_timezone=timezone)
    except TariffError as exc:
        if str(exc).startswith(str(p)):
            raise
        raise TariffError(f"{p}: {exc}") from exc
