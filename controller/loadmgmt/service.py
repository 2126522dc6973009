"""Load management in the daemon: builds what the network mode asks for and reports its status.

Direct: nothing runs.  Gateway: the LAN listener (with the OCPP proxy when a central system URL
is given) and the :class:`Gateway`; its member table is kept in the station's storage so the
fallback of members that are offline stays reserved across a restart.  Client: the
:class:`LoadManagementClient`.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.charging.station import Station
from controller.clock import Clock
from controller.loadmgmt.client import LoadManagementClient
from controller.loadmgmt.gateway import Gateway
from controller.loadmgmt.lan_server import LanServer
from controller.loadmgmt.proxy import OcppProxy
from controller.loadmgmt.settings import LoadManagementSettings, NetworkMode
from controller.loadmgmt.status import LlmStatus, llm_status

log = logging.getLogger(__name__)

MEMBERS_KEY = "llm_members"


class LoadManagementService:
    def __init__(self, settings: LoadManagementSettings, clock: Clock, station: Station,
                 serial: str, *, charge_point_id: str | None = None,
                 central_system_url: str | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self.station = station
        self.serial = serial
        self.charge_point_id = charge_point_id
        self.central_system_url = central_system_url
        self.server: LanServer | None = None
        self.gateway: Gateway | None = None
        self.client: LoadManagementClient | None = None

    async def start(self) -> None:
        mode = self.settings.network_mode
        if mode is NetworkMode.GATEWAY:
            proxy = None
            if self.central_system_url:
                proxy = OcppProxy(self.central_system_url, self._is_member)
            self.server = LanServer(self.settings.listen_host, self.settings.port, proxy)
            await self.server.start()
            stored = self.station.storage.get_json(MEMBERS_KEY)
            remembered: list[dict[str, Any]] = stored if isinstance(stored, list) else []
            self.gateway = Gateway(self.settings, self._clock, self.station, self.serial,
                                   remembered=remembered)
            self.gateway.on_limits.append(lambda _a: self._remember())
            self.server.gateway = self.gateway
            self.gateway.start()
        elif mode is NetworkMode.CLIENT:
            self.client = LoadManagementClient(self.settings, self._clock, self.station,
                                               self.serial, charge_point_id=self.charge_point_id)
            self.client.start()

    def _is_member(self, charge_point_id: str) -> bool:
        gateway = self.gateway
        return gateway is not None and gateway.member_for_charge_point(charge_point_id) is not None

    def _remember(self) -> None:
        gateway = self.gateway
        if gateway is None:
            return
        table = gateway.remembered()
        if table != self.station.storage.get_json(MEMBERS_KEY):
            self.station.storage.put_json(MEMBERS_KEY, table)

    def status(self) -> LlmStatus:
        return llm_status(self.settings, self.gateway or self.client)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        if self.server is not None:
            await self.server.stop()
