"""Number: the app's current limit, 6 A up to the DIP switch maximum."""

from __future__ import annotations

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.const import UnitOfElectricCurrent
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .actions import run_write
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity

PARALLEL_UPDATES = 1
MIN_CURRENT_A = 6


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([Mq200CurrentLimit(entry.runtime_data)])


class Mq200CurrentLimit(Mq200Entity, NumberEntity):
    _attr_translation_key = "current_limit"
    _attr_device_class = NumberDeviceClass.CURRENT
    _attr_native_unit_of_measurement = UnitOfElectricCurrent.AMPERE
    _attr_native_min_value = MIN_CURRENT_A
    _attr_native_step = 1
    _attr_mode = NumberMode.SLIDER

    def __init__(self, coordinator: Mq200Coordinator) -> None:
        super().__init__(coordinator, "current_limit")

    @property
    def native_max_value(self) -> float:
        return max(MIN_CURRENT_A, self.coordinator.state.max_current_a)

    @property
    def native_value(self) -> float:
        """The app's limit, or the maximum when the app set none."""
        state = self.coordinator.state
        limit = state.current_limit_a
        return float(state.max_current_a if limit is None else limit)

    async def async_set_native_value(self, value: float) -> None:
        await run_write(self.coordinator.client.set_current_limit(int(value)))
