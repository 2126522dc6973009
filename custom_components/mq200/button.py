"""Buttons: reboot the charger, reset a recoverable fault."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.button import (
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .actions import run_write
from .api import Mq200Client
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class Mq200ButtonDescription(ButtonEntityDescription):
    press_fn: Callable[[Mq200Client, datetime], Awaitable[int]]


BUTTONS: tuple[Mq200ButtonDescription, ...] = (
    Mq200ButtonDescription(
        key="reboot", device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda client, now: client.request_reboot(now),
    ),
    Mq200ButtonDescription(
        key="reset_fault", translation_key="reset_fault",
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda client, now: client.request_fault_reset(now),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities(Mq200Button(entry.runtime_data, d) for d in BUTTONS)


class Mq200Button(Mq200Entity, ButtonEntity):
    entity_description: Mq200ButtonDescription

    def __init__(self, coordinator: Mq200Coordinator, description: Mq200ButtonDescription) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    async def async_press(self) -> None:
        await run_write(
            self.entity_description.press_fn(self.coordinator.client, dt_util.utcnow())
        )
