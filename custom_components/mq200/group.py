"""Device registry entries for a gateway's load-management group members, as they come and go."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DEFAULT_MODEL, DOMAIN, MANUFACTURER
from .coordinator import Mq200ConfigEntry, Mq200Coordinator


class GroupDevices:
    """Keeps one device per group member (linked via the gateway) and the charger's firmware."""

    def __init__(
        self, hass: HomeAssistant, entry: Mq200ConfigEntry, coordinator: Mq200Coordinator
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._members: dict[str, str | None] | None = None
        self._firmware: str | None = None

    @callback
    def async_sync(self) -> None:
        state = self._coordinator.state
        registry = dr.async_get(self._hass)
        if state.firmware != self._firmware:
            self._firmware = state.firmware
            charger = registry.async_get_device(identifiers={(DOMAIN, state.serial)})
            if charger is not None and charger.sw_version != state.firmware:
                registry.async_update_device(charger.id, sw_version=state.firmware)
        members = {m.serial: m.firmware for m in state.group_members}
        if members == self._members:
            return
        self._members = members
        for serial, firmware in members.items():
            registry.async_get_or_create(
                config_entry_id=self._entry.entry_id,
                identifiers={(DOMAIN, serial)},
                manufacturer=MANUFACTURER,
                model=DEFAULT_MODEL,
                name=f"MQ 200 {serial}",
                serial_number=serial,
                sw_version=firmware,
                via_device=(DOMAIN, state.serial),
            )
        for device in dr.async_entries_for_config_entry(registry, self._entry.entry_id):
            serials = {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}
            if serials and not serials & (set(members) | {state.serial}):
                registry.async_update_device(
                    device.id, remove_config_entry_id=self._entry.entry_id
                )
