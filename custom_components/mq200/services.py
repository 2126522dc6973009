"""Actions: start/stop, current limit, schedules and goals, demand response, dynamic prices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .actions import run_write
from .api import KEEP, DepartureGoal, Keep, OneOffWindow, PriceEntry
from .const import ACTION_WINDOW_PREFIX, ATTR_CONFIG_ENTRY_ID, DOMAIN
from .coordinator import Mq200Coordinator

SERVICE_START_CHARGING = "start_charging"
SERVICE_STOP_CHARGING = "stop_charging"
SERVICE_SET_CURRENT_LIMIT = "set_current_limit"
SERVICE_SCHEDULE_CHARGING = "schedule_charging"
SERVICE_CLEAR_SCHEDULE = "clear_schedule"
SERVICE_SET_DEMAND_RESPONSE = "set_demand_response"
SERVICE_PUSH_PRICES = "push_prices"

_ENTRY: dict[vol.Marker, Any] = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}

SCHEMA_ENTRY_ONLY = vol.Schema(_ENTRY)
SCHEMA_SET_CURRENT_LIMIT = vol.Schema(
    {**_ENTRY, vol.Required("current"): vol.All(vol.Coerce(int), vol.Range(min=0, max=80))}
)
SCHEMA_SCHEDULE_CHARGING = vol.Schema(
    {
        **_ENTRY,
        vol.Optional("start"): cv.datetime,
        vol.Optional("end"): cv.datetime,
        vol.Optional("ready_by"): cv.datetime,
        vol.Exclusive("energy", "target"): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=200)),
        vol.Exclusive("target_soc", "target"): vol.All(vol.Coerce(int), vol.Range(min=1, max=100)),
        vol.Optional("battery_capacity"): vol.All(vol.Coerce(float), vol.Range(min=1, max=300)),
    }
)
SCHEMA_SET_DEMAND_RESPONSE = vol.Schema(
    {
        **_ENTRY,
        vol.Optional("limit"): vol.All(vol.Coerce(int), vol.Range(min=0, max=80)),
        vol.Optional("until"): cv.datetime,
        vol.Optional("opt_out"): cv.boolean,
        vol.Optional("end_event"): cv.boolean,
    }
)
_PRICE = vol.Schema(
    {
        vol.Required("start"): cv.datetime,
        vol.Required("end"): cv.datetime,
        vol.Required("price"): vol.Coerce(float),
    }
)
SCHEMA_PUSH_PRICES = vol.Schema({**_ENTRY, vol.Required("prices"): vol.All(cv.ensure_list, [_PRICE])})


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _coordinator(hass: HomeAssistant, call: ServiceCall) -> Mq200Coordinator:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", title=entry.title)
    coordinator: Mq200Coordinator = entry.runtime_data
    return coordinator


def _aware(value: datetime) -> datetime:
    """Times without a zone are Home Assistant's local time (the twin needs an offset)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt_util.DEFAULT_TIME_ZONE)


async def _start(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    return await c.client.set_charging_enabled(True)


async def _stop(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    return await c.client.set_charging_enabled(False)


async def _set_current_limit(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    current: int = data["current"]
    maximum = c.state.max_current_a
    if current > maximum:
        raise _invalid("current_above_maximum", current=str(current), maximum=str(maximum))
    if 0 < current < 6:
        raise _invalid("current_below_minimum", current=str(current))
    return await c.client.set_current_limit(current)


async def _schedule(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    has_window = "start" in data or "end" in data
    has_goal = "ready_by" in data
    if has_window == has_goal:
        raise _invalid("schedule_window_or_goal")
    if has_window:
        if "start" not in data or "end" not in data:
            raise _invalid("schedule_window_or_goal")
        start, end = _aware(data["start"]), _aware(data["end"])
        if end <= start:
            raise _invalid("end_before_start")
        window = OneOffWindow(f"{ACTION_WINDOW_PREFIX}{int(start.timestamp())}", start, end)
        others = [w for w in c.state.schedules if w.id != window.id]
        return await c.client.set_schedules([*others, window])
    if "energy" not in data and "target_soc" not in data:
        raise _invalid("goal_needs_target")
    goal = DepartureGoal(
        ready_by=_aware(data["ready_by"]),
        energy_wh=data["energy"] * 1000 if "energy" in data else None,
        target_soc_pct=data.get("target_soc"),
        battery_kwh=data.get("battery_capacity"),
    )
    return await c.client.set_departure_goal(goal)


async def _clear(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    return await c.client.clear_schedule()


async def _demand_response(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    """``limit`` [+ ``until``] starts the local event, ``end_event`` ends it; ``opt_out`` alone
    leaves it as it is."""
    end_event = bool(data.get("end_event"))
    if not ({"limit", "until", "opt_out"} & set(data) or end_event):
        raise _invalid("demand_response_empty")
    if "until" in data and "limit" not in data:
        raise _invalid("demand_response_until_needs_limit")
    if end_event and "limit" in data:
        raise _invalid("demand_response_limit_or_end")
    now = dt_util.utcnow()
    until = _aware(data["until"]) if "until" in data else None
    if until is not None and until <= now:
        raise _invalid("demand_response_until_past")
    limit_a: int | None | Keep = None if end_event else data.get("limit", KEEP)
    return await c.client.set_demand_response(
        now=now, opt_out=data.get("opt_out"), limit_a=limit_a, until=until
    )


async def _push_prices(c: Mq200Coordinator, data: dict[str, Any]) -> int:
    prices = [
        PriceEntry(_aware(p["start"]), _aware(p["end"]), p["price"]) for p in data["prices"]
    ]
    return await c.client.set_prices(prices)


_Handler = Callable[[Mq200Coordinator, dict[str, Any]], Awaitable[int]]

_SERVICES: dict[str, tuple[vol.Schema, _Handler]] = {
    SERVICE_START_CHARGING: (SCHEMA_ENTRY_ONLY, _start),
    SERVICE_STOP_CHARGING: (SCHEMA_ENTRY_ONLY, _stop),
    SERVICE_SET_CURRENT_LIMIT: (SCHEMA_SET_CURRENT_LIMIT, _set_current_limit),
    SERVICE_SCHEDULE_CHARGING: (SCHEMA_SCHEDULE_CHARGING, _schedule),
    SERVICE_CLEAR_SCHEDULE: (SCHEMA_ENTRY_ONLY, _clear),
    SERVICE_SET_DEMAND_RESPONSE: (SCHEMA_SET_DEMAND_RESPONSE, _demand_response),
    SERVICE_PUSH_PRICES: (SCHEMA_PUSH_PRICES, _push_prices),
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    for name, (schema, handler) in _SERVICES.items():

        async def handle(call: ServiceCall, handler: _Handler = handler) -> None:
            coordinator = _coordinator(hass, call)
            await run_write(handler(coordinator, dict(call.data)))

        hass.services.async_register(DOMAIN, name, handle, schema=schema)
