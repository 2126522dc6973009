"""Physics of the twin: EV behaviour, meter, energy integration, protections, fault switches."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.clock import VirtualClock
from controller.hal.messages import (
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
    SetContactor,
    SetDisplay,
    SetLed,
    SetPwm,
    ShortCircuit,
    TagPresented,
    WatchdogTripped,
)
from twin.physics import EV, BoardConfig, BoardFault, EVSpec, Grid, SimBoard, offered_amps

T0 = 1_800_000_000.0
DUTY_32A = 53.33  # 32.0 A
DUTY_40A = 66.67  # 40.0 A


@dataclass
class Rig:
    clock: VirtualClock
    board: SimBoard
    events: list[tuple[float, BoardEvent]] = field(default_factory=list)
    true_current_at_emit: list[float] = field(default_factory=list)

    def of(self, kind: type) -> list[BoardEvent]:
        return [e for _, e in self.events if isinstance(e, kind)]

    def last(self, kind: type) -> BoardEvent:
        found = self.of(kind)
        assert found, f"no {kind.__name__} emitted; got {[e for _, e in self.events]}"
        return found[-1]

    def clear(self) -> None:
        self.events.clear()

    def plug(self, **kwargs: object) -> EV:
        spec = kwargs.pop("spec", None) or EVSpec()
        ev = EV(self.clock, spec, **kwargs)  # type: ignore[arg-type]
        self.board.plug(ev)
        self.clock.advance(0.01)
        return ev

    def charge(self, ev: EV, duty: float = DUTY_32A) -> None:
        self.board.handle(SetPwm(duty))
        self.clock.advance(ev.spec.ready_delay_s + 0.01)
        assert self.board.reported_pilot in (PilotState.C, PilotState.D)
        self.board.handle(SetContactor(True))


def make_rig(seed: int = 1, **config: object) -> Rig:
    clock = VirtualClock(T0)
    rig_events: list[tuple[float, BoardEvent]] = []
    holder: list[SimBoard] = []
    currents: list[float] = []

    def emit(event: BoardEvent) -> None:
        rig_events.append((clock.now(), event))
        if isinstance(event, MeterReading):
            currents.append(holder[0].true_current_a)

    options: dict[str, object] = {"watchdog_s": None}
    options.update(config)
    board = SimBoard(
        clock, emit, random.Random(seed), dip=(True, False, True),
        config=BoardConfig(**options),  # type: ignore[arg-type]
    )
    holder.append(board)
    board.start()
    clock.advance(0.01)
    return Rig(clock, board, rig_events, currents)


# ----- boot, pilot, EV --------------------------------------------------------------------


def test_boot_announces_dip_ground_pilot_and_meter() -> None:
    rig = make_rig()
    kinds = [type(e) for _, e in rig.events]
    assert kinds[:2] == [BoardHello, GroundMonitor]
    assert rig.events[0][1] == BoardHello(True, False, True, board_fw="1.0.0", boot_reason="power_on")
    assert rig.last(GroundMonitor) == GroundMonitor(present=True)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.A)
    assert MeterReading in kinds


def test_pilot_is_debounced() -> None:
    rig = make_rig()
    rig.clear()
    rig.board.glitch_pilot(PilotState.E, 0.001)  # shorter than the 2 ms debounce
    rig.clock.advance(0.05)
    assert rig.of(PilotChanged) == []
    rig.board.glitch_pilot(PilotState.E, 0.010)
    rig.clock.advance(0.05)
    assert rig.of(PilotChanged) == [PilotChanged(PilotState.E), PilotChanged(PilotState.A)]


def test_ev_goes_b_then_c_after_its_delay_and_back_to_b_without_offer() -> None:
    rig = make_rig()
    ev = rig.plug(spec=EVSpec(ready_delay_s=1.0))
    assert rig.last(PilotChanged) == PilotChanged(PilotState.B)
    rig.board.handle(SetPwm(DUTY_32A))
    rig.clock.advance(0.9)
    assert rig.board.reported_pilot is PilotState.B
    rig.clock.advance(0.2)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.C)
    rig.board.handle(SetPwm(100.0))  # offer withdrawn
    rig.clock.advance(0.01)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.B)
    assert ev.state is PilotState.B
    rig.board.handle(SetPwm(0.0))
    rig.clock.advance(0.01)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.F)


def test_invalid_duty_is_no_offer() -> None:
    rig = make_rig()
    rig.plug()
    rig.board.handle(SetPwm(5.0))  # digital-communication duty: no current offer
    rig.clock.advance(5)
    assert rig.board.reported_pilot is PilotState.B


def test_ventilation_request_shows_d_and_still_charges() -> None:
    rig = make_rig()
    ev = rig.plug()
    rig.charge(ev)
    assert rig.board.true_current_a == pytest.approx(32.0, abs=0.01)
    ev.set_ventilation(True)
    rig.clock.advance(0.01)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.D)
    assert rig.board.true_current_a > 0
    rig2 = make_rig()
    rig2.plug(needs_ventilation=True)
    rig2.board.handle(SetPwm(DUTY_32A))
    rig2.clock.advance(2)
    assert rig2.last(PilotChanged) == PilotChanged(PilotState.D)


def test_no_current_with_contactor_open() -> None:
    rig = make_rig()
    ev = rig.plug()
    rig.board.handle(SetPwm(DUTY_32A))
    rig.clock.advance(3600)
    rig.board.sync()
    assert rig.board.true_current_a == 0
    assert ev.delivered_wh == 0


@settings(max_examples=150, deadline=None)
@given(
    duty=st.floats(8.0, 97.0),
    ev_max=st.floats(6.0, 80.0),
    soc=st.floats(0.0, 0.999),
    steps=st.lists(st.floats(0.01, 20_000.0), min_size=1, max_size=6),
)
def test_ev_never_draws_more_than_offered(
    duty: float, ev_max: float, soc: float, steps: list[float]
) -> None:
    rig = make_rig(meter_interval_s=900.0)
    ev = rig.plug(spec=EVSpec(max_current_a=ev_max, taper_end_current_a=1.0), soc=soc)
    rig.board.handle(SetPwm(duty))
    rig.clock.advance(1.1)
    rig.board.handle(SetContactor(True))
    offer = offered_amps(duty)
    for step in steps:
        rig.clock.advance(step)
        rig.board.sync()
        assert rig.board.true_current_a <= offer + 1e-9
        assert rig.board.true_current_a <= ev.charger_limit_a() + 1e-9
    assert all(i <= offer + 1e-9 for i in rig.true_current_at_emit)


def test_taper_is_linear_from_80_to_100_percent() -> None:
    rig = make_rig()
    ev = rig.plug(spec=EVSpec(max_current_a=32.0, taper_start_soc=0.8), soc=0.9)
    rig.charge(ev, DUTY_40A)
    assert rig.board.true_current_a == pytest.approx(16.0, rel=1e-3)  # half way down the taper
    assert ev.charger_limit_a(0.5) == 32.0
    assert ev.charger_limit_a(0.95) == pytest.approx(8.0)


def test_full_ev_stops_drawing_and_goes_back_to_b() -> None:
    rig = make_rig(meter_interval_s=3600.0)
    ev = rig.plug(spec=EVSpec(battery_kwh=10.0), soc=0.95)
    rig.charge(ev)
    rig.clock.advance(24 * 3600)
    assert ev.full and ev.soc == 1.0
    assert rig.board.true_current_a == 0
    assert rig.last(PilotChanged) == PilotChanged(PilotState.B)
    last = rig.last(MeterReading)
    assert isinstance(last, MeterReading) and last.current_a == 0
    assert ev.delivered_wh == pytest.approx(500.0)
    assert rig.board.true_energy_wh == pytest.approx(500.0)
    rig.clock.advance(3600)  # a full EV does not ask again
    assert rig.board.reported_pilot is PilotState.B


def test_target_soc_stops_early_and_raising_it_resumes() -> None:
    rig = make_rig(meter_interval_s=600.0)
    ev = rig.plug(spec=EVSpec(battery_kwh=40.0), soc=0.5, target_soc=0.6)
    rig.charge(ev)
    rig.clock.advance(10 * 3600)
    assert ev.soc == pytest.approx(0.6)
    assert rig.board.reported_pilot is PilotState.B
    ev.set_target_soc(0.7)
    rig.clock.advance(2)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.C)


# ----- meter and energy ---------------------------------------------------------------------


def test_constant_current_energy_is_exact() -> None:
    rig = make_rig(meter_interval_s=10_000.0)
    ev = rig.plug(spec=EVSpec(battery_kwh=100.0), soc=0.1)
    rig.charge(ev)
    start = rig.board.true_energy_wh
    rig.clock.advance(3600)
    rig.board.sync()
    assert rig.board.true_energy_wh - start == pytest.approx(offered_amps(DUTY_32A) * 240.0, rel=1e-9)


def _euler_energy(spec: EVSpec, soc: float, offer: float, volts: float, seconds: float) -> float:
    """Independent small-step integration of the same EV, to check the closed form."""
    ev = EV(VirtualClock(), spec, soc=soc)
    dt, wh, s = 0.5, 0.0, soc
    for _ in range(int(seconds / dt)):
        if s >= 1.0:
            break
        amps = min(offer, ev.charger_limit_a(s))
        step = volts * amps * dt / 3600.0
        wh += step
        s = min(1.0, s + step / spec.capacity_wh)
    return wh


@pytest.mark.parametrize("interval", [1.0, 60.0, 3600.0, 50_000.0])
def test_energy_across_long_gaps_matches_fine_steps(interval: float) -> None:
    spec = EVSpec(battery_kwh=20.0, max_current_a=32.0)
    rig = make_rig(meter_interval_s=interval)
    ev = rig.plug(spec=spec, soc=0.7)
    rig.charge(ev)
    start = rig.board.true_energy_wh
    rig.clock.advance(4 * 3600)
    rig.board.sync()
    got = rig.board.true_energy_wh - start
    assert got == pytest.approx(_euler_energy(spec, 0.7, 32.0, 240.0, 4 * 3600), rel=2e-3)
    assert got == pytest.approx(ev.delivered_wh, rel=1e-12)


def test_meter_interval_gives_periodic_readings_only_while_current_flows() -> None:
    rig = make_rig(meter_interval_s=1.0)
    ev = rig.plug(spec=EVSpec(battery_kwh=80.0), soc=0.2)
    rig.charge(ev)
    rig.clear()
    rig.clock.advance(10.0)
    assert len(rig.of(MeterReading)) == 10
    rig.board.handle(SetContactor(False))
    rig.clear()
    rig.clock.advance(100.0)
    assert len(rig.of(MeterReading)) == 0


def test_meter_error_within_one_percent() -> None:
    rig = make_rig(seed=7, meter_interval_s=60.0)
    ev = rig.plug(spec=EVSpec(battery_kwh=100.0), soc=0.1)
    rig.charge(ev)
    rig.clock.advance(6 * 3600)
    readings = [e for _, e in rig.events if isinstance(e, MeterReading)]
    flowing = [(r, i) for r, i in zip(readings, rig.true_current_at_emit, strict=True) if i > 0]
    assert len(flowing) > 300
    for reading, true_amps in flowing:
        assert isinstance(reading, MeterReading)
        assert abs(reading.voltage_v / 240.0 - 1) <= 0.01 + 0.05 / 240.0
        assert abs(reading.current_a / true_amps - 1) <= 0.01 + 0.0005 / true_amps
    errors = [reading.current_a / true_amps - 1 for reading, true_amps in flowing]
    assert max(errors) - min(errors) > 0.005  # it is noise, not a constant
    last = rig.last(MeterReading)
    assert isinstance(last, MeterReading)
    assert abs(last.energy_wh / rig.board.true_energy_wh - 1) <= 0.01 + 1 / rig.board.true_energy_wh


def test_temperature_rises_with_current_and_follows_ambient() -> None:
    rig = make_rig(meter_interval_s=60.0)
    ev = rig.plug(spec=EVSpec(battery_kwh=200.0, max_current_a=48.0), soc=0.1)
    rig.charge(ev, 80.0)  # 48 A
    rig.clock.advance(3 * 3600)
    rig.board.sync()
    heating = rig.board.config.heating_c_per_a2
    assert rig.board.temperature_c == pytest.approx(25.0 + heating * 48**2, abs=0.2)
    rig.board.set_ambient(-10.0)
    last = rig.last(MeterReading)
    assert isinstance(last, MeterReading) and last.temperature_c < 10.0


# ----- faults ------------------------------------------------------------------------------


def charging_rig(**config: object) -> tuple[Rig, EV]:
    rig = make_rig(1, **config)
    ev = rig.plug(spec=EVSpec(battery_kwh=80.0), soc=0.3)
    rig.charge(ev)
    rig.clock.advance(1.0)
    rig.clear()
    return rig, ev


def test_over_current_fault_makes_the_ev_draw_more_than_offered() -> None:
    rig, _ = charging_rig()
    rig.board.inject_fault(BoardFault.OVER_CURRENT)
    reading = rig.last(MeterReading)
    assert isinstance(reading, MeterReading) and reading.current_a > 32.0 * 1.01
    rig.board.clear_fault(BoardFault.OVER_CURRENT)
    assert rig.board.true_current_a == pytest.approx(offered_amps(DUTY_32A))


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (BoardFault.OVER_VOLTAGE, lambda r: r.voltage_v > 264.0),
        (BoardFault.UNDER_VOLTAGE, lambda r: r.voltage_v < 180.0),
        (BoardFault.OVER_TEMPERATURE, lambda r: r.temperature_c > 50.0),
    ],
)
def test_grid_and_temperature_faults_show_in_a_reading(fault: BoardFault, check: object) -> None:
    rig, _ = charging_rig()
    rig.board.inject_fault(fault)
    reading = rig.last(MeterReading)
    assert callable(check) and check(reading)
    rig.clear()
    rig.board.clear_fault(fault)
    reading = rig.last(MeterReading)
    assert isinstance(reading, MeterReading)
    assert 237.0 < reading.voltage_v < 243.0 and reading.temperature_c < 40.0


def test_ground_fault_trips_the_ccid_and_opens_the_contactor() -> None:
    rig, ev = charging_rig()
    rig.board.inject_fault(BoardFault.GROUND_FAULT)
    assert rig.of(GroundFaultTrip) == [GroundFaultTrip(leakage_ma=25.0)]
    assert not rig.board.contactor_closed and rig.board.true_current_a == 0
    rig.board.handle(SetContactor(True))  # still leaking: trips again at once
    assert len(rig.of(GroundFaultTrip)) == 2 and not rig.board.contactor_closed
    rig.board.clear_fault(BoardFault.GROUND_FAULT)
    rig.board.handle(SetContactor(True))
    assert rig.board.contactor_closed and rig.board.true_current_a > 0


def test_no_ground_is_reported_and_the_contactor_never_closes() -> None:
    rig = make_rig()
    ev = rig.plug()
    rig.board.inject_fault(BoardFault.NO_GROUND)
    assert rig.last(GroundMonitor) == GroundMonitor(present=False)
    rig.board.handle(SetPwm(DUTY_32A))
    rig.clock.advance(2)
    rig.board.handle(SetContactor(True))
    assert not rig.board.contactor_closed
    rig.board.clear_fault(BoardFault.NO_GROUND)
    assert rig.last(GroundMonitor) == GroundMonitor(present=True)
    rig.board.handle(SetContactor(True))
    assert rig.board.contactor_closed
    assert ev.state is PilotState.C


def test_losing_ground_while_charging_opens_the_contactor() -> None:
    rig, _ = charging_rig()
    rig.board.inject_fault(BoardFault.NO_GROUND)
    assert not rig.board.contactor_closed


def test_short_circuit_trips_and_opens() -> None:
    rig, _ = charging_rig()
    rig.board.inject_fault(BoardFault.SHORT_CIRCUIT)
    assert rig.of(ShortCircuit) == [ShortCircuit()]
    assert not rig.board.contactor_closed
    rig.board.handle(SetContactor(True))
    assert len(rig.of(ShortCircuit)) == 2 and not rig.board.contactor_closed


def test_stuck_relay_is_reported_when_opening_fails() -> None:
    rig, _ = charging_rig()
    rig.board.inject_fault(BoardFault.STUCK_RELAY)
    rig.board.handle(SetContactor(False))
    assert rig.of(RelayWelded) == [RelayWelded(welded=True)]
    assert rig.board.contactor_closed and rig.board.true_current_a > 0
    rig.board.clear_fault(BoardFault.STUCK_RELAY)
    assert rig.last(RelayWelded) == RelayWelded(welded=False)
    assert not rig.board.contactor_closed


def test_stuck_relay_welds_on_the_next_close_and_survives_a_reboot() -> None:
    rig = make_rig()
    ev = rig.plug()
    rig.board.inject_fault(BoardFault.STUCK_RELAY)
    rig.charge(ev)
    rig.board.reboot()
    assert rig.board.contactor_closed
    assert rig.last(RelayWelded) == RelayWelded(welded=True)


def test_pilot_short_reads_e() -> None:
    rig = make_rig()
    rig.board.inject_fault(BoardFault.PILOT_SHORT)
    rig.clock.advance(0.01)
    assert rig.last(PilotChanged) == PilotChanged(PilotState.E)


def test_power_cut_notice_then_silence_then_hello_on_restore() -> None:
    rig, ev = charging_rig(meter_interval_s=1.0)
    rig.board.cut_power()
    assert [e for _, e in rig.events] == [PowerNotice(PowerEvent.POWER_FAIL)]
    assert not rig.board.contactor_closed
    rig.board.handle(SetContactor(True))  # nobody listens
    rig.board.present_tag("04AABB")
    soc = ev.soc
    rig.clock.advance(3600)
    assert [e for _, e in rig.events] == [PowerNotice(PowerEvent.POWER_FAIL)]
    assert ev.soc == soc
    rig.board.restore_power()
    rig.clock.advance(0.01)
    assert rig.events[1][1] == BoardHello(True, False, True, "1.0.0", "power_restored")
    assert rig.board.reported_pilot is PilotState.B
    assert not rig.board.contactor_closed


def test_brown_out_notice() -> None:
    rig = make_rig()
    rig.board.set_grid_voltage(150.0)
    assert rig.last(PowerNotice) == PowerNotice(PowerEvent.BROWN_OUT)


def test_tag_presented() -> None:
    rig = make_rig()
    rig.board.present_tag("04A1B2C3")
    assert rig.last(TagPresented) == TagPresented("04A1B2C3")


def test_led_and_display_are_kept() -> None:
    rig = make_rig()
    rig.board.handle(SetLed(LedPattern.GREEN_FAST))
    rig.board.handle(SetDisplay("Present card"))
    assert rig.board.led is LedPattern.GREEN_FAST and rig.board.display_text == "Present card"


# ----- watchdog ---------------------------------------------------------------------------


def test_watchdog_opens_the_contactor_when_the_controller_goes_silent() -> None:
    rig, _ = charging_rig(watchdog_s=2.0)
    silent_from = rig.clock.now()  # last command was before the 1 s advance in charging_rig
    rig.clock.advance(5.0)
    trips = [(t, e) for t, e in rig.events if isinstance(e, WatchdogTripped)]
    assert len(trips) == 1
    assert trips[0][0] <= silent_from + 2.0
    assert not rig.board.contactor_closed and rig.board.true_current_a == 0


def test_keepalives_hold_the_watchdog_off() -> None:
    rig, _ = charging_rig(watchdog_s=2.0)
    for _ in range(40):
        rig.board.handle(Keepalive())
        rig.clock.advance(0.5)
    assert rig.of(WatchdogTripped) == [] and rig.board.contactor_closed


# ----- safety invariant under random operation ----------------------------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("pwm"), st.sampled_from([0.0, 5.0, 10.0, DUTY_32A, 90.0, 100.0])),
        st.tuples(st.just("contactor"), st.booleans()),
        st.tuples(st.just("inject"), st.sampled_from(BoardFault)),
        st.tuples(st.just("clear"), st.sampled_from(BoardFault)),
        st.tuples(st.just("plug"), st.floats(0.0, 1.0)),
        st.tuples(st.just("unplug"), st.none()),
        st.tuples(st.just("advance"), st.floats(0.0, 4000.0)),
        st.tuples(st.just("power"), st.booleans()),
        st.tuples(st.just("vent"), st.booleans()),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops=_ops)
def test_never_closes_without_ground_or_into_a_trip(ops: list[tuple[str, object]]) -> None:
    rig = make_rig(watchdog_s=2.0, meter_interval_s=300.0)
    board = rig.board
    for op, arg in ops:
        was_closed = board.contactor_closed
        if op == "pwm":
            board.handle(SetPwm(float(arg)))  # type: ignore[arg-type]
        elif op == "contactor":
            board.handle(SetContactor(bool(arg)))
        elif op == "inject":
            board.inject_fault(arg)  # type: ignore[arg-type]
        elif op == "clear":
            board.clear_fault(arg)  # type: ignore[arg-type]
        elif op == "plug" and board.ev is None:
            board.plug(EV(rig.clock, EVSpec(battery_kwh=5.0), soc=float(arg)))  # type: ignore[arg-type]
        elif op == "unplug" and board.ev is not None:
            board.unplug()
        elif op == "advance":
            rig.clock.advance(float(arg))  # type: ignore[arg-type]
        elif op == "power":
            board.restore_power() if arg else board.cut_power()
        elif op == "vent" and board.ev is not None:
            board.ev.set_ventilation(bool(arg))
        if board.contactor_closed and not was_closed:
            assert board.ground_present
            assert BoardFault.GROUND_FAULT not in board.faults or board.welded
            assert BoardFault.SHORT_CIRCUIT not in board.faults or board.welded
        if not board.welded:
            assert not (board.contactor_closed and not board.ground_present)
        if board.ev is not None and BoardFault.OVER_CURRENT not in board.faults:
            assert board.true_current_a <= board.offered_a + 1e-9
        energy = board.true_energy_wh
        assert math.isfinite(energy) and energy >= 0


# ----- bad input --------------------------------------------------------------------------


def test_bad_input_gets_clear_errors() -> None:
    rig = make_rig()
    with pytest.raises(ValueError, match="duty_pct"):
        rig.board.handle(SetPwm(150.0))
    with pytest.raises(TypeError, match="not a board command"):
        rig.board.handle("close")  # type: ignore[arg-type]
    rig.plug()
    with pytest.raises(ValueError, match="already plugged"):
        rig.board.plug(EV(rig.clock))
    with pytest.raises(ValueError, match="taper_start_soc"):
        EVSpec(taper_start_soc=1.5)
    with pytest.raises(ValueError, match="soc"):
        EV(rig.clock, soc=1.2)
    with pytest.raises(ValueError, match="dip"):
        SimBoard(rig.clock, lambda e: None, random.Random(0), dip=(1, 0, 0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grid voltage"):
        Grid().set_voltage(-5)
    with pytest.raises(ValueError, match="watchdog_s"):
        BoardConfig(watchdog_s=-1.0)
    with pytest.raises(ValueError, match="uid"):
        rig.board.present_tag("")
    assert rig.board.pwm_duty == 100.0  # nothing half-applied


def test_consumer_may_answer_from_inside_emit() -> None:
    """An in-process controller reacts synchronously; the board must stay consistent."""
    clock = VirtualClock(T0)
    seen: list[BoardEvent] = []
    holder: list[SimBoard] = []

    def controller(event: BoardEvent) -> None:
        seen.append(event)
        if event == PilotChanged(PilotState.B):
            holder[0].handle(SetPwm(DUTY_32A))
        elif event == PilotChanged(PilotState.C):
            holder[0].handle(SetContactor(True))

    board = SimBoard(clock, controller, random.Random(0), config=BoardConfig(watchdog_s=None))
    holder.append(board)
    board.start()
    board.plug(EV(clock, EVSpec(), soc=0.2))
    clock.advance(2.0)
    assert board.contactor_closed
    assert board.true_current_a == pytest.approx(offered_amps(DUTY_32A))
    readings = [e for e in seen if isinstance(e, MeterReading)]
    assert readings[-1].current_a > 31.0
