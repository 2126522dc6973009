"""Acceptance tests for the LLM allocation engine: SPEC §LLM worked examples, step by step,
plus the phase model, the 6 A rule, offline reservations, group size and bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.loadmgmt.allocation import (
    Allocation,
    Policy,
    Reason,
    Site,
    Station,
    allocate,
)
from controller.loadmgmt.errors import GroupSizeError, LoadManagementError, WiringError
from controller.loadmgmt.wiring import Conductor, SiteWiring, WireType

L1, L2, L3 = Conductor.L1, Conductor.L2, Conductor.L3
SPLIT, WYE, DELTA = SiteWiring.SPLIT_PHASE_240, SiteWiring.WYE_208, SiteWiring.DELTA_240
UD, FIFS = Policy.UNIFORM_DISTRIBUTION, Policy.FIRST_IN_FIRST_SERVE


class Group:
    """A gateway's view of its group that changes one event at a time (plug-in, leave, ...)."""

    def __init__(self, site: Site, stations: list[Station]) -> None:
        self.site = site
        self.stations = {s.station_id: s for s in stations}
        self._next_arrival = 0

    def plug_in(self, station_id: str, requested: float | None = None) -> Allocation:
        self._next_arrival += 1
        self._set(station_id, vehicle_present=True, arrival=self._next_arrival,
                  requested_current_a=requested)
        return self.allocate()

    def leave(self, station_id: str) -> Allocation:
        self._set(station_id, vehicle_present=False, arrival=None)
        return self.allocate()

    def go_offline(self, station_id: str) -> Allocation:
        self._set(station_id, online=False)
        return self.allocate()

    def allocate(self) -> Allocation:
        return allocate(self.site, list(self.stations.values()))

    def _set(self, station_id: str, **changes: object) -> None:
        self.stations[station_id] = replace(self.stations[station_id], **changes)  # type: ignore[arg-type]


def split_phase_group(policy: str, grid: float, maxes: list[int], offline: int = 0) -> Group:
    """SPEC examples: fallback 10 A, the last ``offline`` stations are offline."""
    site = Site(grid, SiteWiring.SPLIT_PHASE_240, Policy(policy), fallback_current_a=10)
    stations = [
        Station(f"s{i + 1}", m, online=i < len(maxes) - offline) for i, m in enumerate(maxes)
    ]
    return Group(site, stations)


def currents(allocation: Allocation, *ids: str) -> list[int]:
    return [allocation[i].current_a for i in ids]


# --- SPEC §LLM worked examples ----------------------------------------------------------------


def test_spec_ud_1() -> None:
    group = split_phase_group("UD", 60, [32, 32, 32])
    assert currents(group.plug_in("s1"), "s1", "s2", "s3") == [32, 0, 0]
    assert currents(group.plug_in("s2"), "s1", "s2", "s3") == [30, 30, 0]
    result = group.plug_in("s3")
    assert currents(result, "s1", "s2", "s3") == [20, 20, 20]
    assert result["s1"].reason is Reason.GRID_SHARED_UD
    assert result.load_a == {L1: 60, L2: 60}


def test_spec_ud_2_shares_in_proportion_to_own_max() -> None:
    group = split_phase_group("UD", 60, [32, 32, 16])
    assert currents(group.plug_in("s1"), "s1", "s2", "s3") == [32, 0, 0]
    assert currents(group.plug_in("s2"), "s1", "s2", "s3") == [30, 30, 0]
    assert currents(group.plug_in("s3"), "s1", "s2", "s3") == [24, 24, 12]


def test_spec_ud_3_reserves_fallback_for_offline_members() -> None:
    group = split_phase_group("UD", 80, [32] * 5, offline=2)
    idle = group.allocate()
    assert idle.reserved_a == {L1: 20, L2: 20}
    assert idle.budget_a == {L1: 60, L2: 60}
    assert idle["s4"].reserved_a == 10 and idle["s4"].reason is Reason.OFFLINE_RESERVED
    assert currents(group.plug_in("s1"), "s1", "s2", "s3") == [32, 0, 0]
    assert currents(group.plug_in("s2"), "s1", "s2", "s3") == [30, 30, 0]
    result = group.plug_in("s3")
    assert currents(result, "s1", "s2", "s3", "s4", "s5") == [20, 20, 20, 0, 0]
    assert result.load_a == {L1: 80, L2: 80}


def test_spec_fifs_a_queue_moves_up_when_first_leaves() -> None:
    group = split_phase_group("FIFS", 60, [32, 32, 32])
    assert currents(group.plug_in("s1"), "s1", "s2", "s3") == [32, 0, 0]
    second = group.plug_in("s2")
    assert currents(second, "s1", "s2") == [32, 28]
    assert second["s2"].reason is Reason.FIFS_REMAINDER
    third = group.plug_in("s3")
    assert currents(third, "s1", "s2", "s3") == [32, 28, 0]
    assert third["s3"].reason is Reason.FIFS_WAITING
    after = group.leave("s1")
    assert currents(after, "s1", "s2", "s3") == [0, 32, 28]
    assert after["s1"].reason is None and after["s2"].reason is None


def test_spec_fifs_b_with_offline_members() -> None:
    group = split_phase_group("FIFS", 100, [32] * 5, offline=2)
    assert group.allocate().reserved_a == {L1: 20, L2: 20}
    assert currents(group.plug_in("s1"), "s1") == [32]
    assert currents(group.plug_in("s2"), "s1", "s2") == [32, 32]
    assert currents(group.plug_in("s3"), "s1", "s2", "s3") == [32, 32, 16]


# --- requested current below own max ----------------------------------------------------------


def test_ud_redistributes_what_a_low_request_leaves() -> None:
    group = split_phase_group("UD", 60, [32, 32, 32])
    group.plug_in("s1", requested=10)
    group.plug_in("s2")
    result = group.plug_in("s3")
    assert currents(result, "s1", "s2", "s3") == [10, 25, 25]
    assert result["s1"].reason is None and result["s1"].demand_a == 10


def test_fifs_low_request_leaves_more_for_the_next() -> None:
    group = split_phase_group("FIFS", 60, [32, 32, 32])
    group.plug_in("s1", requested=16)
    group.plug_in("s2")
    assert currents(group.plug_in("s3"), "s1", "s2", "s3") == [16, 32, 12]


def test_fractional_request_and_limit_round_down() -> None:
    group = split_phase_group("UD", 60.9, [32, 32])
    group.plug_in("s1", requested=12.7)
    result = group.plug_in("s2")
    assert result.budget_a == {L1: 60, L2: 60}
    assert currents(result, "s1", "s2") == [12, 32]


def test_whole_amps_lost_to_rounding_are_handed_out() -> None:
    group = split_phase_group("UD", 61, [32, 32, 32])
    for sid in ("s1", "s2", "s3"):
        result = group.plug_in(sid)
    assert currents(result, "s1", "s2", "s3") == [21, 20, 20]  # earliest arrival gets the spare


# --- phase model --------------------------------------------------------------------------------


def wye_station(sid: str, max_a: int, wire: str, arrival: int,
                requested: float | None = None) -> Station:
    return Station(sid, max_a, WireType(wire), vehicle_present=True, arrival=arrival,
                   requested_current_a=requested)


def test_wye_mixed_wire_types_water_fill_per_conductor() -> None:
    # L1 carries A+C and fills first (t = 40/80): A = 16, C = 24.  Then L3 has 16 A left for B,
    # which is also exactly B's own max.
    site = Site(40, WYE)
    result = allocate(site, [
        wye_station("A", 32, "L1-L2", 1),
        wye_station("B", 16, "L2-L3", 2),
        wye_station("C", 48, "L1-L3", 3),
    ])
    assert currents(result, "A", "B", "C") == [16, 16, 24]
    assert result.granted_a == {L1: 40, L2: 32, L3: 40}
    assert result["A"].limited_by is L1 and result["A"].reason is Reason.GRID_SHARED_UD
    assert result["B"].reason is None


def test_wye_one_station_per_leg_pair_splits_each_conductor() -> None:
    site = Site(40, WYE)
    result = allocate(site, [
        wye_station("A", 32, "L1-L2", 1),
        wye_station("B", 32, "L2-L3", 2),
        wye_station("C", 32, "L1-L3", 3),
    ])
    assert currents(result, "A", "B", "C") == [20, 20, 20]
    assert result.granted_a == {L1: 40, L2: 40, L3: 40}


def test_wye_capped_station_frees_its_conductor_for_others() -> None:
    site = Site(40, WYE)
    result = allocate(site, [
        wye_station("A", 32, "L1-L2", 1),
        wye_station("B", 32, "L1-L2", 2),
        wye_station("C", 32, "L2-L3", 3, requested=10),
    ])
    assert currents(result, "A", "B", "C") == [15, 15, 10]
    assert result.granted_a == {L1: 30, L2: 40, L3: 10}


def test_wye_fifs_cascades_across_wire_types() -> None:
    site = Site(48, WYE, FIFS)
    result = allocate(site, [
        wye_station("A", 32, "L1-L2", 1),
        wye_station("B", 32, "L2-L3", 2),
        wye_station("C", 32, "L1-L3", 3),
        wye_station("D", 32, "L1-L2", 4),
    ])
    assert currents(result, "A", "B", "C", "D") == [32, 16, 16, 0]
    assert result["B"].limited_by is L2
    assert result["D"].reason is Reason.FIFS_WAITING
    assert result.granted_a == {L1: 48, L2: 48, L3: 32}


def test_wye_grid_limit_holds_per_conductor_not_only_in_total() -> None:
    # Total demand 96 A is far below 3 x 40, but all three sit on L2.
    site = Site(40, WYE)
    result = allocate(site, [
        wye_station("A", 32, "L1-L2", 1),
        wye_station("B", 32, "L2-L3", 2),
        wye_station("C", 32, "L1-L2", 3),
    ])
    assert result.granted_a[L2] <= 40
    assert sorted(currents(result, "A", "B", "C")) == [13, 13, 14]


def test_delta_high_leg_is_rejected() -> None:
    site = Site(60, DELTA)
    assert site.high_leg is L2
    for wire in ("L1-L2", "L2-L3"):
        with pytest.raises(WiringError, match=r"station 'hl'.*high leg L2"):
            allocate(site, [Station("hl", 32, WireType(wire))])
    ok = allocate(site, [wye_station("a", 32, "L1-L3", 1), wye_station("b", 32, "L1-L3", 2)])
    assert currents(ok, "a", "b") == [30, 30]
    assert ok.granted_a == {L1: 60, L2: 0, L3: 60}


def test_delta_high_leg_can_be_configured() -> None:
    site = Site(60, DELTA, high_leg=L3)
    allocate(site, [Station("a", 32, WireType.L1_L2)])
    with pytest.raises(WiringError, match="high leg L3"):
        allocate(site, [Station("b", 32, WireType.L1_L3)])


def test_wiring_mismatches_are_errors() -> None:
    with pytest.raises(LoadManagementError, match="high_leg"):
        Site(60, WYE, high_leg=L2)
    with pytest.raises(WiringError, match="split-phase"):
        allocate(Site(60, SPLIT), [Station("x", 32, WireType.L2_L3)])


# --- the 6 A rule ------------------------------------------------------------------------------


def test_share_below_6a_suspends_the_latest_arrival() -> None:
    group = split_phase_group("UD", 17, [32, 32, 32])
    group.plug_in("s1")
    group.plug_in("s2")
    result = group.plug_in("s3")  # 17 / 3 = 5.67 A each: too little for three
    assert currents(result, "s1", "s2", "s3") == [9, 8, 0]
    assert result["s3"].reason is Reason.BELOW_MINIMUM


def test_suspension_stops_as_soon_as_the_rest_reach_6a() -> None:
    # weights 48/12/12 share 30 A: 20, 5, 5 -> suspend the last 12 A one -> 24, 6.
    group = split_phase_group("UD", 30, [48, 12, 12])
    for sid in ("s1", "s2", "s3"):
        result = group.plug_in(sid)
    assert currents(result, "s1", "s2", "s3") == [24, 6, 0]


def test_suspension_repeats_until_stable() -> None:
    # 48/12/12 share 20 A: 13.3, 3.3, 3.3 -> 16, 4 -> 20 alone.
    group = split_phase_group("UD", 20, [48, 12, 12])
    for sid in ("s1", "s2", "s3"):
        result = group.plug_in(sid)
    assert currents(result, "s1", "s2", "s3") == [20, 0, 0]


def test_never_offers_1_to_5_amps() -> None:
    group = split_phase_group("UD", 11, [32, 32])
    group.plug_in("s1")
    assert currents(group.plug_in("s2"), "s1", "s2") == [11, 0]
    fifs = split_phase_group("FIFS", 37, [32, 32])
    fifs.plug_in("s1")
    result = fifs.plug_in("s2")
    assert currents(result, "s1", "s2") == [32, 0]
    assert result["s2"].reason is Reason.FIFS_WAITING


def test_request_below_6a_gets_nothing() -> None:
    group = split_phase_group("UD", 60, [32, 32])
    result = group.plug_in("s1", requested=5)
    assert result["s1"].current_a == 0 and result["s1"].reason is Reason.REQUEST_BELOW_MINIMUM


def test_no_current_at_all_suspends_everyone() -> None:
    group = split_phase_group("UD", 20, [32, 32, 32], offline=2)
    result = group.plug_in("s1")
    assert result["s1"].current_a == 0 and result["s1"].reason is Reason.BELOW_MINIMUM


# --- offline reservation -----------------------------------------------------------------------


def test_reservation_is_capped_at_the_members_own_max() -> None:
    site = Site(60, SPLIT, fallback_current_a=16)
    result = allocate(site, [Station("small", 12, online=False), Station("big", 32, online=False)])
    assert result["small"].reserved_a == 12 and result["big"].reserved_a == 16
    assert result.reserved_a == {L1: 28, L2: 28}


def test_reservation_loads_only_the_offline_members_legs() -> None:
    site = Site(40, WYE, fallback_current_a=10)
    result = allocate(site, [
        Station("off", 32, WireType.L2_L3, online=False),
        wye_station("A", 32, "L1-L2", 1),
        wye_station("B", 32, "L1-L3", 2),
    ])
    assert result.reserved_a == {L1: 0, L2: 10, L3: 10}
    assert currents(result, "A", "B") == [20, 20]
    assert result.load_a == {L1: 40, L2: 30, L3: 30}


def test_reservations_above_the_limit_warn_and_share_nothing() -> None:
    site = Site(15, SPLIT, fallback_current_a=10)
    result = allocate(site, [
        Station("off1", 32, online=False),
        Station("off2", 32, online=False),
        Station("on", 32, vehicle_present=True, arrival=1),
    ])
    assert result["on"].current_a == 0
    assert result.budget_a == {L1: 0, L2: 0}
    assert any("exceeds the grid limit" in w for w in result.warnings)


# --- group size and bad input ------------------------------------------------------------------


def test_group_size_default_20_and_configurable() -> None:
    stations = [Station(f"s{i}", 32) for i in range(21)]
    with pytest.raises(GroupSizeError, match="21 stations; max_group_size is 20"):
        allocate(Site(60, SPLIT), stations)
    result = allocate(Site(60, SPLIT, max_group_size=30), stations)
    assert len(result.stations) == 21


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Site(-1, SPLIT), "grid_limit_a"),
        (lambda: Site(float("nan"), SPLIT), "grid_limit_a"),
        (lambda: Site(60, "star"), "wiring: 'star'"),  # type: ignore[arg-type]
        (lambda: Site(60, WYE, "LIFO"), "policy: 'LIFO'"),  # type: ignore[arg-type]
        (lambda: Site(60, WYE, fallback_current_a=-3), "fallback_current_a"),
        (lambda: Site(60, WYE, max_group_size=0), "max_group_size"),
        (lambda: Station("", 32), "station_id"),
        (lambda: Station("a", 32.5), "max_current_a"),  # type: ignore[arg-type]
        (lambda: Station("a", 120), "max_current_a"),
        (lambda: Station("a", 32, "L1-L4"), "wire_type: 'L1-L4'"),  # type: ignore[arg-type]
        (lambda: Station("a", 32, vehicle_present=True), "arrival is required"),
        (lambda: Station("a", 32, online="yes"), "online"),  # type: ignore[arg-type]
        (lambda: Station("a", 32, requested_current_a=-1), "requested_current_a"),
    ],
)
def test_bad_input_names_the_field(build: object, message: str) -> None:
    with pytest.raises(LoadManagementError, match=message):
        build()  # type: ignore[operator]


def test_duplicate_station_ids_are_refused() -> None:
    with pytest.raises(LoadManagementError, match="'a' appears twice"):
        allocate(Site(60, SPLIT), [Station("a", 32), Station("a", 16)])


def test_strings_are_accepted_for_enums() -> None:
    site = Site(60, "split_phase_240", "FIFS")  # type: ignore[arg-type]
    assert site.policy is Policy.FIRST_IN_FIRST_SERVE
    station = Station("a", 32, "L1-L2")  # type: ignore[arg-type]
    assert station.wire_type is WireType.L1_L2


def test_arrival_ties_break_by_station_id() -> None:
    site = Site(40, SPLIT, FIFS)
    result = allocate(site, [
        Station("b", 32, vehicle_present=True, arrival=5),
        Station("a", 32, vehicle_present=True, arrival=5),
    ])
    assert currents(result, "a", "b") == [32, 8]


def test_unknown_station_lookup_is_a_clear_key_error() -> None:
    result = allocate(Site(60, SPLIT), [])
    with pytest.raises(KeyError, match="no station 'zz'"):
        result["zz"]
    assert result.currents() == {}


def test_suspended_station_gets_back_in_when_rounding_frees_6a() -> None:
    # Found by a random search.  L2 fills first (t = 76/148): s3, s2, s5, s6 stop at 25.7, 25.7,
    # 16.4, 8.2 A.  L3 would then fill at t = 0.988, where s1 (own max 6) would get 5.93 A, so
    # s1 is suspended and s0/s4 reach their 10 A.  Rounding down leaves 7 A on L3; s2 takes one
    # back (L2 is then full for the rest), and the 6 A still free on L3 (30 on L1) let s1 in.
    site = Site(76, WYE)
    result = allocate(site, [
        wye_station("s0", 10, "L1-L3", 0, requested=22),
        wye_station("s1", 6, "L1-L3", 1),
        wye_station("s2", 50, "L2-L3", 2, requested=36),
        wye_station("s3", 50, "L1-L2", 3),
        wye_station("s4", 10, "L1-L3", 4),
        wye_station("s5", 32, "L2-L3", 5),
        wye_station("s6", 16, "L2-L3", 6, requested=12),
    ])
    assert result.currents() == {
        "s0": 10, "s1": 6, "s2": 26, "s3": 26, "s4": 10, "s5": 16, "s6": 8,
    }
    assert result.granted_a == {L1: 52, L2: 76, L3: 76}
    assert result["s1"].reason is None
