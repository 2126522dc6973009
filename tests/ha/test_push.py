"""Setup against a real twin process: entities show the report and follow every delta."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.mq200.const import DOMAIN

from .conftest import make_entry, wait_for, wait_for_state
from .twin_harness import DEVICE_TOKEN, IDLE_REPORT, TwinServer

STATUS = "sensor.mq_200_mq200_00a1b2_status"
POWER = "sensor.mq_200_mq200_00a1b2_charging_power"
PLUGGED = "binary_sensor.mq_200_mq200_00a1b2_plugged_in"
CHARGING = "binary_sensor.mq_200_mq200_00a1b2_charging"
SWITCH = "switch.mq_200_mq200_00a1b2_charging_enabled"
TOTAL = "sensor.mq_200_mq200_00a1b2_total_energy"


async def test_entities_show_the_report(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert hass.states.get(STATUS).state == "available"
    assert hass.states.get(PLUGGED).state == "off"
    assert hass.states.get(SWITCH).state == "on"
    total = hass.states.get(TOTAL)
    assert float(total.state) == 1834.52
    assert total.attributes["state_class"] == "total_increasing"
    assert total.attributes["unit_of_measurement"] == "kWh"
    registry = er.async_get(hass)
    voltage = registry.async_get("sensor.mq_200_mq200_00a1b2_voltage")
    assert voltage is not None and voltage.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_plug_in_and_charge_updates_entities(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    await reported_twin.report({"pilot": "B", "status": "Preparing"})
    await wait_for_state(hass, PLUGGED, "on")
    await reported_twin.report({"pilot": "C", "status": "Charging", "power_w": 7622,
                                "current_a": 31.6, "offered_a": 32})
    await wait_for_state(hass, CHARGING, "on")
    assert hass.states.get(STATUS).state == "charging"
    assert float(hass.states.get(POWER).state) == 7622


async def test_unavailable_when_twin_goes_and_back_when_it_returns(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer, caplog: object
) -> None:
    reported_twin.stop()
    await wait_for_state(hass, STATUS, STATE_UNAVAILABLE)
    reported_twin.start()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2))
    await wait_for_state(hass, STATUS, "available")


async def test_unavailable_while_controller_is_offline(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    """A remote twin stays up but marks the controller offline; entities follow ``online``."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            f"ws://127.0.0.1:{reported_twin.port}/api/v1/ws",
            headers={"Authorization": f"Bearer {DEVICE_TOKEN}"},
        )
        await ws.send_json({"type": "hello", "reported": IDLE_REPORT})
        await ws.receive_json()
        await wait_for(hass, lambda: entry.runtime_data.state.reported.get("online") is True)
        await ws.close()
    await wait_for_state(hass, STATUS, STATE_UNAVAILABLE)


async def test_rejected_token_starts_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    reported_twin.stop()
    reported_twin.client_token = "another-client-token-000000"
    reported_twin.start()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2))
    await wait_for(hass, lambda: any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    ))
    assert hass.states.get(STATUS).state == STATE_UNAVAILABLE


async def test_setup_retries_when_twin_is_down(
    hass: HomeAssistant, twin: TwinServer
) -> None:
    twin.stop()
    config_entry = make_entry(twin)
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_with_bad_token_needs_reauth(
    hass: HomeAssistant, reported_twin: TwinServer
) -> None:
    config_entry = make_entry(reported_twin, token="wrong-token-0000000000000")
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert any(config_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
