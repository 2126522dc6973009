"""Siri through HA's HomeKit Bridge (docs/home-assistant.md, "Siri (HomeKit Bridge)"): the real
``homekit`` integration in bridge mode, filtered to the charger's switch, beside a loaded MQ 200
entry on a real twin. Only multicast is replaced (HA's own zeroconf test fixtures); the HAP
server itself listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from unittest.mock import MagicMock

from homeassistant.components.homekit import STATUS_RUNNING
from homeassistant.components.homekit.const import (
    CONF_ADVERTISE_IP,
    CONF_FILTER,
    CONF_HOMEKIT_MODE,
    DOMAIN as HOMEKIT_DOMAIN,
    HOMEKIT_MODE_BRIDGE,
)
from homeassistant.const import CONF_IP_ADDRESS, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entityfilter import (
    CONF_EXCLUDE_DOMAINS,
    CONF_EXCLUDE_ENTITIES,
    CONF_INCLUDE_DOMAINS,
    CONF_INCLUDE_ENTITIES,
)
from pyhap.const import (
    CATEGORY_BRIDGE,
    CATEGORY_SWITCH,
    HAP_REPR_AID,
    HAP_REPR_CHARS,
    HAP_REPR_IID,
    HAP_REPR_VALUE,
)
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import wait_for, wait_for_state
from .twin_harness import SERIAL, TwinServer, free_port

SWITCH = f"switch.mq_200_{SERIAL.lower().replace('-', '_')}_charging_enabled"
SENSOR = f"sensor.mq_200_{SERIAL.lower().replace('-', '_')}_charging_power"


async def _homekit_bridge(hass: HomeAssistant) -> MockConfigEntry:
    """HomeKit Bridge as the YAML in the docs sets it up: bridge mode, only the switch."""
    entry = MockConfigEntry(
        domain=HOMEKIT_DOMAIN,
        title="HA Charger Bridge",
        data={CONF_NAME: "HA Charger Bridge", CONF_PORT: free_port(),
              CONF_IP_ADDRESS: "127.0.0.1", CONF_ADVERTISE_IP: ["127.0.0.1"]},
        options={
            CONF_HOMEKIT_MODE: HOMEKIT_MODE_BRIDGE,
            CONF_FILTER: {CONF_INCLUDE_DOMAINS: [], CONF_EXCLUDE_DOMAINS: [],
                          CONF_INCLUDE_ENTITIES: [SWITCH], CONF_EXCLUDE_ENTITIES: []},
            "entity_config": {SWITCH: {CONF_NAME: "Car charger"}},
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_homekit_bridge_switch_pauses_charging(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    reported_twin: TwinServer,
    mock_async_zeroconf: MagicMock,
) -> None:
    await wait_for_state(hass, SWITCH, "on")
    # HAP-python persists its pairing state under the config dir's .storage, which a fresh
    # test harness does not have yet (HA creates it on its first save)
    os.makedirs(hass.config.path(".storage"), exist_ok=True)
    bridge_entry = await _homekit_bridge(hass)
    homekit = bridge_entry.runtime_data.homekit
    await wait_for(hass, lambda: homekit.status == STATUS_RUNNING)

    # The bridge holds exactly one accessory: a HomeKit switch for the charger's switch.
    driver, bridge = homekit.driver, homekit.bridge
    assert driver is not None and bridge is not None
    assert driver.accessory is bridge and bridge.category == CATEGORY_BRIDGE
    accessories: list[Any] = list(bridge.accessories.values())
    assert [a.entity_id for a in accessories] == [SWITCH]
    (switch,) = accessories
    assert type(switch).__name__ == "Switch" and switch.category == CATEGORY_SWITCH
    assert switch.display_name == "Car charger"
    assert switch.char_on.value is True
    assert SENSOR not in {a.entity_id for a in accessories}  # the filter holds
    # It is announced (to the mocked zeroconf) and its HAP server listens on loopback.
    assert driver.advertiser is mock_async_zeroconf
    mock_async_zeroconf.async_register_service.assert_awaited()
    assert driver.state.addresses == ["127.0.0.1"]
    reader, writer = await asyncio.open_connection("127.0.0.1", driver.state.port)
    writer.write(b"GET /accessories HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 401"), status_line  # HAP: pair and verify first

    # "Hey Siri, turn off the car charger": the Home app writes On = false through HAP.
    iid = switch.char_on.to_HAP()[HAP_REPR_IID]
    driver.set_characteristics(
        {HAP_REPR_CHARS: [{HAP_REPR_AID: switch.aid, HAP_REPR_IID: iid, HAP_REPR_VALUE: False}]},
        "127.0.0.1",
    )
    await wait_for_state(hass, SWITCH, "off")
    assert (await reported_twin.desired())["charging_enabled"] is False

    # Resumed from elsewhere (another app): the HomeKit switch follows the charger.
    await reported_twin.set_desired({"charging_enabled": True})
    await wait_for_state(hass, SWITCH, "on")
    await wait_for(hass, lambda: switch.char_on.value is True)

    assert await hass.config_entries.async_unload(bridge_entry.entry_id)
    await hass.async_block_till_done()
