"""Fixtures for the Home Assistant tests: a real twin process and a configured entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers.event import async_track_state_change_event
from pytest_homeassistant_custom_component.common import MockConfigEntry

# Imported before the hass fixture runs, so HA's loader finds the custom integration.
from custom_components.mq200.const import CONF_TOKEN, DOMAIN

from .twin_harness import IDLE_REPORT, SERIAL, TwinServer


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    return


@pytest.fixture
def twin(socket_enabled: None, tmp_path: Path) -> Iterator[TwinServer]:
    server = TwinServer(tmp_path / "twin.db")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def reported_twin(twin: TwinServer) -> TwinServer:
    """The twin after the controller sent its first full report."""
    await twin.report(IDLE_REPORT)
    return twin


def make_entry(twin: TwinServer, token: str | None = None) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"MQ 200 {SERIAL}",
        unique_id=SERIAL,
        data={CONF_HOST: twin.host, CONF_PORT: twin.port, CONF_TOKEN: token or twin.client_token},
    )


@pytest.fixture
async def entry(hass: HomeAssistant, reported_twin: TwinServer) -> AsyncIterator[MockConfigEntry]:
    """A loaded entry whose WebSocket subscription is live; unloaded after the test."""
    config_entry = make_entry(reported_twin)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: config_entry.runtime_data.client._ws is not None)
    yield config_entry
    if config_entry.state.recoverable:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


async def wait_for(hass: HomeAssistant, condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait until ``condition()`` holds, re-checked whenever anything changes state or runs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        changed = loop.create_future()

        @callback
        def _wake(_event: Event[Any], changed: asyncio.Future[None] = changed) -> None:
            if not changed.done():
                changed.set_result(None)

        unsub = hass.bus.async_listen("*", _wake)  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(asyncio.shield(changed), 0.05)
        except TimeoutError:
            pass
        finally:
            unsub()


async def wait_for_state(
    hass: HomeAssistant, entity_id: str, expected: str | Callable[[State], bool],
    timeout: float = 10,
) -> State:
    """Wait for a state_changed event (or a current state) that matches ``expected``."""
    def matches(state: State | None) -> bool:
        if state is None:
            return False
        return state.state == expected if isinstance(expected, str) else expected(state)

    current = hass.states.get(entity_id)
    if matches(current):
        assert current is not None
        return current
    found: asyncio.Future[State] = asyncio.get_running_loop().create_future()

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if matches(new) and not found.done():
            assert new is not None
            found.set_result(new)

    unsub = async_track_state_change_event(hass, [entity_id], _changed)
    try:
        return await asyncio.wait_for(found, timeout)
    except TimeoutError:
        raise AssertionError(
            f"{entity_id} never matched {expected!r}; last: {hass.states.get(entity_id)}"
        ) from None
    finally:
        unsub()
