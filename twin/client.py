"""Typed async client of the twin API for apps, voice and tests (docs/twin-api.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import aiohttp

from twin.documents import JsonObject, JsonValue, merge_patch


class TwinApiError(Exception):
    """An error answer of the twin: HTTP-like status, code, message and per-key details."""

    def __init__(
        self, status: int, code: str, message: str, details: list[JsonObject] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


@dataclass(frozen=True)
class TwinState:
    device_id: str
    version: int
    desired_version: int
    updated_at: str
    reported: JsonObject
    desired: JsonObject

    @classmethod
    def from_json(cls, data: JsonObject) -> TwinState:
        device_id, version = data.get("device_id"), data.get("version")
        desired_version, updated_at = data.get("desired_version"), data.get("updated_at")
        reported, desired = data.get("reported"), data.get("desired")
        if not (
            isinstance(device_id, str)
            and isinstance(version, int)
            and isinstance(desired_version, int)
            and isinstance(updated_at, str)
            and isinstance(reported, dict)
            and isinstance(desired, dict)
        ):
            raise TwinApiError(502, "bad_reply", f"malformed state from the twin: {data!r:.200}")
        return cls(device_id, version, desired_version, updated_at, reported, desired)

    def apply(self, message: SyncMessage) -> TwinState:
        """The state after a delta (a snapshot replaces the state)."""
        if message.kind == "snapshot":
            assert message.state is not None
            return message.state
        reported = merge_patch(self.reported, message.reported or {})
        desired = merge_patch(self.desired, message.desired or {})
        assert isinstance(reported, dict) and isinstance(desired, dict)
        return TwinState(
            self.device_id,
            message.version,
            message.desired_version if message.desired is not None else self.desired_version,
            message.at or self.updated_at,
            reported,
            desired,
        )


@dataclass(frozen=True)
class SyncMessage:
    """A snapshot (whole state) or a delta (merge patches of the halves that changed)."""

    kind: Literal["snapshot", "delta"]
    version: int
    reported: JsonObject | None
    desired: JsonObject | None
    desired_version: int
    at: str | None = None
    state: TwinState | None = field(default=None, repr=False)


def _raise_for(status: int, body: Any) -> None:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        details = err.get("details")
        raise TwinApiError(
            status,
            str(err.get("code", "error")),
            str(err.get("message", "")),
            details if isinstance(details, list) else None,
        )
    raise TwinApiError(status, "error", f"unexpected reply: {body!r:.200}")


def _ws_raise(msg: JsonObject) -> None:
    status = msg.get("status")
    details = msg.get("details")
    raise TwinApiError(
        status if isinstance(status, int) else 500,
        str(msg.get("code", "error")),
        str(msg.get("message", "")),
        [d for d in details if isinstance(d, dict)] if isinstance(details, list) else None,
    )


class TwinClient:
    """REST for one-shot calls, WebSocket for :meth:`subscribe`. Use as an async context."""

    def __init__(
        self, base_url: str, token: str, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._base = base_url.rstrip("/") + "/api/v1"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> TwinClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        params: Mapping[str, str] | None = None,
    ) -> JsonObject:
        async with self._http().request(
            method, self._base + path, json=body, params=params, headers=self._headers
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError) as exc:
                raise TwinApiError(resp.status, "bad_reply", f"reply is not JSON: {exc}") from exc
            if resp.status >= 400:
                _raise_for(resp.status, data)
            if not isinstance(data, dict):
                raise TwinApiError(resp.status, "bad_reply", "reply is not a JSON object")
            return data

    # ------------------------------------------------------------------ reads

    async def get_state(self) -> TwinState:
        return TwinState.from_json(await self._request("GET", "/state"))

    async def sessions(
        self, since: str | None = None, until: str | None = None, limit: int = 100
    ) -> list[JsonObject]:
        params = {"limit": str(limit)}
        if since:
            params["since"] = since
        if until:
            params["until"] = until
        data = await self._request("GET", "/history/sessions", params=params)
        return _list_of_objects(data.get("sessions"))

    async def events(
        self, kind: str | None = None, since: str | None = None, limit: int = 100
    ) -> list[JsonObject]:
        params = {"limit": str(limit)}
        if kind:
            params["kind"] = kind
        if since:
            params["since"] = since
        data = await self._request("GET", "/history/events", params=params)
        return _list_of_objects(data.get("events"))

    async def energy_daily(
        self, first_day: str | None = None, last_day: str | None = None
    ) -> list[JsonObject]:
        params: dict[str, str] = {}
        if first_day:
            params["from"] = first_day
        if last_day:
            params["to"] = last_day
        data = await self._request("GET", "/history/energy/daily", params=params)
        return _list_of_objects(data.get("days"))

    async def whatif(
        self,
        target_soc_pct: float | None = None,
        target_energy_wh: float | None = None,
        by: str | None = None,
        assume_power_w: float | None = None,
    ) -> JsonObject:
        params: dict[str, str] = {}
        for name, value in (
            ("target_soc_pct", target_soc_pct),
            ("target_energy_wh", target_energy_wh),
            ("assume_power_w", assume_power_w),
        ):
            if value is not None:
                params[name] = str(value)
        if by is not None:
            params["by"] = by
        return await self._request("GET", "/whatif", params=params)

    # ------------------------------------------------------------------ writes

    async def set_desired(
        self, patch: Mapping[str, JsonValue], if_version: int | None = None
    ) -> int:
        """Merge-patch the desired half; returns the new version."""
        body: JsonObject = {"desired": dict(patch)}
        if if_version is not None:
            body["if_version"] = if_version
        data = await self._request("PATCH", "/state/desired", body)
        version = data.get("version")
        if not isinstance(version, int):
            raise TwinApiError(502, "bad_reply", "reply has no version")
        return version

    # ------------------------------------------------------------------ push

    async def subscribe(self) -> AsyncIterator[SyncMessage]:
        """Snapshot first, then every delta as it happens; ends when the socket closes."""
        async with self._http().ws_connect(
            self._base + "/ws", headers=self._headers, heartbeat=30.0
        ) as ws:
            await ws.send_str(json.dumps({"type": "subscribe", "id": "sub"}))
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    continue
                kind = data.get("type")
                if kind == "snapshot":
                    raw = data.get("state")
                    if not isinstance(raw, dict):
                        raise TwinApiError(502, "bad_reply", "snapshot without state")
                    state = TwinState.from_json(raw)
                    yield SyncMessage("snapshot", state.version, copy.deepcopy(state.reported),
                                      copy.deepcopy(state.desired), state.desired_version,
                                      state.updated_at, state)
                elif kind == "delta":
                    yield _delta(data)
                elif kind == "error":
                    _ws_raise(data)

    async def watch(self) -> AsyncIterator[TwinState]:
        """The whole state after the snapshot and after every delta (resubscribes on a gap)."""
        state: TwinState | None = None
        async for message in self.subscribe():
            if state is not None and message.kind == "delta" and message.version != (
                state.version + 1
            ):
                raise TwinApiError(409, "gap", f"missed versions before {message.version}")
            state = message.state if message.kind == "snapshot" else (
                state.apply(message) if state is not None else None
            )
            if state is not None:
                yield state


def _delta(data: JsonObject) -> SyncMessage:
    version = data.get("version")
    reported, desired = data.get("reported"), data.get("desired")
    dv = data.get("desired_version")
    at = data.get("at")
    if not isinstance(version, int):
        raise TwinApiError(502, "bad_reply", "delta without version")
    return SyncMessage(
        "delta",
        version,
        reported if isinstance(reported, dict) else None,
        desired if isinstance(desired, dict) else None,
        dv if isinstance(dv, int) else 0,
        at if isinstance(at, str) else None,
    )


def _list_of_objects(value: JsonValue) -> list[JsonObject]:
    if not isinstance(value, list):
        raise TwinApiError(502, "bad_reply", "expected a list")
    return [v for v in value if isinstance(v, dict)]
