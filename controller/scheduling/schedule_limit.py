"""The ``schedule`` limit source: the user's charge windows and departure goal, as one limit.

- A departure goal, while set and planned, decides: charge inside its planned windows, pause
  outside them (its plan already leaves out time outside the windows and the hours).
- Otherwise, with at least one enabled charge window, charge only inside the windows.
- Otherwise the schedule does not limit.

The source only ever *allows* or *pauses*: it never raises the current above another limit and
never overrides a pause by the user, a fault, demand response or the hours of operation (the
arbiter takes the minimum; docs/limits.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.charging.station import Station, StationSnapshot
from controller.charging.status import ChargerStatus
from controller.clock import TimerHandle
from controller.scheduling.goals import DepartureGoals
from controller.scheduling.hours import HoursOfOperation
from controller.scheduling.local_windows import weekday_text
from controller.scheduling.schedules import ChargeWindows

SOURCE = "schedule"


class ScheduleLimit:
    def __init__(
        self,
        station: Station,
        windows: ChargeWindows,
        goals: DepartureGoals,
        hours: HoursOfOperation,
    ) -> None:
        self._station = station
        self._windows = windows
        self._goals = goals
        self._hours = hours
        self._timer: TimerHandle | None = None
        self._timer_at: float | None = None
        self._charging_window_end: datetime | None = None
        self._last_status: ChargerStatus | None = None
        self.next_start: datetime | None = None
        windows.on_change(self._windows_changed)
        goals.on_change(self.refresh)
        hours.on_change(self._hours_changed)
        station.on_change(self._on_station_change)
        station.on_event(self._on_station_event)

    # ------------------------------------------------------------------ decisions
    def refresh(self) -> None:
        now = datetime.fromtimestamp(self._station.clock.now(), tz=UTC)
        arbiter = self._station.arbiter
        edge: datetime | None = None
        self.next_start = None
        self._charging_window_end = None
        goal_state = self._goals.state(now)
        if goal_state is not None and (self._goals.plan is not None or not goal_state.charging):
            if goal_state.charging:
                arbiter.set_limit(SOURCE, None, goal_state.reason)
                edge = goal_state.until
                self._charging_window_end = goal_state.until
            else:
                arbiter.set_limit(SOURCE, 0, goal_state.reason)
                edge = goal_state.next_start
                self.next_start = goal_state.next_start
        else:
            state = self._windows.state(now)
            zone = self._hours.zone
            if not state.restricting:
                arbiter.set_limit(SOURCE, None, "no charge schedule")
            elif state.inside:
                until = f" until {weekday_text(state.until, zone)}" if state.until else ""
                arbiter.set_limit(
                    SOURCE, None, f"inside charge window {state.window_id!r}{until}"
                )
            else:
                nxt = (
                    f"; next window {weekday_text(state.next_start, zone)}"
                    if state.next_start
                    else "; no window ahead"
                )
                arbiter.set_limit(SOURCE, 0, f"outside the charge windows{nxt}")
                self.next_start = state.next_start
        self._arm(edge)

    def _arm(self, edge: datetime | None) -> None:
        when = edge.timestamp() if edge is not None else None
        if when == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None:
            self._timer = self._station.clock.call_at(when, self._on_edge)

    def _on_edge(self) -> None:
        self._timer = None
        self._timer_at = None
        ended = self._charging_window_end
        now = self._station.clock.now()
        if ended is not None and ended.timestamp() <= now + 1e-6:
            self._goals.replan("end of a planned charging window")
        self.refresh()

    # ------------------------------------------------------------------ triggers
    def _windows_changed(self) -> None:
        self._goals.replan("charge windows changed")
        self.refresh()

    def _hours_changed(self) -> None:
        self._goals.replan("hours of operation changed")
        self.refresh()

    def _on_station_change(self, snap: StationSnapshot) -> None:
        previous, self._last_status = self._last_status, snap.status
        if (
            snap.status is ChargerStatus.SUSPENDED_EV
            and previous is not ChargerStatus.SUSPENDED_EV
            and self._charging_window_end is not None
            and self._goals.goal is not None
        ):
            self._goals.replan("the EV stopped taking energy")

    def _on_station_event(self, event: Any) -> None:
        if getattr(event, "kind", None) == "session_started":
            self._goals.replan("session started")

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        state = self._windows.state()
        return {
            "schedule": {
                "windows": len(self._windows.enabled()),
                "restricting": state.restricting,
                "active": state.inside if state.restricting else None,
                "definitions": self._windows.summary(),
                "goal": self._goals.summary(),
            },
            "next_start": self.next_start.isoformat() if self.next_start else None,
        }

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
