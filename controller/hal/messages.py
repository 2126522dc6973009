"""Typed messages that cross the power-board boundary.

These dataclasses are the only vocabulary shared by the charge logic and the power board.
The serial protocol (``controller.hal.protocol``) turns them into frames; the in-process
simulation hands them over directly.  Nothing else builds or parses board bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Protocol, Union


class PilotState(str, enum.Enum):
    """SAE J1772 control-pilot states as the board measures them (positive plateau)."""

    A = "A"  # +12 V: no EV
    B = "B"  # +9 V: EV connected, not ready
    C = "C"  # +6 V: EV ready, charge
    D = "D"  # +3 V: EV ready, ventilation required
    E = "E"  # 0 V: pilot shorted / EVSE error
    F = "F"  # -12 V: EVSE not available


class LedPattern(str, enum.Enum):
    OFF = "off"
    GREEN_STEADY = "green_steady"
    GREEN_FAST = "green_fast"
    GREEN_SLOW = "green_slow"
    BLUE_SLOW = "blue_slow"
    RED_STEADY = "red_steady"
    RED_FLASH = "red_flash"
    PINK_STEADY = "pink_steady"
    YELLOW_STEADY = "yellow_steady"
    YELLOW_FLASH = "yellow_flash"


class PowerEvent(str, enum.Enum):
    POWER_FAIL = "power_fail"
    BROWN_OUT = "brown_out"


# ----- board -> controller -------------------------------------------------------------


@dataclass(frozen=True)
class BoardHello:
    """Sent by the board after it (re)boots; carries the DIP switch and firmware."""

    dip_sw1: bool
    dip_sw2: bool
    dip_sw3: bool
    board_fw: str = "1.0.0"
    boot_reason: str = "power_on"  # power_on | power_restored | watchdog | reset


@dataclass(frozen=True)
class TagPresented:
    """An RFID card was read by the board's reader."""

    uid: str


@dataclass(frozen=True)
class PilotChanged:
    state: PilotState  # already debounced by the board


@dataclass(frozen=True)
class MeterReading:
    voltage_v: float
    current_a: float
    energy_wh: int  # the board's own cumulative register
    temperature_c: float


@dataclass(frozen=True)
class GroundFaultTrip:
    """CCID20 tripped: the board has already opened the contactor."""

    leakage_ma: float


@dataclass(frozen=True)
class GroundMonitor:
    present: bool


@dataclass(frozen=True)
class RelayWelded:
    welded: bool


@dataclass(frozen=True)
class ShortCircuit:
    """Instantaneous over-current trip on the board; it has opened the contactor."""


@dataclass(frozen=True)
class PowerNotice:
    event: PowerEvent


@dataclass(frozen=True)
class WatchdogTripped:
    """The board opened the contactor by itself because the controller went silent."""


BoardEvent = Union[
    BoardHello,
    PilotChanged,
    MeterReading,
    GroundFaultTrip,
    GroundMonitor,
    RelayWelded,
    ShortCircuit,
    PowerNotice,
    WatchdogTripped,
    TagPresented,
]


# ----- controller -> board -------------------------------------------------------------


@dataclass(frozen=True)
class SetPwm:
    """Pilot output. 100 % = steady +12 V (no offer); 0 % = steady -12 V (state F)."""

    duty_pct: float


@dataclass(frozen=True)
class SetContactor:
    closed: bool


@dataclass(frozen=True)
class SetLed:
    pattern: LedPattern


@dataclass(frozen=True)
class SetDisplay:
    text: str


@dataclass(frozen=True)
class Keepalive:
    """Feeds the board's watchdog; sent whenever the controller has nothing else to say."""


@dataclass(frozen=True)
class RequestStatus:
    """A controller that (re)started asks the running board to bring it up to date.

    The board first goes to its safe state (no offer, contactor open), then answers as after a
    boot: BoardHello(boot_reason="status"), ground, welded relay, pilot and a meter reading.
    """


BoardCommand = Union[SetPwm, SetContactor, SetLed, SetDisplay, Keepalive, RequestStatus]


class BoardPort(Protocol):
    """Where the charge logic sends commands (a serial link or an in-process board)."""

    def send(self, command: BoardCommand) -> None: ...


BoardEventHandler = Callable[[BoardEvent], None]
