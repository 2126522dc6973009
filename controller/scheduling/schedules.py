"""The user's charge windows (desired ``schedules``): weekly and one-off, kept in the job store.

Each window is stored as APScheduler jobs, one per edge: a cron trigger (weekly) or a date
trigger (one-off) at its start and at its end.  The jobs carry the window's definition, so the
windows are rebuilt from the store after a restart even before the twin is reachable.  When an
edge fires, the owner re-evaluates the schedule limit from the definitions; the triggers only
say *when* to look.  A disabled window is kept as a paused job (stored, never fires).  A one-off
window disappears from the store once its end has fired.

What a window means is stated in docs/scheduling.md ("What a schedule does and does not force").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from pydantic import TypeAdapter, ValidationError

from controller.scheduling.clock_scheduler import ClockScheduler, JobFire, job_payload
from controller.scheduling.local_windows import (
    WEEKDAYS,
    DailyWindow,
    covers,
    parse_hh_colon_mm,
    window_intervals,
)
from twin.documents import OneOffWindow, ScheduleWindow, WeeklyWindow

TOPIC = "charge_window"
MAX_WINDOWS = 32
_ADAPTER: TypeAdapter[list[WeeklyWindow | OneOffWindow]] = TypeAdapter(list[ScheduleWindow])


class ScheduleError(ValueError):
    """The schedules value is invalid; the message names the window and field."""


@dataclass(frozen=True)
class WindowsState:
    restricting: bool
    """True when at least one enabled window exists (charging only inside windows)."""
    inside: bool
    window_id: str | None
    until: datetime | None
    """End of the window we are in."""
    next_start: datetime | None
    """Start of the next window when outside (within a week)."""


def parse_windows(value: Any) -> list[WeeklyWindow | OneOffWindow]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScheduleError(f"schedules: expected a list of windows, got {value!r}")
    if len(value) > MAX_WINDOWS:
        raise ScheduleError(f"schedules: at most {MAX_WINDOWS} windows, got {len(value)}")
    try:
        windows = _ADAPTER.validate_json(json.dumps(value), strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if p not in ("weekly", "one_off"))
        raise ScheduleError(f"schedules.{loc}: {err['msg']}") from None
    except (TypeError, ValueError) as exc:
        raise ScheduleError(f"schedules: {exc}") from None
    ids = [w.id for w in windows]
    for i, wid in enumerate(ids):
        if ids.index(wid) != i:
            raise ScheduleError(f"schedules[{i}].id: duplicate window id {wid!r}")
    return windows


def daily_window(window: WeeklyWindow) -> DailyWindow:
    days = frozenset(WEEKDAYS.index(d) for d in window.days)
    return DailyWindow(days, parse_hh_colon_mm(window.start, "start"), parse_hh_colon_mm(window.end, "end"))


class ChargeWindows:
    def __init__(
        self,
        scheduler: ClockScheduler,
        zone: Callable[[], tzinfo],
        now: Callable[[], float],
    ) -> None:
        self._scheduler = scheduler
        self._zone = zone
        self._now = now
        self._windows: list[WeeklyWindow | OneOffWindow] = []
        self._listeners: list[Callable[[], None]] = []
        scheduler.on(TOPIC, self._on_fire)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ persistence
    def restore(self) -> None:
        """Rebuild the windows from the job store (call before the scheduler starts)."""
        found: dict[str, tuple[int, WeeklyWindow | OneOffWindow]] = {}
        for job in self._scheduler.jobs(TOPIC):
            payload = job_payload(job)
            try:
                window = _ADAPTER.validate_json(json.dumps([payload["window"]]), strict=True)[0]
            except (KeyError, ValidationError):
                self._scheduler.remove(job.id)
                continue
            found[window.id] = (int(payload.get("order", 0)), window)
        self._windows = [w for _, w in sorted(found.values(), key=lambda p: p[0])]

    def set_windows(self, value: Any) -> None:
        """Replace all windows (the desired ``schedules`` list; None clears them).

        Raises ScheduleError naming the bad window; nothing changes then.
        """
        windows = parse_windows(value)
        self._scheduler.remove_topic(TOPIC)
        self._windows = windows
        zone = self._zone()
        for order, window in enumerate(windows):
            self._store(order, window, zone)
        self._notify()

    def rezone(self) -> None:
        """The station's time zone changed: re-create the cron triggers in the new zone."""
        windows = list(self._windows)
        self._scheduler.remove_topic(TOPIC)
        zone = self._zone()
        for order, window in enumerate(windows):
            self._store(order, window, zone)
        self._notify()

    def _store(self, order: int, window: WeeklyWindow | OneOffWindow, zone: tzinfo) -> None:
        payload = {"window": window.model_dump(mode="json"), "order": order}
        paused = not window.enabled
        if isinstance(window, WeeklyWindow):
            daily = daily_window(window)
            start_days = ",".join(WEEKDAYS[d] for d in sorted(daily.days))
            end_days = start_days
            if daily.end_min <= daily.start_min:
                end_days = ",".join(WEEKDAYS[(d + 1) % 7] for d in sorted(daily.days))
            for edge, minute, days in (
                ("start", daily.start_min, start_days),
                ("end", daily.end_min, end_days),
            ):
                trigger = CronTrigger(
                    day_of_week=days, hour=minute // 60, minute=minute % 60, timezone=zone
                )
                self._scheduler.add(
                    f"{TOPIC}:{window.id}:{edge}", TOPIC, trigger, payload | {"edge": edge}, paused
                )
        else:
            for edge, at in (("start", window.start), ("end", window.end)):
                self._scheduler.add(
                    f"{TOPIC}:{window.id}:{edge}",
                    TOPIC,
                    DateTrigger(run_date=at),
                    payload | {"edge": edge},
                    paused,
                )

    def _on_fire(self, fire: JobFire) -> None:
        if fire.payload.get("edge") == "end":
            window_id = fire.payload.get("window", {}).get("id")
            self._drop_finished_one_off(window_id)
        self._notify()

    def _drop_finished_one_off(self, window_id: object) -> None:
        now = datetime.fromtimestamp(self._now(), tz=UTC)
        kept = []
        for w in self._windows:
            if isinstance(w, OneOffWindow) and w.id == window_id and w.end <= now:
                self._scheduler.remove(f"{TOPIC}:{w.id}:start")
                self._scheduler.remove(f"{TOPIC}:{w.id}:end")
                continue
            kept.append(w)
        self._windows = kept

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # ------------------------------------------------------------------ queries
    @property
    def windows(self) -> list[WeeklyWindow | OneOffWindow]:
        return list(self._windows)

    def enabled(self) -> list[WeeklyWindow | OneOffWindow]:
        now = datetime.fromtimestamp(self._now(), tz=UTC)
        return [
            w
            for w in self._windows
            if w.enabled and not (isinstance(w, OneOffWindow) and w.end <= now)
        ]

    @property
    def restricting(self) -> bool:
        return bool(self.enabled())

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Merged UTC intervals of the enabled windows overlapping [start, end)."""
        zone = self._zone()
        enabled = self.enabled()
        weekly = [daily_window(w) for w in enabled if isinstance(w, WeeklyWindow)]
        raw = window_intervals(weekly, zone, start, end)
        for w in enabled:
            if isinstance(w, OneOffWindow):
                a, b = w.start.astimezone(UTC), w.end.astimezone(UTC)
                if b > start and a < end:
                    raw.append((a, b))
        raw.sort()
        merged: list[tuple[datetime, datetime]] = []
        for a, b in raw:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged

    def allows_between(self, start: datetime, end: datetime) -> bool:
        """True when charging may run for the whole of [start, end) as far as windows go."""
        if not self.restricting:
            return True
        for a, b in self.intervals(start, end):
            if a <= start and b >= end:
                return True
        return False

    def state(self, instant: datetime | None = None) -> WindowsState:
        at = instant or datetime.fromtimestamp(self._now(), tz=UTC)
        enabled = self.enabled()
        if not enabled:
            return WindowsState(False, True, None, None, None)
        for a, b in self.intervals(at - timedelta(days=2), at + timedelta(days=8)):
            if a <= at < b:
                return WindowsState(True, True, self._window_at(at), b, None)
            if a > at:
                return WindowsState(True, False, None, None, a)
        return WindowsState(True, False, None, None, None)

    def _window_at(self, at: datetime) -> str | None:
        zone = self._zone()
        for w in self.enabled():
            if isinstance(w, OneOffWindow):
                if w.start <= at < w.end:
                    return w.id
            elif covers([daily_window(w)], zone, at, at + timedelta(microseconds=1)):
                return w.id
        return None

    def summary(self) -> list[dict[str, Any]]:
        return [w.model_dump(mode="json") for w in self._windows]
