"""Base entity: one charger device, available while its twin pushes and its controller is on."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DEFAULT_MODEL, DOMAIN, MANUFACTURER
from .coordinator import Mq200Coordinator


class Mq200Entity(CoordinatorEntity[Mq200Coordinator]):
    _attr_has_entity_name = True

    def __init__(self, coordinator: Mq200Coordinator, key: str) -> None:
        super().__init__(coordinator)
        state = coordinator.state
        self._attr_unique_id = f"{state.serial}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, state.serial)},
            serial_number=state.serial,
            manufacturer=MANUFACTURER,
            model=state.model or DEFAULT_MODEL,
            name=f"MQ 200 {state.serial}",
            sw_version=state.firmware,
            configuration_url=f"http://{coordinator.client.host}",
        )

    @property
    def available(self) -> bool:
        return super().available and self.coordinator.state.online
