"""The integration's actions, each checked in the twin's desired half."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mq200.const import DOMAIN

from .twin_harness import TwinServer


async def _call(hass: HomeAssistant, entry: MockConfigEntry, service: str, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN, service, {"config_entry_id": entry.entry_id, **data}, blocking=True
    )


async def test_start_stop_and_limit(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    await _call(hass, entry, "stop_charging")
    assert (await reported_twin.desired())["charging_enabled"] is False
    await _call(hass, entry, "start_charging")
    assert (await reported_twin.desired())["charging_enabled"] is True
    await _call(hass, entry, "set_current_limit", current=16)
    assert (await reported_twin.desired())["current_limit_a"] == 16
    await _call(hass, entry, "set_current_limit", current=0)
    assert (await reported_twin.desired())["current_limit_a"] == 0
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "set_current_limit", current=50)
    assert err.value.translation_key == "current_above_maximum"
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "set_current_limit", current=3)
    assert err.value.translation_key == "current_below_minimum"


async def test_schedule_window_goal_and_clear(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    start = dt_util.now().replace(microsecond=0) + timedelta(hours=3)
    await _call(hass, entry, "schedule_charging", start=start, end=start + timedelta(hours=2))
    windows = (await reported_twin.desired())["schedules"]
    assert len(windows) == 1 and windows[0]["id"].startswith("ha-")
    await _call(hass, entry, "schedule_charging", ready_by=start.replace(tzinfo=None),
                energy=20, battery_capacity=75)
    goal = (await reported_twin.desired())["departure_goal"]
    assert goal["energy_wh"] == 20000 and goal["battery_kwh"] == 75
    await _call(hass, entry, "schedule_charging", ready_by=start, target_soc=90)
    assert (await reported_twin.desired())["departure_goal"]["target_soc_pct"] == 90
    await _call(hass, entry, "clear_schedule")
    desired = await reported_twin.desired()
    assert "schedules" not in desired and "departure_goal" not in desired

    for bad, key in (
        ({}, "schedule_window_or_goal"),
        ({"start": start}, "schedule_window_or_goal"),
        ({"start": start, "ready_by": start}, "schedule_window_or_goal"),
        ({"start": start, "end": start}, "end_before_start"),
        ({"ready_by": start}, "goal_needs_target"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, entry, "schedule_charging", **bad)
        assert err.value.translation_key == key


async def test_demand_response(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    until = dt_util.now().replace(microsecond=0) + timedelta(hours=1)
    before = dt_util.utcnow().replace(microsecond=0)
    await _call(hass, entry, "set_demand_response", limit=8, until=until)
    desired = await reported_twin.desired()
    event = desired["demand_response"]
    assert set(event) == {"id", "start", "end", "limit_a"}
    assert event["id"] == "home-assistant" and event["limit_a"] == 8
    start = dt_util.parse_datetime(event["start"])
    assert start is not None and start.utcoffset() == timedelta(0)
    assert before <= start <= dt_util.utcnow()
    assert dt_util.parse_datetime(event["end"]) == until
    assert "settings" not in desired and "dr_opt_out" not in desired

    # No end given: the event lasts 24 h; opting out in the same call writes both keys.
    await _call(hass, entry, "set_demand_response", limit=0, opt_out=False)
    desired = await reported_twin.desired()
    event = desired["demand_response"]
    assert event["limit_a"] == 0 and desired["dr_opt_out"] is False
    start, end = dt_util.parse_datetime(event["start"]), dt_util.parse_datetime(event["end"])
    assert start is not None and end is not None and end - start == timedelta(hours=24)

    # opt_out alone leaves the event as it is; end_event removes it.
    await _call(hass, entry, "set_demand_response", opt_out=True)
    desired = await reported_twin.desired()
    assert desired["dr_opt_out"] is True and desired["demand_response"] == event
    await _call(hass, entry, "set_demand_response", end_event=True)
    assert "demand_response" not in await reported_twin.desired()

    for bad, key in (
        ({}, "demand_response_empty"),
        ({"end_event": False}, "demand_response_empty"),
        ({"until": until}, "demand_response_until_needs_limit"),
        ({"limit": 6, "end_event": True}, "demand_response_limit_or_end"),
        ({"limit": 6, "until": until - timedelta(hours=2)}, "demand_response_until_past"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, entry, "set_demand_response", **bad)
        assert err.value.translation_key == key, bad


async def test_push_prices_and_twin_rejection(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    t0 = dt_util.now().replace(minute=0, second=0, microsecond=0)
    prices = [{"start": t0 + timedelta(hours=i), "end": t0 + timedelta(hours=i + 1),
               "price": (10 + i) / 100} for i in range(3)]
    await _call(hass, entry, "push_prices", prices=prices)
    stored = (await reported_twin.desired())["prices"]
    assert [p["price_per_kwh"] for p in stored] == [0.1, 0.11, 0.12]
    overlapping = [{"start": t0, "end": t0 + timedelta(hours=2), "price": 0.1},
                   {"start": t0 + timedelta(hours=1), "end": t0 + timedelta(hours=3), "price": 0.2}]
    with pytest.raises(ServiceValidationError, match="overlap") as err:
        await _call(hass, entry, "push_prices", prices=overlapping)
    assert err.value.translation_key == "request_rejected"


async def test_unknown_or_unloaded_entry(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "start_charging",
                                       {"config_entry_id": "nope"}, blocking=True)
    assert err.value.translation_key == "entry_not_found"
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "start_charging")
    assert err.value.translation_key == "entry_not_loaded"
