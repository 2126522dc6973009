"""Calendar: the charging schedule's windows and the demand-response events."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import Mq200ConfigEntry, Mq200Coordinator
from .entity import Mq200Entity
from .schedule import Span, spans

PARALLEL_UPDATES = 0
LOOKAHEAD = timedelta(days=8)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([Mq200Calendar(entry.runtime_data)])


def _event(span: Span) -> CalendarEvent:
    if span.kind == "demand_response":
        summary = "Demand response"
        if span.limit_a is not None:
            summary += f" ({span.limit_a:g} A)"
    else:
        summary = f"Charging window {span.uid.split('@')[0]}"
    return CalendarEvent(start=span.start, end=span.end, summary=summary, uid=span.uid)


class Mq200Calendar(Mq200Entity, CalendarEntity):
    _attr_translation_key = "schedule"

    def __init__(self, coordinator: Mq200Coordinator) -> None:
        super().__init__(coordinator, "schedule")

    @property
    def event(self) -> CalendarEvent | None:
        """The window or event in progress, else the next one within a week."""
        now = dt_util.now()
        upcoming = spans(self.coordinator.state, now, now + LOOKAHEAD, dt_util.DEFAULT_TIME_ZONE)
        return _event(upcoming[0]) if upcoming else None

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        return [
            _event(span)
            for span in spans(self.coordinator.state, start_date, end_date,
                              dt_util.DEFAULT_TIME_ZONE)
        ]
