"""The single arbiter of the offered current.

Every limit source registers an amp limit (or a pause) with a reason; the arbiter offers the
minimum and names the binding source.  Ties go to the source earlier in :data:`PRECEDENCE`.
Nothing else in the controller decides the offered current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from controller.charging.pilot import MIN_OFFER_A

# Order of precedence, highest first (docs/limits.md).
PRECEDENCE: tuple[str, ...] = (
    "fault",
    "dip",
    "firmware",
    "temperature",
    "cold_load",
    "demand_response",
    "load_management",
    "ocpp",
    "ocpp_invalid_id",
    "hours",
    "schedule",
    "user",
)


@dataclass(frozen=True)
class Limit:
    source: str
    amps: float | None  # None = this source does not limit right now; 0 = pause
    reason: str

    @property
    def paused(self) -> bool:
        return self.amps is not None and self.amps <= 0


@dataclass(frozen=True)
class Decision:
    offered_a: float  # 0 or within [6, max]
    binding: Limit | None  # the source that set the offer, None when nothing limits
    suspended: bool  # True when the offer is 0 because of a limit below 6 A

    @property
    def reason(self) -> str:
        if self.binding is None:
            return "no limit"
        return self.binding.reason


class Arbiter:
    def __init__(self) -> None:
        self._limits: dict[str, Limit] = {}
        self._listeners: list[Callable[[Decision], None]] = []
        self._decision = self._decide()

    @property
    def decision(self) -> Decision:
        return self._decision

    def limits(self) -> list[Limit]:
        return sorted(self._limits.values(), key=lambda lim: _rank(lim.source))

    def limit(self, source: str) -> Limit | None:
        return self._limits.get(source)

    def subscribe(self, listener: Callable[[Decision], None]) -> None:
        self._listeners.append(listener)

    def set_limit(self, source: str, amps: float | None, reason: str = "") -> None:
        if source not in PRECEDENCE:
            raise ValueError(f"unknown limit source {source!r}; known: {', '.join(PRECEDENCE)}")
        if amps is not None and (amps != amps or amps < 0):
            raise ValueError(f"limit for {source} must be ≥ 0 A, got {amps}")
        new = Limit(source, amps, reason or source)
        if self._limits.get(source) == new:
            return
        self._limits[source] = new
        self._publish()

    def clear(self, source: str) -> None:
        if self._limits.pop(source, None) is not None:
            self._publish()

    def _publish(self) -> None:
        decision = self._decide()
        if decision == self._decision:
            return
        self._decision = decision
        for listener in list(self._listeners):
            listener(decision)

    def _decide(self) -> Decision:
        active = [lim for lim in self._limits.values() if lim.amps is not None]
        if not active:
            return Decision(0.0, None, suspended=False)
        binding = min(active, key=lambda lim: (lim.amps, _rank(lim.source)))
        assert binding.amps is not None
        amps = float(int(binding.amps * 10) / 10)  # offers are in 0.1 A steps, rounded down
        if amps < MIN_OFFER_A:
            return Decision(0.0, binding, suspended=True)
        return Decision(amps, binding, suspended=False)


def _rank(source: str) -> int:
    return PRECEDENCE.index(source)
