"""Demand-response events as the ``demand_response`` limit source.

An event is a list of intervals, each with an OpenADR SIMPLE signal level (0 normal,
1 moderate, 2 high, 3 special).  :class:`LevelMap` turns a level into a current limit or a
pause.  While the homeowner has opted out (desired ``dr_opt_out``), events are recorded but do
not limit.  When the last limiting interval ends (or the event is cancelled), charging resumes
only after a random delay in the cold-load-pickup range, so a neighbourhood of chargers does
not switch back on in the same second.  Events from the OpenADR VEN, from the twin (Home
Assistant) and from scenarios all enter through :meth:`DemandResponseLimits.add_event`.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from controller.charging.station import COLD_LOAD_MIN_S, Station
from controller.clock import TimerHandle

log = logging.getLogger(__name__)

SOURCE = "demand_response"
LEVEL_NAMES = {0: "normal", 1: "moderate", 2: "high", 3: "special"}


class DemandResponseError(ValueError):
    """An event that cannot be used; the message names the field."""


@dataclass(frozen=True)
class DrInterval:
    start: datetime
    end: datetime
    level: float
    limit_a: float | None = None  # an explicit current (a Home Assistant automation) wins over level

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise DemandResponseError(f"interval {name} must be a timezone-aware datetime")
        if self.end <= self.start:
            raise DemandResponseError(
                f"interval end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float)) or not math.isfinite(self.level) or self.level < 0:
            raise DemandResponseError(f"interval level must be a number ≥ 0, got {self.level!r}")
        lim = self.limit_a
        if lim is not None and (isinstance(lim, bool) or not isinstance(lim, (int, float))
                                or not math.isfinite(lim) or not 0 <= lim <= 80):
            raise DemandResponseError(f"interval limit_a must be 0…80 A, got {lim!r}")


@dataclass(frozen=True)
class DrEvent:
    event_id: str
    intervals: tuple[DrInterval, ...]
    origin: str = "OpenADR"

    def __post_init__(self) -> None:
        if not self.event_id:
            raise DemandResponseError("event_id must not be empty")
        if not self.intervals:
            raise DemandResponseError(f"event {self.event_id}: needs at least one interval")

    @property
    def start(self) -> datetime:
        return min(i.start for i in self.intervals)

    @property
    def end(self) -> datetime:
        return max(i.end for i in self.intervals)


@dataclass(frozen=True)
class LevelMap:
    """Current per SIMPLE level: None = no limit, 0 = pause."""

    moderate_a: float | None = 16.0
    high_a: float | None = 6.0
    special_a: float | None = 0.0

    def amps(self, level: float) -> float | None:
        step = int(round(level))
        if step <= 0:
            return None
        if step == 1:
            return self.moderate_a
        if step == 2:
            return self.high_a
        return self.special_a


class DemandResponseLimits:
    def __init__(
        self,
        station: Station,
        rng: random.Random,
        level_map: LevelMap | None = None,
        resume_delay_s: tuple[float, float] | None = None,
    ) -> None:
        self._station = station
        self._clock = station.clock
        self._rng = rng
        self.level_map = level_map or LevelMap()
        self._resume_delay = resume_delay_s
        self.events: dict[str, DrEvent] = {}
        self.opt_out = False
        self._limiting: str | None = None  # the event id whose interval limits right now
        self.resume_at: float | None = None
        self._timer: TimerHandle | None = None
        self._resume_timer: TimerHandle | None = None
        self._listeners: list[Callable[[], None]] = []
        self.refresh()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ commands
    def add_event(self, event: DrEvent) -> None:
        """Add or replace (same id) an event."""
        self.events[event.event_id] = event
        log.info("demand response event %s (%s): %s – %s", event.event_id, event.origin,
                 event.start.isoformat(), event.end.isoformat())
        self.refresh()

    def cancel_event(self, event_id: str) -> None:
        if self.events.pop(event_id, None) is not None:
            self.refresh()

    def set_opt_out(self, opt_out: bool) -> None:
        if not isinstance(opt_out, bool):
            raise DemandResponseError(f"dr_opt_out: expected true or false, got {opt_out!r}")
        self.opt_out = opt_out
        if opt_out:
            self._cancel_resume()
        self.refresh()

    def close(self) -> None:
        for timer in (self._timer, self._resume_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._resume_timer = None

    # ------------------------------------------------------------------ state
    def active(self, at: datetime | None = None) -> list[tuple[DrEvent, DrInterval]]:
        now = at or datetime.fromtimestamp(self._clock.now(), tz=UTC)
        return [
            (ev, iv)
            for ev in self.events.values()
            for iv in ev.intervals
            if iv.start <= now < iv.end
        ]

    def refresh(self) -> None:
        now = datetime.fromtimestamp(self._clock.now(), tz=UTC)
        for event_id in [e.event_id for e in self.events.values() if e.end <= now]:
            del self.events[event_id]
        arbiter = self._station.arbiter
        binding: tuple[DrEvent, DrInterval, float | None] | None = None
        for ev, iv in self.active(now):
            amps = iv.limit_a if iv.limit_a is not None else self.level_map.amps(iv.level)
            if amps is None:
                continue
            if binding is None or (binding[2] is not None and amps < binding[2]):
                binding = (ev, iv, amps)
        if binding is not None and not self.opt_out:
            ev, iv, amps = binding
            self._cancel_resume()
            self._limiting = ev.event_id
            level = LEVEL_NAMES.get(int(round(iv.level)), str(iv.level))
            action = "paused" if amps == 0 else f"limited to {amps:g} A"
            arbiter.set_limit(
                SOURCE, amps,
                f"demand response event {ev.event_id} ({ev.origin}, {level}): {action} "
                f"until {iv.end.astimezone(UTC):%H:%M} UTC",
            )
        elif binding is not None and self.opt_out:
            self._limiting = None
            arbiter.set_limit(
                SOURCE, None, f"demand response event {binding[0].event_id}: opted out by the homeowner"
            )
        elif self._limiting is not None and not self.opt_out:
            self._start_resume_delay(self._limiting)
        elif self.resume_at is None:
            arbiter.set_limit(SOURCE, None, "no demand response event")
        self._arm_next(now)
        self._notify()

    def _arm_next(self, now: datetime) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        edges = [
            t
            for ev in self.events.values()
            for iv in ev.intervals
            for t in (iv.start, iv.end)
            if t > now
        ]
        if edges:
            self._timer = self._clock.call_at(min(edges).timestamp(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.refresh()

    def _start_resume_delay(self, event_id: str) -> None:
        self._limiting = None
        low, high = self._resume_delay or (
            COLD_LOAD_MIN_S,
            max(COLD_LOAD_MIN_S, float(self._station.settings.cold_load_pickup_max_delay_s)),
        )
        delay = self._rng.uniform(low, high)
        self.resume_at = self._clock.now() + delay
        self._resume_timer = self._clock.call_at(self.resume_at, self._resume)
        self._station.arbiter.set_limit(
            SOURCE, 0,
            f"demand response event {event_id} ended; resuming in {delay:.0f} s "
            f"(random delay so the neighbourhood does not rebound at once)",
        )

    def _cancel_resume(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        self.resume_at = None

    def _resume(self) -> None:
        self._resume_timer = None
        self.resume_at = None
        self.refresh()

    def report(self) -> dict[str, object]:
        return {
            "demand_response": {
                "opt_out": self.opt_out,
                "events": [
                    {"id": ev.event_id, "origin": ev.origin, "start": ev.start.isoformat(),
                     "end": ev.end.isoformat()}
                    for ev in self.events.values()
                ],
                "resume_at": (
                    datetime.fromtimestamp(self.resume_at, tz=UTC).isoformat()
                    if self.resume_at is not None else None
                ),
            }
        }

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def event_from_dict(data: object, origin: str = "twin") -> DrEvent:
    """``{"id", "start", "end", "level" | "limit_a"}`` (ISO datetimes with offsets) as an event.

    The form Home Assistant automations and scenarios use; errors name the field.
    """
    if not isinstance(data, dict):
        raise DemandResponseError(f"demand response event: expected an object, got {data!r}")
    for key in ("id", "start", "end"):
        if key not in data:
            raise DemandResponseError(f"demand response event: missing field {key!r}")
    if "level" not in data and "limit_a" not in data:
        raise DemandResponseError("demand response event: needs 'level' or 'limit_a'")
    unknown = set(data) - {"id", "start", "end", "level", "limit_a"}
    if unknown:
        raise DemandResponseError(f"demand response event: unknown field {sorted(unknown)[0]!r}")
    if not isinstance(data["id"], str):
        raise DemandResponseError(f"demand response event.id: expected text, got {data['id']!r}")
    times: list[datetime] = []
    for key in ("start", "end"):
        value = data[key]
        try:
            instant = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            instant = None
        if instant is None or instant.tzinfo is None:
            raise DemandResponseError(
                f"demand response event.{key}: {value!r} is not an ISO datetime with an offset"
            )
        times.append(instant)
    level = data.get("level", 0)
    return DrEvent(
        str(data["id"]), (DrInterval(times[0], times[1], level, data.get("limit_a")),), origin
    )
