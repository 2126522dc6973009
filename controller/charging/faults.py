"""Faults and their automatic recovery (SPEC §Fault recovery and power events).

Two shapes of fault:
- *tripped* faults (over-current, CCID20 ground fault, short circuit) clear by themselves after a
  recovery delay, a bounded number of times; one trip more latches them;
- *condition* faults (over/under-voltage, over-temperature, missing ground, pilot error) are
  active exactly while their condition holds and clear when it returns to normal.
A latched fault (red steady) needs a manual reset.  Trip counters start again at the end of
each session.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

from controller.clock import Clock, TimerHandle


class FaultKind(str, enum.Enum):
    OVER_CURRENT = "over_current"
    OVER_VOLTAGE = "over_voltage"
    UNDER_VOLTAGE = "under_voltage"
    OVER_TEMPERATURE = "over_temperature"
    SHORT_CIRCUIT = "short_circuit"
    GROUND_FAULT = "ground_fault"
    NO_GROUND = "no_ground"
    STUCK_RELAY = "stuck_relay"
    PILOT_ERROR = "pilot_error"

    @property
    def ocpp_error_code(self) -> str:
        return _OCPP_ERROR[self]


_OCPP_ERROR = {
    FaultKind.OVER_CURRENT: "OverCurrentFailure",
    FaultKind.OVER_VOLTAGE: "OverVoltage",
    FaultKind.UNDER_VOLTAGE: "UnderVoltage",
    FaultKind.OVER_TEMPERATURE: "HighTemperature",
    FaultKind.SHORT_CIRCUIT: "OverCurrentFailure",
    FaultKind.GROUND_FAULT: "GroundFailure",
    FaultKind.NO_GROUND: "GroundFailure",
    FaultKind.STUCK_RELAY: "PowerSwitchFailure",
    FaultKind.PILOT_ERROR: "EVCommunicationError",
}


@dataclass(frozen=True)
class TripRule:
    recovery_s: float
    max_restarts: int


TRIP_RULES: dict[FaultKind, TripRule] = {
    FaultKind.OVER_CURRENT: TripRule(recovery_s=30.0, max_restarts=3),
    FaultKind.GROUND_FAULT: TripRule(recovery_s=15 * 60.0, max_restarts=3),
    FaultKind.SHORT_CIRCUIT: TripRule(recovery_s=0.0, max_restarts=0),
    FaultKind.STUCK_RELAY: TripRule(recovery_s=0.0, max_restarts=0),
}


@dataclass
class FaultState:
    kind: FaultKind
    since: float
    latched: bool = False
    recover_at: float | None = None  # tripped faults: when the automatic restart happens
    _timer: TimerHandle | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "since": self.since,
            "latched": self.latched,
            "recover_at": self.recover_at,
            "error_code": self.kind.ocpp_error_code,
        }


class FaultManager:
    def __init__(self, clock: Clock, on_change: Callable[[], None]) -> None:
        self._clock = clock
        self._on_change = on_change
        self._active: dict[FaultKind, FaultState] = {}
        self._trips: dict[FaultKind, int] = {}
        self.history: list[tuple[float, FaultKind, str]] = []  # (t, kind, "set"|"clear"|"latch")

    # --- queries ---------------------------------------------------------------------
    @property
    def active(self) -> list[FaultState]:
        return list(self._active.values())

    @property
    def any_active(self) -> bool:
        return bool(self._active)

    @property
    def latched(self) -> bool:
        return any(f.latched for f in self._active.values())

    def is_active(self, kind: FaultKind) -> bool:
        return kind in self._active

    def trips(self, kind: FaultKind) -> int:
        return self._trips.get(kind, 0)

    # --- inputs ----------------------------------------------------------------------
    def condition(self, kind: FaultKind, present: bool) -> None:
        """A level fault's condition, as last measured."""
        if kind in TRIP_RULES:
            raise ValueError(f"{kind.value} is a tripped fault; use trip()")
        state = self._active.get(kind)
        if present and state is None:
            self._active[kind] = FaultState(kind, self._clock.now())
            self._log(kind, "set")
        elif not present and state is not None and not state.latched:
            del self._active[kind]
            self._log(kind, "clear")
        else:
            return
        self._on_change()

    def trip(self, kind: FaultKind) -> None:
        rule = TRIP_RULES.get(kind)
        if rule is None:
            raise ValueError(f"{kind.value} is a condition fault; use condition()")
        existing = self._active.get(kind)
        if existing is not None and existing.latched:
            return
        if existing is not None and existing._timer is not None:
            existing._timer.cancel()
        count = self._trips.get(kind, 0) + 1
        self._trips[kind] = count
        now = self._clock.now()
        state = FaultState(kind, now)
        self._active[kind] = state
        if count > rule.max_restarts:
            state.latched = True
            self._log(kind, "latch")
        else:
            state.recover_at = now + rule.recovery_s
            state._timer = self._clock.call_at(state.recover_at, lambda: self._recover(kind))
            self._log(kind, "set")
        self._on_change()

    def manual_reset(self) -> bool:
        """Clear latched and tripped faults and the trip counters. True when any cleared."""
        cleared = False
        for kind in list(self._active):
            state = self._active[kind]
            if kind in TRIP_RULES:
                if state._timer is not None:
                    state._timer.cancel()
                del self._active[kind]
                self._log(kind, "clear")
                cleared = True
            elif state.latched:
                state.latched = False
        self._trips.clear()
        if cleared:
            self._on_change()
        return cleared

    def end_of_session(self) -> None:
        """Restart counting: the limits apply per session."""
        self._trips = {k: v for k, v in self._trips.items() if k in self._active}

    # --- internals -------------------------------------------------------------------
    def _recover(self, kind: FaultKind) -> None:
        state = self._active.get(kind)
        if state is None or state.latched:
            return
        del self._active[kind]
        self._log(kind, "clear")
        self._on_change()

    def _log(self, kind: FaultKind, what: str) -> None:
        self.history.append((self._clock.now(), kind, what))
        if len(self.history) > 1000:
            del self.history[:100]
