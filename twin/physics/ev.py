"""A simulated electric vehicle on the end of the J1772 cable.

The EV reads the pilot duty the board offers, answers with its pilot state (B, C or D) and,
when the contactor is closed, draws ``min(offer, on-board charger max, taper)``; never more
than offered unless the board forces an over-current fault.  Charging is integrated in closed
form (constant current, then an exponential taper, then a constant tail), so a scenario can
jump hours of virtual time in one step and still get the same energy as tiny steps would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from controller.clock import Clock, TimerHandle
from controller.hal.messages import PilotState

MIN_OFFER_DUTY = 8.0
MAX_OFFER_DUTY = 97.0
_SOC_EPS = 1e-12


def is_offer(duty_pct: float | None) -> bool:
    """Whether the EV reads a current offer in this duty (8–97 %)."""
    return duty_pct is not None and MIN_OFFER_DUTY <= duty_pct <= MAX_OFFER_DUTY


def offered_amps(duty_pct: float | None) -> float:
    """Amps an EV reads from a pilot duty (SAE J1772); 0 when the duty carries no offer."""
    if duty_pct is None or not is_offer(duty_pct):
        return 0.0
    if duty_pct < 10.0:
        return 6.0
    if duty_pct <= 85.0:
        return duty_pct * 0.6
    return min(80.0, (duty_pct - 64.0) * 2.5)


def _positive(owner: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be a finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")


def _fraction(owner: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}.{name} must be within 0..1, got {value!r}")


@dataclass(frozen=True)
class EVSpec:
    battery_kwh: float = 60.0
    max_current_a: float = 32.0  # on-board charger limit
    taper_start_soc: float = 0.8  # above this the charger limit falls linearly towards 100 %
    taper_end_current_a: float = 1.0  # the taper never goes below this; the last % charge at it
    ready_delay_s: float = 1.0  # from seeing a valid offer to asking for energy (B -> C)

    def __post_init__(self) -> None:
        for name in ("battery_kwh", "max_current_a", "taper_end_current_a"):
            _positive("EVSpec", name, getattr(self, name))
        _fraction("EVSpec", "taper_start_soc", self.taper_start_soc)
        if self.taper_start_soc >= 1.0:
            raise ValueError("EVSpec.taper_start_soc must be below 1.0")
        if self.taper_end_current_a > self.max_current_a:
            raise ValueError(
                f"EVSpec.taper_end_current_a ({self.taper_end_current_a}) must not exceed "
                f"max_current_a ({self.max_current_a})"
            )
        if not (isinstance(self.ready_delay_s, (int, float)) and self.ready_delay_s >= 0):
            raise ValueError(f"EVSpec.ready_delay_s must be >= 0, got {self.ready_delay_s!r}")

    @property
    def capacity_wh(self) -> float:
        return self.battery_kwh * 1000.0


class EV:
    """One vehicle: battery state, pilot answer and the current it would draw."""

    def __init__(
        self,
        clock: Clock,
        spec: EVSpec | None = None,
        *,
        soc: float = 0.5,
        target_soc: float = 1.0,
        needs_ventilation: bool = False,
    ) -> None:
        _fraction("EV", "soc", soc)
        _fraction("EV", "target_soc", target_soc)
        self.spec = spec or EVSpec()
        self._clock = clock
        self._soc = float(soc)
        self._target = float(target_soc)
        self._ventilation = needs_ventilation
        self._state = PilotState.B
        self._duty: float | None = None
        self._ready_timer: TimerHandle | None = None
        self._listener: Callable[[], None] | None = None
        self.delivered_wh = 0.0  # energy into the battery since construction

    # ----- what the board and tests read ------------------------------------------------

    @property
    def soc(self) -> float:
        return self._soc

    @property
    def target_soc(self) -> float:
        return self._target

    @property
    def state(self) -> PilotState:
        return self._state

    @property
    def full(self) -> bool:
        return self._soc >= self._target - _SOC_EPS

    @property
    def wants_energy(self) -> bool:
        return not self.full

    @property
    def needs_ventilation(self) -> bool:
        return self._ventilation

    def charger_limit_a(self, soc: float | None = None) -> float:
        """On-board charger limit at a state of charge, including the taper."""
        s = self._soc if soc is None else soc
        spec = self.spec
        if s <= spec.taper_start_soc:
            return spec.max_current_a
        tapered = spec.max_current_a * (1.0 - s) / (1.0 - spec.taper_start_soc)
        return max(spec.taper_end_current_a, tapered)

    def current_a(self, offer_a: float, supply_v: float, forced_a: float | None = None) -> float:
        """What the EV draws now with this offer and supply (0 unless it asks for energy)."""
        if self._state not in (PilotState.C, PilotState.D) or supply_v <= 0 or self.full:
            return 0.0
        if forced_a is not None:
            return forced_a
        return max(0.0, min(offer_a, self.charger_limit_a()))

    # ----- the board drives these (no listener call: the board re-evaluates itself) -------

    def attach(self, listener: Callable[[], None]) -> None:
        """Called when plugged in; the listener hears changes the EV makes on its own."""
        self._listener = listener
        self._state = PilotState.B
        self._duty = None

    def detach(self) -> None:
        self._cancel_ready()
        self._listener = None
        self._duty = None
        self._state = PilotState.B

    def observe_offer(self, duty_pct: float | None) -> None:
        """The pilot duty the EV sees (None: no pilot at all, e.g. board without power)."""
        self._duty = duty_pct
        if not is_offer(duty_pct):
            self._cancel_ready()
            self._state = PilotState.B
            return
        self._maybe_get_ready()

    def advance(
        self, offer_a: float, supply_v: float, dt: float, forced_a: float | None = None
    ) -> float:
        """Charge for ``dt`` seconds under constant conditions; returns Wh taken."""
        if dt <= 0 or self.current_a(offer_a, supply_v, forced_a) <= 0:
            return 0.0
        soc0 = self._soc
        self._soc, _ = self._walk(offer_a, supply_v, dt, forced_a)
        return self._book(soc0)

    def time_to_target(self, offer_a: float, supply_v: float, forced_a: float | None = None) -> float:
        """Seconds until the target SoC at constant conditions (inf if not charging)."""
        if self.current_a(offer_a, supply_v, forced_a) <= 0:
            return math.inf
        _, used = self._walk(offer_a, supply_v, math.inf, forced_a)
        return used

    def finish(self) -> float:
        """Snap to the target (float rounding at the end of a closed-form run); returns Wh."""
        soc0 = self._soc
        self._soc = max(self._soc, self._target)
        wh = self._book(soc0)
        self._on_full()
        return wh

    def settle_full(self) -> bool:
        """After charging: a full EV stops asking for energy (back to B). True if it did."""
        if self.full and self._state is not PilotState.B:
            self._on_full()
            return True
        return False

    # ----- the driver (tests, scenarios) ---------------------------------------------------

    def set_ventilation(self, needed: bool) -> None:
        self._ventilation = bool(needed)
        if self._state in (PilotState.C, PilotState.D):
            self._state = PilotState.D if self._ventilation else PilotState.C
        self._notify()

    def set_target_soc(self, target: float) -> None:
        _fraction("EV", "target_soc", target)
        self._target = float(target)
        if self.full and self._state is not PilotState.B:
            self._on_full()
        self._maybe_get_ready()
        self._notify()

    # ----- internals ----------------------------------------------------------------------

    def _book(self, soc0: float) -> float:
        wh = (self._soc - soc0) * self.spec.capacity_wh
        self.delivered_wh += wh
        return wh

    def _on_full(self) -> None:
        self._cancel_ready()
        self._state = PilotState.B

    def _maybe_get_ready(self) -> None:
        if (
            self._listener is None
            or not is_offer(self._duty)
            or not self.wants_energy
            or self._state is not PilotState.B
            or self._ready_timer is not None
        ):
            return
        self._ready_timer = self._clock.call_later(self.spec.ready_delay_s, self._on_ready)

    def _on_ready(self) -> None:
        self._ready_timer = None
        if self._listener is None or not is_offer(self._duty) or not self.wants_energy:
            return
        self._state = PilotState.D if self._ventilation else PilotState.C
        self._notify()

    def _cancel_ready(self) -> None:
        if self._ready_timer is not None:
            self._ready_timer.cancel()
            self._ready_timer = None

    def _notify(self) -> None:
        if self._listener is not None:
            self._listener()

    def _walk(
        self, offer_a: float, supply_v: float, dt: float, forced_a: float | None
    ) -> tuple[float, float]:
        """Closed-form SoC after up to ``dt`` s; returns (soc, seconds used before target)."""
        spec = self.spec
        per_amp_s = supply_v / (3600.0 * spec.capacity_wh)  # SoC gained per A·s
        target = self._target
        soc, left, used = self._soc, dt, 0.0
        ts = spec.taper_start_soc
        k = spec.max_current_a / (1.0 - ts)  # taper: I = k (1 - soc)
        if forced_a is not None:
            segments = [(target, forced_a, False)]
        else:
            cap = min(offer_a, spec.max_current_a)
            if cap <= spec.taper_end_current_a:
                segments = [(target, cap, False)]
            else:
                taper_from = 1.0 - cap / k  # where the taper falls below the offer
                taper_to = 1.0 - spec.taper_end_current_a / k  # where it meets its floor
                segments = [
                    (taper_from, cap, False),
                    (taper_to, 0.0, True),
                    (target, spec.taper_end_current_a, False),
                ]
        for end, amps, exponential in segments:
            end = min(end, target)
            if soc >= end or left <= 0:
                continue
            if exponential:
                rate = per_amp_s * k
                need = math.log((1.0 - soc) / (1.0 - end)) / rate
                if need > left:
                    soc = 1.0 - (1.0 - soc) * math.exp(-rate * left)
                    used += left
                    left = 0.0
                    break
            else:
                rate = per_amp_s * amps
                if rate <= 0:
                    used += left
                    break
                need = (end - soc) / rate
                if need > left:
                    soc += rate * left
                    used += left
                    left = 0.0
                    break
            soc = end
            used += need
            left -= need
        return min(soc, target), used
