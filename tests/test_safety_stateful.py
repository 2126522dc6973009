"""Hypothesis stateful test of the safety invariants of the charge logic.

Random board events, tags, limits, settings, power cuts and time jumps; after every step the
contactor may be closed only if every safety condition holds, the offer respects every limit,
and the energy register has not gone backwards.  200 examples × 50 steps = 10,000 steps.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from controller.charging.pilot import MIN_OFFER_A, amps_from_duty
from controller.hal.messages import (
    GroundFaultTrip,
    GroundMonitor,
    PilotState,
    PowerEvent,
    PowerNotice,
    RelayWelded,
    ShortCircuit,
)
from controller.settings import StationSettings
from tests.station_harness import Harness

LIMIT_SOURCES = ["demand_response", "load_management", "ocpp", "hours", "schedule", "user"]


class ChargerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(
            dip_a=48,
            settings=StationSettings(local_list=["GOOD0001", "GOOD0002"], cold_load_pickup_max_delay_s=300),
        )
        self.h.boot()
        self.last_register = 0

    @rule(state=st.sampled_from(list(PilotState)))
    def pilot(self, state: PilotState) -> None:
        self.h.pilot(state.value)

    @rule(
        volts=st.floats(150, 290),
        amps=st.floats(0, 70),
        temp=st.floats(-35, 100),
        add_wh=st.integers(0, 5000),
    )
    def meter(self, volts: float, amps: float, temp: float, add_wh: int) -> None:
        self.h.meter(volts, amps, temp, add_wh)

    @rule(tag=st.sampled_from(["GOOD0001", "GOOD0002", "BAD00001", ""]))
    def tag(self, tag: str) -> None:
        self.h.station.present_tag(tag)

    @rule(present=st.booleans())
    def ground(self, present: bool) -> None:
        self.h.station.handle_board_event(GroundMonitor(present))

    @rule()
    def ground_fault(self) -> None:
        self.h.station.handle_board_event(GroundFaultTrip(30.0))

    @rule()
    def short_circuit(self) -> None:
        self.h.station.handle_board_event(ShortCircuit())

    @rule(welded=st.booleans())
    def welded(self, welded: bool) -> None:
        self.h.station.handle_board_event(RelayWelded(welded))

    @rule(pilot=st.sampled_from(["A", "B", "C"]))
    def power_cycle(self, pilot: str) -> None:
        self.h.station.handle_board_event(PowerNotice(PowerEvent.POWER_FAIL))
        self.h.board_wh = 0  # the board's own register restarts
        self.h.boot(reason="power_restored", pilot=pilot)

    @rule(
        source=st.sampled_from(LIMIT_SOURCES),
        amps=st.one_of(st.none(), st.floats(0, 80), st.integers(0, 10).map(float)),
    )
    def limit(self, source: str, amps: float | None) -> None:
        self.h.station.arbiter.set_limit(source, amps, f"{source} test limit")

    @rule(dt=st.floats(0, 2000))
    def advance(self, dt: float) -> None:
        self.h.clock.advance(dt)

    @rule()
    def reset_fault(self) -> None:
        self.h.station.reset_fault()

    @rule(available=st.booleans())
    def availability(self, available: bool) -> None:
        self.h.station.set_available(available)

    @rule(cap=st.integers(6, 48))
    def firmware_cap(self, cap: int) -> None:
        self.h.station.apply_settings({"max_amperage_fw_a": cap})

    @rule()
    def stop(self) -> None:
        self.h.station.stop_session("Remote")

    @invariant()
    def contactor_only_when_safe(self) -> None:
        st_ = self.h.station
        if not st_.board_ready:
            assert not st_.contactor_closed
            return
        assert st_.contactor_closed == self.h.port.contactor
        if self.h.port.contactor:
            c = st_.conditions()
            assert c.pilot in (PilotState.C, PilotState.D)
            assert c.authorized
            assert not c.fault_active
            assert c.ground_present
            assert c.offered_a >= MIN_OFFER_A
            assert not c.cold_load_waiting
            assert c.available

    @invariant()
    def offer_within_every_limit(self) -> None:
        decision = self.h.station.arbiter.decision
        offered = decision.offered_a
        assert offered == 0 or offered >= MIN_OFFER_A
        for lim in self.h.station.arbiter.limits():
            if lim.amps is not None:
                assert offered <= lim.amps + 1e-9, (offered, lim)
        duty = self.h.port.duty
        if duty is not None and self.h.station.board_ready:
            assert amps_from_duty(duty) <= max(offered, 0) + 0.05

    @invariant()
    def unplugged_means_no_session(self) -> None:
        st_ = self.h.station
        if st_.board_ready and st_.pilot is PilotState.A:
            assert st_.session is None
            assert not st_.contactor_closed

    @invariant()
    def register_never_decreases(self) -> None:
        reg = self.h.station.register_wh
        assert reg >= self.last_register
        self.last_register = reg


ChargerMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestChargerSafety = ChargerMachine.TestCase
