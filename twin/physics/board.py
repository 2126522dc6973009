"""The simulated power board: pilot, contactor, meter, protections and fault switches.

It takes :data:`~controller.hal.messages.BoardCommand` objects through :meth:`SimBoard.handle`
and reports :data:`~controller.hal.messages.BoardEvent` objects through ``emit`` — the same
vocabulary as the real board's serial line, so the controller cannot tell the difference.

Rules the board enforces by itself (whatever the controller says):

* it never closes the contactor without an earth ground;
* it opens the contactor on a CCID trip, a short circuit, loss of ground, or when the
  controller has been silent for ``watchdog_s`` with the contactor closed;
* a welded contactor stays closed and is reported (``RelayWelded``) when opening fails.

Physics is advanced lazily: every change first integrates energy, SoC and temperature in
closed form from the previous change under the conditions that held then, so long virtual
time gaps cost nothing and lose nothing.  Events are queued and handed to ``emit`` after the
change that caused them is complete, so a consumer may call :meth:`handle` from inside
``emit``.
"""

from __future__ import annotations

import math
import random
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, get_args

from controller.clock import Clock, TimerHandle
from controller.hal.messages import (
    BoardCommand,
    BoardEvent,
    BoardHello,
    GroundFaultTrip,
    GroundMonitor,
    Keepalive,
    LedPattern,
    MeterReading,
    PilotChanged,
    PilotState,
    PowerEvent,
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
from twin.physics.ev import EV, offered_amps
from twin.physics.faults import BoardFault
from twin.physics.grid import Grid

_COMMAND_TYPES: tuple[type, ...] = get_args(BoardCommand)
_CURRENT_CHANGE_A = 0.01  # smaller moves of the true current are not a "change" worth a reading
NO_OFFER_DUTY = 100.0


@dataclass(frozen=True)
class BoardConfig:
    board_fw: str = "1.0.0"
    pilot_debounce_s: float = 0.002
    meter_interval_s: float = 1.0  # readings while current flows (plus one on every change)
    meter_error: float = 0.01  # ±1 % (SPEC §Power and ratings)
    watchdog_s: float | None = 2.0  # None: no watchdog (in-process use without keepalives)
    ambient_c: float = 25.0
    heating_c_per_a2: float = 0.003  # steady rise above ambient per A² (32 A -> +3.1 °C)
    thermal_time_constant_s: float = 600.0
    ccid_leakage_ma: float = 25.0  # leakage reported when GROUND_FAULT trips the CCID20
    over_current_factor: float = 1.25  # OVER_CURRENT: the EV draws this times the offer
    over_voltage_v: float = 275.0
    under_voltage_v: float = 170.0
    brownout_v: float = 160.0  # below this the board reports a brown-out
    over_temperature_ambient_c: float = 75.0

    def __post_init__(self) -> None:
        positive = (
            "pilot_debounce_s", "meter_interval_s", "thermal_time_constant_s",
            "ccid_leakage_ma", "over_current_factor", "over_voltage_v", "under_voltage_v",
            "brownout_v",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0
            ):
                raise ValueError(f"BoardConfig.{name} must be a positive number, got {value!r}")
        if self.watchdog_s is not None and not (
            isinstance(self.watchdog_s, (int, float)) and self.watchdog_s > 0
        ):
            raise ValueError(f"BoardConfig.watchdog_s must be > 0 or None, got {self.watchdog_s!r}")
        if not 0.0 <= self.meter_error < 0.5:
            raise ValueError(f"BoardConfig.meter_error must be within 0..0.5, got {self.meter_error}")
        if self.heating_c_per_a2 < 0:
            raise ValueError("BoardConfig.heating_c_per_a2 must be >= 0")
        if self.over_current_factor <= 1.0:
            raise ValueError("BoardConfig.over_current_factor must be > 1 (it is an over-current)")


@dataclass(frozen=True)
class _Regime:
    """Conditions that hold between two changes; physics integrates under them."""

    offer_a: float = 0.0
    supply_v: float = 0.0
    forced_a: float | None = None
    flowing: bool = False


def _discard(event: BoardEvent) -> None:
    del event


def _check_dip(dip: tuple[bool, bool, bool]) -> tuple[bool, bool, bool]:
    if not (isinstance(dip, tuple) and len(dip) == 3 and all(isinstance(s, bool) for s in dip)):
        raise ValueError(f"dip must be a tuple of three bools (sw1, sw2, sw3), got {dip!r}")
    return dip


class SimBoard:
    """Power board twin; see the module docstring for what it enforces."""

    def __init__(
        self,
        clock: Clock,
        emit: Callable[[BoardEvent], None],
        rng: random.Random,
        dip: tuple[bool, bool, bool] = (True, False, False),
        config: BoardConfig | None = None,
        grid: Grid | None = None,
    ) -> None:
        self.config = config or BoardConfig()
        self.dip = _check_dip(dip)
        self.grid = grid or Grid()
        self._clock = clock
        self._emit_to = emit
        self._rng = rng
        # fixed calibration error of the energy register, within the meter's ±1 %
        self._register_gain = 1.0 + rng.uniform(-self.config.meter_error, self.config.meter_error)
        self._outbox: deque[BoardEvent] = deque()
        self._depth = 0
        self._booted = False
        self._powered = False
        self._duty = NO_OFFER_DUTY
        self._commanded_closed = False
        self._contactor = False
        self._welded = False
        self._weld_on_next_close = False
        self._weld_reported = False
        self._faults: set[BoardFault] = set()
        self._ev: EV | None = None
        self._ambient = self.config.ambient_c
        self._saved_ambient = self._ambient
        self._rise_c = 0.0
        self._energy_wh = 0.0  # true energy through the meter
        self._last_t = clock.now()
        self._regime = _Regime()
        self._last_reading: tuple[float, float] | None = None  # (true current, supply V)
        self._brownout = False
        self.led = LedPattern.OFF
        self.display_text = ""
        self._raw_pilot: PilotState | None = None
        self._reported_pilot: PilotState | None = None
        self._glitch: PilotState | None = None
        self._last_rx = clock.now()
        self._timers: dict[str, TimerHandle] = {}

    # ----- read-only views ----------------------------------------------------------------

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def contactor_closed(self) -> bool:
        return self._contactor

    @property
    def pwm_duty(self) -> float:
        return self._duty

    @property
    def offered_a(self) -> float:
        return offered_amps(self._duty) if self._powered else 0.0

    @property
    def ev(self) -> EV | None:
        return self._ev

    @property
    def faults(self) -> frozenset[BoardFault]:
        return frozenset(self._faults)

    @property
    def ground_present(self) -> bool:
        return BoardFault.NO_GROUND not in self._faults

    @property
    def welded(self) -> bool:
        return self._welded

    @property
    def reported_pilot(self) -> PilotState | None:
        return self._reported_pilot

    @property
    def true_current_a(self) -> float:
        """Current the EV draws (no meter error), as of the last change or :meth:`sync`."""
        return self._current_now()

    @property
    def true_energy_wh(self) -> float:
        """Energy through the meter (no meter error), as of the last change or :meth:`sync`."""
        return self._energy_wh

    @property
    def temperature_c(self) -> float:
        return self._ambient + self._rise_c

    @property
    def ambient_c(self) -> float:
        return self._ambient

    def sync(self) -> None:
        """Bring the physics up to the clock's now (reports what changed, like any change)."""
        with self._op():
            self._settle()

    # ----- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """First power-on: BoardHello(boot_reason="power_on") and the initial readings."""
        if self._booted:
            raise RuntimeError("board already started")
        self._booted = True
        with self._op():
            self._boot("power_on")

    def stop(self) -> None:
        """Switch the simulation off for good: every timer cancelled, nothing more emitted."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._powered = False
        self._outbox.clear()
        if self._ev is not None:
            self._ev.detach()
        self._emit_to = _discard

    def reboot(self, reason: str = "reset") -> None:
        """Firmware reset of the board (no power loss)."""
        self._require_started()
        if not isinstance(reason, str) or not reason or len(reason.encode("utf-8")) > 32:
            raise ValueError(f"boot reason must be a non-empty string of at most 32 bytes: {reason!r}")
        with self._op():
            self._settle()
            if self._powered:
                self._shutdown()
                self._boot(reason)

    def cut_power(self) -> None:
        """Outage: PowerNotice(POWER_FAIL) from the hold-up energy, then silence."""
        self._require_started()
        with self._op():
            self._settle()
            if not self._powered:
                return
            self._emit(PowerNotice(PowerEvent.POWER_FAIL))
            self.grid.cut()
            self._shutdown()

    def restore_power(self) -> None:
        """Power back: the board boots and says BoardHello(boot_reason="power_restored")."""
        self._require_started()
        with self._op():
            if self._powered:
                return
            self.grid.restore()
            self._boot("power_restored")

    # ----- controller -> board ------------------------------------------------------------

    def handle(self, command: BoardCommand) -> None:
        if not isinstance(command, _COMMAND_TYPES):
            raise TypeError(f"not a board command: {command!r}")
        if isinstance(command, SetPwm):  # validate before touching anything
            duty = command.duty_pct
            if isinstance(duty, bool) or not isinstance(duty, (int, float)) or not (
                math.isfinite(duty) and 0.0 <= duty <= 100.0
            ):
                raise ValueError(f"SetPwm.duty_pct must be within 0..100, got {duty!r}")
        with self._op():
            if not self._powered:
                return  # a board without power hears nothing
            self._feed_watchdog()
            if isinstance(command, Keepalive):
                return
            if isinstance(command, SetLed):
                self.led = command.pattern
                return
            if isinstance(command, SetDisplay):
                self.display_text = command.text
                return
            self._settle()
            if isinstance(command, RequestStatus):
                self._announce()
            elif isinstance(command, SetPwm):
                self._duty = float(command.duty_pct)
                if self._ev is not None:
                    self._ev.observe_offer(self._duty)
            elif isinstance(command, SetContactor):
                self._commanded_closed = command.closed
                if command.closed:
                    self._try_close()
                else:
                    self._try_open()
            self._settle()

    def feed_watchdog(self) -> None:
        """Any valid frame from the controller proves it alive (the serial side calls this)."""
        with self._op():
            if self._powered:
                self._feed_watchdog()

    # ----- the world around the board -------------------------------------------------------

    def plug(self, ev: EV) -> None:
        if not isinstance(ev, EV):
            raise TypeError(f"plug() needs an EV, got {ev!r}")
        if self._ev is not None:
            raise ValueError("an EV is already plugged in; unplug it first")
        with self._op():
            self._settle()
            self._ev = ev
            ev.attach(self._on_ev_change)
            ev.observe_offer(self._duty if self._powered else None)
            self._settle()

    def unplug(self) -> EV:
        if self._ev is None:
            raise ValueError("no EV is plugged in")
        with self._op():
            self._settle()
            ev, self._ev = self._ev, None
            ev.detach()
            self._settle()
        return ev

    def present_tag(self, uid: str) -> None:
        if not isinstance(uid, str) or not uid.strip() or len(uid.encode("utf-8")) > 64:
            raise ValueError(f"tag uid must be a non-empty string of at most 64 bytes, got {uid!r}")
        with self._op():
            if self._powered:
                self._emit(TagPresented(uid))

    def set_ambient(self, celsius: float) -> None:
        if isinstance(celsius, bool) or not isinstance(celsius, (int, float)) or not (
            -60.0 <= celsius <= 100.0
        ):
            raise ValueError(f"ambient must be within -60..100 °C, got {celsius!r}")
        with self._op():
            self._settle()
            self._saved_ambient = float(celsius)
            if BoardFault.OVER_TEMPERATURE not in self._faults:
                self._ambient = float(celsius)
            self._settle(force_reading=True)

    def set_grid_voltage(self, volts: float) -> None:
        with self._op():
            self._settle()
            self.grid.set_voltage(volts)
            self._settle()

    def glitch_pilot(self, state: PilotState, duration_s: float) -> None:
        """Force the raw pilot level for a while (noise); shorter than the debounce: unseen."""
        if not isinstance(state, PilotState):
            raise TypeError(f"glitch state must be a PilotState, got {state!r}")
        if not (isinstance(duration_s, (int, float)) and duration_s > 0):
            raise ValueError(f"glitch duration must be > 0 s, got {duration_s!r}")
        with self._op():
            self._glitch = state
            self._set_timer("glitch", duration_s, self._end_glitch)
            self._update_pilot()

    def inject_fault(self, fault: BoardFault) -> None:
        fault = BoardFault(fault)
        cfg = self.config
        with self._op():
            self._settle()
            if fault in self._faults:
                return
            self._faults.add(fault)
            if fault is BoardFault.OVER_VOLTAGE:
                self.grid.set_voltage(cfg.over_voltage_v)
            elif fault is BoardFault.UNDER_VOLTAGE:
                self.grid.set_voltage(cfg.under_voltage_v)
            elif fault is BoardFault.OVER_TEMPERATURE:
                self._saved_ambient = self._ambient
                self._ambient = cfg.over_temperature_ambient_c
            elif fault is BoardFault.GROUND_FAULT:
                if self._contactor and self._powered:
                    self._ccid_trip()
            elif fault is BoardFault.SHORT_CIRCUIT:
                if self._contactor and self._powered:
                    self._short_circuit_trip()
            elif fault is BoardFault.NO_GROUND:
                if self._powered:
                    self._emit(GroundMonitor(present=False))
                    if self._contactor:
                        self._try_open()
            elif fault is BoardFault.STUCK_RELAY:
                if self._contactor:
                    self._welded = True
                else:
                    self._weld_on_next_close = True
            self._settle(force_reading=fault is BoardFault.OVER_TEMPERATURE)

    def clear_fault(self, fault: BoardFault) -> None:
        fault = BoardFault(fault)
        with self._op():
            self._settle()
            if fault not in self._faults:
                return
            self._faults.discard(fault)
            if fault in (BoardFault.OVER_VOLTAGE, BoardFault.UNDER_VOLTAGE):
                self.grid.restore_nominal()
            elif fault is BoardFault.OVER_TEMPERATURE:
                self._ambient = self._saved_ambient
            elif fault is BoardFault.NO_GROUND:
                if self._powered:
                    self._emit(GroundMonitor(present=True))
            elif fault is BoardFault.STUCK_RELAY:
                self._welded = self._weld_on_next_close = False
                if self._weld_reported and self._powered:
                    self._emit(RelayWelded(welded=False))
                self._weld_reported = False
                # the protections that could not open a welded contactor act now
                tripping = self._faults & {BoardFault.GROUND_FAULT, BoardFault.SHORT_CIRCUIT}
                if self._contactor and (
                    not self._commanded_closed or not self.ground_present or tripping
                ):
                    self._contactor = False
            self._settle(force_reading=fault is BoardFault.OVER_TEMPERATURE)

    # ----- contactor and protections ------------------------------------------------------------

    def _try_close(self) -> None:
        if self._contactor:
            return
        if not self.ground_present:
            self._emit(GroundMonitor(present=False))  # refuse, and say why
            return
        self._contactor = True
        if self._weld_on_next_close:
            self._welded, self._weld_on_next_close = True, False
        if BoardFault.SHORT_CIRCUIT in self._faults:
            self._short_circuit_trip()
        elif BoardFault.GROUND_FAULT in self._faults:
            self._ccid_trip()
        self._arm_watchdog()

    def _try_open(self) -> None:
        if not self._contactor:
            return
        if self._welded:
            if not self._weld_reported:
                self._weld_reported = True
                self._emit(RelayWelded(welded=True))
            return
        self._contactor = False

    def _ccid_trip(self) -> None:
        self._try_open()
        self._emit(GroundFaultTrip(leakage_ma=self.config.ccid_leakage_ma))

    def _short_circuit_trip(self) -> None:
        self._try_open()
        self._emit(ShortCircuit())

    def _feed_watchdog(self) -> None:
        self._last_rx = self._clock.now()
        self._arm_watchdog()

    def _arm_watchdog(self) -> None:
        limit = self.config.watchdog_s
        if limit is None or not self._contactor or "watchdog" in self._timers:
            return
        self._set_timer("watchdog", self._last_rx + limit - self._clock.now(), self._on_watchdog)

    def _on_watchdog(self) -> None:
        limit = self.config.watchdog_s
        with self._op():
            self._timers.pop("watchdog", None)
            if limit is None or not self._contactor or not self._powered:
                return
            if self._clock.now() - self._last_rx < limit - 1e-9:
                self._arm_watchdog()
                return
            self._settle()
            self._try_open()
            self._emit(WatchdogTripped())
            self._settle()

    # ----- boot / shutdown ---------------------------------------------------------------

    def _boot(self, reason: str) -> None:
        self._powered = True
        self._duty = NO_OFFER_DUTY
        self._commanded_closed = False
        self._contactor = self._welded  # a welded contactor is still closed after a reboot
        self.led = LedPattern.OFF
        self.display_text = ""
        self._reported_pilot = self._raw_pilot = None
        self._last_reading = None
        self._brownout = False
        self._last_t = self._clock.now()
        self._last_rx = self._clock.now()
        d1, d2, d3 = self.dip
        self._emit(BoardHello(d1, d2, d3, board_fw=self.config.board_fw, boot_reason=reason))
        self._emit(GroundMonitor(present=self.ground_present))
        self._weld_reported = False
        if self._welded:
            self._weld_reported = True
            self._emit(RelayWelded(welded=True))
        if self._ev is not None:
            self._ev.observe_offer(self._duty)
        self._settle(force_reading=True)
        self._arm_watchdog()

    def _announce(self) -> None:
        """A (re)started controller asked: safe outputs, then everything it needs to know."""
        self._commanded_closed = False
        self._try_open()
        self._duty = NO_OFFER_DUTY
        if self._ev is not None:
            self._ev.observe_offer(self._duty)
        d1, d2, d3 = self.dip
        self._emit(BoardHello(d1, d2, d3, board_fw=self.config.board_fw, boot_reason="status"))
        self._emit(GroundMonitor(present=self.ground_present))
        if self._welded:
            self._emit(RelayWelded(welded=True))
        self._reported_pilot = self._raw_pilot = None
        self._settle(force_reading=True)

    def _shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._powered = False
        if not self._welded:
            self._contactor = False
        self._glitch = None
        if self._ev is not None:
            self._ev.observe_offer(None)
        self._settle()
        self._raw_pilot = self._reported_pilot = None

    # ----- physics ----------------------------------------------------------------------------

    def _on_ev_change(self) -> None:
        with self._op():
            self._settle()

    def _current_now(self) -> float:
        r = self._regime
        if not r.flowing or self._ev is None:
            return 0.0
        return self._ev.current_a(r.offer_a, r.supply_v, r.forced_a)

    def _settle(self, force_reading: bool = False) -> None:
        """Integrate up to now under the old regime, then adopt the new one and report."""
        now = self._clock.now()
        dt = max(0.0, now - self._last_t)
        self._last_t = now
        self._integrate(dt)
        ev = self._ev
        if ev is not None:
            ev.settle_full()
        supply = self.grid.supply_v if self._powered else 0.0
        offer = offered_amps(self._duty) if self._powered else 0.0
        flowing = (
            ev is not None
            and self._contactor
            and supply > 0
            and ev.current_a(offer, supply) > 0
        )
        forced = None
        if flowing and BoardFault.OVER_CURRENT in self._faults:
            forced = offer * self.config.over_current_factor
        self._regime = _Regime(offer, supply, forced, flowing)
        if not self._powered:
            return
        self._update_pilot()
        self._check_brownout(supply)
        current = self._current_now()
        last = self._last_reading
        changed = (
            last is None
            or abs(current - last[0]) >= _CURRENT_CHANGE_A
            or (current == 0.0) != (last[0] == 0.0)
            or abs(supply - last[1]) >= 0.05
        )
        if changed or force_reading:
            self._emit_reading(current, supply)
        if flowing and ev is not None:
            r = self._regime
            to_full = ev.time_to_target(r.offer_a, r.supply_v, r.forced_a)
            if math.isfinite(to_full):
                self._set_timer("full", to_full, self._on_full)
        else:
            self._cancel_timer("full")
            self._cancel_timer("meter")

    def _integrate(self, dt: float) -> None:
        r = self._regime
        mean_a = 0.0
        if dt > 0 and r.flowing and self._ev is not None and r.supply_v > 0:
            wh = self._ev.advance(r.offer_a, r.supply_v, dt, r.forced_a)
            self._energy_wh += wh
            mean_a = wh * 3600.0 / (r.supply_v * dt)
        if dt > 0:
            steady = self.config.heating_c_per_a2 * mean_a * mean_a
            decay = math.exp(-dt / self.config.thermal_time_constant_s)
            self._rise_c = steady + (self._rise_c - steady) * decay

    def _on_full(self) -> None:
        with self._op():
            self._timers.pop("full", None)
            self._settle()
            ev = self._ev
            if ev is not None and self._regime.flowing and not ev.full:
                self._energy_wh += ev.finish()  # closed-form rounding left a hair to go
            self._settle()

    def _on_meter_timer(self) -> None:
        with self._op():
            self._timers.pop("meter", None)
            self._settle(force_reading=True)

    def _emit_reading(self, current: float, supply: float) -> None:
        err = self.config.meter_error
        volts = supply * (1.0 + self._rng.uniform(-err, err))
        amps = current * (1.0 + self._rng.uniform(-err, err))
        self._emit(
            MeterReading(
                voltage_v=round(volts, 1),
                current_a=round(amps, 3),
                energy_wh=int(self._energy_wh * self._register_gain),
                temperature_c=round(self._ambient + self._rise_c, 1),
            )
        )
        self._last_reading = (current, supply)
        if current > 0:
            self._set_timer("meter", self.config.meter_interval_s, self._on_meter_timer)

    def _check_brownout(self, supply: float) -> None:
        low = 0 < supply < self.config.brownout_v
        if low and not self._brownout:
            self._emit(PowerNotice(PowerEvent.BROWN_OUT))
        self._brownout = low

    # ----- pilot ---------------------------------------------------------------------------

    def _raw_level(self) -> PilotState | None:
        if not self._powered:
            return None
        if self._glitch is not None:
            return self._glitch
        if BoardFault.PILOT_SHORT in self._faults:
            return PilotState.E
        if self._duty <= 0.0:
            return PilotState.F
        if self._ev is None:
            return PilotState.A
        return self._ev.state

    def _update_pilot(self) -> None:
        raw = self._raw_level()
        if raw == self._raw_pilot:
            return
        self._raw_pilot = raw
        if raw is None:
            self._cancel_timer("debounce")
            return
        self._set_timer("debounce", self.config.pilot_debounce_s, self._commit_pilot)

    def _commit_pilot(self) -> None:
        with self._op():
            self._timers.pop("debounce", None)
            raw = self._raw_pilot
            if raw is not None and raw != self._reported_pilot:
                self._reported_pilot = raw
                self._emit(PilotChanged(raw))

    def _end_glitch(self) -> None:
        with self._op():
            self._timers.pop("glitch", None)
            self._glitch = None
            self._update_pilot()

    # ----- plumbing ----------------------------------------------------------------------

    def _set_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer(name)
        self._timers[name] = self._clock.call_later(max(0.0, delay), callback)

    def _cancel_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _require_started(self) -> None:
        if not self._booted:
            raise RuntimeError("board not started; call start() first")

    def _emit(self, event: BoardEvent) -> None:
        self._outbox.append(event)

    @contextmanager
    def _op(self) -> Iterator[None]:
        """Run a change; queued events go out once the outermost change is complete."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0:
            while self._outbox:
                self._emit_to(self._outbox.popleft())
