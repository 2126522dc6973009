"""The gateway as the group's OCPP local proxy (SPEC §Communication settings, Gateway mode).

A client's OCPP stack is unchanged: its Central System URL points at the gateway
(``ws://<gateway>:<lan port>/ocpp``) and it connects to ``/ocpp/<its charge point id>`` as
usual.  For each such connection the gateway opens one upstream WebSocket to
``<central system URL>/<charge point id>`` and relays OCPP-J frames both ways, unchanged, in
order.  Remote commands from the central system arrive on the upstream connection of the charge
point they address, so they reach exactly that client.  Only charge point ids of members that
joined the load-management group (and are online) are relayed; the client's own HTTP Basic
credentials are passed through, so the central system still authenticates each station.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

OCPP_PATH_PREFIX = "/ocpp"
OCPP_SUBPROTOCOL = "ocpp1.6"
MAX_OCPP_FRAME_BYTES = 1 << 20


@dataclass
class RelayCounters:
    to_central_system: int = 0
    to_client: int = 0
    connects: int = 0


class OcppProxy:
    def __init__(self, central_system_url: str, is_member: Callable[[str], bool],
                 connect_timeout_s: float = 10.0) -> None:
        if not central_system_url.startswith(("ws://", "wss://")):
            raise ValueError(
                f"central_system_url: {central_system_url!r} must start with ws:// or wss://")
        self.central_system_url = central_system_url.rstrip("/")
        self._is_member = is_member
        self._timeout = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self.counters: dict[str, RelayCounters] = {}
        self._open: set[web.WebSocketResponse] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(OCPP_PATH_PREFIX + "/{charge_point_id}", self._handle)

    async def close(self) -> None:
        for ws in list(self._open):
            await ws.close(code=1001, message=b"gateway shutting down")
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        cpid = request.match_info["charge_point_id"]
        if not self._is_member(cpid):
            log.warning("OCPP proxy: %s is not an online member of this group", cpid)
            return web.Response(status=403, text=f"charge point {cpid!r} is not an online member "
                                "of this load-management group")
        if OCPP_SUBPROTOCOL not in _offered_protocols(request):
            return web.Response(status=400, text="the client must offer subprotocol ocpp1.6")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=self._timeout))
        headers = {}
        if "Authorization" in request.headers:
            headers["Authorization"] = request.headers["Authorization"]
        try:
            upstream = await self._session.ws_connect(
                f"{self.central_system_url}/{cpid}", protocols=(OCPP_SUBPROTOCOL,),
                headers=headers, autoping=True, max_msg_size=MAX_OCPP_FRAME_BYTES,
            )
        except aiohttp.WSServerHandshakeError as exc:
            return web.Response(status=exc.status or 502,
                                text=f"central system refused {cpid}: {exc.message}")
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            return web.Response(status=502, text=f"central system unreachable: {exc}")
        if upstream.protocol != OCPP_SUBPROTOCOL:
            await upstream.close()
            return web.Response(status=502, text="central system did not accept ocpp1.6")
        downstream = web.WebSocketResponse(protocols=(OCPP_SUBPROTOCOL,),
                                           max_msg_size=MAX_OCPP_FRAME_BYTES)
        await downstream.prepare(request)
        self._open.add(downstream)
        counters = self.counters.setdefault(cpid, RelayCounters())
        counters.connects += 1
        log.info("OCPP proxy: %s relayed to %s", cpid, self.central_system_url)
        try:
            await _pipe_both_ways(downstream, upstream, counters)
        finally:
            self._open.discard(downstream)
        return downstream


def _sendable(code: int) -> bool:
    """Close codes that may be sent in a close frame (1005, 1006 and 1015 are never sent)."""
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


def _offered_protocols(request: web.Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


async def _pipe_both_ways(client: web.WebSocketResponse, central: aiohttp.ClientWebSocketResponse,
                          counters: RelayCounters) -> None:
    """Relay until either side closes, then close the other with the same code."""

    async def up() -> tuple[str, int | None]:
        async for msg in client:
            if msg.type is WSMsgType.TEXT:
                await central.send_str(msg.data)
                counters.to_central_system += 1
            elif msg.type is WSMsgType.BINARY:
                await central.send_bytes(msg.data)
        return "client", client.close_code

    async def down() -> tuple[str, int | None]:
        async for msg in central:
            if msg.type is WSMsgType.TEXT:
                await client.send_str(msg.data)
                counters.to_client += 1
            elif msg.type is WSMsgType.BINARY:
                await client.send_bytes(msg.data)
        return "central", central.close_code

    tasks = {asyncio.ensure_future(up()), asyncio.ensure_future(down())}
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
    code = 1000
    for task in done:
        if not task.cancelled() and task.exception() is None:
            _side, closed_with = task.result()
            code = closed_with if closed_with is not None and _sendable(closed_with) else 1000
    if not client.closed:
        await client.close(code=code)
    if not central.closed:
        await central.close(code=code)
    await asyncio.gather(*pending, return_exceptions=True)
