"""A load-management group for tests: real stations on the physics board, real LAN on 127.0.0.1.

Stations and controllers share one VirtualClock; the LAN is real.  ``step`` lets the LAN settle
(every frame handled) before each timer, as ``mq200 simulate`` does, so tests are exact about
virtual time without sleeping.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from controller.charging.dip import dip_for_amps
from controller.charging.station import Station
from controller.clock import VirtualClock
from controller.loadmgmt.client import ClientState, LoadManagementClient
from controller.loadmgmt.gateway import Gateway
from controller.loadmgmt.inflight import InFlight
from controller.loadmgmt.lan_server import LanServer
from controller.loadmgmt.proxy import OcppProxy
from controller.loadmgmt.settings import LoadManagementSettings
from controller.settings import StationSettings
from controller.storage import Storage
from twin.inprocess_link import InProcessLink, StationPort
from twin.physics.board import BoardConfig, SimBoard
from twin.physics.ev import EV, EVSpec

START = 1_767_650_400.0
SECRET = "a-group-secret-of-some-length"
TAG = "TAG00001"


@dataclass
class Charger:
    serial: str
    station: Station
    board: SimBoard
    clock: VirtualClock
    ev: EV | None = None

    def plug_in(self, max_a: float = 48.0) -> None:
        self.ev = EV(self.clock, EVSpec(battery_kwh=80, max_current_a=max_a), soc=0.2, target_soc=1.0)
        self.board.plug(self.ev)
        self.board.present_tag(TAG)

    def leave(self) -> None:
        self.board.unplug()
        self.ev = None

    @property
    def offered(self) -> float:
        return self.station.snapshot().offered_a

    @property
    def reason(self) -> str:
        return self.station.snapshot().limit_reason

    @property
    def llm_limit(self) -> tuple[float | None, str]:
        lim = self.station.arbiter.limit("load_management")
        assert lim is not None
        return lim.amps, lim.reason


@dataclass
class Group:
    clock: VirtualClock
    inflight: InFlight
    server: LanServer
    settings: LoadManagementSettings
    chargers: dict[str, Charger] = field(default_factory=dict)
    gateway: Gateway | None = None
    clients: dict[str, LoadManagementClient] = field(default_factory=dict)
    _all_clients: list[LoadManagementClient] = field(default_factory=list)

    def charger(self, serial: str, dip_a: int = 32) -> Charger:
        link = InProcessLink(self.clock)
        board = SimBoard(self.clock, link.deliver, random.Random(serial), dip=dip_for_amps(dip_a),
                         config=BoardConfig(meter_interval_s=5.0, watchdog_s=None))
        station = Station(self.clock, StationPort(board), Storage(":memory:"),
                          StationSettings(local_list=[TAG]), random.Random(1))
        link.attach(station.handle_board_event)
        board.start()
        charger = Charger(serial, station, board, self.clock)
        self.chargers[serial] = charger
        return charger

    def start_gateway(self, serial: str = "GW", dip_a: int = 32, **changes: Any) -> Gateway:
        charger = self.chargers.get(serial) or self.charger(serial, dip_a)
        settings = self.settings.apply({"network_mode": "gateway", **changes})
        gateway = Gateway(settings, self.clock, charger.station, serial, inflight=self.inflight)
        self.gateway = gateway
        self.server.gateway = gateway
        gateway.start()
        return gateway

    def add_client(self, serial: str, dip_a: int = 32, **changes: Any) -> LoadManagementClient:
        charger = self.chargers.get(serial) or self.charger(serial, dip_a)
        settings = self.settings.apply({"network_mode": "client", "gateway_host": "127.0.0.1",
                                        "port": self.server.port, **changes})
        client = LoadManagementClient(settings, self.clock, charger.station, serial,
                                      charge_point_id=serial, inflight=self.inflight)
        self.clients[serial] = client
        self._all_clients.append(client)
        client.start()
        return client

    async def step(self, dt: float = 0.0) -> None:
        """Advance virtual time by ``dt``, the LAN settling before every timer."""
        end = self.clock.now() + dt
        while True:
            await self.inflight.settled()
            deadline = self.clock.next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.step()
        self.clock.run_until(end)
        await self.inflight.settled()

    def limits(self) -> dict[str, float]:
        return {s: c.offered for s, c in self.chargers.items()}

    async def close(self) -> None:
        for client in self._all_clients:
            client.halt()
        if self.gateway is not None:
            self.gateway.halt()
        for client in self._all_clients:
            await client.stop()
        await self.server.stop()


async def make_group(proxy_to: str | None = None, **settings: Any) -> Group:
    base = LoadManagementSettings(group_id="home", group_secret=SECRET, grid_max_a=60,
                                  listen_host="127.0.0.1", port=0).apply(settings)
    holder: dict[str, Group] = {}

    def is_member(cpid: str) -> bool:
        gw = holder["group"].gateway
        return gw is not None and gw.member_for_charge_point(cpid) is not None

    proxy = OcppProxy(proxy_to, is_member) if proxy_to else None
    server = LanServer("127.0.0.1", 0, proxy)
    await server.start()
    group = Group(VirtualClock(START), InFlight(), server, base)
    holder["group"] = group
    await group.step()
    return group


async def wait_for_state(client: LoadManagementClient, state: ClientState,
                         timeout: float = 5.0) -> None:
    """Wait (on the client's own notification) for a state only the real network can cause."""
    if client.state is state:
        return
    reached: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def observe(now: ClientState) -> None:
        if now is state and not reached.done():
            reached.set_result(None)

    client.on_state.append(observe)
    try:
        await asyncio.wait_for(reached, timeout)
    finally:
        client.on_state.remove(observe)
