"""Example tests of the charge logic against SPEC rows (statuses, LEDs, restart rules)."""

from __future__ import annotations

import pytest

from controller.charging.faults import FaultKind
from controller.charging.status import ChargerStatus as S
from controller.hal.messages import (
    GroundFaultTrip,
    GroundMonitor,
    LedPattern,
    PowerEvent,
    PowerNotice,
    RelayWelded,
    ShortCircuit,
    TagPresented,
)
from controller.settings import StationSettings
from controller.storage import Storage
from tests.station_harness import Harness


def test_boot_shows_initializing_then_available() -> None:
    h = Harness()
    assert h.station.snapshot().status is S.INITIALIZING
    h.boot()
    snap = h.station.snapshot()
    assert snap.status is S.AVAILABLE
    assert snap.led is LedPattern.GREEN_STEADY
    assert snap.display.startswith("AVAILABLE")
    assert snap.display.splitlines()[0].endswith("W")  # network letter (Wi-Fi default)
    assert h.port.duty == 100.0 and not h.port.contactor


def test_plug_tag_charge_unplug_full_cycle() -> None:
    h = Harness(dip_a=32)
    h.boot()
    h.pilot("B")
    assert h.station.snapshot().status is S.PREPARING
    assert h.port.duty == 100.0  # no offer before authorization
    h.station.present_tag("ABCD1234")
    assert h.port.duty == pytest.approx(32 / 0.6, abs=0.01)
    assert not h.port.contactor  # EV still in B
    assert h.station.snapshot().status is S.SUSPENDED_EV
    h.pilot("C")
    assert h.port.contactor
    h.meter(240.0, 31.8)
    snap = h.station.snapshot()
    assert snap.status is S.CHARGING and snap.led is LedPattern.BLUE_SLOW
    h.clock.advance(3600)
    h.meter(240.0, 31.8, add_wh=7632)
    assert h.station.snapshot().session_energy_wh == 7632
    h.pilot("B")  # EV done
    assert not h.port.contactor
    assert h.station.snapshot().status is S.SUSPENDED_EV
    h.pilot("A")
    snap = h.station.snapshot()
    assert snap.status is S.AVAILABLE and snap.session is None
    rec = h.storage.sessions()[0]
    assert (rec.id_tag, rec.energy_wh, rec.stop_reason) == ("ABCD1234", 7632, "EVDisconnected")


def test_tag_first_then_plug_waits_with_green_fast_and_times_out() -> None:
    h = Harness()
    h.boot()
    h.station.present_tag("ABCD1234")
    snap = h.station.snapshot()
    assert snap.status is S.PREPARING and snap.led is LedPattern.GREEN_FAST
    h.clock.advance(899)
    assert h.station.snapshot().led is LedPattern.GREEN_FAST
    h.clock.advance(2)  # EV connect timeout 900 s
    assert h.station.snapshot().status is S.AVAILABLE
    assert "authorization_expired" in h.event_kinds()


def test_unknown_tag_is_rejected_and_nothing_is_offered() -> None:
    h = Harness()
    h.boot()
    h.pilot("B")
    h.station.present_tag("NOPE0000")
    assert h.port.duty == 100.0
    assert h.events[-1].kind == "auth_rejected"
    h.station.handle_board_event(TagPresented("x" * 40))  # malformed: refused, no crash
    assert h.events[-1].kind == "auth_rejected"


def test_same_tag_stops_session_finishing_until_unplug() -> None:
    h = Harness()
    h.boot()
    h.start_charging()
    h.station.present_tag("ABCD1234")
    assert not h.port.contactor
    assert h.station.snapshot().status is S.FINISHING
    h.pilot("A")
    assert h.station.snapshot().status is S.AVAILABLE
    assert h.storage.sessions()[0].stop_reason == "Local"


def test_plug_and_charge_id_starts_without_tag() -> None:
    h = Harness(settings=StationSettings(plug_and_charge_id="PNC-0001"))
    h.boot()
    h.pilot("B")
    h.pilot("C")
    assert h.port.contactor
    assert h.storage.sessions()[0].id_tag == "PNC-0001"


@pytest.mark.parametrize(
    ("dip_a", "fw_a", "expected"),
    [(12, 50, 12), (16, 50, 16), (24, 50, 24), (32, 50, 32), (40, 50, 40), (48, 50, 48),
     (50, 50, 50), (48, 30, 30)],
)
def test_offer_is_min_of_dip_and_firmware(dip_a: int, fw_a: int, expected: int) -> None:
    h = Harness(dip_a=dip_a, settings=StationSettings(local_list=["ABCD1234"], max_amperage_fw_a=fw_a))
    h.boot()
    h.start_charging()
    snap = h.station.snapshot()
    assert snap.offered_a == expected
    assert snap.limit_source == ("firmware" if fw_a < dip_a else "dip")


def test_duty_above_51_amps_uses_the_high_range_formula() -> None:
    from controller.charging.pilot import amps_from_duty, duty_from_amps

    assert duty_from_amps(6) == 10.0
    assert duty_from_amps(51) == 85.0
    assert duty_from_amps(80) == 96.0
    assert amps_from_duty(duty_from_amps(60)) == pytest.approx(60)
    with pytest.raises(ValueError):
        duty_from_amps(5.9)


def test_temperature_derates_50a_above_45c() -> None:
    h = Harness(dip_a=50)
    h.boot()
    h.start_charging()
    assert h.station.snapshot().offered_a == 50
    h.meter(240.0, 49.0, temp=46.0)
    snap = h.station.snapshot()
    assert snap.offered_a == 40 and snap.limit_source == "temperature"
    h.meter(240.0, 39.0, temp=44.0)
    assert h.station.snapshot().offered_a == 40  # hysteresis: not back until below 43 °C
    h.meter(240.0, 39.0, temp=42.5)
    assert h.station.snapshot().offered_a == 50


def test_limit_below_6a_suspends_evse() -> None:
    h = Harness()
    h.boot()
    h.start_charging()
    h.station.arbiter.set_limit("load_management", 5, "group full")
    snap = h.station.snapshot()
    assert snap.offered_a == 0 and not snap.contactor
    assert snap.status is S.SUSPENDED_EVSE and snap.led is LedPattern.GREEN_SLOW
    assert snap.limit_reason == "group full"
    h.station.arbiter.set_limit("load_management", 6, "group share")
    assert h.port.contactor and h.station.snapshot().offered_a == 6


def test_over_current_restarts_after_30s_three_times_then_latches() -> None:
    h = Harness(dip_a=32)
    h.boot()
    h.start_charging()
    for attempt in range(4):
        h.meter(240.0, 40.0)  # 8 A above the offer
        h.clock.advance(4.9)
        assert h.port.contactor, "the EV gets 5 s to follow"
        h.clock.advance(0.2)
        assert not h.port.contactor
        h.meter(240.0, 0.0)
        snap = h.station.snapshot()
        assert snap.status is S.FAULTED
        if attempt < 3:
            assert snap.led is LedPattern.RED_FLASH
            tripped_at = snap.faults[0]["since"]
            h.clock.run_until(tripped_at + 29.9)
            assert not h.port.contactor
            h.clock.run_until(tripped_at + 30.0)
            assert h.port.contactor, f"restart {attempt + 1} after 30 s"
        else:
            assert snap.led is LedPattern.RED_STEADY
            h.clock.advance(3600)
            assert not h.port.contactor
    assert h.station.reset_fault()
    assert h.port.contactor


def test_ccid_retries_after_15_minutes_at_most_three_times() -> None:
    h = Harness()
    h.boot()
    h.start_charging()
    for attempt in range(4):
        h.station.handle_board_event(GroundFaultTrip(leakage_ma=25.0))
        assert not h.port.contactor
        if attempt < 3:
            h.clock.advance(15 * 60 - 1)
            assert not h.port.contactor
            h.clock.advance(1.5)
            assert h.port.contactor
        else:
            assert h.station.faults.latched
            assert h.station.snapshot().led is LedPattern.RED_STEADY


def test_voltage_and_temperature_faults_clear_when_normal() -> None:
    h = Harness()
    h.boot()
    h.start_charging()
    h.meter(270.0, 0.0)
    assert h.station.faults.is_active(FaultKind.OVER_VOLTAGE) and not h.port.contactor
    h.meter(240.0, 0.0)
    assert h.port.contactor
    h.meter(170.0, 0.0)
    assert h.station.faults.is_active(FaultKind.UNDER_VOLTAGE)
    h.meter(182.0, 0.0)  # hysteresis: still under
    assert not h.port.contactor
    h.meter(200.0, 0.0)
    assert h.port.contactor
    h.meter(240.0, 0.0, temp=90.0)
    assert h.station.faults.is_active(FaultKind.OVER_TEMPERATURE)
    h.meter(240.0, 0.0, temp=60.0)
    assert h.port.contactor


def test_missing_ground_blocks_until_present_and_short_circuit_latches() -> None:
    h = Harness()
    h.boot()
    h.start_charging()
    h.station.handle_board_event(GroundMonitor(present=False))
    assert not h.port.contactor and h.station.snapshot().led is LedPattern.RED_FLASH
    h.station.handle_board_event(GroundMonitor(present=True))
    assert h.port.contactor
    h.station.handle_board_event(ShortCircuit())
    assert not h.port.contactor and h.station.faults.latched
    h.station.handle_board_event(RelayWelded(welded=True))
    assert h.station.snapshot().led is LedPattern.RED_STEADY


def test_cold_load_pickup_delay_within_bounds() -> None:
    delays = []
    for seed in range(40):
        h = Harness(seed=seed)
        h.boot()
        h.start_charging()
        h.station.handle_board_event(PowerNotice(PowerEvent.POWER_FAIL))
        h.boot(reason="power_restored")
        until = h.station.cold_load_until
        assert until is not None
        delay = until - h.clock.now()
        assert 120.0 <= delay <= 720.0
        delays.append(delay)
        assert h.station.storage.sessions()[0].stop_reason == "PowerLoss"
    assert max(delays) - min(delays) > 100  # really random, not a constant


def test_resume_after_power_loss_keeps_session_and_waits_cold_load() -> None:
    settings = StationSettings(local_list=["ABCD1234"], resume_charge_after_reboot=True)
    h = Harness(settings=settings)
    h.boot()
    h.start_charging()
    h.station.handle_board_event(PowerNotice(PowerEvent.POWER_FAIL))
    h.boot(reason="power_restored", pilot="C")
    snap = h.station.snapshot()
    assert snap.session is not None and not snap.contactor
    assert snap.status is S.SUSPENDED_EVSE and snap.limit_source == "cold_load"
    assert h.station.cold_load_until is not None
    h.clock.run_until(h.station.cold_load_until + 0.1)
    assert h.port.contactor


def test_energy_register_persists_and_never_goes_backwards(tmp_path: object) -> None:
    from pathlib import Path

    db = Path(str(tmp_path)) / "c.db"
    h = Harness(storage=Storage(db))
    h.boot()
    h.start_charging()
    h.meter(240.0, 32.0, add_wh=5000)
    assert h.station.register_wh == 5000
    h.storage.close()
    # a "reboot": a new controller on the same database, the board register restarted at 0
    h2 = Harness(storage=Storage(db))
    assert h2.station.register_wh == 5000
    h2.boot(reason="power_restored", pilot="C")
    h2.meter(240.0, 0.0, add_wh=0)
    assert h2.station.register_wh == 5000
    rec = h2.storage.sessions()[0]
    assert rec.stop_reason == "PowerLoss" and rec.energy_wh == 5000


def test_settings_refuse_fw_cap_above_dip_and_keep_old_values() -> None:
    from controller.settings import SettingsError

    h = Harness(dip_a=32)
    h.boot()
    with pytest.raises(SettingsError) as err:
        h.station.apply_settings({"max_amperage_fw_a": 40, "ev_connect_timeout_s": 60})
    assert "max_amperage_fw_a" in err.value.errors
    assert h.station.settings.ev_connect_timeout_s == 900
    h.station.apply_settings({"max_amperage_fw_a": 24})
    assert h.station.arbiter.limit("firmware").amps == 24  # type: ignore[union-attr]


def test_dip_reset_position_resets_settings_and_offers_nothing() -> None:
    h = Harness()
    h.station.apply_settings({"ev_connect_timeout_s": 60})
    from controller.charging.dip import decode_dip
    from controller.hal.messages import BoardHello, PilotChanged, PilotState

    assert decode_dip(False, False, False).factory_reset
    h.station.handle_board_event(BoardHello(False, False, False))
    h.station.handle_board_event(PilotChanged(PilotState.A))
    assert h.station.settings.ev_connect_timeout_s == 900
    assert h.station.snapshot().limit_source == "dip"


def test_reboot_period_waits_for_session_end() -> None:
    h = Harness(settings=StationSettings(local_list=["ABCD1234"], reboot_period_min=60))
    h.boot()
    h.start_charging()
    h.clock.advance(3601)
    assert "reboot_requested" not in h.event_kinds()
    h.pilot("A")
    h.clock.advance(1)
    assert "reboot_requested" in h.event_kinds()


def test_unavailable_shows_yellow_and_offers_nothing() -> None:
    h = Harness()
    h.boot()
    h.station.set_available(False)
    snap = h.station.snapshot()
    assert snap.status is S.UNAVAILABLE and snap.led is LedPattern.YELLOW_STEADY
    assert h.port.duty == 100.0  # steady +12 V, never -12 V: the EV's departure stays visible
    h.station.set_reserved("ABCD1234")
    h.station.set_available(True)
    assert h.station.snapshot().led is LedPattern.PINK_STEADY


def test_latched_fault_still_sees_the_ev_leave() -> None:
    h = Harness()
    h.boot()
    h.start_charging()
    h.station.handle_board_event(ShortCircuit())
    assert h.station.faults.latched and h.port.duty == 100.0
    h.pilot("A")
    assert h.station.snapshot().session is None
    assert h.storage.sessions()[0].stop_reason == "EVDisconnected"
