"""Gateway and clients over real WebSockets on 127.0.0.1, stations on a virtual clock.

Covers admission (Group ID, secret, Group Size, wiring), gateway loss and return, member loss
with its fallback reserved, the 6 A rule and per-phase limits on a 208 V wye with mixed wires.
"""

from __future__ import annotations

import pytest

from controller.loadmgmt.allocation import Site, allocate
from controller.loadmgmt.allocation import Station as EngineStation
from controller.loadmgmt.client import ClientState
from controller.loadmgmt.lan_server import LanServer
from controller.loadmgmt.settings import LlmSettingsError, LoadManagementSettings, NetworkMode
from controller.loadmgmt.wiring import Conductor, SiteWiring, WireType
from controller.loadmgmt.client import LoadManagementClient
from tests.llm_rig import SECRET, make_group, wait_for_state


def state_of(client: LoadManagementClient) -> ClientState:
    return client.state


async def test_wrong_group_id_is_rejected_with_the_reason_on_both_sides() -> None:
    g = await make_group()
    try:
        g.start_gateway()
        client = g.add_client("C1", group_id="other")
        await g.step(0.5)
        assert client.state is ClientState.REJECTED
        why = "Group ID 'other' differs from the gateway's 'home'"
        assert client.rejection is not None and why in client.rejection
        assert g.gateway is not None
        assert any(why in r and r.startswith("C1") for r in g.gateway.status().rejections)
        assert "C1" not in g.gateway.members
        assert why in client.status().network_status
        # a refused client never charges, and says why
        g.chargers["C1"].plug_in()
        await g.step(10)
        snap = g.chargers["C1"].station.snapshot()
        assert snap.status.value == "SuspendedEVSE" and snap.offered_a == 0
        assert why in snap.limit_reason
    finally:
        await g.close()


async def test_wrong_secret_is_rejected_and_the_secret_never_travels() -> None:
    g = await make_group()
    try:
        g.start_gateway()
        client = g.add_client("C1", group_secret="not-the-group-secret-at-all")
        await g.step(0.5)
        assert client.state is ClientState.REJECTED
        assert client.rejection is not None and "authentication failed" in client.rejection
        assert g.gateway is not None and "C1" not in g.gateway.members
    finally:
        await g.close()


async def test_group_size_is_enforced_and_configurable_upward() -> None:
    g = await make_group(group_size=2)
    try:
        g.start_gateway()
        first = g.add_client("C1")
        second = g.add_client("C2")
        await g.step(0.5)
        assert first.state is ClientState.JOINED
        assert second.state is ClientState.REJECTED
        assert second.rejection is not None and "group is full: Group Size is 2" in second.rejection
        assert g.gateway is not None and g.gateway.status().connected == 2
    finally:
        await g.close()
    with pytest.raises(LlmSettingsError, match="group_size: 21 is outside 1..20"):
        LoadManagementSettings(group_size=21)
    assert LoadManagementSettings(group_size=25, max_group_size=30).group_size == 25


async def test_split_phase_site_refuses_a_three_phase_wire_type() -> None:
    g = await make_group()
    try:
        g.start_gateway()
        client = g.add_client("C1", site_wiring="wye_208", wire_type="L2-L3")
        await g.step(0.5)
        assert client.state is ClientState.REJECTED
        assert client.rejection is not None and "split-phase" in client.rejection
    finally:
        await g.close()


async def test_silent_gateway_means_fallback_exactly_after_the_timeout_then_rejoin() -> None:
    g = await make_group()
    try:
        g.start_gateway()
        client = g.add_client("C1")
        await g.step(0.5)
        g.chargers["GW"].plug_in()
        await g.step(3)
        g.chargers["C1"].plug_in()
        await g.step(10)
        assert g.limits() == {"GW": 30.0, "C1": 30.0}
        assert g.gateway is not None
        g.gateway.halt()  # power cut: the gateway says nothing more
        g.server.gateway = None
        timeout = client.settings.gateway_timeout_s
        assert timeout == 3.0
        heard = client.last_heard
        await g.step(heard + timeout - 0.01 - g.clock.now())
        assert g.chargers["C1"].llm_limit[0] == 30 and state_of(client) is ClientState.JOINED
        await g.step(0.01)
        assert state_of(client) is ClientState.LOST
        assert g.chargers["C1"].llm_limit == (10, "gateway lost: fallback current")
        await g.step(1)
        assert g.chargers["C1"].offered == 10.0
        # the gateway comes back (a new instance, fallback 12 A): the same client rejoins
        g.start_gateway(fallback_current_a=12)
        await g.step(30)
        assert client.state is ClientState.JOINED and client.joins == 2
        assert client.fallback_a == 12  # the gateway's fallback overwrote the client's
        assert g.limits() == {"GW": 30.0, "C1": 30.0}
    finally:
        await g.close()


async def test_gateway_socket_closing_means_fallback_at_once() -> None:
    g = await make_group()
    try:
        g.start_gateway()
        client = g.add_client("C1")
        await g.step(0.5)
        g.chargers["C1"].plug_in()
        await g.step(10)
        assert g.chargers["C1"].llm_limit[0] == 32
        t = g.clock.now()
        port = g.server.port
        await g.server.stop()
        await wait_for_state(client, ClientState.LOST)
        assert g.clock.now() == t  # no virtual time passed: the closed socket was enough
        assert g.chargers["C1"].llm_limit == (10, "gateway lost: fallback current")
        g.server = LanServer("127.0.0.1", port)
        await g.server.start()
        g.start_gateway()
        await g.step(5)
        assert client.state is ClientState.JOINED and client.joins == 2
        assert g.chargers["C1"].llm_limit[0] == 32
    finally:
        await g.close()


async def test_lost_member_gets_its_fallback_reserved_until_it_returns() -> None:
    g = await make_group()
    try:
        g.start_gateway()
        g.add_client("C1")
        lost = g.add_client("C2")
        await g.step(0.5)
        g.chargers["GW"].plug_in()
        await g.step(3)
        g.chargers["C1"].plug_in()
        await g.step(10)
        assert g.limits() == {"GW": 30.0, "C1": 30.0, "C2": 0.0}
        lost.set_lan_up(False)  # cable pulled: silence both ways
        await g.step(3.5)
        assert g.gateway is not None
        status = g.gateway.status()
        row = next(r for r in status.rows if r.serial == "C2")
        assert not row.online and row.reserved_a == 10 and "silent" in row.reason
        assert (status.connected, status.total) == (2, 20)
        assert g.gateway.allocation is not None
        assert g.gateway.allocation.reserved_a[Conductor.L1] == 10
        await g.step(10)
        assert g.limits()["GW"] == 25.0 and g.limits()["C1"] == 25.0  # (60 - 10) / 2
        assert g.chargers["C2"].llm_limit == (10, "gateway lost: fallback current")
        lost.set_lan_up(True)
        await g.step(35)
        assert lost.state is ClientState.JOINED and lost.joins == 2
        assert g.limits() == {"GW": 30.0, "C1": 30.0, "C2": 0.0}
        assert g.gateway.allocation.reserved_a[Conductor.L1] == 0
    finally:
        await g.close()


async def test_share_below_6_a_suspends_the_latest_arrival_and_says_why() -> None:
    g = await make_group(grid_max_a=16)
    try:
        g.start_gateway()
        g.add_client("C1")
        g.add_client("C2")
        await g.step(0.5)
        for serial in ("GW", "C1", "C2"):
            g.chargers[serial].plug_in()
            await g.step(5)
        await g.step(10)
        assert g.limits() == {"GW": 8.0, "C1": 8.0, "C2": 0.0}  # 16 / 3 < 6: the last one waits
        snap = g.chargers["C2"].station.snapshot()
        assert snap.status.value == "SuspendedEVSE"
        assert snap.limit_reason == "load management: below 6 A minimum: suspended"
        g.chargers["GW"].leave()
        await g.step(10)
        assert g.limits() == {"GW": 0.0, "C1": 8.0, "C2": 8.0}  # the freed current goes to it
    finally:
        await g.close()


async def test_208_v_wye_with_mixed_wire_types_keeps_every_leg_within_the_grid() -> None:
    g = await make_group(grid_max_a=48, site_wiring="wye_208")
    try:
        g.start_gateway(wire_type="L1-L2")
        g.add_client("C1", wire_type="L1-L2")
        g.add_client("C2", wire_type="L2-L3")
        await g.step(0.5)
        for serial in ("GW", "C1", "C2"):
            g.chargers[serial].plug_in()
            await g.step(5)
        await g.step(10)
        # L2 carries all three stations: 48 / 3 = 16 each; L1 then has 32, L3 16.
        assert g.limits() == {"GW": 16.0, "C1": 16.0, "C2": 16.0}
        engine = allocate(
            Site(grid_limit_a=48, wiring=SiteWiring.WYE_208),
            [EngineStation("GW", 32, WireType.L1_L2, vehicle_present=True, arrival=1),
             EngineStation("C1", 32, WireType.L1_L2, vehicle_present=True, arrival=2),
             EngineStation("C2", 32, WireType.L2_L3, vehicle_present=True, arrival=3)])
        assert g.gateway is not None and g.gateway.allocation is not None
        assert g.gateway.allocation.currents() == engine.currents()
        assert dict(g.gateway.allocation.load_a) == {Conductor.L1: 32, Conductor.L2: 48,
                                                     Conductor.L3: 16}
        rows = {r.serial: r for r in g.gateway.status().rows}
        assert rows["C2"].phase_a["L1"] == 0.0
        assert rows["C2"].phase_a["L2"] == pytest.approx(16, abs=1)
        assert rows["C2"].phase_a["L3"] == pytest.approx(16, abs=1)
        assert rows["C1"].phase_a["L3"] == 0.0
        # C2 leaves: L2 now carries two, 24 each
        g.chargers["C2"].leave()
        await g.step(10)
        assert g.limits() == {"GW": 24.0, "C1": 24.0, "C2": 0.0}
    finally:
        await g.close()


def test_settings_name_every_bad_field() -> None:
    with pytest.raises(LlmSettingsError) as err:
        LoadManagementSettings(network_mode=NetworkMode.CLIENT, group_secret="short", group_id="bad id!",
                               fallback_current_a=3, port=0)
    text = str(err.value)
    for field in ("group_secret", "group_id", "fallback_current_a", "port"):
        assert f"load_management.{field}" in text
    with pytest.raises(LlmSettingsError, match="network_mode: 'mesh' is not one of"):
        LoadManagementSettings().apply({"network_mode": "mesh"})
    with pytest.raises(LlmSettingsError, match="unknown setting"):
        LoadManagementSettings().apply({"grid": 3})
    ok = LoadManagementSettings(network_mode=NetworkMode.GATEWAY, group_secret=SECRET)
    assert ok.apply({"policy": "FIFS"}).policy.value == "FIFS"


def test_config_file_section_load_management() -> None:
    from controller.config import ConfigError, parse_config

    config = parse_config({"load_management": {
        "network_mode": "gateway", "group_id": "garage", "group_size": 3, "grid_max_a": 80,
        "fallback_current_a": 12, "policy": "FIFS", "site_wiring": "wye_208",
        "wire_type": "L2-L3", "port": 8765, "group_secret": SECRET}})
    llm = config.load_management
    assert (llm.network_mode, llm.policy.value, llm.wire_type.value) == (
        NetworkMode.GATEWAY, "FIFS", "L2-L3")
    assert SECRET not in repr(llm) and llm.to_dict()["group_secret"] == "***"
    with pytest.raises(ConfigError, match="load_management.fallback_current_a: 4 A"):
        parse_config({"load_management": {"fallback_current_a": 4}})


async def test_daemon_service_runs_gateway_and_client_on_the_wall_clock() -> None:
    from controller.clock import AsyncioClock
    from controller.loadmgmt.service import MEMBERS_KEY, LoadManagementService
    from tests.llm_rig import Group

    g = await make_group()  # only for its stations; the services bring their own listener
    clock = AsyncioClock()
    gw_station = g.charger("GW").station
    cl_station = g.charger("C1").station
    await g.step(0.5)
    base = g.settings
    gateway = LoadManagementService(base.apply({"network_mode": "gateway"}), clock, gw_station,
                                    "GW")
    await gateway.start()
    assert gateway.server is not None
    client = LoadManagementService(
        base.apply({"network_mode": "client", "gateway_host": "127.0.0.1",
                    "port": gateway.server.port}), clock, cl_station, "C1")
    try:
        await client.start()
        assert client.client is not None
        await wait_for_state(client.client, ClientState.JOINED)
        status = gateway.status()
        assert (status.network_mode, status.connected) == ("gateway", 2)
        assert [r.serial for r in status.rows] == ["GW", "C1"]
        assert client.status().network_status == "joined"
        assert gw_station.storage.get_json(MEMBERS_KEY)[0]["serial"] == "C1"
    finally:
        await client.stop()
        await gateway.stop()
        await Group.close(g)
