"""aiohttp app serving a :class:`TwinService` over REST and WebSocket (docs/twin-api.md).

The server only translates: it authenticates, parses, calls the service and encodes answers.
Pushes to a socket go through a bounded per-connection queue drained by one writer task, so a
slow client never blocks the service, and one that falls too far behind is disconnected (it
resubscribes and gets a fresh snapshot).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import WSMsgType, web

from twin.auth import Principal, Role, TokenRegistry
from twin.documents import DocumentError, JsonObject, JsonValue, iso, parse_iso
from twin.service import Delta, DesiredDelivery, Subscription, TwinService, VersionConflict
from twin.store import DailyEnergy, EventRecord, SessionRecord
from twin.whatif import WhatIfQuestion

log = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("twin_service", TwinService)
TOKENS_KEY = web.AppKey("twin_tokens", TokenRegistry)
DEVICE_WS_KEY = web.AppKey("twin_device_ws", list["_Connection"])
CONNECTIONS_KEY = web.AppKey("twin_connections", dict["_Connection", None])

API = "/api/v1"
WS_QUEUE_LIMIT = 10_000
CLOSE_SUPERSEDED = 4001
CLOSE_TOO_SLOW = 4008


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[JsonObject] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    def body(self) -> JsonObject:
        err: JsonObject = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = list(self.details)
        return {"error": err}


def _translate(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, DocumentError):
        return ApiError(422, exc.code, str(exc), [p.as_json() for p in exc.problems])
    if isinstance(exc, VersionConflict):
        return ApiError(409, "version_conflict", str(exc),
                        [{"key": "version", "value": exc.current}])
    if isinstance(exc, ValueError):
        return ApiError(400, "bad_request", str(exc))
    raise exc


def _json(data: JsonObject, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return _json(ApiError(404, "not_found", f"no such path: {request.path}").body(), 404)
        if exc.status == 405:
            return _json(ApiError(405, "method_not_allowed",
                                  f"{request.method} is not allowed on {request.path}").body(), 405)
        raise
    except (ApiError, DocumentError, VersionConflict, ValueError) as exc:
        err = _translate(exc)
        return _json(err.body(), err.status)


def _principal(request: web.Request, write_role: Role | None = None) -> Principal:
    principal = request.app[TOKENS_KEY].authenticate(request.headers.get("Authorization"))
    if principal is None:
        raise ApiError(401, "unauthorized", "a valid 'Authorization: Bearer <token>' is required")
    if write_role is not None and principal.role != write_role:
        raise ApiError(403, "forbidden",
                       f"a {principal.role} token may not do this (needs a {write_role} token)")
    return principal


async def _body(request: web.Request) -> JsonObject:
    try:
        data = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "body must be a JSON object")
    return data


def _envelope(body: JsonObject, key: str) -> JsonObject:
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise ApiError(400, "bad_request", f"body must have a {key!r} object")
    return inner


def _if_version(value: JsonValue) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "bad_request", f"if_version: {value!r} is not an integer")
    return value


# ---------------------------------------------------------------------------- JSON views


def state_json(service: TwinService) -> JsonObject:
    return service.state().as_json()


def session_json(s: SessionRecord) -> JsonObject:
    return {
        "id": s.id,
        "started_at": iso(s.started_at),
        "ended_at": None if s.ended_at is None else iso(s.ended_at),
        "id_tag": s.id_tag,
        "energy_wh": s.energy_wh,
        "meter_start_wh": s.meter_start_wh,
        "meter_stop_wh": s.meter_stop_wh,
        "cost": s.cost,
        "stop_reason": s.stop_reason,
    }


def event_json(e: EventRecord) -> JsonObject:
    return {"id": e.id, "at": iso(e.at), "kind": e.kind, "message": e.message, "data": e.data}


def day_json(d: DailyEnergy) -> JsonObject:
    return {"day": d.day, "energy_wh": d.energy_wh, "sessions": d.sessions}


def _whatif_question(params: dict[str, Any]) -> WhatIfQuestion:
    def num(name: str) -> float | None:
        raw = params.get(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "bad_request", f"{name}: {raw!r} is not a number") from exc

    by_raw = params.get("by")
    by = None
    if by_raw is not None:
        if not isinstance(by_raw, str):
            raise ApiError(400, "bad_request", f"by: {by_raw!r} is not an ISO datetime")
        by = parse_iso(by_raw, "by")
    return WhatIfQuestion(
        target_soc_pct=num("target_soc_pct"),
        target_energy_wh=num("target_energy_wh"),
        by=by,
        assume_power_w=num("assume_power_w"),
    )


# ---------------------------------------------------------------------------- REST handlers


async def get_state(request: web.Request) -> web.Response:
    _principal(request)
    return _json(state_json(request.app[SERVICE_KEY]))


async def get_desired(request: web.Request) -> web.Response:
    _principal(request)
    d = request.app[SERVICE_KEY].desired_delivery()
    return _json({"desired_version": d.desired_version, "desired": d.desired})


async def patch_desired(request: web.Request) -> web.Response:
    who = _principal(request, "client")
    body = await _body(request)
    service = request.app[SERVICE_KEY]
    version = service.set_desired(
        _envelope(body, "desired"), who.name, _if_version(body.get("if_version"))
    )
    d = service.desired_delivery()
    return _json({"version": version, "desired_version": d.desired_version, "desired": d.desired})


async def patch_reported(request: web.Request) -> web.Response:
    _principal(request, "device")
    body = await _body(request)
    return _json({"version": request.app[SERVICE_KEY].report(_envelope(body, "reported"))})


def _ack(service: TwinService, body: JsonObject) -> int:
    version = body.get("desired_version")
    statuses = body.get("statuses", {})
    if isinstance(version, bool) or not isinstance(version, int):
        raise ApiError(422, "invalid_ack", f"ack.desired_version: {version!r} is not an integer",
                       [{"key": "desired_version", "value": version, "message": "integer needed"}])
    if not isinstance(statuses, dict):
        raise ApiError(422, "invalid_ack", "ack.statuses must be an object",
                       [{"key": "statuses", "value": statuses, "message": "object needed"}])
    clean: dict[str, dict[str, JsonValue]] = {}
    for key, st in statuses.items():
        if not isinstance(st, dict):
            raise ApiError(422, "invalid_ack", f"ack.statuses.{key} must be an object",
                           [{"key": f"statuses.{key}", "value": st, "message": "object needed"}])
        clean[key] = st
    return service.ack_desired(version, clean)


async def post_ack(request: web.Request) -> web.Response:
    _principal(request, "device")
    return _json({"version": _ack(request.app[SERVICE_KEY], await _body(request))})


async def post_event(request: web.Request) -> web.Response:
    _principal(request, "device")
    return _json({"id": request.app[SERVICE_KEY].record_event(await _body(request))})


async def post_session(request: web.Request) -> web.Response:
    _principal(request, "device")
    return _json({"id": request.app[SERVICE_KEY].record_session(await _body(request))})


def _opt_time(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    return None if raw is None else parse_iso(raw, name)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"limit: {raw!r} is not an integer") from exc
    if not 1 <= value <= 1000:
        raise ApiError(400, "bad_request", f"limit: {value} is not in 1–1000")
    return value


def _opt_day(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"{name}: {raw!r} is not a YYYY-MM-DD date") from exc


async def get_sessions(request: web.Request) -> web.Response:
    _principal(request)
    rows = request.app[SERVICE_KEY].sessions(
        _opt_time(request, "since"), _opt_time(request, "until"), _limit(request)
    )
    return _json({"sessions": [session_json(s) for s in rows]})


async def get_events(request: web.Request) -> web.Response:
    _principal(request)
    rows = request.app[SERVICE_KEY].events(
        _opt_time(request, "since"),
        _opt_time(request, "until"),
        request.query.get("kind"),
        _limit(request),
    )
    return _json({"events": [event_json(e) for e in rows]})


async def get_energy_daily(request: web.Request) -> web.Response:
    _principal(request)
    rows = request.app[SERVICE_KEY].energy_daily(
        _opt_day(request, "from"), _opt_day(request, "to")
    )
    return _json({"days": [day_json(d) for d in rows]})


async def get_whatif(request: web.Request) -> web.Response:
    _principal(request)
    question = _whatif_question(dict(request.query))
    return _json(request.app[SERVICE_KEY].whatif(question))


# ---------------------------------------------------------------------------- WebSocket


class _Connection:
    """One WebSocket: an outgoing queue, its writer task and what it subscribed to."""

    def __init__(self, ws: web.WebSocketResponse, principal: Principal) -> None:
        self.ws = ws
        self.principal = principal
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(WS_QUEUE_LIMIT)
        self.deltas: Subscription | None = None
        self.desired: Subscription | None = None
        self.too_slow = False

    def send(self, message: JsonObject | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.too_slow = True
            self.stop_pushes()
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    def send_close(self) -> None:
        """Close after what is already queued (a newer device connection took over)."""
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.too_slow = True

    def stop_pushes(self) -> None:
        if self.deltas is not None:
            self.deltas.cancel()
            self.deltas = None
        if self.desired is not None:
            self.desired.cancel()
            self.desired = None

    async def writer(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None:
                code = CLOSE_TOO_SLOW if self.too_slow else CLOSE_SUPERSEDED
                await self.ws.close(code=code, message=b"closing")
                return
            await self.ws.send_str(text)


async def websocket(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    conn = _Connection(ws, principal)
    service = request.app[SERVICE_KEY]
    request.app[CONNECTIONS_KEY][conn] = None
    writer = asyncio.create_task(conn.writer())
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    conn.send(_ws_error(None, ApiError(400, "bad_request", "text frames only")))
                continue
            _handle_ws_message(request.app, service, conn, msg.data)
    finally:
        conn.stop_pushes()
        request.app[CONNECTIONS_KEY].pop(conn, None)
        devices = request.app[DEVICE_WS_KEY]
        if conn in devices:
            devices.remove(conn)
            if not devices:
                try:
                    service.set_online(False)
                except Exception:
                    log.exception("could not mark the device offline")
        writer.cancel()
        try:
            await writer
        except (asyncio.CancelledError, ConnectionError):
            pass
    return ws


def _ws_error(msg_id: JsonValue, err: ApiError) -> JsonObject:
    out: JsonObject = {"type": "error", "status": err.status, "code": err.code,
                       "message": err.message}
    if msg_id is not None:
        out["id"] = msg_id
    if err.details:
        out["details"] = list(err.details)
    return out


def _with_id(msg_id: JsonValue, message: JsonObject) -> JsonObject:
    if msg_id is not None:
        message["id"] = msg_id
    return message


def _handle_ws_message(
    app: web.Application, service: TwinService, conn: _Connection, text: str
) -> None:
    msg_id: JsonValue = None
    try:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(400, "bad_request", f"message is not valid JSON: {exc}") from exc
        if not isinstance(msg, dict):
            raise ApiError(400, "bad_request", "message must be a JSON object")
        msg_id = msg.get("id")
        kind = msg.get("type")
        handler = _WS_HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise ApiError(400, "bad_request", f"unknown message type {kind!r}")
        role, fn = handler
        if role is not None and conn.principal.role != role:
            raise ApiError(403, "forbidden",
                           f"a {conn.principal.role} token may not send {kind!r}")
        reply = fn(app, service, conn, msg)
        if reply is not None:
            conn.send(_with_id(msg_id, reply))
    except (ApiError, DocumentError, VersionConflict, ValueError) as exc:
        conn.send(_ws_error(msg_id, _translate(exc)))


_WsHandler = Callable[[web.Application, TwinService, _Connection, JsonObject], JsonObject | None]


def _ws_subscribe(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    if conn.deltas is not None:
        conn.deltas.cancel()
    # Snapshot and registration happen with no await between them: no delta lost or doubled.
    snapshot = _with_id(msg.get("id"), {"type": "snapshot", "state": state_json(service)})
    conn.send(snapshot)

    def push(delta: Delta) -> None:
        conn.send(delta.as_text())

    conn.deltas = service.subscribe(push)
    return None


def _ws_unsubscribe(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    if conn.deltas is not None:
        conn.deltas.cancel()
        conn.deltas = None
    return {"type": "result"}


def _ws_get_state(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    return {"type": "state", "state": state_json(service)}


def _ws_ping(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    return {"type": "pong"}


def _ws_set_desired(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    version = service.set_desired(
        _envelope(msg, "desired"), conn.principal.name, _if_version(msg.get("if_version"))
    )
    return {"type": "result", "version": version,
            "desired_version": service.desired_delivery().desired_version}


def _ws_whatif(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    return {"type": "whatif", "answer": service.whatif(_whatif_question(msg))}


def _ws_hello(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    devices = app[DEVICE_WS_KEY]
    delivery = service.device_hello(_envelope(msg, "reported"))
    for old in list(devices):
        if old is not conn:
            devices.remove(old)
            old.stop_pushes()
            old.send_close()
    if conn not in devices:
        devices.append(conn)
    if conn.desired is not None:
        conn.desired.cancel()
    conn.send(delivery.as_message())

    def push(d: DesiredDelivery) -> None:
        conn.send(d.as_message())

    conn.desired = service.on_desired(push)
    return None


def _ws_report(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    service.report(_envelope(msg, "reported"))
    return None


def _ws_ack(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    _ack(service, msg)
    return None


def _ws_event(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    service.record_event(_envelope(msg, "event"))
    return None


def _ws_session(
    app: web.Application, service: TwinService, conn: _Connection, msg: JsonObject
) -> JsonObject | None:
    service.record_session(_envelope(msg, "session"))
    return None


_WS_HANDLERS: dict[str, tuple[Role | None, _WsHandler]] = {
    "subscribe": (None, _ws_subscribe),
    "unsubscribe": (None, _ws_unsubscribe),
    "get_state": (None, _ws_get_state),
    "ping": (None, _ws_ping),
    "whatif": (None, _ws_whatif),
    "set_desired": ("client", _ws_set_desired),
    "hello": ("device", _ws_hello),
    "report": ("device", _ws_report),
    "ack_desired": ("device", _ws_ack),
    "event": ("device", _ws_event),
    "session": ("device", _ws_session),
}


# ---------------------------------------------------------------------------- the app


async def _close_sockets(app: web.Application) -> None:
    conns: dict[_Connection, None] = app[CONNECTIONS_KEY]
    for conn in list(conns):
        await conn.ws.close(code=1001, message=b"twin shutting down")


def create_app(service: TwinService, tokens: TokenRegistry) -> web.Application:
    """The twin's aiohttp application; mount it or run it with an AppRunner."""
    if len(tokens) == 0:
        raise ValueError("tokens: at least one token is needed (no anonymous access)")
    app = web.Application(middlewares=[_errors], client_max_size=4 * 1024 * 1024)
    app[SERVICE_KEY] = service
    app[TOKENS_KEY] = tokens
    app[DEVICE_WS_KEY] = []
    app[CONNECTIONS_KEY] = {}
    app.on_shutdown.append(_close_sockets)
    r = app.router
    r.add_get(f"{API}/state", get_state)
    r.add_get(f"{API}/state/desired", get_desired)
    r.add_patch(f"{API}/state/desired", patch_desired)
    r.add_patch(f"{API}/state/reported", patch_reported)
    r.add_post(f"{API}/state/desired/ack", post_ack)
    r.add_post(f"{API}/history/events", post_event)
    r.add_post(f"{API}/history/sessions", post_session)
    r.add_get(f"{API}/history/sessions", get_sessions)
    r.add_get(f"{API}/history/events", get_events)
    r.add_get(f"{API}/history/energy/daily", get_energy_daily)
    r.add_get(f"{API}/whatif", get_whatif)
    r.add_get(f"{API}/ws", websocket)
    return app
