"""The API client's WebSocket rules that a healthy twin rarely exercises: duplicate and
gapped deltas, bad frames, error replies. The peer is a scripted server on 127.0.0.1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from custom_components.mq200.api import (
    ChargerState,
    Mq200AuthenticationError,
    Mq200Client,
    Mq200ConnectionError,
    Mq200PortalLoginError,
    Mq200RequestError,
    fetch_client_token,
)

from .twin_harness import free_port


def _snapshot(version: int, power: int) -> dict[str, Any]:
    return {"type": "snapshot", "id": 1, "state": {
        "device_id": "MQ200-X", "version": version, "desired_version": 0,
        "reported": {"power_w": power, "session": {"energy_wh": 1}}, "desired": {}}}


async def _serve(handler: Any) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def test_gap_duplicate_and_bad_frames(socket_enabled: None) -> None:
    subscribes: list[dict[str, Any]] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        subscribes.append(await ws.receive_json())
        await ws.send_json(_snapshot(1, 100))
        await ws.send_json({"type": "delta", "version": 2, "reported": {"power_w": 200}})
        await ws.send_json({"type": "delta", "version": 2, "reported": {"power_w": 999}})
        await ws.send_str("not json")
        await ws.send_bytes(b"\x00")
        await ws.send_json({"type": "delta", "version": "x"})
        await ws.send_json({"type": "error", "message": "bad_request"})
        await ws.send_json({"type": "delta", "version": 5, "reported": {"power_w": 500}})
        subscribes.append(await ws.receive_json())
        await ws.send_json(_snapshot(5, 500))
        await ws.send_json({"type": "delta", "version": 6, "desired_version": 6,
                            "desired": {"charging_enabled": False},
                            "reported": {"session": {"energy_wh": None}}})
        await ws.close()
        return ws

    runner, port = await _serve(ws_handler)
    seen: list[ChargerState] = []
    try:
        async with aiohttp.ClientSession() as session:
            client = Mq200Client("127.0.0.1", port, "t" * 20, session)
            with pytest.raises(Mq200ConnectionError, match="closed"):
                await client.listen(seen.append)
    finally:
        await runner.cleanup()
    assert [s.version for s in seen] == [1, 2, 5, 6]
    assert seen[1].power_w == 200
    assert [m["type"] for m in subscribes] == ["subscribe", "subscribe"]
    assert seen[-1].charging_enabled is False and seen[-1].desired_version == 6
    assert seen[-1].reported["session"] == {}


async def test_http_errors_are_typed(socket_enabled: None) -> None:
    answers = {
        "/api/v1/state": (200, "[1, 2]"),
        "/api/v1/whatif": (500, "oops"),
        "/api/v1/state/desired": (422, json.dumps({"error": {
            "code": "invalid_patch", "message": "desired.x: bad",
            "details": [{"key": "x", "value": 1, "message": "bad"}, "junk"]}})),
        "/api/v1/ws": (403, "{}"),
    }

    async def handler(request: web.Request) -> web.Response:
        status, text = answers[request.path]
        return web.Response(status=status, text=text, content_type="application/json")

    runner, port = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as session:
            client = Mq200Client("127.0.0.1", port, "t" * 20, session)
            with pytest.raises(Mq200ConnectionError, match="not a JSON object"):
                await client.get_state()
            with pytest.raises(Mq200RequestError) as err:
                await client.whatif()
            assert err.value.status == 500 and err.value.code == "unknown"
            with pytest.raises(Mq200RequestError) as err:
                await client.set_charging_enabled(True)
            assert err.value.code == "invalid_patch" and err.value.details[0].key == "x"
            with pytest.raises(Mq200AuthenticationError):
                await client.listen(lambda _s: None)
            now = datetime.now(UTC)
            with pytest.raises(ValueError, match="give opt_out"):
                await client.set_demand_response(now=now)
            for kwargs, match in (
                ({"now": now.replace(tzinfo=None)}, "now must be timezone-aware"),
                ({"now": now, "until": now}, "until needs limit_a"),
                ({"now": now, "limit_a": None, "until": now}, "None ends the event"),
                ({"now": now, "limit_a": 6, "until": now.replace(tzinfo=None)},
                 "until must be timezone-aware"),
                ({"now": now, "limit_a": 6, "until": now - timedelta(seconds=5)}, "not after now"),
            ):
                with pytest.raises(ValueError, match=match):
                    await client.set_demand_response(**kwargs)
            await client.disconnect()
    finally:
        await runner.cleanup()


async def test_portal_token_answers_that_are_not_a_token(socket_enabled: None) -> None:
    """Anything but a refusal with a reason or a token is "cannot connect" (not our portal)."""
    answers = iter([
        (200, "<html>router login</html>"),
        (503, json.dumps({"error": {"code": "unavailable", "message": "no token here"}})),
        (200, json.dumps({"token": ""})),
        (401, json.dumps({"detail": "who are you"})),
        (429, json.dumps({"error": {"code": "locked", "message": "locked for 5 more min"}})),
    ])
    bodies: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        status, text = next(answers)
        return web.Response(status=status, text=text, content_type="application/json")

    app = web.Application()
    app.router.add_post("/portal/api/token", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            for match in ("without a JSON object", "no token here", "gave no token",
                          "without a JSON object|gave no token"):
                with pytest.raises(Mq200ConnectionError, match=match):
                    await fetch_client_token(session, "127.0.0.1", port, "admin", "pw-123")
            with pytest.raises(Mq200PortalLoginError) as err:
                await fetch_client_token(session, "127.0.0.1", port, "admin", "pw-123")
            assert err.value.code == "locked" and "5 more min" in err.value.message
    finally:
        await runner.cleanup()
    assert bodies[0] == {"username": "admin", "password": "pw-123"}


async def test_unreachable_websocket(socket_enabled: None) -> None:
    async with aiohttp.ClientSession() as session:
        client = Mq200Client("127.0.0.1", free_port(), "t" * 20, session)
        with pytest.raises(Mq200ConnectionError, match="cannot reach"):
            await client.listen(lambda _s: None)


def test_state_parsing_is_lenient_but_version_is_required() -> None:
    with pytest.raises(ValueError, match="expected an object"):
        ChargerState.from_json([])
    with pytest.raises(ValueError, match="version"):
        ChargerState.from_json({"version": True})
    state = ChargerState.from_json({"version": 3, "reported": {
        "status": "Bogus", "pilot": "Z", "next_start": "2026-01-01T00:00:00",
        "faults": ["x"], "limits": [1], "dip_max_a": True,
        "load_management": {"role": "gateway", "policy": "nope", "members": [1, {"serial": "S"}]},
    }, "desired": {"schedules": [1, {"id": "w", "start": "bad", "days": ["mon"]},
                                 {"id": "o", "start": "x", "end": "y"}],
                   "departure_goal": {"ready_by": "nope"}}})
    assert state.status is None and state.pilot is None and state.next_start is None
    assert state.plugged_in is None and state.charging is None
    assert state.faults == [] and state.limits == [] and state.dip_max_a is None
    assert state.max_current_a == 80 and state.load_management_policy is None
    assert [m.serial for m in state.group_members] == ["S"]
    assert state.schedules == [] and state.departure_goal is None
    assert state.serial == "" and state.desired_rejection("x") is None
