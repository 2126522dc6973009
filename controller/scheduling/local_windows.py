"""Weekly windows on the local clock ("Mon 22:00–06:00") as intervals of absolute time.

Hours of operation, charge windows and the day/time windows of the pricing rules all speak of
local wall-clock times on weekdays; the charge logic needs instants.  Every conversion goes
through :mod:`zoneinfo` here so that DST is handled one way everywhere:

- A window that ends at or before its start runs past midnight into the next day.
- Minute 1440 is the end of the day (the station settings write it ``2359``).
- A wall time that does not exist (the spring-forward gap) is read with the offset in force
  before the change, so 02:30 on that day is the instant 03:30 daylight time.
- A wall time that occurs twice (the fall-back night) means its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY_MIN = 1440
_HHMM = re.compile(r"^([01]\d|2[0-3])([0-5]\d)$")
_HH_COLON_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class WindowError(ValueError):
    """A weekly window or a time of day is invalid; the message names the field."""


def parse_hhmm(text: object, what: str, end: bool = False) -> int:
    """'HHMM' → minute of the day; as an end, '2359' means the end of the day (1440)."""
    if not isinstance(text, str) or not _HHMM.match(text):
        raise WindowError(f"{what}: expected HHMM like '0830', got {text!r}")
    minute = int(text[:2]) * 60 + int(text[2:])
    if end and minute == 23 * 60 + 59:
        return END_OF_DAY_MIN
    return minute


def parse_hh_colon_mm(text: object, what: str) -> int:
    """'HH:MM' → minute of the day."""
    if not isinstance(text, str) or not _HH_COLON_MM.match(text):
        raise WindowError(f"{what}: expected HH:MM like '08:30', got {text!r}")
    return int(text[:2]) * 60 + int(text[3:])


def parse_days(names: Iterable[object], what: str) -> frozenset[int]:
    days: set[int] = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or name.lower() not in WEEKDAYS:
            raise WindowError(f"{what}[{i}]: unknown weekday {name!r}; use {', '.join(WEEKDAYS)}")
        days.add(WEEKDAYS.index(name.lower()))
    if not days:
        raise WindowError(f"{what}: needs at least one weekday")
    return frozenset(days)


@dataclass(frozen=True)
class DailyWindow:
    """From ``start_min`` on each day in ``days`` (0 = Monday) to ``end_min``.

    ``end_min`` ≤ ``start_min`` means the window ends on the next day; ``start_min ==
    end_min`` is an empty window (a day without hours), never a 24-hour one.
    """

    days: frozenset[int]
    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < END_OF_DAY_MIN:
            raise WindowError(f"start minute {self.start_min} is outside 0…1439")
        if not 0 <= self.end_min <= END_OF_DAY_MIN:
            raise WindowError(f"end minute {self.end_min} is outside 0…1440")

    @property
    def empty(self) -> bool:
        return self.start_min == self.end_min

    @property
    def crosses_midnight(self) -> bool:
        return self.end_min < self.start_min

    def label(self) -> str:
        return f"{_clock_text(self.start_min)}–{_clock_text(self.end_min)}"


def _clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def weekly_table(table: Mapping[str, object], what: str = "hours_of_operation") -> list[DailyWindow]:
    """A ``weekday -> [start HHMM, end HHMM]`` table (SPEC §Station settings) as windows."""
    windows: list[DailyWindow] = []
    for day, pair in table.items():
        if day not in WEEKDAYS:
            raise WindowError(f"{what}: unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise WindowError(f"{what}.{day}: expected [start, end] as HHMM, got {pair!r}")
        start = parse_hhmm(pair[0], f"{what}.{day}[0]")
        end = parse_hhmm(pair[1], f"{what}.{day}[1]", end=True)
        windows.append(DailyWindow(frozenset({WEEKDAYS.index(day)}), start, end))
    return windows


def local_instant(day: date, minute: int, zone: tzinfo) -> datetime:
    """The instant (UTC) of ``minute`` past local midnight of ``day`` (rules in module doc)."""
    if minute >= END_OF_DAY_MIN:
        day = day + timedelta(days=minute // END_OF_DAY_MIN)
        minute %= END_OF_DAY_MIN
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def window_intervals(
    windows: Iterable[DailyWindow], zone: tzinfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Merged UTC intervals of the windows that overlap [start, end), in order."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    raw: list[tuple[datetime, datetime]] = []
    for window in windows:
        if window.empty:
            continue
        day = first
        while day <= last:
            if day.weekday() in window.days:
                a = local_instant(day, window.start_min, zone)
                end_day = day + timedelta(days=1) if window.crosses_midnight else day
                b = local_instant(end_day, window.end_min, zone)
                if b > a and b > start and a < end:
                    raw.append((a, b))
            day += timedelta(days=1)
    raw.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in raw:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


@dataclass(frozen=True)
class WindowState:
    inside: bool
    since: datetime | None
    """Start of the interval we are in (or of the gap), when known within the look-back."""
    next_change: datetime | None
    """When ``inside`` flips next; None if it never does within the look-ahead."""


def window_state(
    windows: Iterable[DailyWindow], zone: tzinfo, instant: datetime, horizon_days: int = 8
) -> WindowState:
    """Whether ``instant`` is inside any window, and when that changes next."""
    instant = instant.astimezone(UTC)
    intervals = window_intervals(
        list(windows), zone, instant - timedelta(days=2), instant + timedelta(days=horizon_days)
    )
    previous_end: datetime | None = None
    for a, b in intervals:
        if a <= instant < b:
            return WindowState(True, a, b)
        if a > instant:
            return WindowState(False, previous_end, a)
        previous_end = b
    return WindowState(False, previous_end, None)


def covers(windows: Iterable[DailyWindow], zone: tzinfo, start: datetime, end: datetime) -> bool:
    """True when [start, end) lies entirely inside the windows."""
    if end <= start:
        return True
    for a, b in window_intervals(list(windows), zone, start, end):
        if a <= start and b >= end:
            return True
    return False


def station_zone(time_zone: str, daylight_saving: bool = True) -> tzinfo:
    """The zone of the station settings; without daylight saving, its standard time all year."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(f"time_zone: unknown time zone {time_zone!r}") from None
    if daylight_saving:
        return zone
    year = 2025
    offsets = [
        datetime(year, month, 1, 12, tzinfo=zone).utcoffset() or timedelta(0)
        for month in (1, 7)
    ]
    return timezone(min(offsets), f"{time_zone} (standard time)")


def weekday_text(instant: datetime, zone: tzinfo) -> str:
    """'Tue 10:00' on the local clock, for reasons shown to people."""
    local = instant.astimezone(zone)
    return f"{WEEKDAYS[local.weekday()].capitalize()} {local:%H:%M}"
