"""The charging core as OCPP sees it: :class:`StationPort` over the real Station.

It is also the station's authorization door while a central system is in charge: a presented
tag goes to OCPP (online Authorize, local list, cache, offline rules) and OCPP's answer comes
back through :meth:`CorePort.deliver_authorization`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from controller.charging.authorization import AuthCallback, AuthResult, AuthStatus
from controller.charging.station import Station, StationEvent, StationSnapshot
from controller.charging.status import ChargerStatus
from controller.ocpp.config_keys import parse_hours
from controller.ocpp.station_port import (
    AuthorizationAnswer,
    ConnectorStatus,
    MeterSnapshot,
    StationEvents,
    StatusReport,
    StopReason,
)
from controller.settings import SettingsError

log = logging.getLogger(__name__)

# OCPP's extra limit source (a 0 A pause for an invalidated id) -> the arbiter's name for it
_SOURCES = {"ocpp": "ocpp", "ocpp-invalid-id": "ocpp_invalid_id"}


class CorePort:
    def __init__(self, station: Station, reboot: Callable[[str], None]) -> None:
        self.station = station
        self._reboot = reboot
        self.events: StationEvents | None = None
        self._pending: dict[str, AuthCallback] = {}
        self._last_status: StatusReport | None = None
        # hours of operation from the central system (None withdraws them); set by the daemon
        self.on_central_hours: Callable[[dict[str, list[str]] | None], None] | None = None
        station.on_change(self._on_change)
        station.on_event(self._on_event)

    # ------------------------------------------------------------------ the station's door
    def authorize(self, id_tag: str, done: AuthCallback) -> None:
        if self.events is None:
            done(AuthResult(AuthStatus.INVALID, "ocpp"))
            return
        self._pending[id_tag] = done
        self.events.tag_needs_authorization(id_tag)

    def deliver_authorization(self, answer: AuthorizationAnswer) -> None:
        done = self._pending.pop(answer.id_tag, None)
        try:
            status = AuthStatus(answer.status)
        except ValueError:
            status = AuthStatus.INVALID
        if answer.accepted:
            status = AuthStatus.ACCEPTED
        result = AuthResult(status, answer.source, answer.parent_id_tag)
        if done is not None:
            done(result)
        elif result.accepted:
            self.station.authorize(answer.id_tag, result)

    # ------------------------------------------------------------------ StationPort
    def status(self) -> StatusReport:
        return _report(self.station.snapshot())

    def meter(self) -> MeterSnapshot:
        snap = self.station.snapshot()
        return MeterSnapshot(
            energy_wh=float(snap.energy_wh),
            current_a=snap.current_a,
            voltage_v=snap.voltage_v,
            temperature_c=snap.temperature_c,
            offered_a=snap.offered_a,
        )

    def remote_start(self, id_tag: str) -> bool:
        station = self.station
        if station.session is not None or not station.available or not station.board_ready:
            return False
        station.authorize(id_tag, AuthResult(AuthStatus.ACCEPTED, "remote"))
        return True

    def stop_session(self, reason: StopReason) -> bool:
        return self.station.stop_session(reason.value)

    def set_available(self, available: bool) -> None:
        self.station.set_available(available)

    def unlock_connector(self) -> bool:
        # The MQ 200's cable is tethered: there is no lock to release; stopping is enough.
        self.station.stop_session(StopReason.UNLOCK_COMMAND.value)
        return True

    def reset(self, hard: bool) -> bool:
        self._reboot("hard reset from the central system" if hard else "soft reset from the central system")
        return True

    def apply_setting(self, key: str, value: str) -> None:
        if key == "MQ200HoursOfOperation":
            if self.on_central_hours is not None:
                try:
                    self.on_central_hours(parse_hours(value))
                except ValueError as exc:
                    log.warning("hours of operation from the central system refused: %s", exc)
            return
        changes: dict[str, object] = {}
        if key == "ConnectionTimeOut":
            changes["ev_connect_timeout_s"] = int(value)
        elif key == "LightIntensity":
            changes["display_intensity_pct"] = int(value)
        if not changes:
            return
        try:
            self.station.apply_settings(changes)
        except SettingsError as exc:
            log.warning("OCPP %s=%s not applied to the station: %s", key, value, exc)

    def set_reserved(self, reserved: bool) -> None:
        # OCPP checks the reserved tag itself; the station only shows Reserved (pink).
        self.station.set_reserved("" if reserved else None)

    def set_limit(self, source: str, amps: float | None, reason: str) -> None:
        self.station.arbiter.set_limit(_SOURCES.get(source, source), amps, reason)

    # ------------------------------------------------------------------ core -> OCPP
    def _on_change(self, snap: StationSnapshot) -> None:
        report = _report(snap)
        if report != self._last_status and self.events is not None:
            self._last_status = report
            self.events.status_changed(report)

    def _on_event(self, event: StationEvent) -> None:
        if self.events is None:
            return
        if event.kind == "session_started" and event.data.get("auth_source") != "recovered":
            self.events.session_started(
                str(event.data["id_tag"]), float(event.data["meter_start_wh"]), event.at
            )
        elif event.kind == "session_stopped":
            try:
                reason = StopReason(str(event.data["reason"]))
            except ValueError:
                reason = StopReason.OTHER
            self.events.session_stopped(reason, float(event.data["meter_stop_wh"]), event.at)
        elif event.kind == "auth_rejected":
            self._pending.pop(str(event.data.get("id_tag")), None)


def _report(snap: StationSnapshot) -> StatusReport:
    if snap.status is ChargerStatus.INITIALIZING:
        return StatusReport(ConnectorStatus.UNAVAILABLE, info="booting")
    status = ConnectorStatus(snap.status.value)
    if status is ConnectorStatus.FAULTED and snap.faults:
        first = snap.faults[0]
        return StatusReport(status, str(first["error_code"]), info=str(first["kind"]))
    return StatusReport(status)
