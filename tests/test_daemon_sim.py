"""The daemon as its own process on the simulated charger: pty + pyserial, twin API, control surface."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.daemon_process import start_daemon
from twin.client import TwinClient, TwinState

CONFIG = """
[identity]
serial_number = "MQ200-TEST0001"

[station]
local_list = ["ABCD1234"]
cold_load_pickup_max_delay_s = 120
"""


async def wait_for(client: TwinClient, pred: Callable[[TwinState], bool], timeout: float = 20) -> TwinState:
    async def watch() -> TwinState:
        async for state in client.watch():
            if pred(state):
                return state
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(watch(), timeout)


async def test_plug_tag_charge_pause_and_restart_keeps_energy(tmp_path: Path) -> None:
    daemon = await start_daemon(tmp_path / "var", CONFIG)
    try:
        async with TwinClient(daemon.url, daemon.token) as client:
            state = await wait_for(client, lambda s: s.reported.get("status") == "Available")
            assert state.device_id == "MQ200-TEST0001"
            assert state.reported["dip_max_a"] == 32
            assert state.reported["portal"]["initial_password"] is True  # a repair in HA
            assert state.reported["model"] == "MQ 200"
            await daemon.sim("plug", {"soc": 0.3, "battery_kwh": 75, "max_a": 48})
            await wait_for(client, lambda s: s.reported.get("status") == "Preparing")
            await daemon.sim("tag", {"uid": "ABCD1234"})
            state = await wait_for(client, lambda s: s.reported.get("status") == "Charging"
                                   and (s.reported.get("current_a") or 0) > 30)
            assert state.reported["offered_a"] == 32
            board = await daemon.sim("state")
            assert board["contactor"] is True and board["led"] == "blue_slow"

            # pause from the app: the contactor opens and the reason is visible
            await client.set_desired({"charging_enabled": False})
            state = await wait_for(client, lambda s: s.reported.get("status") == "SuspendedEVSE")
            assert state.reported["limit_reason"] == "paused by the user"
            assert (await daemon.sim("state"))["contactor"] is False
            # a limit the charger cannot honour is rejected visibly, with the reason
            await client.set_desired({"charging_enabled": True, "current_limit_a": 60})
            state = await wait_for(
                client,
                lambda s: s.reported.get("desired_status", {}).get("current_limit_a", {}).get("state") == "rejected",
            )
            assert "DIP" in state.reported["desired_status"]["current_limit_a"]["reason"]
            await client.set_desired({"current_limit_a": 16})
            state = await wait_for(client, lambda s: s.reported.get("offered_a") == 16
                                   and s.reported.get("status") == "Charging")
            state = await wait_for(client, lambda s: (s.reported.get("energy_wh") or 0) > 0, timeout=30)
            energy = state.reported["energy_wh"]
        assert await daemon.stop() == 0
    finally:
        await daemon.stop()

    # the same data dir again: the register and the session history survive
    again = await start_daemon(tmp_path / "var", CONFIG)
    try:
        async with TwinClient(again.url, again.token) as client:
            state = await wait_for(client, lambda s: s.reported.get("status") is not None
                                   and s.reported.get("energy_wh") is not None)
            assert state.reported["energy_wh"] >= energy
            sessions = await client.sessions()
            assert sessions and sessions[0].get("id_tag") == "ABCD1234"
    finally:
        await again.stop()


async def test_faults_and_power_cut_through_the_control_surface(tmp_path: Path) -> None:
    daemon = await start_daemon(tmp_path / "var", CONFIG)
    try:
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, lambda s: s.reported.get("status") == "Available")
            await daemon.sim("plug", {"soc": 0.3})
            await daemon.sim("tag", {"uid": "ABCD1234"})
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            await daemon.sim("fault", {"fault": "no_ground"})
            state = await wait_for(client, lambda s: s.reported.get("status") == "Faulted")
            assert "no ground" in state.reported["limit_reason"]
            assert (await daemon.sim("state"))["contactor"] is False
            await daemon.sim("clear", {"fault": "no_ground"})
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            await daemon.sim("power", {"on": False})
            await daemon.sim("power", {"on": True})
            state = await wait_for(client, lambda s: s.reported.get("limit_source") == "cold_load")
            assert state.reported["cold_load_until"] is not None
    finally:
        await daemon.stop()


async def test_bad_control_input_is_refused_clearly(tmp_path: Path) -> None:
    import aiohttp

    daemon = await start_daemon(tmp_path / "var", CONFIG)
    try:
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{daemon.url}/sim/fault", json={"fault": "gremlins"},
                                   headers={"Authorization": f"Bearer {daemon.token}"})
            body: dict[str, Any] = await resp.json()
            assert resp.status == 422 and "gremlins" in body["error"]["message"]
            resp = await http.post(f"{daemon.url}/sim/plug", json={"soc": 2})
            assert resp.status == 401
            resp = await http.get(f"{daemon.url}/api/v1/state")
            assert resp.status == 401
    finally:
        await daemon.stop()


async def test_reboot_and_fault_reset_requests_from_the_app_run_once(tmp_path: Path) -> None:
    daemon = await start_daemon(tmp_path / "var", CONFIG)
    try:
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, lambda s: s.reported.get("status") == "Available")
            await daemon.sim("fault", {"fault": "short_circuit"})
            await daemon.sim("plug", {"soc": 0.5})
            await daemon.sim("tag", {"uid": "ABCD1234"})
            await wait_for(client, lambda s: s.reported.get("status") == "Faulted")
            await daemon.sim("clear", {"fault": "short_circuit"})
            await client.set_desired({"settings": {"fault_reset_request": "2026-11-26T10:00:00+00:00"}})
            state = await wait_for(client, lambda s: s.reported.get("status") in ("Charging", "SuspendedEV"))
            assert state.reported["desired_status"]["settings.fault_reset_request"]["state"] == "applied"
            await client.set_desired({"settings": {"reboot_request": "2026-11-26T10:01:00+00:00"}})
        again = await asyncio.wait_for(daemon.ready_lines.get(), 30)
        assert again["url"] == daemon.url  # same port after the reboot
        async with TwinClient(daemon.url, daemon.token) as client:
            # the request was carried out once: the new process does not reboot again
            await client.set_desired({"current_limit_a": 12})
            await wait_for(client, lambda s: s.reported.get("desired_status", {})
                           .get("current_limit_a", {}).get("state") == "applied"
                           and s.reported.get("pilot") == "A")  # the simulated EV went with it
            assert daemon.ready_lines.empty()
            sessions = await client.sessions()
            assert sessions[0].get("stop_reason") == "EVDisconnected"
    finally:
        await daemon.stop()


async def test_voice_routes_are_served_by_the_daemon(tmp_path: Path) -> None:
    import aiohttp

    daemon = await start_daemon(tmp_path / "var", CONFIG)
    try:
        headers = {"Authorization": f"Bearer {daemon.token}"}
        async with TwinClient(daemon.url, daemon.token) as client, aiohttp.ClientSession() as http:
            await wait_for(client, lambda s: s.reported.get("status") == "Available")
            async with http.get(f"{daemon.url}/voice/v1/status", headers=headers) as resp:
                assert resp.status == 200
                assert "unplugged" in (await resp.json())["speech"]
            await daemon.sim("plug", {"soc": 0.4})
            await daemon.sim("tag", {"uid": "ABCD1234"})
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            async with http.post(f"{daemon.url}/voice/v1/stop", headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["ok"] is True
            await wait_for(client, lambda s: s.reported.get("status") == "SuspendedEVSE")
            async with http.get(f"{daemon.url}/voice/v1/status") as resp:
                assert resp.status == 401
    finally:
        await daemon.stop()


async def test_departure_goal_in_percent_uses_the_cars_state_of_charge(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    daemon = await start_daemon(tmp_path / "var", CONFIG)
    try:
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, lambda s: s.reported.get("status") == "Available")
            await daemon.sim("plug", {"soc": 0.3, "battery_kwh": 60})
            await daemon.sim("tag", {"uid": "ABCD1234"})
            state = await wait_for(client, lambda s: (s.reported.get("ev") or {}).get("soc_pct") == 30.0)
            ready_by = (datetime.now(UTC) + timedelta(hours=10)).isoformat()
            await client.set_desired({"departure_goal": {"ready_by": ready_by, "target_soc_pct": 50,
                                                         "battery_kwh": 60}})
            state = await wait_for(client, lambda s: s.reported.get("desired_status", {})
                                   .get("departure_goal", {}).get("state") in ("applied", "rejected"))
            assert state.reported["desired_status"]["departure_goal"]["state"] == "applied"
            goal = state.reported["schedule"]["goal"]
            # 30 % -> 50 % of 60 kWh is 12 kWh in the battery (a little more from the grid)
            assert 12_000 <= goal["remaining_wh"] <= 14_000 and goal["feasible"] is True
    finally:
        await daemon.stop()
