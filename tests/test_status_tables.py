"""SPEC §Status: the LED for every status, and the OLED text with the network letter."""

from __future__ import annotations

import pytest

from controller.charging.status import OLED_TEXT, ChargerStatus, StatusInputs, led_for, oled_text
from controller.hal.messages import LedPattern as L

S = ChargerStatus


@pytest.mark.parametrize(
    ("status", "latched", "waiting", "led"),
    [
        (S.INITIALIZING, False, False, L.YELLOW_FLASH),  # booting
        (S.UNAVAILABLE, False, False, L.YELLOW_STEADY),  # power on / unavailable
        (S.AVAILABLE, False, False, L.GREEN_STEADY),  # ready
        (S.PREPARING, False, True, L.GREEN_FAST),  # authorized, waiting for the EV
        (S.PREPARING, False, False, L.GREEN_STEADY),  # plugged, no tag yet: still "ready"
        (S.CHARGING, False, False, L.BLUE_SLOW),
        (S.SUSPENDED_EV, False, False, L.GREEN_SLOW),  # suspended (occupying)
        (S.SUSPENDED_EVSE, False, False, L.GREEN_SLOW),
        (S.FINISHING, False, False, L.GREEN_SLOW),
        (S.RESERVED, False, False, L.PINK_STEADY),
        (S.FAULTED, False, False, L.RED_FLASH),  # recoverable: until the condition clears
        (S.FAULTED, True, False, L.RED_STEADY),  # unrecoverable: manual reset
    ],
)
def test_led_table(status: ChargerStatus, latched: bool, waiting: bool, led: L) -> None:
    assert led_for(StatusInputs(status, latched, waiting)) is led


def test_every_status_has_its_oled_text_and_ocpp_name() -> None:
    assert set(OLED_TEXT) == set(ChargerStatus)
    ocpp = {"Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing",
            "Reserved", "Unavailable", "Faulted"}
    assert ocpp <= {s.value for s in ChargerStatus}
    for status in ChargerStatus:
        assert OLED_TEXT[status] == status.name.replace("_", "")


@pytest.mark.parametrize("letter", ["E", "W", "L", "A"])
def test_oled_shows_the_active_network_letter(letter: str) -> None:
    text = oled_text(S.CHARGING, letter, 32.0, 7680.0, 12345)
    first, second = text.splitlines()
    assert first.startswith("CHARGING") and first.endswith(letter)
    assert "32.0A" in second and "7.7kW" in second and "12.35kWh" in second
