"""Binary sensors: plugged in, charging, fault, demand-response event, central system link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import ChargerState
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class Mq200BinarySensorDescription(BinarySensorEntityDescription):
    value_fn: Callable[[ChargerState], bool | None]


BINARY_SENSORS: tuple[Mq200BinarySensorDescription, ...] = (
    Mq200BinarySensorDescription(
        key="plugged_in", translation_key="plugged_in",
        device_class=BinarySensorDeviceClass.PLUG, value_fn=lambda s: s.plugged_in,
    ),
    Mq200BinarySensorDescription(
        key="charging", translation_key="charging",
        device_class=BinarySensorDeviceClass.BATTERY_CHARGING, value_fn=lambda s: s.charging,
    ),
    Mq200BinarySensorDescription(
        key="fault", translation_key="fault",
        device_class=BinarySensorDeviceClass.PROBLEM, value_fn=lambda s: s.faulted,
    ),
    Mq200BinarySensorDescription(
        key="demand_response", translation_key="demand_response",
        value_fn=lambda s: s.demand_response_active,
    ),
    Mq200BinarySensorDescription(
        key="central_system", translation_key="central_system",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC, entity_registry_enabled_default=False,
        value_fn=lambda s: s.central_system_connected,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities(
        Mq200BinarySensor(entry.runtime_data, description) for description in BINARY_SENSORS
    )


class Mq200BinarySensor(Mq200Entity, BinarySensorEntity):
    entity_description: Mq200BinarySensorDescription

    def __init__(
        self, coordinator: Mq200Coordinator, description: Mq200BinarySensorDescription
    ) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def is_on(self) -> bool | None:
        return self.entity_description.value_fn(self.coordinator.state)
