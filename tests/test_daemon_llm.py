"""Two daemons on the simulated charger form a load-management group over the real LAN protocol."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from tests.daemon_process import start_daemon
from tests.test_daemon_sim import wait_for
from twin.client import TwinClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(serial: str, mode: str, lan_port: int) -> str:
    return f"""
[identity]
serial_number = "{serial}"

[station]
local_list = ["ABCD1234"]

[load_management]
network_mode = "{mode}"
group_id = "home"
group_secret = "a-long-shared-group-secret"
grid_max_a = 40
fallback_current_a = 10
gateway_host = "127.0.0.1"
listen_host = "127.0.0.1"
port = {lan_port}
"""


async def test_gateway_and_client_daemons_share_the_grid(tmp_path: Path) -> None:
    lan = free_port()
    gateway = await start_daemon(tmp_path / "gw", config("MQ200-GW000001", "gateway", lan))
    client = await start_daemon(tmp_path / "cl", config("MQ200-CL000001", "client", lan))
    try:
        async with TwinClient(gateway.url, gateway.token) as gw, TwinClient(client.url, client.token) as cl:
            state = await wait_for(gw, lambda s: (s.reported.get("llm") or {}).get("connected") == 2)
            assert state.reported["load_management"]["role"] == "gateway"
            for d in (gateway, client):
                await d.sim("plug", {"soc": 0.3, "max_a": 48})
                await d.sim("tag", {"uid": "ABCD1234"})
            # 40 A grid for two 32 A stations under UD: 20 A each
            await wait_for(cl, lambda s: s.reported.get("offered_a") == 20 and s.reported.get("status") == "Charging")
            state = await wait_for(gw, lambda s: s.reported.get("offered_a") == 20)
            rows = state.reported["llm"]["rows"]
            assert {r["serial"] for r in rows} == {"MQ200-GW000001", "MQ200-CL000001"}
            assert state.reported["limit_reason"]
            # the gateway goes away: the client falls back to 10 A within the stated 3 s
            await gateway.stop()
            state = await asyncio.wait_for(
                wait_for(cl, lambda s: s.reported.get("offered_a") == 10), 10)
            assert "fallback" in state.reported["limit_reason"]
    finally:
        await client.stop()
        await gateway.stop()
