"""Time entities: the daily charge window's start and end, and the departure time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import time

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .actions import run_write
from .api import ChargerState, Mq200Client
from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity
from .schedule import daily_window, departure_at, with_daily_bound

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class Mq200TimeDescription(TimeEntityDescription):
    value_fn: Callable[[ChargerState], time | None]
    set_fn: Callable[[Mq200Client, ChargerState, time], Awaitable[int]]


def _departure(state: ChargerState) -> time | None:
    goal = state.departure_goal
    return None if goal is None else dt_util.as_local(goal.ready_by).time()


TIMES: tuple[Mq200TimeDescription, ...] = (
    Mq200TimeDescription(
        key="daily_window_start", translation_key="daily_window_start",
        value_fn=lambda s: (w.start if (w := daily_window(s)) else None),
        set_fn=lambda c, s, v: c.set_schedules(with_daily_bound(s, start=v)),
    ),
    Mq200TimeDescription(
        key="daily_window_end", translation_key="daily_window_end",
        value_fn=lambda s: (w.end if (w := daily_window(s)) else None),
        set_fn=lambda c, s, v: c.set_schedules(with_daily_bound(s, end=v)),
    ),
    Mq200TimeDescription(
        key="departure_time", translation_key="departure_time",
        value_fn=_departure,
        set_fn=lambda c, s, v: c.set_departure_goal(departure_at(s, v, dt_util.now())),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities(Mq200Time(entry.runtime_data, d) for d in TIMES)


class Mq200Time(Mq200Entity, TimeEntity):
    entity_description: Mq200TimeDescription

    def __init__(self, coordinator: Mq200Coordinator, description: Mq200TimeDescription) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> time | None:
        return self.entity_description.value_fn(self.coordinator.state)

    async def async_set_value(self, value: time) -> None:
        await run_write(
            self.entity_description.set_fn(self.coordinator.client, self.coordinator.state, value)
        )
