"""The WebSocket to the central system: ws/wss, Basic Auth, ping, reconnect with back-off.

Security profile 1 = ws + HTTP Basic Auth, profile 2 = wss + Basic Auth (server certificate
checked against ``ca_file`` or the system store).  With Remote Service Type APP the station
never connects (the mobile app is in charge).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import ssl

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from controller.ocpp.charge_point import OcppChargePoint
from controller.ocpp.clock_waits import clock_delay

LOGGER = logging.getLogger(__name__)


class CentralSystemLink:
    def __init__(self, charge_point: OcppChargePoint, rng: random.Random | None = None) -> None:
        self._cp = charge_point
        self._rng = rng or random.Random()
        self._stopping = False
        self._websocket: ClientConnection | None = None
        self.connects = 0
        self.backing_off = asyncio.Event()  # set while waiting to reconnect (observable state)

    def _headers(self) -> dict[str, str]:
        password = self._cp.settings.basic_auth_password
        if password is None:
            return {}
        token = f"{self._cp.settings.charge_point_id}:{password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(token).decode()}

    def _ssl(self) -> ssl.SSLContext | None:
        if not self._cp.settings.central_system_url.startswith("wss:"):
            return None
        context = ssl.create_default_context(cafile=self._cp.settings.ca_file)
        return context

    async def run(self) -> None:
        """Connect, run the session, reconnect after a growing random delay; until stop()."""
        if self._cp.settings.remote_service_type != "OCPP":
            LOGGER.info("Remote Service Type is %s: no central system connection",
                        self._cp.settings.remote_service_type)
            return
        delay = self._cp.settings.reconnect_min_delay
        while not self._stopping:
            try:
                await self._session()
                delay = self._cp.settings.reconnect_min_delay
            except (OSError, InvalidHandshake, ConnectionClosed, asyncio.TimeoutError) as error:
                LOGGER.warning("central system unreachable: %s", error)
            if self._stopping:
                break
            wait = delay * (0.5 + self._rng.random())
            self.backing_off.set()
            try:
                await clock_delay(self._cp.clock, wait)
            finally:
                self.backing_off.clear()
            delay = min(delay * 2, self._cp.settings.reconnect_max_delay)

    async def _session(self) -> None:
        ping = self._cp.config.get_int("WebSocketPingInterval")
        async with websockets.connect(
            self._cp.settings.endpoint,
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            additional_headers=self._headers(),
            ssl=self._ssl(),
            ping_interval=ping if ping > 0 else None,
            ping_timeout=self._cp.settings.pdu_timeout if ping > 0 else None,
            open_timeout=self._cp.settings.pdu_timeout,
            max_queue=None,
        ) as websocket:
            if websocket.subprotocol != "ocpp1.6":
                raise InvalidHandshake("central system did not accept subprotocol ocpp1.6")
            self._websocket = websocket
            self.connects += 1

            async def recv() -> str:
                message = await websocket.recv()
                return message if isinstance(message, str) else message.decode()

            self._cp.attach(recv, websocket.send)
            try:
                await self._cp.run_session()
            finally:
                self._websocket = None

    async def stop(self) -> None:
        self._stopping = True
        websocket = self._websocket
        if websocket is not None:
            await websocket.close()
