"""SmartCharging: profiles against the central system, and the composite schedule's properties."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.ocpp.id_tag_info import format_ocpp_time
from controller.ocpp.smart_charging import (
    ChargingProfile,
    ProfileError,
    Purpose,
    SchedulePeriod,
    composite_limit,
    composite_schedule,
    parse_profile,
)
from tests.ocpp_rig import START, Rig, make_rig


def profile(pid: int, purpose: str, stack: int, periods: list[tuple[int, float]],
            kind: str = "Absolute", **extra: Any) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": extra.pop("unit", "A"),
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
    }
    for key in ("startSchedule", "duration"):
        if key in extra:
            schedule[key] = extra.pop(key)
    return {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": schedule, **extra}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path)
    await rig.booted()
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


async def set_profile(rig: Rig, connector: int, body: dict[str, Any]) -> str:
    answer = await rig.cs.call("SetChargingProfile", {"connectorId": connector,
                                                      "csChargingProfiles": body})
    return str(answer["result"]["status"])


async def test_max_profile_enters_arbiter_and_follows_schedule(rig: Rig) -> None:
    body = profile(1, "ChargePointMaxProfile", 0, [(0, 20.0), (3600, 10.0)],
                   startSchedule=format_ocpp_time(START), duration=7200)
    assert await set_profile(rig, 0, body) == "Accepted"
    assert rig.station.limits["ocpp"] == 20.0
    rig.clock.advance(3600)
    assert rig.station.limits["ocpp"] == 10.0
    rig.clock.advance(3600)
    assert "ocpp" not in rig.station.limits  # the schedule's duration is over


async def test_stack_levels_and_tx_default_vs_tx_profile(rig: Rig) -> None:
    assert await set_profile(rig, 1, profile(2, "TxDefaultProfile", 1, [(0, 24.0)], "Relative")) == "Accepted"
    assert await set_profile(rig, 1, profile(3, "TxDefaultProfile", 2, [(0, 18.0)], "Relative")) == "Accepted"
    rig.station.plug_in()
    rig.station.present_tag("T")
    start = await rig.cs.wait_call("StartTransaction")
    await rig.cs.call("GetLocalListVersion", {})  # round trip: transaction id mapped
    assert rig.station.limits["ocpp"] == 18.0
    tx_profile = profile(4, "TxProfile", 0, [(0, 12.0)], "Relative",
                         transactionId=start["result"]["transactionId"])
    assert await set_profile(rig, 1, tx_profile) == "Accepted"
    assert rig.station.limits["ocpp"] == 12.0
    composite = await rig.cs.call("GetCompositeSchedule", {"connectorId": 1, "duration": 600})
    assert composite["result"]["status"] == "Accepted"
    assert composite["result"]["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 12.0}]


async def test_rejections(rig: Rig) -> None:
    assert await set_profile(rig, 1, profile(5, "TxProfile", 0, [(0, 10.0)], "Relative")) == "Rejected"
    assert await set_profile(rig, 0, profile(6, "TxDefaultProfile", 0, [(0, 7000.0)],
                                             "Relative", unit="W")) == "Rejected"
    assert await set_profile(rig, 1, profile(7, "ChargePointMaxProfile", 0, [(0, 10.0)],
                                             startSchedule=format_ocpp_time(START))) == "Rejected"
    watts = await rig.cs.call("GetCompositeSchedule", {"connectorId": 0, "duration": 60,
                                                       "chargingRateUnit": "W"})
    assert watts["result"] == {"status": "Rejected"}


async def test_recurring_daily_profile(rig: Rig) -> None:
    body = profile(8, "ChargePointMaxProfile", 0, [(0, 16.0), (6 * 3600, 32.0)], "Recurring",
                   recurrencyKind="Daily", startSchedule=format_ocpp_time(START))
    assert await set_profile(rig, 0, body) == "Accepted"
    assert rig.station.limits["ocpp"] == 16.0
    rig.clock.advance(6 * 3600)
    assert rig.station.limits["ocpp"] == 32.0
    rig.clock.advance(18 * 3600)
    assert rig.station.limits["ocpp"] == 16.0
    composite = await rig.cs.call("GetCompositeSchedule", {"connectorId": 0, "duration": 86400})
    periods = composite["result"]["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods == [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 21600, "limit": 32.0}]


async def test_clear_by_each_criterion(rig: Rig) -> None:
    rel = "Relative"
    for pid, stack in ((10, 1), (11, 2), (12, 3)):
        await set_profile(rig, 1, profile(pid, "TxDefaultProfile", stack, [(0, 20.0)], rel))
    await set_profile(rig, 0, profile(13, "ChargePointMaxProfile", 0, [(0, 30.0)], rel))
    clear = rig.cs.call
    assert (await clear("ClearChargingProfile", {"id": 99}))["result"] == {"status": "Unknown"}
    assert (await clear("ClearChargingProfile", {"id": 10}))["result"] == {"status": "Accepted"}
    assert (await clear("ClearChargingProfile", {"stackLevel": 2}))["result"] == {"status": "Accepted"}
    assert (await clear("ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"}))["result"] == {"status": "Accepted"}
    assert (await clear("ClearChargingProfile", {"connectorId": 1}))["result"] == {"status": "Accepted"}
    assert rig.cp.profiles.profiles() == []
    assert (await clear("ClearChargingProfile", {}))["result"] == {"status": "Unknown"}


async def test_max_installed_profiles(rig: Rig) -> None:
    for pid in range(10):
        assert await set_profile(rig, 1, profile(pid + 1, "TxDefaultProfile", pid,
                                                 [(0, 20.0)], "Relative")) == "Accepted"
    assert await set_profile(rig, 1, profile(50, "TxDefaultProfile", 50, [(0, 20.0)],
                                             "Relative")) == "Rejected"


def test_parse_profile_errors_name_the_field() -> None:
    with pytest.raises(ProfileError, match="chargingRateUnit"):
        parse_profile(profile(1, "TxDefaultProfile", 0, [(0, 1.0)], unit="W"))
    with pytest.raises(ProfileError, match="startPeriod"):
        parse_profile(profile(1, "TxDefaultProfile", 0, [(10, 1.0)]))
    with pytest.raises(ProfileError, match="recurrencyKind"):
        parse_profile(profile(1, "TxDefaultProfile", 0, [(0, 1.0)], "Recurring",
                              startSchedule="2026-01-01T00:00:00Z"))


periods_strategy = st.lists(
    st.tuples(st.integers(0, 7200), st.floats(0, 80).map(lambda x: round(x, 1))),
    min_size=1, max_size=5,
).map(lambda ps: sorted({s: lim for s, lim in [(0, ps[0][1]), *ps]}.items()))

profile_strategy = st.builds(
    lambda pid, purpose, stack, periods, offset, duration: ChargingProfile(
        profile_id=pid, connector_id=0 if purpose is Purpose.CHARGE_POINT_MAX else 1,
        stack_level=stack, purpose=purpose, kind="Absolute",
        periods=tuple(SchedulePeriod(float(s), lim) for s, lim in periods),
        start_schedule=START + offset, duration=duration),
    st.integers(1, 1000), st.sampled_from([Purpose.CHARGE_POINT_MAX, Purpose.TX_DEFAULT]),
    st.integers(0, 5), periods_strategy, st.integers(-3600, 3600),
    st.one_of(st.none(), st.integers(1, 10000).map(float)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(profile_strategy, max_size=5), st.integers(0, 9000))
def test_composite_never_exceeds_charge_point_max(profiles: list[ChargingProfile], at: int) -> None:
    limit = composite_limit(profiles, START + at, None, None)
    caps = [p for p in profiles if p.purpose is Purpose.CHARGE_POINT_MAX
            and p.limit_at(START + at, None) is not None]
    if caps:
        top = max(caps, key=lambda p: p.stack_level)
        assert limit is not None and limit <= top.limit_at(START + at, None)  # type: ignore[operator]
    if limit is None:
        assert all(p.limit_at(START + at, None) is None for p in profiles)


@settings(max_examples=200, deadline=None)
@given(st.lists(profile_strategy, max_size=5), st.integers(0, 3000))
def test_composite_schedule_matches_pointwise_limit(profiles: list[ChargingProfile], at: int) -> None:
    schedule = composite_schedule(profiles, START, 9000, None, None, unlimited=48.0)
    assert schedule[0].start_period == 0
    assert [p.start_period for p in schedule] == sorted({p.start_period for p in schedule})
    current = [p for p in schedule if p.start_period <= at][-1]
    expected = composite_limit(profiles, START + at, None, None)
    assert current.limit == round(48.0 if expected is None else min(expected, 48.0), 1)
