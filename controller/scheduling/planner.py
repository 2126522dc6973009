"""Departure-time charging planner: "ready by T with N kWh" at the lowest expected cost.

The problem for one EV is a linear program: choose energy ``e_i`` per slot with
``0 <= e_i <= cap_i`` and ``sum(e_i) = E`` minimising ``sum(price_i * e_i)``.  Its constraints
couple the slots only through the total, so filling the cheapest slots first (a fractional
knapsack) is exactly optimal; ties go to the latest slot so the car sits full for as short a
time as possible.  The plan is advice for the current-limit arbiter: it never overrides a user
pause, a demand-response event, a fault or any other limit (see docs/scheduling.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controller.scheduling.tariff import (
    SlotPrice,
    Tariff,
    average_price,
    slot_grid,
)

_ENERGY_TOLERANCE_WH = 1e-6
_PRICE_TIE_DECIMALS = 9


class PlanningError(ValueError):
    """The inputs to the planner are invalid; the message names the bad field."""


def _check_aware(value: object, what: str) -> datetime:
    """The instant in UTC (same-tzinfo datetimes compare by wall clock, wrong across DST)."""
    if not isinstance(value, datetime):
        raise PlanningError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise PlanningError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _check_number(value: object, what: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlanningError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PlanningError(f"{what} must be finite, got {value!r}")
    if minimum is not None and number < minimum:
        raise PlanningError(f"{what} must be >= {minimum}, got {value!r}")
    return number


def power_cap_w(current_a: float, voltage_v: float) -> float:
    """Charging power a current limit allows at a supply voltage (single phase, unity PF)."""
    return _check_number(current_a, "current_a", 0.0) * _check_number(voltage_v, "voltage_v", 0.0)


@dataclass(frozen=True)
class ChargingGoal:
    """Be ready by ``departure`` with ``energy_wh`` more drawn from the charger."""

    departure: datetime
    energy_wh: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "departure", _check_aware(self.departure, "departure"))
        object.__setattr__(self, "energy_wh", _check_number(self.energy_wh, "energy_wh", 0.0))

    @classmethod
    def from_soc(
        cls,
        departure: datetime,
        battery_kwh: float,
        current_soc_pct: float,
        target_soc_pct: float,
        charge_efficiency: float = 1.0,
    ) -> ChargingGoal:
        """Goal from a state of charge; ``charge_efficiency`` converts battery energy to metered."""
        battery = _check_number(battery_kwh, "battery_kwh", 0.0)
        if battery == 0.0:
            raise PlanningError("battery_kwh must be > 0")
        current = _check_number(current_soc_pct, "current_soc_pct", 0.0)
        target = _check_number(target_soc_pct, "target_soc_pct", 0.0)
        if current > 100.0:
            raise PlanningError(f"current_soc_pct must be <= 100, got {current_soc_pct!r}")
        if target > 100.0:
            raise PlanningError(f"target_soc_pct must be <= 100, got {target_soc_pct!r}")
        efficiency = _check_number(charge_efficiency, "charge_efficiency")
        if not 0.0 < efficiency <= 1.0:
            raise PlanningError(f"charge_efficiency must be in (0, 1], got {charge_efficiency!r}")
        needed_wh = max(0.0, target - current) / 100.0 * battery * 1000.0 / efficiency
        return cls(departure=departure, energy_wh=needed_wh)


@dataclass(frozen=True)
class SafetyMargin:
    """Slack against a slow EV or a wrong estimate: finish early and/or plan extra energy."""

    finish_before: timedelta = timedelta(0)
    extra_energy_fraction: float = 0.0
    """0.1 plans 10 % more energy than the goal asks."""

    def __post_init__(self) -> None:
        if not isinstance(self.finish_before, timedelta):
            raise PlanningError(f"finish_before must be a timedelta, got {self.finish_before!r}")
        if self.finish_before < timedelta(0):
            raise PlanningError(f"finish_before must not be negative, got {self.finish_before}")
        _check_number(self.extra_energy_fraction, "extra_energy_fraction", 0.0)


@dataclass(frozen=True)
class PlanningSlot:
    """A slot of time the planner may charge in, at up to ``max_power_w``.

    ``price_per_kwh`` may be ``None`` only for slots after the departure: those serve only to
    say when an unreachable goal could be met at the earliest.
    """

    start: datetime
    end: datetime
    max_power_w: float
    price_per_kwh: float | None


@dataclass(frozen=True)
class PlannedSlot:
    """Draw ``energy_wh`` at ``power_w`` from ``start``; a partial slot stops early."""

    start: datetime
    end: datetime
    power_w: float
    energy_wh: float
    price_per_kwh: float

    @property
    def cost(self) -> float:
        return self.energy_wh / 1000.0 * self.price_per_kwh

    @property
    def charging_end(self) -> datetime:
        """When this slot's energy is in, charging at ``power_w`` from ``start``."""
        if self.power_w <= 0.0:
            return self.start
        seconds = self.energy_wh / self.power_w * 3600.0
        if seconds >= (self.end - self.start).total_seconds() - 1e-3:
            return self.end
        return self.start + timedelta(seconds=seconds)


@dataclass(frozen=True)
class ChargingPlan:
    """What to draw when, what it costs, and whether the goal is met."""

    goal: ChargingGoal
    created_at: datetime
    deadline: datetime
    """The departure minus the time margin: the plan finishes by then when feasible."""
    target_energy_wh: float
    """The goal energy plus the energy margin."""
    slots: tuple[PlannedSlot, ...]
    """Chronological, only slots that draw energy."""
    feasible: bool
    deliverable_by_deadline_wh: float
    deliverable_by_departure_wh: float
    earliest_completion: datetime | None
    """Charging flat out from now; ``None`` if not reached within the slots given."""
    strategy: str
    """'cheapest' when the goal is met, 'asap' when it is not (get as close as possible)."""

    @property
    def energy_wh(self) -> float:
        return sum(s.energy_wh for s in self.slots)

    @property
    def cost(self) -> float:
        return sum(s.cost for s in self.slots)

    @property
    def expected_finish(self) -> datetime | None:
        if not self.slots:
            return None
        return max(s.charging_end for s in self.slots)

    @property
    def shortfall_wh(self) -> float:
        """How much of the target cannot be in the car by the deadline (0 when feasible)."""
        return max(0.0, self.target_energy_wh - self.deliverable_by_deadline_wh)

    @property
    def verdict(self) -> str:
        if self.feasible:
            return "feasible"
        when = (
            self.earliest_completion.isoformat()
            if self.earliest_completion is not None
            else "not within the planning horizon"
        )
        return (
            f"infeasible: {self.target_energy_wh / 1000:.2f} kWh needed by "
            f"{self.deadline.isoformat()}, only {self.deliverable_by_deadline_wh / 1000:.2f} kWh "
            f"possible ({self.deliverable_by_departure_wh / 1000:.2f} kWh by departure); "
            f"earliest completion {when}"
        )


@dataclass(frozen=True)
class _Piece:
    """A slot clipped to [now, limit): where energy can actually go."""

    index: int
    start: datetime
    end: datetime
    power_w: float
    price: float | None

    @property
    def capacity_wh(self) -> float:
        return self.power_w * (self.end - self.start).total_seconds() / 3600.0


def planning_slots(
    prices: Sequence[SlotPrice], max_power_w: float | Sequence[float]
) -> list[PlanningSlot]:
    """Attach a power cap (one for all, or one per slot) to priced slots."""
    if isinstance(max_power_w, (int, float)):
        caps = [_check_number(max_power_w, "max_power_w", 0.0)] * len(prices)
    else:
        caps = list(max_power_w)
        if len(caps) != len(prices):
            raise PlanningError(
                f"max_power_w has {len(caps)} caps for {len(prices)} slots; give one per slot"
            )
    return [
        PlanningSlot(p.start, p.end, cap, p.price_per_kwh)
        for p, cap in zip(prices, caps, strict=True)
    ]


def _validate_slots(slots: Sequence[PlanningSlot], departure: datetime) -> list[PlanningSlot]:
    """The slots with UTC instants; raises naming the first bad slot."""
    if isinstance(slots, (str, bytes)) or not isinstance(slots, Sequence):
        raise PlanningError(f"slots must be a sequence of PlanningSlot, got {slots!r}")
    out: list[PlanningSlot] = []
    previous_end: datetime | None = None
    for i, slot in enumerate(slots):
        if not isinstance(slot, PlanningSlot):
            raise PlanningError(f"slots[{i}] must be a PlanningSlot, got {slot!r}")
        start = _check_aware(slot.start, f"slots[{i}].start")
        end = _check_aware(slot.end, f"slots[{i}].end")
        if end <= start:
            raise PlanningError(
                f"slots[{i}]: end {end.isoformat()} is not after start "
                f"{start.isoformat()} (negative or zero duration)"
            )
        if previous_end is not None and start < previous_end:
            raise PlanningError(
                f"slots[{i}] starts at {start.isoformat()}, before the previous slot ends "
                f"({previous_end.isoformat()}); slots must be chronological and not overlap"
            )
        cap = _check_number(slot.max_power_w, f"slots[{i}].max_power_w", 0.0)
        price: float | None = None
        if slot.price_per_kwh is None:
            if start < departure:
                raise PlanningError(
                    f"slots[{i}] ({start.isoformat()}) lies before the departure but has no price"
                )
        else:
            price = _check_number(slot.price_per_kwh, f"slots[{i}].price_per_kwh")
        out.append(PlanningSlot(start, end, cap, price))
        previous_end = end
    return out


def _pieces(slots: Sequence[PlanningSlot], now: datetime, limit: datetime | None) -> list[_Piece]:
    out: list[_Piece] = []
    for i, slot in enumerate(slots):
        start = max(slot.start, now)
        end = slot.end if limit is None else min(slot.end, limit)
        if end > start and slot.max_power_w > 0.0:
            out.append(_Piece(i, start, end, slot.max_power_w, slot.price_per_kwh))
    return out


def _fill(pieces: Sequence[_Piece], energy_wh: float) -> list[tuple[_Piece, float]]:
    """Take energy from ``pieces`` in the given order until ``energy_wh`` is reached."""
    taken: list[tuple[_Piece, float]] = []
    remaining = energy_wh
    for piece in pieces:
        if remaining <= _ENERGY_TOLERANCE_WH:
            break
        amount = min(piece.capacity_wh, remaining)
        taken.append((piece, amount))
        remaining -= amount
    return taken


def _to_planned(taken: Sequence[tuple[_Piece, float]]) -> tuple[PlannedSlot, ...]:
    chronological = sorted(taken, key=lambda pair: pair[0].start)
    out = []
    for piece, energy in chronological:
        assert piece.price is not None
        out.append(PlannedSlot(piece.start, piece.end, piece.power_w, energy, piece.price))
    return tuple(out)


def _earliest_completion(pieces: Sequence[_Piece], energy_wh: float) -> datetime | None:
    remaining = energy_wh
    for piece in pieces:
        if piece.capacity_wh >= remaining - _ENERGY_TOLERANCE_WH:
            return piece.start + timedelta(seconds=max(0.0, remaining) / piece.power_w * 3600.0)
        remaining -= piece.capacity_wh
    return None


def _prepare(
    goal: ChargingGoal, now: datetime, slots: Sequence[PlanningSlot], margin: SafetyMargin
) -> tuple[datetime, datetime, list[PlanningSlot], float]:
    if not isinstance(goal, ChargingGoal):
        raise PlanningError(f"goal must be a ChargingGoal, got {goal!r}")
    if not isinstance(margin, SafetyMargin):
        raise PlanningError(f"margin must be a SafetyMargin, got {margin!r}")
    now = _check_aware(now, "now")
    if goal.departure <= now:
        raise PlanningError(
            f"departure {goal.departure.isoformat()} is not after now {now.isoformat()}"
        )
    checked = _validate_slots(slots, goal.departure)
    deadline = max(now, goal.departure - margin.finish_before)
    target = goal.energy_wh * (1.0 + margin.extra_energy_fraction)
    return now, deadline, checked, target


def _plan(
    goal: ChargingGoal,
    now: datetime,
    slots: Sequence[PlanningSlot],
    margin: SafetyMargin,
    force_asap: bool,
) -> ChargingPlan:
    now, deadline, slots, target = _prepare(goal, now, slots, margin)
    by_deadline = _pieces(slots, now, deadline)
    by_departure = _pieces(slots, now, goal.departure)
    deliverable_deadline = sum(p.capacity_wh for p in by_deadline)
    deliverable_departure = sum(p.capacity_wh for p in by_departure)
    feasible = deliverable_deadline >= target - _ENERGY_TOLERANCE_WH
    earliest = _earliest_completion(_pieces(slots, now, None), target)
    if target <= _ENERGY_TOLERANCE_WH:
        earliest = now
    if feasible and not force_asap:
        # cheapest first; among equal prices the latest slot first
        order = sorted(
            by_deadline,
            key=lambda p: (round(p.price or 0.0, _PRICE_TIE_DECIMALS), -p.start.timestamp()),
        )
        taken = _fill(order, target)
        strategy = "cheapest"
    else:
        # flat out from now: finishes earliest, or gets as close as possible by departure
        pool = by_deadline if feasible else by_departure
        taken = _fill(pool, target)
        strategy = "asap"
    return ChargingPlan(
        goal=goal,
        created_at=now,
        deadline=deadline,
        target_energy_wh=target,
        slots=_to_planned(taken),
        feasible=feasible,
        deliverable_by_deadline_wh=deliverable_deadline,
        deliverable_by_departure_wh=deliverable_departure,
        earliest_completion=earliest,
        strategy=strategy,
    )


def plan_charging(
    goal: ChargingGoal,
    now: datetime,
    slots: Sequence[PlanningSlot],
    margin: SafetyMargin | None = None,
) -> ChargingPlan:
    """The cheapest plan meeting ``goal``, or, if it cannot be met, charging flat out from now.

    ``slots`` are chronological; they may start before ``now`` (clipped) and run past the
    departure (then they only serve to find the earliest completion).
    """
    return _plan(goal, now, slots, margin or SafetyMargin(), force_asap=False)


def asap_plan(
    goal: ChargingGoal,
    now: datetime,
    slots: Sequence[PlanningSlot],
    margin: SafetyMargin | None = None,
) -> ChargingPlan:
    """Charge flat out from plug-in: the baseline a planned charge is compared with."""
    return _plan(goal, now, slots, margin or SafetyMargin(), force_asap=True)


PowerCap = float | Callable[[datetime, datetime], float]


def plan_for_tariff(
    tariff: Tariff,
    goal: ChargingGoal,
    now: datetime,
    max_power_w: PowerCap,
    slot_minutes: int = 15,
    margin: SafetyMargin | None = None,
    lookahead: timedelta = timedelta(hours=48),
) -> ChargingPlan:
    """Plan against a tariff: cut slots from now to the departure, price them, cap them.

    ``max_power_w`` is one cap for all slots or a function of (slot start, slot end), e.g. 0
    outside the hours of operation.  Slots up to ``lookahead`` past the departure are added
    unpriced so an unreachable goal still gets an earliest completion time.
    """
    if not isinstance(goal, ChargingGoal):
        raise PlanningError(f"goal must be a ChargingGoal, got {goal!r}")
    margin = margin or SafetyMargin()
    now = _check_aware(now, "now")
    if goal.departure <= now:
        raise PlanningError(
            f"departure {goal.departure.isoformat()} is not after now {now.isoformat()}"
        )
    deadline = max(now, goal.departure - margin.finish_before)
    cuts = [
        (now, deadline),
        (deadline, goal.departure),
        (goal.departure, goal.departure + lookahead),
    ]
    slots: list[PlanningSlot] = []
    for part, (a, b) in enumerate(cuts):
        if b <= a:
            continue
        for start, end in slot_grid(a, b, slot_minutes, tariff.timezone):
            price = average_price(tariff, start, end) if part < 2 else None
            cap = max_power_w(start, end) if callable(max_power_w) else max_power_w
            slots.append(PlanningSlot(start, end, cap, price))
    return plan_charging(goal, now, slots, margin)
