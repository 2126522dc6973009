"""Departure-time planner: cheapest slots, ties to the latest, margins, caps, infeasible goals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.scheduling.planner import (
    ChargingGoal,
    ChargingPlan,
    PlanningError,
    PlanningSlot,
    SafetyMargin,
    asap_plan,
    plan_charging,
    plan_for_tariff,
    planning_slots,
    power_cap_w,
)
from controller.scheduling.tariff import (
    DynamicTariff,
    PriceGapError,
    PriceInterval,
    Season,
    SlotPrice,
    TimeOfUseTariff,
    TouPeriod,
)
from controller.scheduling.windows import charging_windows

T0 = datetime(2024, 7, 8, 18, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hourly(prices: list[float | None], caps: float | list[float] = 7000.0) -> list[PlanningSlot]:
    cap_list = caps if isinstance(caps, list) else [caps] * len(prices)
    return [
        PlanningSlot(T0 + i * HOUR, T0 + (i + 1) * HOUR, cap_list[i], p)
        for i, p in enumerate(prices)
    ]


def energy_by_hour(plan: ChargingPlan, hours: int) -> list[float]:
    out = [0.0] * hours
    for s in plan.slots:
        out[int((s.start - T0) / HOUR)] += s.energy_wh
    return [round(e, 6) for e in out]


# --------------------------------------------------------------------------- choice of slots


def test_picks_the_cheapest_slots_and_fills_the_last_partly() -> None:
    goal = ChargingGoal(T0 + 4 * HOUR, 10_000)
    plan = plan_charging(goal, T0, hourly([0.30, 0.10, 0.20, 0.40]))
    assert plan.feasible and plan.strategy == "cheapest"
    assert energy_by_hour(plan, 4) == [0, 7000, 3000, 0]
    assert plan.cost == pytest.approx(7 * 0.10 + 3 * 0.20)
    # the partial slot charges from its start at full power: 3 kWh at 7 kW
    assert plan.expected_finish == T0 + 2 * HOUR + timedelta(hours=3 / 7)


def test_equal_prices_go_to_the_latest_slots() -> None:
    goal = ChargingGoal(T0 + 6 * HOUR, 10_000)
    plan = plan_charging(goal, T0, hourly([0.2] * 6))
    assert energy_by_hour(plan, 6) == [0, 0, 0, 0, 3000, 7000]


def test_ties_among_cheapest_only_after_cheaper_ones() -> None:
    goal = ChargingGoal(T0 + 6 * HOUR, 17_000)
    plan = plan_charging(goal, T0, hourly([0.2, 0.1, 0.2, 0.3, 0.2, 0.3]))
    assert energy_by_hour(plan, 6) == [0, 7000, 3000, 0, 7000, 0]


def test_negative_prices_are_used_first_but_never_beyond_the_goal() -> None:
    goal = ChargingGoal(T0 + 4 * HOUR, 5_000)
    plan = plan_charging(goal, T0, hourly([0.1, -0.05, -0.02, 0.3]))
    assert energy_by_hour(plan, 4) == [0, 5000, 0, 0]
    assert plan.cost == pytest.approx(-0.25)


def test_per_slot_caps_are_respected_and_zero_cap_slots_skipped() -> None:
    goal = ChargingGoal(T0 + 4 * HOUR, 12_000)
    # the cheapest hour is outside the hours of operation (cap 0)
    plan = plan_charging(
        goal, T0, hourly([0.2, 0.01, 0.1, 0.15], caps=[7000.0, 0.0, 4000.0, 11_500.0])
    )
    assert energy_by_hour(plan, 4) == [0, 0, 4000, 8000]
    for s in plan.slots:
        assert s.energy_wh <= s.power_w * (s.end - s.start).total_seconds() / 3600 + 1e-9


def test_now_inside_a_slot_clips_it() -> None:
    goal = ChargingGoal(T0 + 2 * HOUR, 7_000)
    now = T0 + timedelta(minutes=30)
    plan = plan_charging(goal, now, hourly([0.1, 0.2]))
    assert plan.slots[0].start == now
    assert plan.slots[0].energy_wh == pytest.approx(3500)
    assert plan.slots[1].energy_wh == pytest.approx(3500)


def test_nothing_needed_gives_an_empty_plan() -> None:
    plan = plan_charging(ChargingGoal(T0 + HOUR, 0), T0, hourly([0.1]))
    assert plan.feasible and plan.slots == () and plan.cost == 0
    assert plan.earliest_completion == T0 and plan.expected_finish is None


def test_slots_in_a_local_zone_are_handled_in_real_time_across_dst() -> None:
    la = ZoneInfo("America/Los_Angeles")
    # fall-back night: 01:00 local happens twice; these two slots are one real hour each
    first = datetime(2024, 11, 3, 1, 0, tzinfo=la)
    second = datetime(2024, 11, 3, 1, 0, tzinfo=la, fold=1)
    after = datetime(2024, 11, 3, 2, 0, tzinfo=la)
    slots = [
        PlanningSlot(first, second, 7000, 0.3),
        PlanningSlot(second, after, 7000, 0.1),
    ]
    plan = plan_charging(ChargingGoal(after, 10_000), first, slots)
    assert plan.feasible
    assert [round(s.energy_wh) for s in plan.slots] == [3000, 7000]


# --------------------------------------------------------------------------- margins


def test_time_margin_keeps_the_last_slots_free() -> None:
    goal = ChargingGoal(T0 + 4 * HOUR, 7_000)
    margin = SafetyMargin(finish_before=timedelta(hours=1))
    plan = plan_charging(goal, T0, hourly([0.3, 0.2, 0.25, 0.01]), margin)
    assert plan.deadline == T0 + 3 * HOUR
    assert energy_by_hour(plan, 4) == [0, 7000, 0, 0]
    assert plan.expected_finish is not None and plan.expected_finish <= plan.deadline


def test_energy_margin_plans_more_energy() -> None:
    goal = ChargingGoal(T0 + 4 * HOUR, 10_000)
    plan = plan_charging(
        goal, T0, hourly([0.3, 0.1, 0.2, 0.4]), SafetyMargin(extra_energy_fraction=0.1)
    )
    assert plan.target_energy_wh == pytest.approx(11_000)
    assert plan.energy_wh == pytest.approx(11_000)


def test_margin_that_cannot_be_kept_makes_the_goal_infeasible() -> None:
    goal = ChargingGoal(T0 + 2 * HOUR, 10_000)
    margin = SafetyMargin(finish_before=timedelta(hours=1))
    plan = plan_charging(goal, T0, hourly([0.3, 0.1, 0.1]), margin)
    assert not plan.feasible
    assert plan.deliverable_by_deadline_wh == pytest.approx(7000)
    assert plan.deliverable_by_departure_wh == pytest.approx(14_000)
    assert plan.shortfall_wh == pytest.approx(3000)
    # flat out from now: the goal itself is still met before the departure
    assert plan.strategy == "asap"
    assert energy_by_hour(plan, 3) == [7000, 3000, 0]


# --------------------------------------------------------------------------- infeasible goals


def test_infeasible_goal_reports_shortfall_and_earliest_completion() -> None:
    goal = ChargingGoal(T0 + 4 * HOUR, 50_000)
    # slots run past the departure (unpriced) so the earliest completion can be found
    slots = hourly([0.3, 0.1, 0.2, 0.4, None, None, None, None, None])
    plan = plan_charging(goal, T0, slots)
    assert not plan.feasible and plan.strategy == "asap"
    assert plan.deliverable_by_departure_wh == pytest.approx(28_000)
    assert plan.shortfall_wh == pytest.approx(22_000)
    assert plan.energy_wh == pytest.approx(28_000)  # everything possible, from now
    assert plan.earliest_completion == T0 + timedelta(hours=50 / 7)
    assert "infeasible" in plan.verdict and "28.00 kWh" in plan.verdict


def test_infeasible_goal_beyond_the_given_slots_has_no_earliest_completion() -> None:
    plan = plan_charging(ChargingGoal(T0 + 2 * HOUR, 50_000), T0, hourly([0.3, 0.1]))
    assert not plan.feasible and plan.earliest_completion is None
    assert "not within the planning horizon" in plan.verdict


def test_departure_already_passed_or_margin_eating_all_time() -> None:
    with pytest.raises(PlanningError, match="departure .* is not after now"):
        plan_charging(ChargingGoal(T0, 1000), T0, hourly([0.1]))
    plan = plan_charging(
        ChargingGoal(T0 + HOUR, 1000), T0, hourly([0.1]), SafetyMargin(finish_before=2 * HOUR)
    )
    assert not plan.feasible and plan.deadline == T0 and plan.deliverable_by_deadline_wh == 0


# --------------------------------------------------------------------------- inputs


def test_goal_from_state_of_charge() -> None:
    goal = ChargingGoal.from_soc(T0, battery_kwh=60, current_soc_pct=20, target_soc_pct=80)
    assert goal.energy_wh == pytest.approx(36_000)
    lossy = ChargingGoal.from_soc(T0, 60, 20, 80, charge_efficiency=0.9)
    assert lossy.energy_wh == pytest.approx(40_000)
    assert ChargingGoal.from_soc(T0, 60, 90, 80).energy_wh == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"battery_kwh": 0}, "battery_kwh must be > 0"),
        ({"current_soc_pct": 120}, "current_soc_pct must be <= 100"),
        ({"target_soc_pct": -1}, "target_soc_pct must be >= 0"),
        ({"charge_efficiency": 1.5}, r"charge_efficiency must be in \(0, 1\]"),
        ({"battery_kwh": float("nan")}, "battery_kwh must be finite"),
    ],
)
def test_bad_soc_goals_are_rejected(kwargs: dict[str, float], message: str) -> None:
    args: dict[str, float] = {
        "battery_kwh": 60,
        "current_soc_pct": 20,
        "target_soc_pct": 80,
        "charge_efficiency": 1.0,
    }
    args.update(kwargs)
    with pytest.raises(PlanningError, match=message):
        ChargingGoal.from_soc(T0, **args)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(PlanningError, match="energy_wh must be >= 0"):
        ChargingGoal(T0, -5)
    with pytest.raises(PlanningError, match="departure must be timezone-aware"):
        ChargingGoal(datetime(2024, 7, 8), 5)
    with pytest.raises(PlanningError, match="finish_before must not be negative"):
        SafetyMargin(finish_before=-HOUR)
    with pytest.raises(PlanningError, match="extra_energy_fraction must be >= 0"):
        SafetyMargin(extra_energy_fraction=-0.1)
    goal = ChargingGoal(T0 + 3 * HOUR, 1000)
    with pytest.raises(PlanningError, match=r"slots\[1\].max_power_w must be >= 0"):
        plan_charging(goal, T0, hourly([0.1, 0.2], caps=[1000.0, -1.0]))
    with pytest.raises(
        PlanningError, match=r"slots\[1\] .* lies before the departure but has no price"
    ):
        plan_charging(goal, T0, hourly([0.1, None, 0.2]))
    overlapping = [PlanningSlot(T0, T0 + HOUR, 1000, 0.1), PlanningSlot(T0, T0 + HOUR, 1000, 0.1)]
    with pytest.raises(PlanningError, match=r"slots\[1\] starts at .* before the previous slot"):
        plan_charging(goal, T0, overlapping)
    with pytest.raises(PlanningError, match=r"slots\[0\]: end .* is not after start"):
        plan_charging(goal, T0, [PlanningSlot(T0 + HOUR, T0, 1000, 0.1)])
    with pytest.raises(PlanningError, match="now must be timezone-aware"):
        plan_charging(goal, datetime(2024, 7, 8), hourly([0.1]))


def test_caps_from_current_and_voltage_per_slot() -> None:
    assert power_cap_w(32, 240) == 7680
    prices = [SlotPrice(T0 + i * HOUR, T0 + (i + 1) * HOUR, 0.1) for i in range(3)]
    slots = planning_slots(prices, [power_cap_w(a, 240) for a in (32, 16, 0)])
    assert [s.max_power_w for s in slots] == [7680, 3840, 0]
    with pytest.raises(PlanningError, match="max_power_w has 2 caps for 3 slots"):
        planning_slots(prices, [1.0, 2.0])
    with pytest.raises(PlanningError, match="current_a must be >= 0"):
        power_cap_w(-1, 240)


# --------------------------------------------------------------------------- with tariffs


def tou_la() -> TimeOfUseTariff:
    night = TouPeriod.parse(["all"], "00:00", "06:00", 0.10, "night")
    peak = TouPeriod.parse(["all"], "16:00", "21:00", 0.50, "peak")
    return TimeOfUseTariff(
        "America/Los_Angeles", (Season("year", (1, 1), (12, 31), (night, peak), 0.30),)
    )


def test_plan_for_tariff_charges_at_night_on_a_dst_night() -> None:
    la = ZoneInfo("America/Los_Angeles")
    now = datetime(2024, 11, 2, 18, 0, tzinfo=la)
    departure = datetime(2024, 11, 3, 7, 0, tzinfo=la)
    # the fall-back night has 7 real hours from 00:00 to 06:00 at the night price
    plan = plan_for_tariff(tou_la(), ChargingGoal(departure, 7 * 7000), now, 7000.0, 15)
    assert plan.feasible
    assert plan.cost == pytest.approx(49 * 0.10)
    windows = charging_windows(plan)
    assert len(windows) == 1
    assert windows[0].start == datetime(2024, 11, 3, 0, 0, tzinfo=la)
    assert windows[0].end == datetime(2024, 11, 3, 6, 0, tzinfo=la)
    assert windows[0].end - windows[0].start == timedelta(hours=7)


def test_plan_for_tariff_respects_hours_of_operation_and_reports_earliest() -> None:
    la = ZoneInfo("America/Los_Angeles")
    now = datetime(2024, 7, 8, 18, 0, tzinfo=la)
    departure = datetime(2024, 7, 9, 7, 0, tzinfo=la)

    def hours_of_operation(start: datetime, end: datetime) -> float:
        local = start.astimezone(la)
        return 7000.0 if 1 <= local.hour < 5 else 0.0

    plan = plan_for_tariff(tou_la(), ChargingGoal(departure, 35_000), now, hours_of_operation, 60)
    assert not plan.feasible
    assert plan.deliverable_by_departure_wh == pytest.approx(28_000)
    # next night's window opens at 01:00; one more hour finishes it
    assert plan.earliest_completion == datetime(2024, 7, 10, 2, 0, tzinfo=la)


def test_plan_for_tariff_without_prices_to_the_departure_is_a_clear_error() -> None:
    prices = (PriceInterval(T0, T0 + HOUR, 0.1),)
    with pytest.raises(PriceGapError, match="prices are known from"):
        plan_for_tariff(DynamicTariff(prices), ChargingGoal(T0 + 3 * HOUR, 1000), T0, 7000.0)


# --------------------------------------------------------------------------- windows


def test_windows_merge_adjacent_slots_and_end_partial_ones_early() -> None:
    goal = ChargingGoal(T0 + 6 * HOUR, 17_000)
    plan = plan_charging(goal, T0, hourly([0.1, 0.1, 0.5, 0.5, 0.2, 0.5]))
    windows = charging_windows(plan)
    assert [(w.start, w.end) for w in windows] == [
        (T0, T0 + 2 * HOUR),
        (T0 + 4 * HOUR, T0 + 4 * HOUR + timedelta(hours=3 / 7)),
    ]
    assert sum(w.energy_wh for w in windows) == pytest.approx(17_000)
    assert sum(w.cost for w in windows) == pytest.approx(plan.cost)
    assert windows[0].average_power_w == pytest.approx(7000)


# --------------------------------------------------------------------------- properties

slot_case = st.tuples(
    st.floats(min_value=-0.2, max_value=0.8, allow_nan=False).map(lambda p: round(p, 3)),
    st.sampled_from([0.0, 1440.0, 3840.0, 7680.0, 11_520.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    cases=st.lists(slot_case, min_size=1, max_size=40),
    need_kwh=st.floats(min_value=0.0, max_value=80.0, allow_nan=False),
    now_offset_min=st.integers(min_value=0, max_value=59),
    extra=st.sampled_from([0.0, 0.05, 0.1]),
)
def test_plan_properties(
    cases: list[tuple[float, float]], need_kwh: float, now_offset_min: int, extra: float
) -> None:
    slots = [
        PlanningSlot(T0 + i * HOUR, T0 + (i + 1) * HOUR, cap, price)
        for i, (price, cap) in enumerate(cases)
    ]
    now = T0 + timedelta(minutes=now_offset_min)
    goal = ChargingGoal(T0 + len(cases) * HOUR, need_kwh * 1000)
    margin = SafetyMargin(extra_energy_fraction=extra)
    plan = plan_charging(goal, now, slots, margin)
    baseline = asap_plan(goal, now, slots, margin)

    capacity = {s.start: s.max_power_w for s in slots}
    for ps in plan.slots:
        hours = (ps.end - ps.start).total_seconds() / 3600
        assert ps.start >= now and ps.energy_wh > 0
        assert ps.energy_wh <= ps.power_w * hours + 1e-6  # never above the cap
        assert ps.power_w <= max(capacity.values())
    assert plan.energy_wh <= plan.target_energy_wh + 1e-6

    if plan.feasible:
        assert plan.energy_wh == pytest.approx(plan.target_energy_wh, abs=1e-6)
        assert plan.cost <= baseline.cost + 1e-9
        # optimality certificate of the LP: no unused capacity is cheaper than a used slot
        used = {ps.start: ps for ps in plan.slots}
        max_used = max((ps.price_per_kwh for ps in plan.slots), default=float("-inf"))
        for s in slots:
            start = max(s.start, now)
            room = s.max_power_w * (s.end - start).total_seconds() / 3600
            taken = used[start].energy_wh if start in used else 0.0
            if room - taken > 1e-6:
                assert s.price_per_kwh is not None
                assert s.price_per_kwh >= max_used - 1e-9
    else:
        assert plan.deliverable_by_deadline_wh < plan.target_energy_wh
        assert plan.energy_wh == pytest.approx(plan.deliverable_by_departure_wh, abs=1e-6)
