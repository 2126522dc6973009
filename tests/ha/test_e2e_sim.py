"""End to end: HA ↔ real controller process on the simulated charger (``mq200 run --sim``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util

from custom_components.mq200.const import CONF_TOKEN, DOMAIN

from .conftest import wait_for, wait_for_state
from .controller_harness import E2E_SERIAL, E2E_TAG, SimController

P = "mq_200_" + E2E_SERIAL.lower().replace("-", "_")


@pytest.fixture
def controller(socket_enabled: None, tmp_path: Path) -> Iterator[SimController]:
    ctl = SimController(tmp_path / "controller")
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.stop()


async def test_ha_sees_and_steers_the_simulated_charger(
    hass: HomeAssistant, controller: SimController
) -> None:
    # Set up through the real config flow, like a homeowner would.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: controller.host, CONF_PORT: controller.port,
                            CONF_TOKEN: controller.client_token},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == E2E_SERIAL
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.runtime_data.client._ws is not None)
    await wait_for_state(hass, f"sensor.{P}_status", "available", timeout=20)
    limit = hass.states.get(f"number.{P}_current_limit")
    assert limit is not None and limit.attributes["max"] == 32

    # Plug the simulated EV in and present a card: the entities follow.
    await controller.sim("plug", {"soc": 0.4, "battery_kwh": 60, "max_a": 32})
    await wait_for_state(hass, f"binary_sensor.{P}_plugged_in", "on", timeout=20)
    await controller.sim("tag", {"uid": E2E_TAG})
    await wait_for_state(hass, f"binary_sensor.{P}_charging", "on", timeout=30)
    await wait_for_state(hass, f"sensor.{P}_charging_power",
                         lambda s: s.state not in ("unknown", "unavailable") and float(s.state) > 1000,
                         timeout=30)
    assert (await controller.board())["contactor"] is True

    # Pause from HA: the simulated contactor opens.
    await hass.services.async_call("switch", "turn_off",
                                   {ATTR_ENTITY_ID: f"switch.{P}_charging_enabled"}, blocking=True)

    def reported() -> dict[str, Any]:
        current: dict[str, Any] = entry.runtime_data.state.reported
        return current

    await wait_for(hass, lambda: reported().get("contactor") is False, timeout=20)
    assert (await controller.board())["contactor"] is False
    await wait_for_state(hass, f"binary_sensor.{P}_charging", "off", timeout=20)

    # Resume, then lower the limit: the pilot offers less.
    await hass.services.async_call("switch", "turn_on",
                                   {ATTR_ENTITY_ID: f"switch.{P}_charging_enabled"}, blocking=True)
    await hass.services.async_call("number", "set_value",
                                   {ATTR_ENTITY_ID: f"number.{P}_current_limit", "value": 16},
                                   blocking=True)
    await wait_for_state(hass, f"sensor.{P}_offered_current",
                         lambda s: s.state not in ("unknown", "unavailable") and float(s.state) == 16,
                         timeout=30)

    # A demand-response event from HA: the controller's demand_response limit source binds
    # with the asked amps and the simulated pilot offers them.
    until = dt_util.now().replace(microsecond=0) + timedelta(hours=1)
    await hass.services.async_call(
        DOMAIN, "set_demand_response",
        {"config_entry_id": entry.entry_id, "limit": 10, "until": until}, blocking=True,
    )

    def dr_limit() -> dict[str, Any] | None:
        return next((lim for lim in reported().get("limits", [])
                     if lim.get("source") == "demand_response"), None)

    await wait_for(hass, lambda: (dr_limit() or {}).get("amps") == 10, timeout=20)
    assert reported()["desired_status"]["demand_response"]["state"] == "applied"
    await wait_for_state(hass, f"binary_sensor.{P}_demand_response_event", "on", timeout=20)
    await wait_for_state(hass, f"sensor.{P}_offered_current",
                         lambda s: s.state not in ("unknown", "unavailable") and float(s.state) == 10,
                         timeout=30)
    assert (await controller.board())["offered_a"] == pytest.approx(10, abs=0.1)
    events = reported()["demand_response"]["events"]
    assert [(e["id"], e["origin"]) for e in events] == [("home-assistant", "twin")]
    assert dt_util.parse_datetime(events[0]["end"]) == until

    # Ending it from HA removes the event (charging comes back after the random delay).
    await hass.services.async_call(
        DOMAIN, "set_demand_response",
        {"config_entry_id": entry.entry_id, "end_event": True}, blocking=True,
    )
    await wait_for(hass, lambda: reported()["demand_response"]["events"] == [], timeout=20)
    assert "resuming in" in (dr_limit() or {}).get("reason", "")

    # Schedule a window: it lands in the twin, the controller applies it and reports it.
    start = dt_util.now().replace(second=0, microsecond=0) + timedelta(hours=6)
    await hass.services.async_call(
        DOMAIN, "schedule_charging",
        {"config_entry_id": entry.entry_id, "start": start, "end": start + timedelta(hours=2)},
        blocking=True,
    )

    def schedule_answered() -> bool:
        status = reported().get("desired_status", {}).get("schedules", {})
        return status.get("state") in ("applied", "rejected")

    await wait_for(hass, schedule_answered, timeout=20)
    state = await controller.twin_state()
    assert len(state["desired"]["schedules"]) == 1
    window = state["desired"]["schedules"][0]
    assert window["start"] == start.isoformat()
    assert state["reported"]["desired_status"]["schedules"]["state"] == "applied"
    schedule = state["reported"]["schedule"]
    assert schedule["windows"] == 1 and schedule["restricting"] is True
    assert schedule["active"] is False
    assert [d["id"] for d in schedule["definitions"]] == [window["id"]]
    assert dt_util.parse_datetime(state["reported"]["next_start"]) == start
    await wait_for_state(hass, f"sensor.{P}_next_scheduled_start",
                         lambda s: dt_util.parse_datetime(s.state) == start, timeout=20)

    # The charger goes away: entities become unavailable; it comes back: they return.
    controller.stop()
    await wait_for_state(hass, f"sensor.{P}_status", "unavailable", timeout=30)

    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
