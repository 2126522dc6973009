"""A station wired to a recording board port, on a virtual clock (for charge-logic tests)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from controller.charging.dip import dip_for_amps
from controller.charging.station import Station, StationEvent
from controller.clock import VirtualClock
from controller.hal.messages import (
    BoardCommand,
    BoardHello,
    MeterReading,
    PilotChanged,
    PilotState,
    SetContactor,
    SetPwm,
)
from controller.settings import StationSettings
from controller.storage import Storage


@dataclass
class RecordingPort:
    """Keeps every command the station sent, in order."""

    commands: list[BoardCommand] = field(default_factory=list)

    def send(self, command: BoardCommand) -> None:
        self.commands.append(command)

    def last(self, kind: type) -> BoardCommand | None:
        for cmd in reversed(self.commands):
            if isinstance(cmd, kind):
                return cmd
        return None

    @property
    def contactor(self) -> bool:
        cmd = self.last(SetContactor)
        return isinstance(cmd, SetContactor) and cmd.closed

    @property
    def duty(self) -> float | None:
        cmd = self.last(SetPwm)
        return cmd.duty_pct if isinstance(cmd, SetPwm) else None


class Harness:
    def __init__(
        self,
        dip_a: int = 32,
        settings: StationSettings | None = None,
        storage: Storage | None = None,
        seed: int = 1,
        start: float = 1_767_650_400.0,  # 2026-01-05T18:00:00-08:00
        clock: VirtualClock | None = None,
    ) -> None:
        self.clock = clock or VirtualClock(start)
        self.port = RecordingPort()
        self.storage = storage or Storage(":memory:")
        self.events: list[StationEvent] = []
        base = settings or StationSettings(local_list=["ABCD1234"])
        self.station = Station(self.clock, self.port, self.storage, base, random.Random(seed))
        self.station.on_event(self.events.append)
        self.dip_a = dip_a
        self.board_wh = 0

    def boot(self, reason: str = "power_on", pilot: str = "A") -> None:
        sw = dip_for_amps(self.dip_a)
        self.station.handle_board_event(BoardHello(*sw, boot_reason=reason))
        self.station.handle_board_event(PilotChanged(PilotState(pilot)))
        self.meter(240.0, 0.0)

    def pilot(self, state: str) -> None:
        self.station.handle_board_event(PilotChanged(PilotState(state)))

    def meter(self, volts: float, amps: float, temp: float = 25.0, add_wh: int = 0) -> None:
        self.board_wh += add_wh
        self.station.handle_board_event(MeterReading(volts, amps, self.board_wh, temp))

    def event_kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def start_charging(self, tag: str = "ABCD1234") -> None:
        self.pilot("B")
        self.station.present_tag(tag)
        self.pilot("C")
        self.meter(240.0, float(self.station.snapshot().offered_a))
