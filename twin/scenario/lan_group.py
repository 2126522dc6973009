"""The load-management group of a scenario: real gateway and clients over 127.0.0.1.

The stations run on the scenario's virtual clock; the LAN protocol runs over real WebSockets.
Before every step of the clock the group waits until every frame sent has been handled
(:class:`~controller.loadmgmt.inflight.InFlight`), so a run stays deterministic for its seed.
A station that loses power takes its load-management controller down with it (halted: its
peers hear nothing more, as from a dead station); the controller that boots with power back is
a new instance, like after a real reboot.  A charger with ``online: false`` joins at boot and
then loses its network, so the gateway knows it and reserves its fallback current.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.charging.station import Station
from controller.clock import Clock, VirtualClock
from controller.loadmgmt.allocation import Allocation, Policy
from controller.loadmgmt.client import LoadManagementClient
from controller.loadmgmt.gateway import Gateway
from controller.loadmgmt.inflight import InFlight
from controller.loadmgmt.lan_server import LanServer
from controller.loadmgmt.settings import LoadManagementSettings, NetworkMode
from controller.loadmgmt.wiring import SiteWiring, WireType
from twin.scenario.model import ChargerSpec, Scenario

GROUP_ID = "scenario"
MAX_GROUP_SIZE = 20  # SPEC §Communication settings


class ScenarioLanGroup:
    def __init__(self, scenario: Scenario, clock: VirtualClock,
                 on_limits: Callable[[str, Allocation], None]) -> None:
        self.scenario = scenario
        self.clock = clock
        self.inflight = InFlight()
        members = [c for c in scenario.chargers if c.role != "direct"]
        gateway = next(c for c in members if c.role == "gateway")
        self.gateway_id = gateway.id
        self.member_ids = {c.id for c in members}
        site = scenario.site
        self.base = LoadManagementSettings(
            network_mode=NetworkMode.GATEWAY,
            group_id=GROUP_ID,
            group_size=len(members),
            max_group_size=MAX_GROUP_SIZE,
            grid_max_a=site.grid_limit_a,
            fallback_current_a=int(site.fallback_a),
            policy=Policy(site.policy),
            site_wiring=SiteWiring(site.wiring),
            gateway_host="127.0.0.1",
            listen_host="127.0.0.1",
            port=0,
            group_secret=f"scenario-group-secret-{scenario.seed}",
        )
        self.server = LanServer("127.0.0.1", 0)
        self.gateway: Gateway | None = None
        self.clients: dict[str, LoadManagementClient] = {}
        self._on_limits = on_limits
        self._remembered: list[dict[str, Any]] = []
        self._all_clients: list[LoadManagementClient] = []

    def is_member(self, charger_id: str) -> bool:
        return charger_id in self.member_ids

    async def start(self) -> None:
        await self.server.start()

    def boot(self, spec: ChargerSpec, station: Station, clock: Clock) -> None:
        """The load-management controller of a charger that just booted."""
        wire = WireType(spec.wire)
        if spec.role == "gateway":
            settings = self.base.apply({"wire_type": wire})
            gateway = Gateway(settings, clock, station, spec.id, inflight=self.inflight,
                              remembered=self._remembered)
            gateway.on_limits.append(lambda alloc: self._on_limits(spec.id, alloc))
            self.gateway = gateway
            self.server.gateway = gateway
            gateway.start()
        else:
            settings = self.base.apply({"network_mode": NetworkMode.CLIENT, "wire_type": wire,
                                        "port": self.server.port})
            client = LoadManagementClient(settings, clock, station, spec.id,
                                          charge_point_id=spec.id, inflight=self.inflight)
            self.clients[spec.id] = client
            self._all_clients.append(client)
            client.start()

    def kill(self, charger_id: str) -> None:
        """Power lost: the controller stops dead."""
        if charger_id == self.gateway_id:
            if self.gateway is not None:
                self._remembered = list(self.gateway.remembered())
                self.gateway.halt()
                self.gateway = None
                self.server.gateway = None
        else:
            client = self.clients.pop(charger_id, None)
            if client is not None:
                client.halt()

    def cut_network(self, charger_id: str) -> None:
        client = self.clients.get(charger_id)
        if client is not None:
            client.set_lan_up(False)

    async def run_until(self, t: float) -> None:
        """Step the virtual clock to ``t``, letting the LAN settle before every timer."""
        while True:
            await self.inflight.settled()
            deadline = self.clock.next_deadline()
            if deadline is None or deadline > t:
                break
            self.clock.step()
        self.clock.run_until(t)
        await self.inflight.settled()

    def status(self) -> dict[str, Any]:
        if self.gateway is None:
            return {"gateway": self.gateway_id, "running": False}
        return self.gateway.status().as_dict()

    async def close(self) -> None:
        """End of the run: everything stops dead first (nothing more is logged), then closes."""
        for client in self._all_clients:
            client.halt()
        if self.gateway is not None:
            self.gateway.on_limits.clear()
            self.gateway.halt()
        for client in self._all_clients:
            await client.stop()
        await self.server.stop()
