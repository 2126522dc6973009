"""Push-fed coordinator: one WebSocket subscription per entry, entities update on every delta."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api import (
    ChargerState,
    Mq200AuthenticationError,
    Mq200Client,
    Mq200Error,
)
from .const import DOMAIN, LOGGER, RECONNECT_MAX_S, RECONNECT_MIN_S, WHATIF_COOLDOWN

if TYPE_CHECKING:
    import asyncio

Mq200ConfigEntry: TypeAlias = ConfigEntry["Mq200Coordinator"]

#: Reported keys whose change can move the "when full" estimate.
_WHATIF_KEYS = frozenset({"status", "power_w", "ev", "next_start", "offered_a"})


@dataclass(frozen=True)
class Mq200Data:
    """What the entities read: the twin document and the latest "when full" estimate."""

    state: ChargerState
    full_at: datetime | None = None


class Mq200Coordinator(DataUpdateCoordinator[Mq200Data]):
    """Holds the charger state; fed by the twin's pushes, not by polling."""

    config_entry: Mq200ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: Mq200ConfigEntry, client: Mq200Client) -> None:
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN, update_interval=None)
        self.client = client
        self._listen_task: asyncio.Task[None] | None = None
        self._retry_unsub: CALLBACK_TYPE | None = None
        self._retry_delay = RECONNECT_MIN_S
        self._lost_logged = False
        self._stopping = False
        self._whatif = Debouncer(
            hass, LOGGER, cooldown=WHATIF_COOLDOWN.total_seconds(), immediate=True,
            function=self._refresh_whatif,
        )

    @property
    def state(self) -> ChargerState:
        return self.data.state

    async def _async_update_data(self) -> Mq200Data:
        """Read the whole document once (at setup); afterwards the socket feeds us."""
        try:
            state = await self.client.get_state()
        except Mq200AuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except Mq200Error as err:
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        full_at = self.data.full_at if self.data is not None else None
        return Mq200Data(state, full_at)

    # ------------------------------------------------------------------ push

    @callback
    def async_start_push(self) -> None:
        self._stopping = False
        self._connect()

    async def async_stop_push(self) -> None:
        self._stopping = True
        self._whatif.async_shutdown()
        if self._retry_unsub is not None:
            self._retry_unsub()
            self._retry_unsub = None
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            await self.client.disconnect()

    @callback
    def _connect(self, _now: datetime | None = None) -> None:
        self._retry_unsub = None
        if self._stopping:
            return
        self._listen_task = self.config_entry.async_create_background_task(
            self.hass, self._listen(), f"{DOMAIN}-listen-{self.config_entry.entry_id}"
        )

    async def _listen(self) -> None:
        try:
            await self.client.listen(self._on_state)
        except Mq200AuthenticationError as err:
            self._went_away(str(err))
            self.config_entry.async_start_reauth(self.hass)
            return
        except Mq200Error as err:
            self._went_away(str(err))
        if not self._stopping:
            delay = self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RECONNECT_MAX_S)
            LOGGER.debug("reconnecting to %s in %.0f s", self.client.host, delay)
            self._retry_unsub = async_call_later(self.hass, delay, self._connect)

    @callback
    def _on_state(self, state: ChargerState) -> None:
        previous = self.data.state if self.data is not None else None
        self._retry_delay = RECONNECT_MIN_S
        if self._lost_logged:
            LOGGER.info("MQ 200 %s is back", state.serial)
            self._lost_logged = False
        full_at = self.data.full_at if self.data is not None else None
        self.async_set_updated_data(Mq200Data(state, full_at))
        if not self._stopping and (previous is None or any(
            previous.reported.get(k) != state.reported.get(k) for k in _WHATIF_KEYS
        )):
            self.hass.async_create_task(self._whatif.async_call(), eager_start=True)

    @callback
    def _went_away(self, why: str) -> None:
        if not self._lost_logged:
            LOGGER.warning("MQ 200 at %s is unavailable: %s", self.client.host, why)
            self._lost_logged = True
        if self.last_update_success:
            self.last_update_success = False
            self.async_update_listeners()

    async def _refresh_whatif(self) -> None:
        try:
            answer = await self.client.whatif()
        except Mq200Error as err:
            LOGGER.debug("no 'when full' estimate: %s", err)
            return
        if self.data is not None and answer.full_at != self.data.full_at:
            self.async_set_updated_data(replace(self.data, full_at=answer.full_at))
