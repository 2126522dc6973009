"""Controls write the twin's desired half; the twin's delta comes back to the entity."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mq200.const import DOMAIN

from .conftest import wait_for, wait_for_state
from .twin_harness import SERIAL, TwinServer

PREFIX = "mq_200_mq200_00a1b2"
SWITCH = f"switch.{PREFIX}_charging_enabled"
NUMBER = f"number.{PREFIX}_current_limit"


async def test_pause_and_resume(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: SWITCH}, blocking=True)
    assert (await reported_twin.desired())["charging_enabled"] is False
    await wait_for_state(hass, SWITCH, "off")
    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: SWITCH}, blocking=True)
    assert (await reported_twin.desired())["charging_enabled"] is True
    await wait_for_state(hass, SWITCH, "on")


async def test_current_limit(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    state = hass.states.get(NUMBER)
    assert float(state.state) == 40 and state.attributes["max"] == 40
    assert state.attributes["min"] == 6
    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: NUMBER, "value": 24}, blocking=True
    )
    assert (await reported_twin.desired())["current_limit_a"] == 24
    await wait_for_state(hass, NUMBER, "24.0")
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "number", "set_value", {ATTR_ENTITY_ID: NUMBER, "value": 48}, blocking=True
        )


async def test_write_while_twin_is_down_raises(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    reported_twin.stop()
    await wait_for_state(hass, SWITCH, "unavailable")
    # Unavailable entities refuse service calls in HA; the client error path is the action's.
    with pytest.raises(HomeAssistantError, match="Cannot reach the charger"):
        await hass.services.async_call(
            DOMAIN, "stop_charging", {"config_entry_id": entry.entry_id}, blocking=True
        )


async def test_daily_window_and_departure_time(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    start, end = f"time.{PREFIX}_daily_charge_window_start", f"time.{PREFIX}_daily_charge_window_end"
    assert hass.states.get(start).state == "unknown"
    await hass.services.async_call("time", "set_value", {ATTR_ENTITY_ID: start, "time": "23:00"},
                                   blocking=True)
    desired = await reported_twin.desired()
    assert desired["schedules"] == [{"id": "daily", "start": "23:00", "end": "06:00",
                                     "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                     "enabled": True}]
    await wait_for_state(hass, start, "23:00:00")
    assert hass.states.get(end).state == "06:00:00"
    await hass.services.async_call("time", "set_value", {ATTR_ENTITY_ID: end, "time": "05:30"},
                                   blocking=True)
    assert (await reported_twin.desired())["schedules"][0]["end"] == "05:30"
    await wait_for_state(hass, end, "05:30:00")
    with pytest.raises(ServiceValidationError, match="rejected"):
        await hass.services.async_call("time", "set_value",
                                       {ATTR_ENTITY_ID: end, "time": "23:00"}, blocking=True)

    departure = f"time.{PREFIX}_departure_time"
    await hass.services.async_call("time", "set_value",
                                   {ATTR_ENTITY_ID: departure, "time": "07:30"}, blocking=True)
    goal = (await reported_twin.desired())["departure_goal"]
    assert goal["target_soc_pct"] == 80
    await wait_for_state(hass, departure, "07:30:00")
    await hass.services.async_call("time", "set_value",
                                   {ATTR_ENTITY_ID: departure, "time": "06:45"}, blocking=True)
    goal = (await reported_twin.desired())["departure_goal"]
    assert goal["target_soc_pct"] == 80
    assert dt_util.as_local(datetime.fromisoformat(goal["ready_by"])).time() == time(6, 45)


async def test_buttons_and_firmware(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    await hass.services.async_call("button", "press",
                                   {ATTR_ENTITY_ID: f"button.{PREFIX}_restart"}, blocking=True)
    await hass.services.async_call("button", "press",
                                   {ATTR_ENTITY_ID: f"button.{PREFIX}_reset_fault"}, blocking=True)
    settings = (await reported_twin.desired())["settings"]
    assert {"reboot_request", "fault_reset_request"} <= set(settings)

    update = f"update.{PREFIX}_firmware"
    assert hass.states.get(update).state == "off"
    await reported_twin.report({"firmware_available": {"version": "0.2.0",
                                                       "release_url": "https://example.invalid/r"}})
    await wait_for_state(hass, update, "on")
    await hass.services.async_call("update", "install", {ATTR_ENTITY_ID: update}, blocking=True)
    assert (await reported_twin.desired())["settings"]["firmware_install"] == "0.2.0"


async def test_gateway_policy_and_group_devices(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    devices = dr.async_get(hass)
    await reported_twin.report({"load_management": {
        "role": "gateway", "policy": "uniform_distribution", "allocation_a": 30,
        "members": [{"serial": "MQ200-00C3D4", "firmware": "0.1.0", "ip": "10.10.0.2"},
                    {"serial": "MQ200-00E5F6", "firmware": "0.0.9"}]}})
    await wait_for(hass, lambda: devices.async_get_device({(DOMAIN, "MQ200-00E5F6")}) is not None)
    member = devices.async_get_device({(DOMAIN, "MQ200-00C3D4")})
    gateway = devices.async_get_device({(DOMAIN, SERIAL)})
    assert member is not None and gateway is not None and member.via_device_id == gateway.id
    issue_ids = {i for (d, i) in __import__(
        "homeassistant.helpers.issue_registry", fromlist=["x"]).async_get(hass).issues if d == DOMAIN}
    assert f"firmware_mismatch_{entry.entry_id}" in issue_ids

    # The select exists only on a gateway: reload now that the charger says it is one.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    select = f"select.{PREFIX}_load_management_policy"
    await wait_for_state(hass, select, "uniform_distribution")
    await hass.services.async_call("select", "select_option",
                                   {ATTR_ENTITY_ID: select, "option": "first_in_first_serve"},
                                   blocking=True)
    assert (await reported_twin.desired())["settings"]["llm_policy"] == "first_in_first_serve"

    await reported_twin.report({"load_management": {"members": [
        {"serial": "MQ200-00C3D4", "firmware": "0.1.0"}]}})
    await wait_for(hass, lambda: devices.async_get_device({(DOMAIN, "MQ200-00E5F6")}) is None)
    await reported_twin.report({"firmware": "0.1.1"})
    await wait_for(hass, lambda: devices.async_get_device({(DOMAIN, SERIAL)}).sw_version == "0.1.1")

    from custom_components.mq200 import async_remove_config_entry_device

    assert not await async_remove_config_entry_device(hass, entry, member)
    stale = devices.async_get_or_create(config_entry_id=entry.entry_id,
                                        identifiers={(DOMAIN, "MQ200-GONE01")})
    assert await async_remove_config_entry_device(hass, entry, stale)


async def test_sensor_details(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    registry = er.async_get(hass)
    for key in ("pilot_state", "load_management_allocation", "signal_strength", "voltage"):
        registry.async_update_entity(f"sensor.{PREFIX}_{key}", disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    start = dt_util.utcnow().replace(microsecond=0) + timedelta(hours=2)
    await reported_twin.report({
        "pilot": "C", "status": "SuspendedEVSE", "next_start": start.isoformat(),
        "session": {"id": "s-1", "cost": 1.25},
        "limits": [{"source": "demand_response", "amps": 0, "paused": True, "reason": "DR"},
                   {"source": "load_management", "amps": 16, "paused": False, "reason": "LLM"}],
        "faults": [{"code": "GroundFailure", "since": start.isoformat(), "recoverable": True}],
        "demand_response": {"events": [{"id": "e1", "start": start.isoformat(),
                                        "end": (start + timedelta(hours=1)).isoformat(),
                                        "limit_a": 8}, {"bad": 1}]},
    })
    await wait_for_state(hass, f"sensor.{PREFIX}_status", "suspended_evse")
    assert hass.states.get(f"sensor.{PREFIX}_pilot_state").state == "c"
    assert hass.states.get(f"sensor.{PREFIX}_next_scheduled_start").state == start.isoformat()
    assert float(hass.states.get(f"sensor.{PREFIX}_session_cost").state) == 1.25
    assert float(hass.states.get(f"sensor.{PREFIX}_load_management_allocation").state) == 16
    assert hass.states.get(f"binary_sensor.{PREFIX}_fault").state == "on"
    assert hass.states.get(f"binary_sensor.{PREFIX}_demand_response_event").state == "on"

    calendar = f"calendar.{PREFIX}_charging_schedule"
    events = await hass.services.async_call(
        CALENDAR_DOMAIN, "get_events",
        {ATTR_ENTITY_ID: calendar, "start_date_time": dt_util.now(),
         "end_date_time": dt_util.now() + timedelta(days=1)},
        blocking=True, return_response=True,
    )
    assert [e["summary"] for e in events[calendar]["events"]] == ["Demand response (8 A)"]
    assert hass.states.get(calendar).attributes["message"] == "Demand response (8 A)"


async def test_estimated_full_from_whatif(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    await reported_twin.report({"pilot": "C", "status": "Charging", "power_w": 7200,
                                "ev": {"soc_pct": 50, "battery_kwh": 60}})
    state = await wait_for_state(hass, f"sensor.{PREFIX}_estimated_full",
                                 lambda s: s.state not in ("unknown", "unavailable"))
    assert datetime.fromisoformat(state.state) > dt_util.utcnow()
