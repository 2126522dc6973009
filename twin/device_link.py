"""How the controller talks to its twin: in-process (embedded) or over a WebSocket (remote).

Both links offer the same synchronous :class:`DeviceLink` calls, so the controller never knows
which one it has. The desired callback receives the *whole* desired half — on connect and on
every change — and the controller answers each delivery with :meth:`DeviceLink.ack_desired`.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import logging
from typing import Callable, Mapping, Protocol

import aiohttp

from controller.clock import Clock, TimerHandle
from twin.documents import (
    EventIn,
    JsonObject,
    JsonValue,
    KeyStatus,
    SessionIn,
    check_device_report,
    ensure_object,
    merge_patch,
)
from twin.service import DesiredDelivery, Subscription, TwinService

log = logging.getLogger(__name__)

DesiredCallback = Callable[[DesiredDelivery], None]
StatusMap = Mapping[str, KeyStatus | Mapping[str, JsonValue]]


class DeviceLink(Protocol):
    def report(self, patch: Mapping[str, JsonValue]) -> None: ...

    def on_desired(self, callback: DesiredCallback) -> None: ...

    def ack_desired(self, version: int, statuses: StatusMap) -> None: ...

    def record_event(self, event: EventIn | Mapping[str, JsonValue]) -> None: ...

    def record_session(self, session: SessionIn | Mapping[str, JsonValue]) -> None: ...


def _status_json(statuses: StatusMap) -> JsonObject:
    out: JsonObject = {}
    for key, st in statuses.items():
        out[key] = (
            st.model_dump(exclude_none=True) if isinstance(st, KeyStatus) else dict(st)
        )
    return out


class EmbeddedDeviceLink:
    """Direct calls into a :class:`TwinService` in the same process (the default at home)."""

    def __init__(self, service: TwinService) -> None:
        self._service = service
        self._subs: list[Subscription] = []
        service.set_online(True)

    def report(self, patch: Mapping[str, JsonValue]) -> None:
        self._service.report(patch)

    def on_desired(self, callback: DesiredCallback) -> None:
        """Register, and hand over the current desired at once (it may predate this run)."""
        self._subs.append(self._service.on_desired(callback))
        callback(self._service.desired_delivery())

    def ack_desired(self, version: int, statuses: StatusMap) -> None:
        self._service.ack_desired(version, statuses)

    def record_event(self, event: EventIn | Mapping[str, JsonValue]) -> None:
        self._service.record_event(event)

    def record_session(self, session: SessionIn | Mapping[str, JsonValue]) -> None:
        self._service.record_session(session)

    def close(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs.clear()
        self._service.set_online(False)


class RemoteDeviceLink:
    """The controller's side of a standalone twin, over WebSocket with the device token.

    Reports are merged into a local mirror of the whole reported half; on every (re)connect the
    mirror is sent as ``hello`` and the twin answers with the whole desired half, so nothing a
    client wished for while the link was down is lost. Events, sessions and acks made while
    disconnected wait in a bounded outbox. Reconnects back off exponentially on the clock.
    """

    OUTBOX_LIMIT = 5000

    def __init__(
        self,
        url: str,
        token: str,
        clock: Clock,
        *,
        initial_reported: Mapping[str, JsonValue] | None = None,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 60.0,
        heartbeat_s: float = 30.0,
    ) -> None:
        if not url.startswith(("ws://", "wss://", "http://", "https://")):
            raise ValueError(f"url: {url!r} must be a ws://, wss://, http:// or https:// URL")
        self._url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        if not self._url.rstrip("/").endswith("/api/v1/ws"):
            self._url = self._url.rstrip("/") + "/api/v1/ws"
        self._token = token
        self._clock = clock
        self._mirror: JsonObject = {}
        if initial_reported is not None:
            self.report(initial_reported)
        self._min_backoff = min_backoff_s
        self._max_backoff = max_backoff_s
        self._backoff = min_backoff_s
        self._heartbeat = heartbeat_s
        self._callbacks: list[DesiredCallback] = []
        self._outbox: collections.deque[str] = collections.deque()
        self._wake = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._retry: TimerHandle | None = None
        self._closing = False
        self._connected = asyncio.Event()
        self.connects = 0
        self.last_delivery: DesiredDelivery | None = None

    # ------------------------------------------------------------------ DeviceLink

    def report(self, patch: Mapping[str, JsonValue]) -> None:
        body = ensure_object(dict(patch), "reported", "invalid_report")
        check_device_report(body)
        merged = merge_patch(self._mirror, body)
        assert isinstance(merged, dict)
        self._mirror = merged
        if self.connected:
            self._enqueue({"type": "report", "reported": copy.deepcopy(body)})

    def on_desired(self, callback: DesiredCallback) -> None:
        self._callbacks.append(callback)
        if self.last_delivery is not None:
            callback(self.last_delivery)

    def ack_desired(self, version: int, statuses: StatusMap) -> None:
        self._enqueue(
            {"type": "ack_desired", "desired_version": version, "statuses": _status_json(statuses)}
        )

    def record_event(self, event: EventIn | Mapping[str, JsonValue]) -> None:
        body = event.model_dump(mode="json", exclude_none=True) if isinstance(
            event, EventIn) else dict(event)
        self._enqueue({"type": "event", "event": body})

    def record_session(self, session: SessionIn | Mapping[str, JsonValue]) -> None:
        body = session.model_dump(mode="json", exclude_none=True) if isinstance(
            session, SessionIn) else dict(session)
        self._enqueue({"type": "session", "session": body})

    # ------------------------------------------------------------------ lifecycle

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        self._closing = False
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._spawn()

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def close(self) -> None:
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ internals

    def _enqueue(self, message: JsonObject) -> None:
        if len(self._outbox) >= self.OUTBOX_LIMIT:
            dropped = self._outbox.popleft()
            log.warning("twin outbox full; dropped %s", dropped[:80])
        self._outbox.append(json.dumps(message, separators=(",", ":")))
        self._wake.set()

    def _spawn(self) -> None:
        self._retry = None
        if self._closing:
            return
        self._task = asyncio.get_running_loop().create_task(self._connection())

    def _schedule_retry(self) -> None:
        if self._closing:
            return
        delay = self._backoff
        self._backoff = min(self._max_backoff, self._backoff * 2)
        log.info("twin link: reconnecting in %.1f s", delay)
        self._retry = self._clock.call_later(delay, self._spawn)

    async def _connection(self) -> None:
        assert self._session is not None
        try:
            ws = await self._session.ws_connect(
                self._url,
                headers={"Authorization": f"Bearer {self._token}"},
                heartbeat=self._heartbeat,
            )
        except (aiohttp.ClientError, OSError) as exc:
            log.info("twin link: connect failed: %s", exc)
            self._schedule_retry()
            return
        self._ws = ws
        writer: asyncio.Task[None] | None = None
        try:
            # Reports queued before this point are covered by the full mirror in hello.
            self._outbox = collections.deque(
                m for m in self._outbox if not m.startswith('{"type":"report"')
            )
            await ws.send_str(json.dumps({"type": "hello", "reported": self._mirror}))
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    continue
                if data.get("type") == "desired":
                    first = not self._connected.is_set()
                    self._deliver(data)
                    if first:
                        self._connected.set()
                        self._backoff = self._min_backoff
                        self.connects += 1
                        writer = asyncio.create_task(self._writer(ws))
                elif data.get("type") == "error":
                    log.warning("twin link: twin rejected a message: %s", data.get("message"))
        except (aiohttp.ClientError, OSError, json.JSONDecodeError) as exc:
            log.info("twin link: connection lost: %s", exc)
        finally:
            self._connected.clear()
            self._ws = None
            if writer is not None:
                writer.cancel()
            if not ws.closed:
                await ws.close()
        self._schedule_retry()

    def _deliver(self, data: JsonObject) -> None:
        version = data.get("desired_version")
        desired = data.get("desired")
        if isinstance(version, bool) or not isinstance(version, int) or not isinstance(
            desired, dict
        ):
            log.warning("twin link: malformed desired message ignored")
            return
        delivery = DesiredDelivery(version, desired)
        self.last_delivery = delivery
        for cb in list(self._callbacks):
            try:
                cb(delivery)
            except Exception:
                log.exception("desired callback %r failed", cb)

    async def _writer(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            while self._outbox:
                text = self._outbox[0]
                await ws.send_str(text)
                self._outbox.popleft()
            self._wake.clear()
            await self._wake.wait()
