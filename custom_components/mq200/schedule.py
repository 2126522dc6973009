"""Edits of the schedule the time entities and actions make, and its expansion for the calendar.

Weekly windows are wall-clock times of the charger's home; Home Assistant's time zone is taken
to be that home's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo

from .api import (
    WEEKDAYS,
    ChargerState,
    DepartureGoal,
    OneOffWindow,
    ScheduleWindow,
    WeeklyWindow,
)
from .const import DAILY_WINDOW_ID, DEFAULT_DEPARTURE_SOC_PCT

DEFAULT_DAILY_START = time(22, 0)
DEFAULT_DAILY_END = time(6, 0)


def daily_window(state: ChargerState) -> WeeklyWindow | None:
    for window in state.schedules:
        if isinstance(window, WeeklyWindow) and window.id == DAILY_WINDOW_ID:
            return window
    return None


def with_daily_bound(
    state: ChargerState, *, start: time | None = None, end: time | None = None
) -> list[ScheduleWindow]:
    """The schedule with the daily window's start or end moved (created if missing)."""
    current = daily_window(state)
    if current is None:
        current = WeeklyWindow(DAILY_WINDOW_ID, DEFAULT_DAILY_START, DEFAULT_DAILY_END, WEEKDAYS)
    updated = replace(
        current,
        start=(start or current.start).replace(second=0, microsecond=0),
        end=(end or current.end).replace(second=0, microsecond=0),
    )
    others = [w for w in state.schedules if w.id != DAILY_WINDOW_ID]
    return [updated, *others]


def next_occurrence(at: time, now: datetime) -> datetime:
    """The next time the local wall clock shows ``at`` (``now`` must be aware)."""
    candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def departure_at(state: ChargerState, at: time, now: datetime) -> DepartureGoal:
    """The departure goal moved to the next ``at``, keeping its target (80 % if none)."""
    goal = state.departure_goal
    ready_by = next_occurrence(at, now)
    if goal is None:
        return DepartureGoal(ready_by, target_soc_pct=DEFAULT_DEPARTURE_SOC_PCT)
    return replace(goal, ready_by=ready_by)


@dataclass(frozen=True)
class Span:
    """One stretch of time the calendar shows."""

    uid: str
    kind: str  # "window" or "demand_response"
    start: datetime
    end: datetime
    limit_a: float | None = None


def _weekly_spans(
    window: WeeklyWindow, start: datetime, end: datetime, tz: tzinfo
) -> Iterator[Span]:
    day = (start.astimezone(tz) - timedelta(days=1)).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if WEEKDAYS[day.weekday()] in window.days:
            begin = datetime.combine(day, window.start, tz)
            finish_day = day + timedelta(days=1) if window.end <= window.start else day
            finish = datetime.combine(finish_day, window.end, tz)
            if finish > start and begin < end:
                yield Span(f"{window.id}@{day.isoformat()}", "window", begin, finish)
        day += timedelta(days=1)


def spans(state: ChargerState, start: datetime, end: datetime, tz: tzinfo) -> list[Span]:
    """Enabled schedule windows and demand-response events overlapping [start, end)."""
    out: list[Span] = []
    for window in state.schedules:
        if not window.enabled:
            continue
        if isinstance(window, OneOffWindow):
            if window.end > start and window.start < end:
                out.append(Span(window.id, "window", window.start, window.end))
        else:
            out.extend(_weekly_spans(window, start, end, tz))
    for event in state.demand_response_events:
        if event.end > start and event.start < end:
            out.append(Span(f"dr-{event.id}", "demand_response", event.start, event.end,
                            event.limit_a))
    return sorted(out, key=lambda s: s.start)
