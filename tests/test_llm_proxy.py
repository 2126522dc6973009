"""The gateway as OCPP local proxy: clients reach the central system through it, and remote
commands reach the right client.

Real parts: the project's OCPP charge point (controller/ocpp) on each client, the gateway's
proxy and LAN listener, the load-management group that decides who may be relayed, and two
central systems on 127.0.0.1: a small one here that serves many charge points by path, and the
independent Node `ocpp-rpc` system in strict mode (schema-checks every relayed message).
Covered: relay of every frame both ways, per-client upstream connections, dispatch by charge
point id, Basic Auth passed through, refusal of non-members.  Not covered: wss upstream.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp import WSMsgType, web

from controller.loadmgmt.client import ClientState
from tests.llm_rig import Group, make_group, wait_for_state
from tests.ocpp_cs_driver import CentralSystem
from tests.ocpp_rig import Rig, make_rig

RESULTS: dict[str, dict[str, Any]] = {
    "BootNotification": {"status": "Accepted", "currentTime": "2026-01-05T18:00:00Z",
                         "interval": 300},
    "Heartbeat": {"currentTime": "2026-01-05T18:00:00Z"},
    "Authorize": {"idTagInfo": {"status": "Accepted"}},
    "StartTransaction": {"transactionId": 7, "idTagInfo": {"status": "Accepted"}},
}


@dataclass
class Connection:
    ws: web.WebSocketResponse
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class PathCentralSystem:
    """A minimal OCPP-J central system: one connection per charge point id in the path."""

    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        self.auth: dict[str, str | None] = {}
        self.arrived = asyncio.Event()
        app = web.Application()
        app.router.add_get("/ocpp/{cpid}", self._handle)
        self.runner = web.AppRunner(app)
        self.port = 0

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        cpid = request.match_info["cpid"]
        ws = web.WebSocketResponse(protocols=("ocpp1.6",))
        await ws.prepare(request)
        conn = Connection(ws)
        self.connections[cpid] = conn
        self.auth[cpid] = request.headers.get("Authorization")
        self.arrived.set()
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            if frame[0] == 2:
                conn.calls.append((frame[2], frame[3]))
                await ws.send_str(json.dumps([3, frame[1], RESULTS.get(frame[2], {})]))
            elif frame[0] in (3, 4) and frame[1] in conn.answers:
                conn.answers[frame[1]].set_result(frame[2])
            conn.changed.set()
        return ws

    async def call(self, cpid: str, action: str, payload: dict[str, Any]) -> Any:
        conn = self.connections[cpid]
        uid = f"cs-{len(conn.answers) + 1}"
        conn.answers[uid] = asyncio.get_running_loop().create_future()
        await conn.ws.send_str(json.dumps([2, uid, action, payload]))
        return await asyncio.wait_for(conn.answers[uid], 10)

    async def wait_call(self, cpid: str, action: str, timeout: float = 10.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                conn = self.connections.get(cpid)
                if conn is not None:
                    for name, payload in conn.calls:
                        if name == action:
                            return payload
                    conn.changed.clear()
                    await conn.changed.wait()
                else:
                    self.arrived.clear()
                    await self.arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    async def stop(self) -> None:
        await self.runner.cleanup()


async def joined_group(cs_url: str, serials: tuple[str, ...]) -> Group:
    group = await make_group(proxy_to=cs_url)
    group.start_gateway()
    for serial in serials:
        group.add_client(serial)
    await group.step(0.5)
    for serial in serials:
        await wait_for_state(group.clients[serial], ClientState.JOINED)
    return group


def proxy_url(group: Group) -> str:
    return f"ws://127.0.0.1:{group.server.port}/ocpp"


async def test_remote_command_reaches_the_right_client_through_the_gateway(tmp_path: Path) -> None:
    cs = PathCentralSystem()
    cs_url = await cs.start()
    group = await joined_group(cs_url, ("MQ-A", "MQ-B"))
    rigs: list[Rig] = []
    try:
        for serial in ("MQ-A", "MQ-B"):
            (tmp_path / serial).mkdir()
            rigs.append(await make_rig(tmp_path / serial, cs=cast(CentralSystem, _NoNode()), charge_point_id=serial,
                                       central_system_url=proxy_url(group),
                                       basic_auth_password=f"pw-{serial}-0123456789"))
        for serial in ("MQ-A", "MQ-B"):
            boot = await cs.wait_call(serial, "BootNotification")
            assert boot["chargePointModel"]
            await cs.wait_call(serial, "StatusNotification")
        # each client's own credentials reached the central system
        for serial in ("MQ-A", "MQ-B"):
            token = base64.b64encode(f"{serial}:pw-{serial}-0123456789".encode()).decode()
            assert cs.auth[serial] == f"Basic {token}"
        a, b = rigs
        b.station.plug_in()
        answer = await cs.call("MQ-B", "RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1})
        assert answer == {"status": "Accepted"}
        start = await cs.wait_call("MQ-B", "StartTransaction")
        assert start["idTag"] == "REMOTE"
        assert b.station.session_tag == "REMOTE"
        assert a.station.session_tag is None and a.station.authorized_tag is None
        assert all(name != "StartTransaction" for name, _ in cs.connections["MQ-A"].calls)
        assert group.server.proxy is not None
        counters = group.server.proxy.counters
        assert counters["MQ-B"].to_client >= 1 and counters["MQ-B"].to_central_system >= 3
    finally:
        for rig in rigs:
            await rig.stop()
        await group.close()
        await cs.stop()


async def test_only_online_group_members_are_relayed() -> None:
    cs = PathCentralSystem()
    cs_url = await cs.start()
    group = await joined_group(cs_url, ("MQ-A",))
    try:
        async with aiohttp.ClientSession() as session:
            try:
                await session.ws_connect(f"{proxy_url(group)}/STRANGER", protocols=("ocpp1.6",))
                raise AssertionError("a stranger was relayed")
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 403
            ws = await session.ws_connect(f"{proxy_url(group)}/MQ-A", protocols=("ocpp1.6",))
            assert ws.protocol == "ocpp1.6"
            await ws.send_str(json.dumps([2, "1", "Heartbeat", {}]))
            reply = json.loads((await ws.receive()).data)
            assert reply[0] == 3 and reply[1] == "1" and "currentTime" in reply[2]
            await ws.close()
        assert "STRANGER" not in cs.connections
    finally:
        await group.close()
        await cs.stop()


async def test_relay_is_clean_for_a_strict_independent_central_system(tmp_path: Path) -> None:
    cs = await CentralSystem.start()
    group = await joined_group(cs.url, ("MQ200-TEST",))
    rig = await make_rig(tmp_path, cs=cs, charge_point_id="MQ200-TEST",
                         central_system_url=proxy_url(group))
    try:
        await rig.booted()
        rig.station.plug_in()
        answer = await cs.call("RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1})
        assert answer["result"] == {"status": "Accepted"}
        start = await cs.wait_call("StartTransaction")
        assert start["params"]["idTag"] == "REMOTE"
        rig.assert_strict_clean()
    finally:
        await rig.stop()
        await group.close()
        await cs.stop()


class _NoNode:
    """make_rig wants a central system object; the path CS above is used through the URL."""

    url = "ws://127.0.0.1:9/unused"
