"""The MQ 200 EV charger: see and steer it from Home Assistant, pushed by its twin API."""

from __future__ import annotations

from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import Mq200Client
from .const import CONF_TOKEN, DOMAIN
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .group import GroupDevices
from .issues import async_track_issues
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CALENDAR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
    Platform.UPDATE,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whatever the number of chargers."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: Mq200ConfigEntry) -> bool:
    client = Mq200Client(
        entry.data[CONF_HOST],
        entry.data[CONF_PORT],
        entry.data[CONF_TOKEN],
        async_get_clientsession(hass),
    )
    coordinator = Mq200Coordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator

    group = GroupDevices(hass, entry, coordinator)
    group.async_sync()
    entry.async_on_unload(coordinator.async_add_listener(group.async_sync))
    entry.async_on_unload(async_track_issues(hass, entry, coordinator))

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.async_start_push()
    entry.async_on_unload(coordinator.async_stop_push)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: Mq200ConfigEntry) -> bool:
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: Mq200ConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a group member the gateway no longer lists, never the charger."""
    state = entry.runtime_data.state
    live = {state.serial} | {m.serial for m in state.group_members}
    return not any(ident[0] == DOMAIN and ident[1] in live for ident in device.identifiers)
