"""Hours of operation (SPEC §Station settings) as the ``hours`` limit source of the arbiter.

Outside the hours the arbiter pauses charging (the station shows SuspendedEVSE with the
reason); inside them this source does not limit.  The table comes from the station settings
(the portal's defaults) unless the central system has sent its own, which supersedes them
until it is withdrawn.  One clock timer is armed for the next opening or closing; a change of
the table, the time zone or the daylight-saving switch re-arms it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from controller.charging.station import Station
from controller.clock import TimerHandle
from controller.scheduling.local_windows import (
    DailyWindow,
    WindowError,
    WindowState,
    covers,
    station_zone,
    weekday_text,
    weekly_table,
    window_state,
)
from controller.settings import SettingsError, StationSettings

log = logging.getLogger(__name__)

SOURCE = "hours"
CENTRAL_KEY = "hours_of_operation_central"


class HoursOfOperation:
    def __init__(self, station: Station) -> None:
        self._station = station
        self._clock = station.clock
        self._timer: TimerHandle | None = None
        self._listeners: list[Callable[[], None]] = []
        central = station.storage.get_json(CENTRAL_KEY)
        self._central: dict[str, list[str]] | None = None
        if central is not None:
            try:
                self._central = _checked_table(central)
            except SettingsError as exc:
                log.error("stored central-system hours refused (%s); using the defaults", exc)
        self._seen = self._settings_key(station.settings)
        station.on_settings(self._on_settings)
        self.refresh()

    # ------------------------------------------------------------------ queries
    @property
    def zone(self) -> tzinfo:
        s = self._station.settings
        return station_zone(s.time_zone, s.daylight_saving)

    @property
    def table(self) -> dict[str, list[str]]:
        """The table in force: the central system's if it sent one, else the settings'."""
        if self._central is not None:
            return self._central
        return self._station.settings.hours_of_operation

    @property
    def origin(self) -> str:
        return "central system" if self._central is not None else "station settings"

    def windows(self) -> list[DailyWindow]:
        return weekly_table(self.table)

    def state(self, instant: datetime | None = None) -> WindowState:
        at = instant or datetime.fromtimestamp(self._clock.now(), tz=UTC)
        return window_state(self.windows(), self.zone, at)

    def open_between(self, start: datetime, end: datetime) -> bool:
        """True when the station is open for the whole of [start, end)."""
        return covers(self.windows(), self.zone, start, end)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ commands
    def set_central_hours(self, table: Any) -> None:
        """Hours sent by the central system; ``None`` withdraws them (back to the defaults).

        Raises SettingsError naming the bad weekday or time; nothing changes then.
        """
        if table is None:
            self._central = None
            self._station.storage.delete(CENTRAL_KEY)
        else:
            checked = _checked_table(table)
            self._station.storage.put_json(CENTRAL_KEY, checked)
            self._central = checked
        self.refresh()
        self._notify()

    def refresh(self) -> None:
        """Set the limit for now and arm the timer for the next opening or closing."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            state = self.state()
        except WindowError as exc:  # settings are validated, so this is a broken store
            log.error("hours of operation unusable (%s); not limiting", exc)
            self._station.arbiter.set_limit(SOURCE, None, f"hours of operation unusable: {exc}")
            return
        zone = self.zone
        arbiter = self._station.arbiter
        if state.inside:
            until = (
                f" until {weekday_text(state.next_change, zone)}"
                if state.next_change is not None
                else " (always open)"
            )
            arbiter.set_limit(SOURCE, None, f"inside hours of operation{until}")
        else:
            opens = (
                f"; opens {weekday_text(state.next_change, zone)}"
                if state.next_change is not None
                else "; closed every day"
            )
            arbiter.set_limit(
                SOURCE, 0, f"outside hours of operation ({self.origin}){opens}"
            )
        if state.next_change is not None:
            self._timer = self._clock.call_at(state.next_change.timestamp(), self._on_timer)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------------ internals
    def _on_timer(self) -> None:
        self._timer = None
        self.refresh()
        self._notify()

    def _on_settings(self, settings: StationSettings) -> None:
        key = self._settings_key(settings)
        if key != self._seen:
            self._seen = key
            self.refresh()
            self._notify()

    @staticmethod
    def _settings_key(settings: StationSettings) -> tuple[Any, ...]:
        hours = tuple(sorted((d, tuple(v)) for d, v in settings.hours_of_operation.items()))
        return hours, settings.time_zone, settings.daylight_saving

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def _checked_table(table: Any) -> dict[str, list[str]]:
    """Validate like the station setting (same messages), so both sources mean the same."""
    return StationSettings().apply({"hours_of_operation": table}).hours_of_operation
