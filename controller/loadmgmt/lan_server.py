"""The gateway's LAN listener: the load-management WebSocket and, if set, the OCPP proxy.

The listener outlives the :class:`~controller.loadmgmt.gateway.Gateway` it serves, so a gateway
that restarts (or, in a simulation, loses power) keeps its address: while no gateway runs, a
join is answered with HTTP 503 and the client backs off and retries.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from controller.loadmgmt.gateway import Gateway
from controller.loadmgmt.protocol import LAN_PATH, MAX_FRAME_BYTES

if TYPE_CHECKING:
    from controller.loadmgmt.proxy import OcppProxy

log = logging.getLogger(__name__)


class LanServer:
    def __init__(self, host: str, port: int, proxy: OcppProxy | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.port = 0
        self.gateway: Gateway | None = None
        self.app = web.Application()
        self.app.router.add_get(LAN_PATH, self._handle)
        self.proxy = proxy
        if proxy is not None:
            proxy.add_routes(self.app)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{LAN_PATH}"

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.requested_port
        log.info("load-management LAN listener on %s", self.url)
        return self.port

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        gateway = self.gateway
        if gateway is None or not gateway.running:
            return web.Response(status=503, text="load-management gateway not running")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True)
        await ws.prepare(request)
        await gateway.serve(ws, request.remote or "?")
        return ws
