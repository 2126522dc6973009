"""Select: load-management policy, only on a charger that is its group's gateway."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .actions import run_write
from .api import LoadManagementPolicy
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    if entry.runtime_data.state.is_gateway:
        async_add_entities([Mq200PolicySelect(entry.runtime_data)])


class Mq200PolicySelect(Mq200Entity, SelectEntity):
    _attr_translation_key = "load_management_policy"
    _attr_entity_category = EntityCategory.CONFIG
    _attr_options = [policy.value for policy in LoadManagementPolicy]

    def __init__(self, coordinator: Mq200Coordinator) -> None:
        super().__init__(coordinator, "load_management_policy")

    @property
    def current_option(self) -> str | None:
        policy = self.coordinator.state.load_management_policy
        return None if policy is None else policy.value

    async def async_select_option(self, option: str) -> None:
        await run_write(
            self.coordinator.client.set_load_management_policy(LoadManagementPolicy(option))
        )
