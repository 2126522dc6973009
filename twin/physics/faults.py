"""Faults the twin can inject into the simulated board (one switch each)."""

from __future__ import annotations

import enum


class BoardFault(str, enum.Enum):
    OVER_CURRENT = "over_current"  # the EV draws more than the pilot offers
    OVER_VOLTAGE = "over_voltage"  # grid swells above the operating range
    UNDER_VOLTAGE = "under_voltage"  # grid sags below the operating range
    OVER_TEMPERATURE = "over_temperature"  # hot ambient around the enclosure
    GROUND_FAULT = "ground_fault"  # leakage above 20 mA: the CCID trips
    NO_GROUND = "no_ground"  # the ground monitor finds no earth
    SHORT_CIRCUIT = "short_circuit"  # instantaneous over-current on the output
    STUCK_RELAY = "stuck_relay"  # the contactor welds closed
    PILOT_SHORT = "pilot_short"  # pilot line shorted to ground (state E)
