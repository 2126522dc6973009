"""The gateway's allocation engine for local load management (SPEC §Local load management).

Pure: given the site and the group's stations it returns every station's allowed current; no
I/O, no clock.  The gateway calls it on every plug-in, departure and membership change.

Model, in short (docs/load-management.md has the long form):

* Conductors: each station loads both legs of its wire type with its full current; the grid
  limit holds on every conductor of the site.  On split phase all stations load L1 and L2, so
  the math reduces to one limit for the whole group.
* Offline members: their fallback current (at most their own max) is reserved on their legs
  before anything is shared.
* UD: weighted water-filling (progressive filling) with weights = each station's own max; a
  station stops growing when it reaches its demand or when one of its conductors is full.
* FIFS: arrival order, each takes what is left on its conductors, up to its demand.
* Never 1-5 A: a station whose share would be under 6 A is suspended (0 A) and its share goes
  to the others.
* Whole amps, rounded down; the amps lost to rounding are handed out again one by one.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from controller.loadmgmt.errors import GroupSizeError, LoadManagementError, WiringError
from controller.loadmgmt.wiring import (
    DEFAULT_DELTA_HIGH_LEG,
    Conductor,
    SiteWiring,
    WireType,
    allowed_wire_types,
    check_wire_type,
    parse_enum,
)

MIN_CHARGING_CURRENT_A = 6  # lowest current a J1772 pilot may offer
DEFAULT_MAX_GROUP_SIZE = 20  # SPEC §Communication settings
MAX_STATION_CURRENT_A = 80  # largest own max accepted (the MQ 200 itself stops at 50 A)
# Float slack when comparing shares with whole amps, so 5.999999999 counts as 6.
_EPS = 1e-9


class Policy(StrEnum):
    UNIFORM_DISTRIBUTION = "UD"
    FIRST_IN_FIRST_SERVE = "FIFS"


class Reason(StrEnum):
    """Why a station got less than it asked for."""

    GRID_SHARED_UD = "grid limit shared (UD)"
    FIFS_REMAINDER = "grid limit: what earlier arrivals left (FIFS)"
    FIFS_WAITING = "waiting: FIFS queue"
    BELOW_MINIMUM = "below 6 A minimum: suspended"
    REQUEST_BELOW_MINIMUM = "request below 6 A minimum"
    OFFLINE_RESERVED = "reserved for offline member"


def _require_int(value: object, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LoadManagementError(f"{name}: {value!r} is not a whole number of amps")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise LoadManagementError(f"{name}: {value!r} is out of range ({bound})")
    return value


def _require_amps(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LoadManagementError(f"{name}: {value!r} is not a number")
    if not math.isfinite(value) or value < 0:
        raise LoadManagementError(f"{name}: {value!r} must be finite and >= 0")
    return float(value)


def _require_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise LoadManagementError(f"{name}: {value!r} is not true/false")
    return value


@dataclass(frozen=True, slots=True)
class Site:
    """The gateway's LLM settings plus how the site is wired.

    ``grid_limit_a`` is the "Max Amperage Grid Connection": amps allowed on each conductor for
    the whole group.  ``high_leg`` applies to ``delta_240`` only (default L2).
    """

    grid_limit_a: float
    wiring: SiteWiring
    policy: Policy = Policy.UNIFORM_DISTRIBUTION
    fallback_current_a: int = 10
    high_leg: Conductor | None = None
    max_group_size: int = DEFAULT_MAX_GROUP_SIZE

    def __post_init__(self) -> None:
        _require_amps(self.grid_limit_a, "grid_limit_a")
        wiring = parse_enum(SiteWiring, self.wiring, "wiring")
        object.__setattr__(self, "wiring", wiring)
        object.__setattr__(self, "policy", parse_enum(Policy, self.policy, "policy"))
        _require_int(self.fallback_current_a, "fallback_current_a", 0, MAX_STATION_CURRENT_A)
        _require_int(self.max_group_size, "max_group_size", 1)
        if wiring is SiteWiring.DELTA_240:
            high_leg = (
                DEFAULT_DELTA_HIGH_LEG
                if self.high_leg is None
                else parse_enum(Conductor, self.high_leg, "high_leg")
            )
            object.__setattr__(self, "high_leg", high_leg)
        elif self.high_leg is not None:
            raise LoadManagementError(
                f"high_leg: {self.high_leg!r} given for wiring {wiring.value!r}; "
                "only a delta_240 site has a high leg"
            )


@dataclass(frozen=True, slots=True)
class Station:
    """One group member as the gateway knows it.

    ``max_current_a`` is the station's own max: the lower of its DIP (HW) and FW settings.
    ``arrival`` orders vehicles (a plug-in timestamp or a sequence number; ties go by id) and is
    required while a vehicle is present.  ``requested_current_a`` is what the station asks for;
    None means "as much as my own max".
    """

    station_id: str
    max_current_a: int
    wire_type: WireType = WireType.L1_L2
    online: bool = True
    vehicle_present: bool = False
    arrival: float | None = None
    requested_current_a: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.station_id, str) or not self.station_id:
            raise LoadManagementError(f"station_id: {self.station_id!r} must be a non-empty text")
        who = f"station {self.station_id!r}"
        _require_int(self.max_current_a, f"{who}: max_current_a", 0, MAX_STATION_CURRENT_A)
        wire_type = parse_enum(WireType, self.wire_type, f"{who}: wire_type")
        object.__setattr__(self, "wire_type", wire_type)
        _require_bool(self.online, f"{who}: online")
        _require_bool(self.vehicle_present, f"{who}: vehicle_present")
        if self.arrival is not None:
            if isinstance(self.arrival, bool) or not isinstance(self.arrival, (int, float)):
                raise LoadManagementError(f"{who}: arrival {self.arrival!r} is not a number")
            if not math.isfinite(self.arrival):
                raise LoadManagementError(f"{who}: arrival {self.arrival!r} is not finite")
        elif self.vehicle_present:
            raise LoadManagementError(f"{who}: arrival is required while a vehicle is present")
        if self.requested_current_a is not None:
            _require_amps(self.requested_current_a, f"{who}: requested_current_a")

    @property
    def demand_a(self) -> int:
        """Whole amps this station would take if the grid allowed it."""
        if not self.online or not self.vehicle_present:
            return 0
        wanted = float(self.max_current_a)
        if self.requested_current_a is not None:
            wanted = min(wanted, self.requested_current_a)
        return math.floor(wanted + _EPS)


@dataclass(frozen=True, slots=True)
class StationAllocation:
    """The gateway's answer for one station.

    ``current_a`` is the limit the station may offer (0 or >= 6).  ``reserved_a`` is the
    fallback kept free for an offline member.  ``reason`` says why ``current_a`` is below
    ``demand_a`` (None when it is not); ``limited_by`` names the full conductor, if that was it.
    """

    station_id: str
    current_a: int
    demand_a: int
    reserved_a: int = 0
    reason: Reason | None = None
    limited_by: Conductor | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    """Every station's limit plus per-conductor totals (all in whole amps)."""

    policy: Policy
    wiring: SiteWiring
    stations: tuple[StationAllocation, ...]  # in input order
    granted_a: Mapping[Conductor, int]  # sum of current_a of the stations on each conductor
    reserved_a: Mapping[Conductor, int]  # fallback reserved for offline members
    budget_a: Mapping[Conductor, int]  # what was left to share: floor(limit - reserved), >= 0
    warnings: tuple[str, ...] = ()
    _by_id: Mapping[str, StationAllocation] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.station_id: s for s in self.stations})

    def __iter__(self) -> Iterator[StationAllocation]:
        return iter(self.stations)

    def __getitem__(self, station_id: str) -> StationAllocation:
        try:
            return self._by_id[station_id]
        except KeyError:
            raise KeyError(f"no station {station_id!r} in this allocation") from None

    @property
    def load_a(self) -> dict[Conductor, int]:
        """Granted plus reserved amps on each conductor: what the grid limit must cover."""
        return {c: self.granted_a[c] + self.reserved_a[c] for c in self.granted_a}

    def currents(self) -> dict[str, int]:
        return {s.station_id: s.current_a for s in self.stations}


# --- the engine -------------------------------------------------------------------------------

_ACTIVE, _DONE, _SUSPENDED = 0, 1, 2


class _Claim:
    """A station that wants current, with the mutable state the algorithms work on."""

    __slots__ = ("index", "station", "legs", "weight", "cap", "order", "share", "amps", "state",
                 "limited_by")

    def __init__(self, index: int, station: Station, legs: tuple[int, int], cap: int,
                 rank: int) -> None:
        self.index = index
        self.station = station
        self.legs = legs
        self.weight = station.max_current_a
        self.cap = cap
        self.order = rank  # 0 = earliest arrival
        self.share = 0.0
        self.amps = 0
        self.state = _ACTIVE
        self.limited_by: int | None = None


def allocate(site: Site, stations: Sequence[Station]) -> Allocation:
    """Each station's allowed current under ``site.policy`` (see the module docstring).

    Raises :class:`LoadManagementError` (or its subclasses) for bad input: duplicate ids, a
    group larger than ``site.max_group_size``, a wire type the site cannot feed.
    """
    if not isinstance(site, Site):
        raise LoadManagementError(f"site: expected a Site, got {type(site).__name__}")
    if len(stations) > site.max_group_size:
        raise GroupSizeError(
            f"group has {len(stations)} stations; max_group_size is {site.max_group_size}"
        )
    conductors = site.wiring.conductors
    leg_index = {c: i for i, c in enumerate(conductors)}
    legs_of = {
        wire: (leg_index[wire.conductors[0]], leg_index[wire.conductors[1]])
        for wire in allowed_wire_types(site.wiring, site.high_leg)
    }
    n_legs = len(conductors)
    reserved = [0] * n_legs
    seen: set[str] = set()
    results: list[StationAllocation | None] = [None] * len(stations)
    wanting: list[tuple[float, str, int, int]] = []  # (arrival, id, index, demand)
    for index, station in enumerate(stations):
        if not isinstance(station, Station):
            raise LoadManagementError(
                f"stations[{index}]: expected a Station, got {type(station).__name__}"
            )
        if station.station_id in seen:
            raise LoadManagementError(f"station_id: {station.station_id!r} appears twice")
        seen.add(station.station_id)
        legs = legs_of.get(station.wire_type)
        if legs is None:
            check_wire_type(site.wiring, site.high_leg, station.wire_type, station.station_id)
            raise WiringError(  # unreachable unless the two wiring tables disagree
                f"station {station.station_id!r}: wire_type {station.wire_type.value!r} "
                f"cannot be used on a {site.wiring.value} site"
            )
        if not station.online:
            held = min(site.fallback_current_a, station.max_current_a)
            reserved[legs[0]] += held
            reserved[legs[1]] += held
            results[index] = StationAllocation(
                station.station_id, 0, 0, held, Reason.OFFLINE_RESERVED if held else None
            )
            continue
        demand = station.demand_a
        if demand == 0:
            results[index] = StationAllocation(station.station_id, 0, 0)
        elif demand < MIN_CHARGING_CURRENT_A:
            results[index] = StationAllocation(
                station.station_id, 0, demand, reason=Reason.REQUEST_BELOW_MINIMUM
            )
        else:
            assert station.arrival is not None  # Station guarantees it with a vehicle present
            wanting.append((station.arrival, station.station_id, index, demand))

    warnings: list[str] = []
    budget = [0] * n_legs
    for i, c in enumerate(conductors):
        left = site.grid_limit_a - reserved[i]
        if left < -_EPS:
            warnings.append(
                f"{c.value}: {reserved[i]} A reserved for offline members exceeds the grid "
                f"limit of {site.grid_limit_a:g} A; nothing is shared on this conductor"
            )
        budget[i] = max(0, math.floor(left + _EPS))

    wanting.sort()
    claims: list[_Claim] = []
    for rank, (_, _, index, demand) in enumerate(wanting):
        station = stations[index]
        claims.append(_Claim(index, station, legs_of[station.wire_type], demand, rank))

    if site.policy is Policy.UNIFORM_DISTRIBUTION:
        _share_uniformly(claims, budget, n_legs)
        missing_reason = Reason.GRID_SHARED_UD
        zero_reason = Reason.BELOW_MINIMUM
    else:
        _serve_in_arrival_order(claims, budget)
        missing_reason = Reason.FIFS_REMAINDER
        zero_reason = Reason.FIFS_WAITING

    granted = [0] * n_legs
    for claim in claims:
        for leg in claim.legs:
            granted[leg] += claim.amps
        if claim.amps >= claim.cap:
            reason = None
            limited = None
        else:
            reason = missing_reason if claim.amps else zero_reason
            limited = None if claim.limited_by is None else conductors[claim.limited_by]
        results[claim.index] = StationAllocation(
            claim.station.station_id, claim.amps, claim.cap, 0, reason, limited
        )
    for i, c in enumerate(conductors):
        # The safety net for a breaker: never hand out more than a conductor may carry.
        if granted[i] > budget[i]:
            raise RuntimeError(
                f"allocation bug: {granted[i]} A granted on {c.value}, only {budget[i]} A free"
            )

    final = tuple(r for r in results if r is not None)
    return Allocation(
        policy=site.policy,
        wiring=site.wiring,
        stations=final,
        granted_a={c: granted[i] for i, c in enumerate(conductors)},
        reserved_a={c: reserved[i] for i, c in enumerate(conductors)},
        budget_a={c: budget[i] for i, c in enumerate(conductors)},
        warnings=tuple(warnings),
    )


def _serve_in_arrival_order(claims: list[_Claim], budget: list[int]) -> None:
    """FIFS: in arrival order each takes what its legs have left, up to its demand."""
    free = list(budget)
    for claim in claims:  # already in arrival order
        a, b = claim.legs
        tightest = a if free[a] <= free[b] else b
        amps = min(claim.cap, free[tightest])
        if amps < claim.cap:
            claim.limited_by = tightest
        if amps < MIN_CHARGING_CURRENT_A:
            amps = 0
        claim.amps = amps
        free[a] -= amps
        free[b] -= amps


def _share_uniformly(claims: list[_Claim], budget: list[int], n_legs: int) -> None:
    """UD: weighted water-filling per conductor, then whole amps.

    A common level ``t`` rises from 0; an active station holds ``weight * t`` amps.  It leaves
    the race when it reaches its demand (cap event) or when one of its conductors fills up
    (saturation event: every active station on that conductor stops at ``weight * t``).  If a
    saturation would leave someone under 6 A, the latest arrival among those is suspended
    instead and the level is recomputed, so the freed current goes to the others.  At most
    three conductors, so each event costs O(1) apart from bookkeeping: O(n log n) overall.
    """
    if not claims:
        return
    fixed = [0.0] * n_legs  # amps held by stations that left the race
    slope = [0] * n_legs  # sum of weights of active stations on each conductor
    on_leg: list[list[int]] = [[] for _ in range(n_legs)]  # claim positions = arrival ranks
    for pos, claim in enumerate(claims):
        for leg in claim.legs:
            slope[leg] += claim.weight
            on_leg[leg].append(pos)
    # Suspension candidates per conductor, latest arrival first.  The level only rises, so a
    # station whose share is >= 6 A at some level stays so and can be dropped for good.
    latest_first = [[-pos for pos in reversed(members)] for members in on_leg]
    cap_order = sorted(range(len(claims)), key=lambda p: claims[p].cap / claims[p].weight)
    next_cap = 0
    remaining = len(claims)
    level = 0.0

    def leave(claim: _Claim, share: float | None, leg: int | None) -> None:
        nonlocal remaining
        remaining -= 1
        claim.limited_by = leg
        if share is None:
            claim.state = _SUSPENDED
            for own_leg in claim.legs:
                slope[own_leg] -= claim.weight
        else:
            claim.state = _DONE
            claim.share = share
            for own_leg in claim.legs:
                slope[own_leg] -= claim.weight
                fixed[own_leg] += share

    def victim(leg: int, at_level: float) -> _Claim | None:
        """The latest arrival on ``leg`` whose share at ``at_level`` would be under 6 A."""
        heap = latest_first[leg]
        threshold = MIN_CHARGING_CURRENT_A - _EPS
        while heap:
            claim = claims[-heap[0]]
            if claim.state == _ACTIVE and claim.weight * at_level < threshold:
                return claim
            heapq.heappop(heap)
        return None

    while remaining:
        while claims[cap_order[next_cap]].state != _ACTIVE:
            next_cap += 1
        capped = claims[cap_order[next_cap]]
        cap_level = capped.cap / capped.weight
        full_leg = -1
        full_level = math.inf
        for leg in range(n_legs):
            if slope[leg] > 0:
                t = (budget[leg] - fixed[leg]) / slope[leg]
                if t < full_level:
                    full_leg, full_level = leg, t
        if full_level < level:
            full_level = level
        if cap_level <= full_level:
            if cap_level > level:
                level = cap_level
            leave(capped, float(capped.cap), None)
            continue
        suspend = victim(full_leg, full_level)
        if suspend is not None:
            leave(suspend, None, full_leg)
            continue
        level = full_level
        for pos in on_leg[full_leg]:
            claim = claims[pos]
            if claim.state == _ACTIVE:
                leave(claim, claim.weight * level, full_leg)

    _round_to_whole_amps(claims, budget)


def _round_to_whole_amps(claims: list[_Claim], budget: list[int]) -> None:
    """Round shares down, then hand the amps lost to rounding back out.

    Rounds of one amp each, largest fraction first (ties: earlier arrival), to stations below
    their demand while both their legs have an amp free; a station that cannot take one drops
    out, so the rounds cost O(n) in all.  Then a suspended station gets back in if both its legs
    now have 6 A free (possible only when rounding freed them).  Afterwards every charging
    station below its demand has a leg with less than 1 A free, every suspended one a leg with
    less than 6 A free.
    """
    free = list(budget)
    charging: list[_Claim] = []
    for claim in claims:
        if claim.state == _SUSPENDED:
            continue
        claim.amps = math.floor(claim.share + _EPS)
        for leg in claim.legs:
            free[leg] -= claim.amps
        charging.append(claim)
    charging.sort(key=lambda c: (-(c.share - c.amps), c.order))
    _hand_out_spare_amps(charging, free)
    readmitted: list[_Claim] = []
    for claim in claims:  # arrival order
        if claim.state != _SUSPENDED:
            continue
        a, b = claim.legs
        room = min(free[a], free[b], claim.cap)
        if room >= MIN_CHARGING_CURRENT_A:
            claim.amps = room
            claim.state = _DONE
            free[a] -= room
            free[b] -= room
            readmitted.append(claim)
    if readmitted:
        _hand_out_spare_amps(charging + readmitted, free)
    for claim in claims:
        if 0 < claim.amps < claim.cap:
            a, b = claim.legs
            claim.limited_by = a if free[a] <= free[b] else b


def _hand_out_spare_amps(ordered: list[_Claim], free: list[int]) -> None:
    """One amp per station per round, in ``ordered`` order, until no one can take another."""
    eligible = ordered
    while eligible:
        still: list[_Claim] = []
        for claim in eligible:
            a, b = claim.legs
            if claim.amps < claim.cap and free[a] >= 1 and free[b] >= 1:
                claim.amps += 1
                free[a] -= 1
                free[b] -= 1
                still.append(claim)
        eligible = still
