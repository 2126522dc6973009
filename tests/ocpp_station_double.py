"""An honest in-memory stand-in for the charging core, as the OCPP layer sees it.

It is a test double of the *core* only: it keeps a session state machine, an energy register
integrated on the injected clock, an arbiter of named limit sources, availability and the
reserved flag, and calls the OCPP layer's StationEvents exactly where the real core would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from controller.clock import Clock
from controller.ocpp.station_port import (
    AuthorizationAnswer,
    ConnectorStatus,
    MeterSnapshot,
    StationEvents,
    StatusReport,
    StopReason,
)


@dataclass
class StationDouble:
    clock: Clock
    max_amps: float = 32.0
    voltage: float = 240.0
    ev_max_amps: float = 32.0
    energy_wh: float = 0.0
    events: StationEvents | None = None
    plugged: bool = False
    session_tag: str | None = None
    authorized_tag: str | None = None
    available: bool = True
    reserved: bool = False
    fault: str | None = None
    limits: dict[str, float] = field(default_factory=dict)
    limit_reasons: dict[str, str] = field(default_factory=dict)
    answers: list[AuthorizationAnswer] = field(default_factory=list)
    resets: list[bool] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    unlocks: int = 0
    finishing: bool = False
    _last_update: float = 0.0
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # for tests to await

    def __post_init__(self) -> None:
        self._last_update = self.clock.now()

    # ---------------------------------------------------------------- physics
    def offered_amps(self) -> float:
        limit = min([self.max_amps, *self.limits.values()])
        return 0.0 if limit < 6.0 else limit

    def current_amps(self) -> float:
        if self.session_tag is None or not self.plugged:
            return 0.0
        return min(self.offered_amps(), self.ev_max_amps)

    def _integrate(self) -> None:
        now = self.clock.now()
        self.energy_wh += self.current_amps() * self.voltage * (now - self._last_update) / 3600.0
        self._last_update = now

    # ---------------------------------------------------------------- StationPort
    def status(self) -> StatusReport:
        if self.fault is not None:
            return StatusReport(ConnectorStatus.FAULTED, self.fault)
        if not self.available and self.session_tag is None:
            return StatusReport(ConnectorStatus.UNAVAILABLE)
        if self.session_tag is not None:
            if self.offered_amps() == 0:
                return StatusReport(ConnectorStatus.SUSPENDED_EVSE)
            if self.ev_max_amps == 0:
                return StatusReport(ConnectorStatus.SUSPENDED_EV)
            return StatusReport(ConnectorStatus.CHARGING)
        if self.finishing:
            return StatusReport(ConnectorStatus.FINISHING)
        if self.plugged or self.authorized_tag is not None:
            return StatusReport(ConnectorStatus.PREPARING)
        if self.reserved:
            return StatusReport(ConnectorStatus.RESERVED)
        return StatusReport(ConnectorStatus.AVAILABLE)

    def meter(self) -> MeterSnapshot:
        self._integrate()
        return MeterSnapshot(self.energy_wh, self.current_amps(), self.voltage, 31.5,
                             self.offered_amps())

    def deliver_authorization(self, answer: AuthorizationAnswer) -> None:
        self.answers.append(answer)
        self.answered.set()
        if answer.accepted and self.session_tag is None:
            self.authorized_tag = answer.id_tag
            self._maybe_start()
        self._changed()

    def remote_start(self, id_tag: str) -> bool:
        if not self.available or self.session_tag is not None:
            return False
        self.authorized_tag = id_tag
        self._maybe_start()
        self._changed()
        return True

    def stop_session(self, reason: StopReason) -> bool:
        if self.session_tag is None:
            return False
        self._integrate()
        self.session_tag = None
        self.authorized_tag = None
        self.finishing = self.plugged
        if self.events is not None:
            self.events.session_stopped(reason, self.energy_wh, self.clock.now())
        self._changed()
        return True

    def set_available(self, available: bool) -> None:
        self.available = available
        self._changed()

    def unlock_connector(self) -> bool:
        self.unlocks += 1
        return True

    def reset(self, hard: bool) -> bool:
        self.resets.append(hard)
        return True

    def apply_setting(self, key: str, value: str) -> None:
        self.settings[key] = value

    def set_reserved(self, reserved: bool) -> None:
        self.reserved = reserved
        self._changed()

    def set_limit(self, source: str, amps: float | None, reason: str) -> None:
        self._integrate()
        if amps is None:
            self.limits.pop(source, None)
            self.limit_reasons.pop(source, None)
        else:
            self.limits[source] = amps
            self.limit_reasons[source] = reason
        self._changed()

    # ---------------------------------------------------------------- what a user does
    def plug_in(self) -> None:
        self.plugged = True
        self._maybe_start()
        self._changed()

    def present_tag(self, id_tag: str) -> None:
        if self.session_tag == id_tag:
            self.stop_session(StopReason.LOCAL)
            return
        if self.events is not None:
            self.events.tag_needs_authorization(id_tag)

    def unplug(self) -> None:
        self.plugged = False
        self.finishing = False
        if self.session_tag is not None:
            self.stop_session(StopReason.EV_DISCONNECTED)
        self._changed()

    def _maybe_start(self) -> None:
        if self.plugged and self.authorized_tag is not None and self.session_tag is None:
            self._integrate()
            self.session_tag = self.authorized_tag
            if self.events is not None:
                self.events.session_started(self.session_tag, self.energy_wh, self.clock.now())

    def _changed(self) -> None:
        if self.events is not None:
            self.events.status_changed(self.status())
