"""Twin REST + WebSocket API on a real aiohttp server on 127.0.0.1 with a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.clock import VirtualClock
from twin.auth import TokenRegistry
from twin.client import SyncMessage, TwinApiError, TwinClient
from twin.standalone import RunningTwin, start_twin

DEVICE_TOKEN = "device-token-0123456789"
CLIENT_TOKEN = "client-token-0123456789"
OTHER_CLIENT_TOKEN = "voice-token-0123456789"
T0 = 1_795_000_000.0


@dataclass
class Env:
    twin: RunningTwin
    base: str
    http: aiohttp.ClientSession
    clock: VirtualClock

    def url(self, path: str) -> str:
        return f"{self.base}/api/v1{path}"

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None,
        raw: str | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"headers": headers}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.url(path), **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


def tokens() -> TokenRegistry:
    reg = TokenRegistry()
    reg.add(DEVICE_TOKEN, "device", "controller")
    reg.add(CLIENT_TOKEN, "client", "home-assistant")
    reg.add(OTHER_CLIENT_TOKEN, "client", "voice")
    return reg


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = VirtualClock(T0)
    twin = await start_twin("127.0.0.1", 0, tmp_path / "twin.db", "MQ200-T1", tokens(),
                            clock=clock)
    async with aiohttp.ClientSession() as http:
        yield Env(twin, f"http://127.0.0.1:{twin.port}", http, clock)
    await twin.stop()


async def next_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> Any:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


# ------------------------------------------------------------------ auth


async def test_no_anonymous_access(env: Env) -> None:
    for method, path, body in [
        ("GET", "/state", None),
        ("PATCH", "/state/desired", {"desired": {"charging_enabled": False}}),
        ("PATCH", "/state/reported", {"reported": {"status": "Available"}}),
        ("GET", "/history/sessions", None),
        ("GET", "/whatif", None),
    ]:
        status, data = await env.call(method, path, None, body)
        assert status == 401, (method, path)
        assert data["error"]["code"] == "unauthorized"
        status, data = await env.call(method, path, "wrong-token-xxxxxxxxxxxx", body)
        assert status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await env.http.ws_connect(env.url("/ws"))
    assert err.value.status == 401
    assert env.twin.service.version == 0


async def test_roles(env: Env) -> None:
    status, data = await env.call("PATCH", "/state/reported", CLIENT_TOKEN,
                                  {"reported": {"status": "Charging"}})
    assert status == 403 and data["error"]["code"] == "forbidden"
    status, data = await env.call("PATCH", "/state/desired", DEVICE_TOKEN,
                                  {"desired": {"charging_enabled": False}})
    assert status == 403
    status, _ = await env.call("POST", "/history/events", CLIENT_TOKEN, {"kind": "x"})
    assert status == 403
    status, data = await env.call("PATCH", "/state/reported", DEVICE_TOKEN,
                                  {"reported": {"status": "Charging"}})
    assert status == 200 and data == {"version": 1}
    status, data = await env.call("PATCH", "/state/desired", CLIENT_TOKEN,
                                  {"desired": {"charging_enabled": False}})
    assert status == 200 and data["version"] == 2
    for token in (DEVICE_TOKEN, CLIENT_TOKEN):
        status, data = await env.call("GET", "/state", token)
        assert status == 200
        assert data["reported"]["status"] == "Charging"
        assert data["desired"] == {"charging_enabled": False}
        assert data["reported"]["desired_status"]["charging_enabled"]["state"] == "pending"
    # WS: a client may not send device messages
    async with env.http.ws_connect(env.url("/ws"),
                                   headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}) as ws:
        await ws.send_json({"type": "report", "id": 7, "reported": {"status": "Faulted"}})
        err = await next_json(ws)
        assert err["type"] == "error" and err["status"] == 403 and err["id"] == 7
    assert env.twin.service.state().reported["status"] == "Charging"


# ------------------------------------------------------------------ patches


async def test_bad_patch_is_422_naming_key_and_changes_nothing(env: Env) -> None:
    await env.call("PATCH", "/state/desired", CLIENT_TOKEN, {"desired": {"current_limit_a": 16}})
    before = (await env.call("GET", "/state", CLIENT_TOKEN))[1]
    cases = [
        ({"current_limit_a": 120, "charging_enabled": False}, "current_limit_a", 120),
        ({"nonsense": 1}, "nonsense", 1),
        ({"schedules": [{"id": "a", "start": "7pm", "end": "06:00", "days": ["mon"]}]},
         "schedules.0.start", "7pm"),
        ({"departure_goal": {"ready_by": "tomorrow", "energy_wh": 5}},
         "departure_goal.ready_by", "tomorrow"),
    ]
    for patch, key, value in cases:
        status, data = await env.call("PATCH", "/state/desired", CLIENT_TOKEN, {"desired": patch})
        assert status == 422, patch
        assert data["error"]["code"] == "invalid_patch"
        assert key in data["error"]["message"]
        assert {"key": key, "value": value} in [
            {"key": d["key"], "value": d["value"]} for d in data["error"]["details"]
        ]
    after = (await env.call("GET", "/state", CLIENT_TOKEN))[1]
    assert after == before
    # malformed bodies → 400
    status, data = await env.call("PATCH", "/state/desired", CLIENT_TOKEN, raw="{not json")
    assert status == 400 and data["error"]["code"] == "bad_request"
    status, data = await env.call("PATCH", "/state/desired", CLIENT_TOKEN, body=[1, 2])
    assert status == 400
    status, data = await env.call("PATCH", "/state/desired", CLIENT_TOKEN,
                                  body={"current_limit_a": 5})
    assert status == 400 and "desired" in data["error"]["message"]
    status, data = await env.call("PATCH", "/state/reported", DEVICE_TOKEN,
                                  {"reported": {"status": "Exploded"}})
    assert status == 422 and data["error"]["details"][0]["key"] == "status"
    status, data = await env.call("GET", "/nope", CLIENT_TOKEN)
    assert status == 404 and data["error"]["code"] == "not_found"
    assert (await env.call("GET", "/state", CLIENT_TOKEN))[1] == before


async def test_merge_patch_null_deletes_and_if_version_conflict(env: Env) -> None:
    s, d = await env.call("PATCH", "/state/desired", CLIENT_TOKEN,
                          {"desired": {"current_limit_a": 16, "dr_opt_out": True}})
    v = d["version"]
    s, d = await env.call("PATCH", "/state/desired", CLIENT_TOKEN,
                          {"desired": {"current_limit_a": None}, "if_version": v})
    assert s == 200 and d["desired"] == {"dr_opt_out": True} and d["version"] == v + 1
    s, d = await env.call("PATCH", "/state/desired", OTHER_CLIENT_TOKEN,
                          {"desired": {"dr_opt_out": False}, "if_version": v})
    assert s == 409
    assert d["error"]["code"] == "version_conflict"
    assert d["error"]["details"] == [{"key": "version", "value": v + 1}]
    s, d = await env.call("PATCH", "/state/desired", CLIENT_TOKEN,
                          {"desired": {"dr_opt_out": False}, "if_version": "x"})
    assert s == 400
    assert env.twin.service.state().desired == {"dr_opt_out": True}


# ------------------------------------------------------------------ push


async def test_deltas_pushed_to_multiple_subscribers(env: Env) -> None:
    env.twin.service.report({"status": "Available", "power_w": 0})
    clients = [TwinClient(env.base, CLIENT_TOKEN), TwinClient(env.base, OTHER_CLIENT_TOKEN)]
    streams = [c.subscribe() for c in clients]
    try:
        snaps = [await asyncio.wait_for(anext(s), 5) for s in streams]
        for snap in snaps:
            assert snap.kind == "snapshot" and snap.version == 1
            assert snap.reported == {"status": "Available", "power_w": 0, }
        env.twin.service.report({"status": "Charging", "power_w": 7200})
        await clients[0].set_desired({"current_limit_a": 30})
        for s in streams:
            d1: SyncMessage = await asyncio.wait_for(anext(s), 5)
            assert d1.kind == "delta" and d1.version == 2
            assert d1.reported == {"status": "Charging", "power_w": 7200}
            assert d1.desired is None
            d2 = await asyncio.wait_for(anext(s), 5)
            assert d2.version == 3
            assert d2.desired == {"current_limit_a": 30}
            assert d2.reported == {
                "desired_status": {"current_limit_a": {"state": "pending", "version": 3}}}
    finally:
        for s in streams:
            await s.aclose()  # type: ignore[attr-defined]
        for c in clients:
            await c.close()


async def test_ws_requests_and_errors(env: Env) -> None:
    async with env.http.ws_connect(env.url("/ws"),
                                   headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}) as ws:
        await ws.send_str("not json")
        err = await next_json(ws)
        assert err["type"] == "error" and err["status"] == 400
        await ws.send_json({"type": "frobnicate", "id": 1})
        assert (await next_json(ws))["code"] == "bad_request"
        await ws.send_json({"type": "set_desired", "id": 2, "desired": {"current_limit_a": 99}})
        err = await next_json(ws)
        assert err["status"] == 422 and err["id"] == 2
        assert err["details"][0]["key"] == "current_limit_a"
        await ws.send_json({"type": "set_desired", "id": 3, "desired": {"current_limit_a": 20}})
        ok = await next_json(ws)
        assert ok == {"type": "result", "id": 3, "version": 1, "desired_version": 1}
        await ws.send_json({"type": "set_desired", "id": 4, "desired": {"current_limit_a": 21},
                            "if_version": 0})
        assert (await next_json(ws))["status"] == 409
        await ws.send_json({"type": "get_state", "id": 5})
        st = await next_json(ws)
        assert st["type"] == "state" and st["state"]["desired"] == {"current_limit_a": 20}
        await ws.send_json({"type": "ping", "id": 6})
        assert await next_json(ws) == {"type": "pong", "id": 6}
        await ws.send_json({"type": "whatif", "id": 8})
        wi = await next_json(ws)
        assert wi["type"] == "whatif" and wi["answer"]["full"]["reachable"] is False


async def test_device_ws_hello_ack_and_online(env: Env) -> None:
    svc = env.twin.service
    svc.set_desired({"current_limit_a": 40}, actor="app")
    hdr = {"Authorization": f"Bearer {DEVICE_TOKEN}"}
    async with env.http.ws_connect(env.url("/ws"), headers=hdr) as ws:
        await ws.send_json({"type": "hello", "reported": {"status": "Available", "dip_max_a": 32}})
        delivery = await next_json(ws)
        assert delivery["type"] == "desired"
        assert delivery["desired"] == {"current_limit_a": 40}
        dv = delivery["desired_version"]
        assert svc.state().reported["online"] is True
        await ws.send_json({"type": "ack_desired", "desired_version": dv, "statuses": {
            "current_limit_a": {"state": "rejected", "reason": "40 A is above the DIP max 32 A"}}})
        await ws.send_json({"type": "ping", "id": 1})
        assert (await next_json(ws))["type"] == "pong"
        ds = svc.state().reported["desired_status"]
        assert isinstance(ds, dict)
        assert ds["current_limit_a"] == {"state": "rejected", "version": dv,
                                         "reason": "40 A is above the DIP max 32 A"}
        # a desired change is pushed to the device at once
        svc.set_desired({"current_limit_a": 24}, actor="app")
        pushed = await next_json(ws)
        assert pushed["type"] == "desired" and pushed["desired"] == {"current_limit_a": 24}
        # a device may not send desired or twin-maintained keys
        await ws.send_json({"type": "set_desired", "id": 2, "desired": {"dr_opt_out": True}})
        assert (await next_json(ws))["status"] == 403
        await ws.send_json({"type": "report", "id": 3, "reported": {"online": False}})
        assert (await next_json(ws))["status"] == 422
        offline: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def watch(_: object) -> None:
            if svc.state().reported.get("online") is False and not offline.done():
                offline.set_result(None)

        sub = svc.subscribe(watch)
    # disconnect marks offline
    await asyncio.wait_for(offline, 5)
    sub.cancel()
    assert svc.state().reported["online"] is False
    kinds = [e.kind for e in svc.events()]
    assert "device_connected" in kinds and "device_disconnected" in kinds


async def test_history_and_whatif_rest(env: Env) -> None:
    svc = env.twin.service
    for path, body in [
        ("/history/sessions", {"id": "s1", "started_at": "2026-11-18T07:00:00+00:00",
                               "ended_at": "2026-11-18T08:00:00+00:00", "energy_wh": 7000,
                               "id_tag": "04A1", "cost": 1.05}),
        ("/history/events", {"kind": "fault_raised", "at": "2026-11-18T07:30:00+00:00",
                             "message": "over-current", "data": {"amps": 61}}),
    ]:
        status, data = await env.call("POST", path, DEVICE_TOKEN, body)
        assert status == 200, data
    status, data = await env.call("POST", "/history/sessions", DEVICE_TOKEN,
                                  {"id": "s2", "started_at": "yesterday"})
    assert status == 422 and data["error"]["details"][0]["key"] == "started_at"
    svc.report({"energy_wh": 1000})
    svc.report({"energy_wh": 4500})
    status, data = await env.call("GET", "/history/sessions", CLIENT_TOKEN)
    assert [s["id"] for s in data["sessions"]] == ["s1"]
    assert data["sessions"][0]["energy_wh"] == 7000
    status, data = await env.call("GET", "/history/events?kind=fault_raised", CLIENT_TOKEN)
    assert data["events"][0]["data"] == {"amps": 61}
    status, data = await env.call("GET", "/history/energy/daily?from=2026-11-01&to=2026-11-30",
                                  CLIENT_TOKEN)
    assert data == {"days": [{"day": "2026-11-18", "energy_wh": 3500.0, "sessions": 1}]}
    status, data = await env.call("GET", "/history/energy/daily?from=nov", CLIENT_TOKEN)
    assert status == 400
    status, data = await env.call("GET", "/history/events?limit=0", CLIENT_TOKEN)
    assert status == 400

    svc.report({"status": "Charging", "power_w": 7200, "voltage_v": 240, "offered_a": 30,
                "ev": {"soc_pct": 50, "battery_kwh": 60}})
    async with TwinClient(env.base, CLIENT_TOKEN) as client:
        answer: Any = await client.whatif(target_soc_pct=80)
        assert answer["full"]["reachable"] is True
        assert answer["target"]["reachable"] is True
        # 50→80 % of 60 kWh at 90 % efficiency = 20 kWh at 7.2 kW = 10000 s
        assert abs(answer["target"]["seconds"] - 10000) <= 60
        with pytest.raises(TwinApiError) as err:
            await client.whatif(target_soc_pct=150)
        assert err.value.status == 400
        state = await client.get_state()
        assert state.reported["ev"] == {"soc_pct": 50, "battery_kwh": 60}
        days = await client.energy_daily()
        assert days[0]["energy_wh"] == 3500.0
        with pytest.raises(TwinApiError) as err:
            await client.set_desired({"current_limit_a": 81})
        assert err.value.status == 422 and err.value.details[0]["key"] == "current_limit_a"
