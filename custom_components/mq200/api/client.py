"""Async client for one charger's twin API (docs/twin-api.md): REST for writes, one WebSocket
subscription for state. It owns the protocol: callers use typed methods and get typed answers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final

import aiohttp
from yarl import URL

from .errors import (
    Mq200AuthenticationError,
    Mq200ConnectionError,
    Mq200Error,
    parse_error_body,
)
from .models import (
    ChargerState,
    Delta,
    DepartureGoal,
    JsonObject,
    LoadManagementPolicy,
    PriceEntry,
    ScheduleWindow,
    SettingValue,
    WhatIfAnswer,
)

LOGGER = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
DEFAULT_PORT = 8080
#: Ping period of our side of the socket; a silent peer is detected within 1.5 × this.
DEFAULT_HEARTBEAT_S = 10.0

# Station settings that carry commands (docs/home-assistant.md, "Controller contract"): a new
# value is a new request; the controller answers in desired_status like for any setting.
SETTING_REBOOT_REQUEST = "reboot_request"
SETTING_FAULT_RESET_REQUEST = "fault_reset_request"
SETTING_FIRMWARE_INSTALL = "firmware_install"
SETTING_LLM_POLICY = "llm_policy"

#: Id of the local demand-response event this integration writes (desired ``demand_response``).
DEMAND_RESPONSE_EVENT_ID = "home-assistant"
#: How long a local demand-response event lasts when no end is given.
DEFAULT_DEMAND_RESPONSE_LENGTH = timedelta(hours=24)


class Keep(Enum):
    """Marker for "leave this desired key as it is" (``None`` already means "remove it")."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def _delta_from(msg: JsonObject) -> Delta:
    version = msg.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"delta.version: {version!r} is not an integer")
    reported, desired = msg.get("reported"), msg.get("desired")
    desired_version = msg.get("desired_version")
    return Delta(
        version=version,
        reported=reported if isinstance(reported, dict) else None,
        desired=desired if isinstance(desired, dict) else None,
        desired_version=desired_version if isinstance(desired_version, int) else None,
    )


class Mq200Client:
    """One charger's twin, reached at ``host:port`` with a ``client`` token."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        session: aiohttp.ClientSession,
        *,
        request_timeout: float = 10.0,
        heartbeat: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.host = host
        self.port = port
        self._token = token
        self._session = session
        self._timeout = request_timeout
        self._heartbeat = heartbeat
        self._ids = itertools.count(1)
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    # ------------------------------------------------------------------ plumbing

    def _url(self, path: str, scheme: str = "http") -> URL:
        return URL.build(scheme=scheme, host=self.host, port=self.port, path=API_PREFIX + path)

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: JsonObject | None = None,
        params: Mapping[str, str] | None = None,
    ) -> JsonObject:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._session.request(
                    method, self._url(path), json=body, params=params, headers=self._headers
                ) as resp:
                    text = await resp.text()
                    status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise Mq200ConnectionError(
                f"cannot reach the charger at {self.host}:{self.port}: {err or type(err).__name__}"
            ) from err
        try:
            data: Any = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = None
        if status in (401, 403):
            raise Mq200AuthenticationError(
                parse_error_body(status, data, f"HTTP {status}").message
            )
        if status >= 400:
            raise parse_error_body(status, data, f"HTTP {status} from {method} {path}")
        if not isinstance(data, dict):
            raise Mq200ConnectionError(f"{method} {path}: the answer is not a JSON object")
        return data

    async def _patch_desired(self, patch: JsonObject) -> int:
        answer = await self._request("PATCH", "/state/desired", body={"desired": patch})
        version = answer.get("version")
        return version if isinstance(version, int) else 0

    # ------------------------------------------------------------------ reads

    async def get_state(self) -> ChargerState:
        try:
            return ChargerState.from_json(await self._request("GET", "/state"))
        except ValueError as err:
            raise Mq200ConnectionError(f"the twin sent a bad state: {err}") from err

    async def whatif(self) -> WhatIfAnswer:
        """When the EV will be full and whether the departure goal is met."""
        return WhatIfAnswer.from_json(await self._request("GET", "/whatif"))

    async def check_write_access(self) -> None:
        """Raise :class:`Mq200AuthenticationError` unless the token may write ``desired``.

        An empty patch changes nothing and bumps no version, yet goes through the role check.
        """
        await self._patch_desired({})

    # ------------------------------------------------------------------ desired writes

    async def set_charging_enabled(self, enabled: bool) -> int:
        return await self._patch_desired({"charging_enabled": enabled})

    async def set_current_limit(self, amps: int | None) -> int:
        """``None`` removes the app's limit (the controller's own maximum applies)."""
        return await self._patch_desired({"current_limit_a": amps})

    async def set_schedules(self, windows: Sequence[ScheduleWindow] | None) -> int:
        value = None if windows is None else [w.as_json() for w in windows]
        return await self._patch_desired({"schedules": value})

    async def set_departure_goal(self, goal: DepartureGoal | None) -> int:
        """Replace the goal; absent fields are sent as null, or the merge would keep old ones."""
        if goal is None:
            return await self._patch_desired({"departure_goal": None})
        value = {"energy_wh": None, "target_soc_pct": None, "battery_kwh": None, **goal.as_json()}
        return await self._patch_desired({"departure_goal": value})

    async def clear_schedule(self) -> int:
        return await self._patch_desired({"schedules": None, "departure_goal": None})

    async def set_prices(self, prices: Sequence[PriceEntry] | None) -> int:
        value = None if prices is None else [p.as_json() for p in prices]
        return await self._patch_desired({"prices": value})

    async def set_settings(self, settings: Mapping[str, SettingValue]) -> int:
        return await self._patch_desired({"settings": dict(settings)})

    async def set_demand_response(
        self,
        *,
        now: datetime,
        opt_out: bool | None = None,
        limit_a: int | None | Keep = KEEP,
        until: datetime | None = None,
    ) -> int:
        """Opt in/out of utility events and/or start or end a local event, in one patch.

        ``limit_a`` amps (0 pauses) starts the local event (id ``home-assistant``) at ``now``
        and ends it at ``until`` (default: 24 h later); ``None`` ends it; :data:`KEEP` (the
        default) leaves it alone. ``now`` is the caller's clock (aware, any zone).
        """
        if now.tzinfo is None:
            raise ValueError("set_demand_response: now must be timezone-aware")
        patch: JsonObject = {}
        if opt_out is not None:
            patch["dr_opt_out"] = opt_out
        if limit_a is None:
            if until is not None:
                raise ValueError("set_demand_response: until needs limit_a (None ends the event)")
            patch["demand_response"] = None
        elif limit_a is not KEEP:
            if until is not None and until.tzinfo is None:
                raise ValueError("set_demand_response: until must be timezone-aware")
            start = now.astimezone(UTC).replace(microsecond=0)
            end = (until.astimezone(UTC) if until is not None
                   else start + DEFAULT_DEMAND_RESPONSE_LENGTH)
            if end <= start:
                raise ValueError(
                    f"set_demand_response: until {end.isoformat()} is not after now"
                )
            # level: null clears a level another client may have set on the same key (merge patch)
            patch["demand_response"] = {
                "id": DEMAND_RESPONSE_EVENT_ID, "start": start.isoformat(),
                "end": end.isoformat(), "limit_a": limit_a, "level": None,
            }
        elif until is not None:
            raise ValueError("set_demand_response: until needs limit_a")
        if not patch:
            raise ValueError("set_demand_response: give opt_out or limit_a")
        return await self._patch_desired(patch)

    async def request_reboot(self, at: datetime) -> int:
        return await self.set_settings({SETTING_REBOOT_REQUEST: at.isoformat()})

    async def request_fault_reset(self, at: datetime) -> int:
        return await self.set_settings({SETTING_FAULT_RESET_REQUEST: at.isoformat()})

    async def install_firmware(self, version: str) -> int:
        return await self.set_settings({SETTING_FIRMWARE_INSTALL: version})

    async def set_load_management_policy(self, policy: LoadManagementPolicy) -> int:
        return await self.set_settings({SETTING_LLM_POLICY: policy.value})

    # ------------------------------------------------------------------ push

    async def listen(self, on_state: Callable[[ChargerState], None]) -> None:
        """Subscribe and call ``on_state`` with the snapshot and after every delta.

        Returns only by raising: :class:`Mq200AuthenticationError` when the token is refused,
        :class:`Mq200ConnectionError` when the socket cannot open or closes. A version gap makes
        it resubscribe (a fresh snapshot), as the protocol asks.
        """
        try:
            ws = await self._session.ws_connect(
                self._url("/ws", "ws"), headers=self._headers, heartbeat=self._heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=self._timeout),
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status in (401, 403):
                raise Mq200AuthenticationError(f"the twin refused the token ({err.status})") from err
            raise Mq200ConnectionError(f"WebSocket upgrade failed: {err.status}") from err
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise Mq200ConnectionError(
                f"cannot reach the charger at {self.host}:{self.port}: {err or type(err).__name__}"
            ) from err
        self._ws = ws
        try:
            await ws.send_json({"type": "subscribe", "id": next(self._ids)})
            state: ChargerState | None = None
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                state = await self._handle(ws, msg.data, state, on_state)
            raise Mq200ConnectionError(
                f"the charger closed the connection (code {ws.close_code})"
            )
        except (aiohttp.ClientError, OSError) as err:
            raise Mq200ConnectionError(f"connection to the charger lost: {err}") from err
        finally:
            self._ws = None
            await ws.close()

    async def _handle(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        text: str,
        state: ChargerState | None,
        on_state: Callable[[ChargerState], None],
    ) -> ChargerState | None:
        try:
            msg = json.loads(text)
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "snapshot":
                state = ChargerState.from_json(msg.get("state"))
                on_state(state)
            elif kind == "delta" and state is not None:
                delta = _delta_from(msg)
                if delta.version <= state.version:
                    return state
                if delta.version != state.version + 1:
                    LOGGER.debug("version gap %s → %s; resubscribing", state.version, delta.version)
                    await ws.send_json({"type": "subscribe", "id": next(self._ids)})
                    return None
                state = state.apply(delta)
                on_state(state)
            elif kind == "error":
                LOGGER.warning("the twin reported an error: %s", msg.get("message"))
        except (ValueError, AttributeError) as err:
            LOGGER.warning("ignoring a bad message from the twin: %s", err)
        return state

    async def disconnect(self) -> None:
        if self._ws is not None:
            await self._ws.close()


__all__ = ["Mq200Client", "Mq200Error"]
