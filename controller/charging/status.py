"""Connector status, LED pattern and OLED text, per SPEC §Status."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from controller.hal.messages import LedPattern


class ChargerStatus(str, enum.Enum):
    """OCPP 1.6 ChargePointStatus names (plus Initializing, shown while booting)."""

    INITIALIZING = "Initializing"
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"

    @property
    def oled(self) -> str:
        return OLED_TEXT[self]


OLED_TEXT: dict[ChargerStatus, str] = {
    ChargerStatus.INITIALIZING: "INITIALIZING",
    ChargerStatus.AVAILABLE: "AVAILABLE",
    ChargerStatus.PREPARING: "PREPARING",
    ChargerStatus.CHARGING: "CHARGING",
    ChargerStatus.SUSPENDED_EVSE: "SUSPENDEDEVSE",
    ChargerStatus.SUSPENDED_EV: "SUSPENDEDEV",
    ChargerStatus.FINISHING: "FINISHING",
    ChargerStatus.RESERVED: "RESERVED",
    ChargerStatus.UNAVAILABLE: "UNAVAILABLE",
    ChargerStatus.FAULTED: "FAULTED",
}


@dataclass(frozen=True)
class StatusInputs:
    """What the LED and status depend on, gathered by the station."""

    status: ChargerStatus
    latched_fault: bool
    authorized_waiting: bool  # authorized, waiting for the EV to connect


def led_for(inputs: StatusInputs) -> LedPattern:
    """SPEC §Status LED table."""
    status = inputs.status
    if status is ChargerStatus.INITIALIZING:
        return LedPattern.YELLOW_FLASH
    if status is ChargerStatus.FAULTED:
        return LedPattern.RED_STEADY if inputs.latched_fault else LedPattern.RED_FLASH
    if status is ChargerStatus.UNAVAILABLE:
        return LedPattern.YELLOW_STEADY
    if status is ChargerStatus.RESERVED:
        return LedPattern.PINK_STEADY
    if status is ChargerStatus.CHARGING:
        return LedPattern.BLUE_SLOW
    if inputs.authorized_waiting:
        return LedPattern.GREEN_FAST
    if status in (
        ChargerStatus.SUSPENDED_EV,
        ChargerStatus.SUSPENDED_EVSE,
        ChargerStatus.FINISHING,
    ):
        return LedPattern.GREEN_SLOW
    return LedPattern.GREEN_STEADY


def oled_text(status: ChargerStatus, network: str, amps: float, power_w: float, wh: int) -> str:
    """Two lines: status and network letter; then amps, kW and session kWh."""
    first = f"{status.oled:<14}{network[:1] or '-'}"
    second = f"{amps:4.1f}A {power_w / 1000:4.1f}kW {wh / 1000:6.2f}kWh"
    return f"{first}\n{second}"
