"""The charge logic of the single connector: J1772 pilot, session, faults, outputs.

Board events come in through :meth:`Station.handle_board_event`; everything the station decides
goes out as board commands through one method, :meth:`Station._drive_outputs`, which checks the
safety conditions every time it may close the contactor.  The offered current comes only from
the :class:`~controller.charging.arbiter.Arbiter`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from controller.charging.arbiter import Arbiter, Decision
from controller.charging.authorization import (
    AuthProvider,
    AuthResult,
    AuthStatus,
    LocalListAuthorizer,
    valid_id_tag,
)
from controller.charging.dip import DipSetting, decode_dip
from controller.charging.faults import FaultKind, FaultManager
from controller.charging.pilot import NO_OFFER_DUTY, amps_from_duty, duty_from_amps
from controller.charging.safety import ContactorConditions, contactor_blockers
from controller.charging.status import ChargerStatus, StatusInputs, led_for, oled_text
from controller.clock import Clock, TimerHandle
from controller.hal.messages import (
    BoardCommand,
    BoardEvent,
    BoardHello,
    BoardPort,
    GroundFaultTrip,
    GroundMonitor,
    LedPattern,
    MeterReading,
    PilotChanged,
    PilotState,
    PowerNotice,
    RelayWelded,
    RequestStatus,
    SetContactor,
    SetDisplay,
    SetLed,
    SetPwm,
    ShortCircuit,
    TagPresented,
    WatchdogTripped,
)
from controller.settings import SettingsError, StationSettings
from controller.storage import Storage

log = logging.getLogger(__name__)

OVER_CURRENT_MARGIN_A = 2.0  # tolerated draw above the offer (or 10 %, whichever is larger)
OVER_CURRENT_GRACE_S = 5.0  # J1772: the EV has 5 s to follow a lower offer
CHARGING_THRESHOLD_A = 1.0  # below this with the contactor closed, the EV is not taking energy
CHARGING_SETTLE_S = 5.0  # after closing, give the EV this long to start drawing
DERATE_ABOVE_C = 45.0  # SPEC: 50 A rating only up to 45 °C
DERATE_TO_A = 40.0
DERATE_HYSTERESIS_C = 2.0  # back to the full rating below 43 °C, so it does not hunt
VOLTAGE_HYSTERESIS_V = 4.0
TEMPERATURE_HYSTERESIS_C = 5.0
COLD_LOAD_MIN_S = 120.0

STOP_LOCAL = "Local"
STOP_EV_DISCONNECTED = "EVDisconnected"
STOP_POWER_LOSS = "PowerLoss"
STOP_REBOOT = "Reboot"


@dataclass
class ActiveSession:
    id: int
    id_tag: str
    started_at: float
    meter_start_wh: int
    auth_source: str
    parent_id: str | None = None
    stopped: bool = False  # ended, cable still in: Finishing


@dataclass(frozen=True)
class StationEvent:
    """Something that happened, for OCPP, the twin and logs (not a state snapshot)."""

    kind: str  # session_started, session_stopped, auth_rejected, fault_set, fault_cleared, ...
    at: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StationSnapshot:
    status: ChargerStatus
    pilot: str | None
    duty_pct: float | None
    offered_a: float  # what the pilot offers the EV now ("PWM amperage"); 0 without an offer
    limit_a: float  # what the arbiter allows (the minimum of every limit source)
    current_a: float
    voltage_v: float
    power_w: float
    energy_wh: int
    session_energy_wh: int
    temperature_c: float
    contactor: bool
    limit_reason: str
    limit_source: str | None
    limits: tuple[dict[str, Any], ...]
    faults: tuple[dict[str, Any], ...]
    session: dict[str, Any] | None
    dip_max_a: int | None
    led: LedPattern
    display: str
    cold_load_until: float | None
    warnings: tuple[str, ...]
    available: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "pilot": self.pilot,
            "duty_pct": self.duty_pct,
            "offered_a": self.offered_a,
            "limit_a": self.limit_a,
            "current_a": self.current_a,
            "voltage_v": self.voltage_v,
            "power_w": self.power_w,
            "energy_wh": self.energy_wh,
            "session_energy_wh": self.session_energy_wh,
            "temperature_c": self.temperature_c,
            "contactor": self.contactor,
            "limit_reason": self.limit_reason,
            "limit_source": self.limit_source,
            "limits": list(self.limits),
            "faults": list(self.faults),
            "session": self.session,
            "dip_max_a": self.dip_max_a,
            "led": self.led.value,
            "display": self.display,
            "cold_load_until": self.cold_load_until,
            "warnings": list(self.warnings),
            "available": self.available,
        }


class Station:
    def __init__(
        self,
        clock: Clock,
        board: BoardPort,
        storage: Storage,
        settings: StationSettings | None = None,
        rng: random.Random | None = None,
        authorizer: AuthProvider | None = None,
    ) -> None:
        self.clock = clock
        self._board = board
        self.storage = storage
        self._rng = rng or random.Random()
        stored = storage.get_json("station_settings")
        base = settings or StationSettings()
        try:
            self.settings = base.apply(stored) if stored else base
        except SettingsError as exc:
            log.error("stored settings refused (%s); using defaults", exc)
            self.settings = base
        self.local_list = LocalListAuthorizer(self.settings.local_list)
        self.authorizer: AuthProvider = authorizer or self.local_list
        self.arbiter = Arbiter()
        self.faults = FaultManager(clock, self._request_evaluation)

        self.board_ready = False
        self.dip: DipSetting | None = None
        self.pilot: PilotState | None = None
        self.ground_present = True
        self.meter: MeterReading | None = None
        self.register_wh = storage.load_register()
        self._last_board_wh: int | None = None
        self.session: ActiveSession | None = None
        self.available = True
        self.reserved_for: str | None = None
        self._pending_auth: tuple[int, str] | None = None
        self._auth_seq = 0
        self._auth_timer: TimerHandle | None = None
        self._authorized: AuthResult | None = None
        self._authorized_tag: str | None = None
        self._connect_timer: TimerHandle | None = None
        self.cold_load_until: float | None = None
        self._cold_timer: TimerHandle | None = None
        self._oc_timer: TimerHandle | None = None
        self._settle_until: float | None = None
        self._settle_timer: TimerHandle | None = None
        self._reboot_timer: TimerHandle | None = None
        self._reboot_due = False
        self._interrupted: ActiveSession | None = None
        self._boot_reason = "power_on"
        self._warnings: set[str] = set()

        self.contactor_closed = False
        self.duty_pct: float | None = None
        self._sent: dict[type, BoardCommand] = {}
        self.status = ChargerStatus.INITIALIZING
        self._snapshot: StationSnapshot | None = None
        self._change_listeners: list[Callable[[StationSnapshot], None]] = []
        self._event_listeners: list[Callable[[StationEvent], None]] = []
        self._settings_listeners: list[Callable[[StationSettings], None]] = []
        self._evaluating = False
        self._dirty = False

        self._recover_open_session()
        self.arbiter.subscribe(self._on_decision)
        self.arbiter.set_limit("dip", 0, "waiting for the power board (DIP switch)")
        self._apply_firmware_cap()
        self._arm_reboot_timer()

    # ------------------------------------------------------------------ subscriptions
    def on_change(self, listener: Callable[[StationSnapshot], None]) -> None:
        self._change_listeners.append(listener)

    def on_event(self, listener: Callable[[StationEvent], None]) -> None:
        self._event_listeners.append(listener)

    def on_settings(self, listener: Callable[[StationSettings], None]) -> None:
        """Called with the new settings after they were applied (portal, twin, OCPP, reset)."""
        self._settings_listeners.append(listener)

    def _settings_changed(self) -> None:
        for listener in list(self._settings_listeners):
            listener(self.settings)

    def snapshot(self) -> StationSnapshot:
        if self._snapshot is None:
            self._snapshot = self._make_snapshot()
        return self._snapshot

    def request_board_status(self) -> None:
        """Ask a running board for a BoardHello and its readings (after a controller restart)."""
        self._board.send(RequestStatus())

    # ------------------------------------------------------------------ board events
    def handle_board_event(self, event: BoardEvent) -> None:
        try:
            self._dispatch(event)
        finally:
            self._request_evaluation()

    def _dispatch(self, event: BoardEvent) -> None:
        if isinstance(event, PilotChanged):
            self._on_pilot(event.state)
        elif isinstance(event, MeterReading):
            self._on_meter(event)
        elif isinstance(event, BoardHello):
            self._on_hello(event)
        elif isinstance(event, GroundFaultTrip):
            self._emit("fault_set", fault="ground_fault", leakage_ma=event.leakage_ma)
            self.contactor_closed = False
            self._sent.pop(SetContactor, None)
            self.faults.trip(FaultKind.GROUND_FAULT)
        elif isinstance(event, GroundMonitor):
            self.ground_present = event.present
            self.faults.condition(FaultKind.NO_GROUND, not event.present)
        elif isinstance(event, RelayWelded):
            if event.welded:
                self.faults.trip(FaultKind.STUCK_RELAY)
        elif isinstance(event, ShortCircuit):
            self.contactor_closed = False
            self._sent.pop(SetContactor, None)
            self.faults.trip(FaultKind.SHORT_CIRCUIT)
        elif isinstance(event, PowerNotice):
            self._on_power_fail(event)
        elif isinstance(event, WatchdogTripped):
            self.contactor_closed = False
            self._sent.pop(SetContactor, None)
            self._emit("watchdog_tripped")
        elif isinstance(event, TagPresented):
            self.present_tag(event.uid)

    def _on_hello(self, hello: BoardHello) -> None:
        self.board_ready = True
        self._sent.clear()  # the board forgot everything: command it afresh
        self.contactor_closed = False
        self._last_board_wh = None
        self._boot_reason = hello.boot_reason
        self.dip = decode_dip(hello.dip_sw1, hello.dip_sw2, hello.dip_sw3)
        if self.dip.factory_reset:
            self.factory_reset()
            self.arbiter.set_limit("dip", 0, "DIP switch at OFF-OFF-OFF (factory reset): set a current")
        else:
            self.arbiter.set_limit("dip", self.dip.max_a, f"DIP switch max {self.dip.max_a} A")
        if hello.boot_reason == "power_restored":
            self._start_cold_load()
            if self.session is not None and not self.session.stopped:
                if self.settings.resume_charge_after_reboot:
                    self._emit("session_resumed", session_id=self.session.id)
                else:
                    self._stop_session(STOP_POWER_LOSS)
        self._emit("board_hello", boot_reason=hello.boot_reason, board_fw=hello.board_fw)

    def _on_power_fail(self, notice: PowerNotice) -> None:
        self.board_ready = False
        self.contactor_closed = False
        self._sent.clear()
        self.meter = None
        self._emit("power_fail", notice=notice.event.value)

    def _on_pilot(self, state: PilotState) -> None:
        previous = self.pilot
        self.pilot = state
        self.faults.condition(FaultKind.PILOT_ERROR, state in (PilotState.E, PilotState.F))
        if state is PilotState.A:
            if self.session is not None:
                if not self.session.stopped:
                    self._stop_session(STOP_EV_DISCONNECTED)
                self.session = None
            self._close_interrupted(STOP_EV_DISCONNECTED)
            self.faults.end_of_session()
            return
        if state in (PilotState.B, PilotState.C, PilotState.D):
            if self._interrupted is not None:
                self._resume_or_close_interrupted()
            if (previous in (None, PilotState.A)) and self.session is None:
                self._on_plug_in()

    def _on_plug_in(self) -> None:
        if self._authorized is not None and self._authorized_tag is not None:
            self._start_session(self._authorized_tag, self._authorized)
        elif len(self.settings.plug_and_charge_id) >= 8:
            result = AuthResult(AuthStatus.ACCEPTED, "plug_and_charge")
            self._start_session(self.settings.plug_and_charge_id, result)

    def _on_meter(self, reading: MeterReading) -> None:
        self.meter = reading
        self._advance_register(reading.energy_wh)
        self._check_voltage(reading.voltage_v)
        self._check_temperature(reading.temperature_c)
        self._check_over_current()

    def _advance_register(self, board_wh: int) -> None:
        last = self._last_board_wh
        self._last_board_wh = board_wh
        if last is None:
            return
        delta = board_wh - last if board_wh >= last else board_wh  # board register restarted
        if delta > 0:
            self.register_wh += delta
            self.storage.save_register(self.register_wh)

    def _check_voltage(self, volts: float) -> None:
        s = self.settings
        over = self.faults.is_active(FaultKind.OVER_VOLTAGE)
        under = self.faults.is_active(FaultKind.UNDER_VOLTAGE)
        hys = VOLTAGE_HYSTERESIS_V
        self.faults.condition(
            FaultKind.OVER_VOLTAGE,
            volts > s.voltage_high_trip_v or (over and volts > s.voltage_high_trip_v - hys),
        )
        self.faults.condition(
            FaultKind.UNDER_VOLTAGE,
            volts < s.voltage_low_trip_v or (under and volts < s.voltage_low_trip_v + hys),
        )
        self._set_warning("voltage_high", s.voltage_high_warning_v < volts)
        self._set_warning("voltage_low", volts < s.voltage_low_warning_v)

    def _check_temperature(self, temp_c: float) -> None:
        s = self.settings
        hot = self.faults.is_active(FaultKind.OVER_TEMPERATURE)
        self.faults.condition(
            FaultKind.OVER_TEMPERATURE,
            temp_c > s.temperature_trip_c
            or (hot and temp_c > s.temperature_trip_c - TEMPERATURE_HYSTERESIS_C),
        )
        self._set_warning("temperature_high", temp_c > s.temperature_high_warning_c)
        self._set_warning("temperature_low", temp_c < s.temperature_low_warning_c)
        derated = self.arbiter.limit("temperature")
        still_hot = derated is not None and derated.amps is not None and (
            temp_c > DERATE_ABOVE_C - DERATE_HYSTERESIS_C
        )
        if temp_c > DERATE_ABOVE_C or still_hot:
            self.arbiter.set_limit(
                "temperature", DERATE_TO_A, f"derated to {DERATE_TO_A:g} A above {DERATE_ABOVE_C:g} °C"
            )
        else:
            self.arbiter.set_limit("temperature", None, "temperature normal")

    def _set_warning(self, name: str, on: bool) -> None:
        if on and name not in self._warnings:
            self._warnings.add(name)
            self._emit("warning", warning=name)
        elif not on:
            self._warnings.discard(name)

    def _drawing_over_offer(self) -> bool:
        """The EV draws more than the offer allows (beyond the meter's and the EV's slack)."""
        reading = self.meter
        offered = self.arbiter.decision.offered_a
        return (
            reading is not None
            and self.contactor_closed
            and reading.current_a > offered + max(OVER_CURRENT_MARGIN_A, 0.1 * offered)
        )

    def _check_over_current(self) -> None:
        over = self._drawing_over_offer()
        if over and self._oc_timer is None:
            self._oc_timer = self.clock.call_later(OVER_CURRENT_GRACE_S, self._over_current_due)
        elif not over and self._oc_timer is not None:
            self._oc_timer.cancel()
            self._oc_timer = None

    def _over_current_due(self) -> None:
        self._oc_timer = None
        if self._drawing_over_offer():
            self.faults.trip(FaultKind.OVER_CURRENT)

    # ------------------------------------------------------------------ authorization
    def present_tag(self, id_tag: str, source: str = "rfid") -> None:
        """An RFID card (or the app) asks to start, or to stop its own session."""
        try:
            id_tag = valid_id_tag(id_tag)
        except ValueError as exc:
            self._emit("auth_rejected", id_tag=str(id_tag)[:40], reason=str(exc))
            return
        session = self.session
        if session is not None and not session.stopped:
            if id_tag == session.id_tag:
                self.stop_session(STOP_LOCAL)
            else:
                self._emit("tag_ignored", id_tag=id_tag, reason="a session is running")
            return
        if session is not None:  # Finishing: unplug first
            self._emit("tag_ignored", id_tag=id_tag, reason="unplug to start a new session")
            return
        self._auth_seq += 1
        seq = self._auth_seq
        self._pending_auth = (seq, id_tag)
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        self._auth_timer = self.clock.call_later(
            self.settings.authorize_timeout_s, lambda: self._auth_timed_out(seq)
        )
        self._request_evaluation()
        self.authorizer.authorize(id_tag, lambda result: self._auth_answered(seq, id_tag, result))

    def _auth_timed_out(self, seq: int) -> None:
        if self._pending_auth is not None and self._pending_auth[0] == seq:
            tag = self._pending_auth[1]
            self._pending_auth = None
            self._emit("auth_rejected", id_tag=tag, reason="authorization timed out")
            self._request_evaluation()

    def _auth_answered(self, seq: int, id_tag: str, result: AuthResult) -> None:
        if self._pending_auth is None or self._pending_auth[0] != seq:
            return  # late answer after a timeout or a newer tag
        self._pending_auth = None
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        if not result.accepted:
            self._emit("auth_rejected", id_tag=id_tag, reason=result.status.value, source=result.source)
            self._request_evaluation()
            return
        if self.reserved_for and self.reserved_for not in (id_tag, result.parent_id):
            self._emit("auth_rejected", id_tag=id_tag, reason="connector reserved for another tag")
            self._request_evaluation()
            return
        self.authorize(id_tag, result)

    def authorize(self, id_tag: str, result: AuthResult) -> None:
        """Accepted (by the door or by a remote start): start now or wait for the EV."""
        if self.session is not None:
            return
        if self.pilot in (PilotState.B, PilotState.C, PilotState.D):
            self._start_session(id_tag, result)
        else:
            self._authorized, self._authorized_tag = result, id_tag
            if self._connect_timer is not None:
                self._connect_timer.cancel()
            self._connect_timer = self.clock.call_later(
                self.settings.ev_connect_timeout_s, self._connect_timed_out
            )
            self._emit("authorized_waiting", id_tag=id_tag)
        self._request_evaluation()

    def _connect_timed_out(self) -> None:
        self._connect_timer = None
        if self._authorized is not None:
            self._emit("authorization_expired", id_tag=self._authorized_tag)
            self._clear_authorized()
            self._request_evaluation()

    def _clear_authorized(self) -> None:
        self._authorized = None
        self._authorized_tag = None
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    # ------------------------------------------------------------------ sessions
    def _start_session(self, id_tag: str, result: AuthResult) -> None:
        self._clear_authorized()
        now = self.clock.now()
        session_id = self.storage.start_session(now, id_tag, self.register_wh)
        self.session = ActiveSession(
            session_id, id_tag, now, self.register_wh, result.source, result.parent_id
        )
        self.reserved_for = None
        self._emit(
            "session_started",
            session_id=session_id,
            id_tag=id_tag,
            meter_start_wh=self.register_wh,
            auth_source=result.source,
        )

    def stop_session(self, reason: str = STOP_LOCAL) -> bool:
        """Stop the running session (local, remote, deauthorized...). False if none runs."""
        if self.session is None or self.session.stopped:
            return False
        self._stop_session(reason)
        self._request_evaluation()
        return True

    def _stop_session(self, reason: str) -> None:
        session = self.session
        assert session is not None
        session.stopped = True
        self._open_contactor_now()
        self._record_stop(session, reason)
        if self._reboot_due:
            self.clock.call_later(0, self._fire_reboot)

    def _recover_open_session(self) -> None:
        record = self.storage.open_session()
        if record is None or record.id is None:
            return
        self._interrupted = ActiveSession(
            record.id, record.id_tag, record.started_at, record.meter_start_wh, "recovered"
        )

    def _resume_or_close_interrupted(self) -> None:
        interrupted = self._interrupted
        assert interrupted is not None
        self._interrupted = None
        if self.settings.resume_charge_after_reboot and self.session is None:
            self.session = interrupted
            self._emit("session_resumed", session_id=interrupted.id)
        else:
            reason = STOP_POWER_LOSS if self._boot_reason == "power_restored" else STOP_REBOOT
            self._interrupted = interrupted
            self._close_interrupted(reason)
            self.session = ActiveSession(
                interrupted.id, interrupted.id_tag, interrupted.started_at,
                interrupted.meter_start_wh, "recovered", stopped=True,
            )

    def _close_interrupted(self, reason: str) -> None:
        interrupted = self._interrupted
        if interrupted is None:
            return
        self._interrupted = None
        self._record_stop(interrupted, reason)

    def _record_stop(self, session: ActiveSession, reason: str) -> None:
        """Commit the stop, then tell OCPP, the twin and pricing about it."""
        record = self.storage.stop_session(session.id, self.clock.now(), self.register_wh, reason)
        self._emit(
            "session_stopped",
            session_id=session.id,
            id_tag=session.id_tag,
            meter_stop_wh=self.register_wh,
            energy_wh=record.energy_wh,
            reason=reason,
            started_at=session.started_at,
        )

    # ------------------------------------------------------------------ commands
    def set_available(self, available: bool) -> None:
        self.available = available
        self._request_evaluation()

    def set_reserved(self, id_tag: str | None) -> None:
        self.reserved_for = id_tag
        self._request_evaluation()

    def reset_fault(self) -> bool:
        cleared = self.faults.manual_reset()
        self._request_evaluation()
        return cleared

    def apply_settings(self, changes: dict[str, Any]) -> StationSettings:
        """Validate, persist, then act on new settings; SettingsError leaves all as it was."""
        dip_max = self.dip.max_a if self.dip and not self.dip.factory_reset else None
        fw = changes.get("max_amperage_fw_a")
        if dip_max is not None and isinstance(fw, int) and not isinstance(fw, bool) and fw > dip_max:
            raise SettingsError(
                {"max_amperage_fw_a": f"{fw} A is above the DIP switch max of {dip_max} A"}
            )
        new = self.settings.apply(changes)
        stored = dict(self.storage.get_json("station_settings") or {})
        stored.update(changes)
        self.storage.put_json("station_settings", stored)
        self.settings = new
        self.local_list.replace(new.local_list)
        self._apply_firmware_cap()
        if "reboot_period_min" in changes:
            self._arm_reboot_timer()
        self._settings_changed()
        self._request_evaluation()
        return new

    def factory_reset(self) -> None:
        """Every setting back to its default; sessions and the register stay."""
        self.storage.delete("station_settings")
        self.settings = StationSettings()
        self.local_list.replace(())
        self._apply_firmware_cap()
        self._settings_changed()
        self._emit("factory_reset")

    def _apply_firmware_cap(self) -> None:
        cap = self.settings.max_amperage_fw_a
        self.arbiter.set_limit("firmware", cap, f"firmware max {cap} A")

    def _start_cold_load(self) -> None:
        delay = self._rng.uniform(COLD_LOAD_MIN_S, max(COLD_LOAD_MIN_S, self.settings.cold_load_pickup_max_delay_s))
        self.cold_load_until = self.clock.now() + delay
        if self._cold_timer is not None:
            self._cold_timer.cancel()
        self._cold_timer = self.clock.call_at(self.cold_load_until, self._end_cold_load)
        self.arbiter.set_limit("cold_load", 0, f"cold load pickup: waiting {delay:.0f} s after power returned")

    def _end_cold_load(self) -> None:
        self._cold_timer = None
        self.cold_load_until = None
        self.arbiter.set_limit("cold_load", None, "cold load pickup done")

    def _arm_reboot_timer(self) -> None:
        if self._reboot_timer is not None:
            self._reboot_timer.cancel()
            self._reboot_timer = None
        minutes = self.settings.reboot_period_min
        if minutes > 0:
            self._reboot_timer = self.clock.call_later(minutes * 60.0, self._reboot_period_due)

    def _reboot_period_due(self) -> None:
        self._reboot_timer = None
        if self.session is not None and not self.session.stopped:
            self._reboot_due = True  # after this session ends
        else:
            self._fire_reboot()

    def _fire_reboot(self) -> None:
        self._reboot_due = False
        self._emit("reboot_requested", reason="reboot period")
        self._arm_reboot_timer()

    # ------------------------------------------------------------------ evaluation
    def _on_decision(self, _decision: Decision) -> None:
        self._check_over_current()
        self._request_evaluation()

    def _request_evaluation(self) -> None:
        if self._evaluating:
            self._dirty = True
            return
        self._evaluating = True
        try:
            for _ in range(10):
                self._dirty = False
                self._evaluate()
                if not self._dirty:
                    break
        finally:
            self._evaluating = False

    def _evaluate(self) -> None:
        faulted = self.faults.any_active
        self.arbiter.set_limit(
            "fault", 0 if faulted else None, self._fault_reason() if faulted else "no fault"
        )
        self._drive_outputs()
        self.status = self._compute_status()
        self._drive_indicators()
        snap = self._make_snapshot()
        if snap != self._snapshot:
            self._snapshot = snap
            for listener in list(self._change_listeners):
                listener(snap)

    def _fault_reason(self) -> str:
        kinds = ", ".join(f.kind.value.replace("_", " ") for f in self.faults.active)
        return f"fault: {kinds}" + (" (latched, needs reset)" if self.faults.latched else "")

    def conditions(self) -> ContactorConditions:
        session = self.session
        return ContactorConditions(
            board_ready=self.board_ready,
            pilot=self.pilot,
            authorized=session is not None and not session.stopped,
            fault_active=self.faults.any_active,
            ground_present=self.ground_present,
            offered_a=self.arbiter.decision.offered_a,
            cold_load_waiting=self.cold_load_until is not None,
            available=self.available,
        )

    def _drive_outputs(self) -> None:
        if not self.board_ready:
            return
        conditions = self.conditions()
        offering = conditions.authorized and conditions.offered_a > 0 and not conditions.fault_active
        # Never drive state F (-12 V): the board could no longer see the EV leave (pilot A).
        if offering and self.available and self.pilot in (PilotState.B, PilotState.C, PilotState.D):
            duty = duty_from_amps(conditions.offered_a)
        else:
            duty = NO_OFFER_DUTY
        close = not contactor_blockers(conditions)
        if not close:
            self._set_contactor(False)
        self._send(SetPwm(duty))
        self.duty_pct = duty
        if close:
            self._set_contactor(True)

    def _open_contactor_now(self) -> None:
        if self.board_ready:
            self._set_contactor(False)

    def _set_contactor(self, closed: bool) -> None:
        if closed and contactor_blockers(self.conditions()):
            raise AssertionError("contactor close requested while a safety condition forbids it")
        if closed and not self.contactor_closed:
            self._settle_until = self.clock.now() + CHARGING_SETTLE_S
            if self._settle_timer is not None:
                self._settle_timer.cancel()
            self._settle_timer = self.clock.call_at(self._settle_until, self._settled)
        self.contactor_closed = closed
        self._send(SetContactor(closed))

    def _settled(self) -> None:
        self._settle_timer = None
        self._settle_until = None
        self._request_evaluation()

    def _send(self, command: BoardCommand) -> None:
        if self._sent.get(type(command)) == command:
            return
        self._sent[type(command)] = command
        self._board.send(command)

    def _compute_status(self) -> ChargerStatus:
        if not self.board_ready:
            return ChargerStatus.INITIALIZING
        if self.faults.any_active:
            return ChargerStatus.FAULTED
        if not self.available:
            return ChargerStatus.UNAVAILABLE
        session = self.session
        if session is not None:
            if session.stopped:
                return ChargerStatus.FINISHING
            if self.contactor_closed:
                current = self.meter.current_a if self.meter else 0.0
                if current >= CHARGING_THRESHOLD_A or self._settle_until is not None:
                    return ChargerStatus.CHARGING
                return ChargerStatus.SUSPENDED_EV
            if self.arbiter.decision.offered_a <= 0 or self.cold_load_until is not None:
                return ChargerStatus.SUSPENDED_EVSE
            return ChargerStatus.SUSPENDED_EV
        if self._authorized is not None or self._pending_auth is not None:
            return ChargerStatus.PREPARING
        if self.pilot in (PilotState.B, PilotState.C, PilotState.D):
            return ChargerStatus.PREPARING
        if self.reserved_for is not None:
            return ChargerStatus.RESERVED
        return ChargerStatus.AVAILABLE

    def _drive_indicators(self) -> None:
        if not self.board_ready:
            return
        led = led_for(
            StatusInputs(self.status, self.faults.latched, self._authorized is not None)
        )
        self._send(SetLed(led))
        snap_current = self.meter.current_a if self.meter and self.contactor_closed else 0.0
        power = snap_current * (self.meter.voltage_v if self.meter else 0.0)
        self._send(
            SetDisplay(
                oled_text(
                    self.status, self.settings.network, self.arbiter.decision.offered_a,
                    power, self._session_energy(),
                )
            )
        )

    def _session_energy(self) -> int:
        if self.session is None:
            return 0
        return self.register_wh - self.session.meter_start_wh

    def _make_snapshot(self) -> StationSnapshot:
        meter = self.meter
        current = meter.current_a if meter and self.contactor_closed else 0.0
        voltage = meter.voltage_v if meter else 0.0
        decision = self.arbiter.decision
        session = self.session
        led_cmd = self._sent.get(SetLed)
        display_cmd = self._sent.get(SetDisplay)
        return StationSnapshot(
            status=self.status,
            pilot=self.pilot.value if self.pilot else None,
            duty_pct=self.duty_pct,
            offered_a=amps_from_duty(self.duty_pct) if self.duty_pct is not None else 0.0,
            limit_a=decision.offered_a,
            current_a=round(current, 2),
            voltage_v=round(voltage, 1),
            power_w=round(current * voltage, 1),
            energy_wh=self.register_wh,
            session_energy_wh=self._session_energy(),
            temperature_c=meter.temperature_c if meter else 0.0,
            contactor=self.contactor_closed,
            limit_reason=decision.reason,
            limit_source=decision.binding.source if decision.binding else None,
            limits=tuple(
                {"source": lim.source, "amps": lim.amps, "paused": lim.paused, "reason": lim.reason}
                for lim in self.arbiter.limits()
            ),
            faults=tuple(f.as_dict() for f in self.faults.active),
            session=None
            if session is None
            else {
                "id": session.id,
                "id_tag": session.id_tag,
                "started_at": session.started_at,
                "energy_wh": self._session_energy(),
                "stopped": session.stopped,
                "auth_source": session.auth_source,
            },
            dip_max_a=self.dip.max_a if self.dip else None,
            led=led_cmd.pattern if isinstance(led_cmd, SetLed) else LedPattern.YELLOW_FLASH,
            display=display_cmd.text if isinstance(display_cmd, SetDisplay) else "",
            cold_load_until=self.cold_load_until,
            warnings=tuple(sorted(self._warnings)),
            available=self.available,
        )

    def _emit(self, event_kind: str, **data: Any) -> None:
        event = StationEvent(event_kind, self.clock.now(), data)
        log.info("%s %s", event_kind, data)
        for listener in list(self._event_listeners):
            listener(event)
