"""Switch: charging enabled (pause / resume), the one HomeKit and Google expose for voice."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
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
    async_add_entities([Mq200ChargingSwitch(entry.runtime_data)])


class Mq200ChargingSwitch(Mq200Entity, SwitchEntity):
    _attr_translation_key = "charging_enabled"

    def __init__(self, coordinator: Mq200Coordinator) -> None:
        super().__init__(coordinator, "charging_enabled")

    @property
    def is_on(self) -> bool:
        return self.coordinator.state.charging_enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        await run_write(self.coordinator.client.set_charging_enabled(True))

    async def async_turn_off(self, **kwargs: Any) -> None:
        await run_write(self.coordinator.client.set_charging_enabled(False))
