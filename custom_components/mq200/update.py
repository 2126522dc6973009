"""Update entity: the controller's firmware and the release it offers."""

from __future__ import annotations

from typing import Any

from homeassistant.components.update import UpdateEntity, UpdateEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .actions import run_write
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([Mq200Firmware(entry.runtime_data)])


class Mq200Firmware(Mq200Entity, UpdateEntity):
    _attr_translation_key = "firmware"
    _attr_supported_features = UpdateEntityFeature.INSTALL | UpdateEntityFeature.SPECIFIC_VERSION

    def __init__(self, coordinator: Mq200Coordinator) -> None:
        super().__init__(coordinator, "firmware")

    @property
    def installed_version(self) -> str | None:
        return self.coordinator.state.firmware

    @property
    def latest_version(self) -> str | None:
        state = self.coordinator.state
        return state.firmware_available or state.firmware

    @property
    def release_url(self) -> str | None:
        return self.coordinator.state.firmware_release_url

    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        target = version or self.latest_version
        if target is None:
            return
        await run_write(self.coordinator.client.install_firmware(target))
