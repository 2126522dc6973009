"""Siri Shortcuts' REST calls (docs/voice.md), exactly as a Shortcut's "Get Contents of URL"
sends them: on the in-process home, and once against a real `mq200 run --sim` daemon."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from controller.clock import AsyncioClock
from tests.voice_rig import OTHER_CREDENTIAL, VoiceHome
from twin.client import TwinClient
from voice.home_links import HomeLink, HomeLinks, VoiceHomes
from voice.web import add_voice_routes


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[VoiceHome]:
    h = VoiceHome(tmp_path)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


async def test_start_stop_status_follow_the_contactor(home: VoiceHome) -> None:
    status, body = await home.call("GET", "/voice/v1/status")
    assert status == 200
    assert body["speech"] == "The charger is unplugged: no car is connected."
    assert body["charger"]["plugged_in"] is False

    status, body = await home.call("POST", "/voice/v1/start")
    assert status == 200 and body["ok"] is False and body["outcome"] == "unplugged"

    home.plug()
    status, body = await home.call("POST", "/voice/v1/stop")
    assert body == {**body, "ok": True, "outcome": "done"}
    home.advance(10)
    assert not home.contactor
    status, body = await home.call("POST", "/voice/v1/start")
    assert body["speech"] == "OK, charging has resumed."
    home.advance(10)
    assert home.contactor
    status, body = await home.call("GET", "/voice/v1/status")
    assert body["speech"].startswith("Charging at 7.7 kilowatts, 62 percent, full by ")
    assert body["charger"]["charging"] is True


async def test_ready_by_and_charge_at_take_spoken_times(home: VoiceHome) -> None:
    home.plug()
    status, body = await home.call("POST", "/voice/v1/ready-by",
                                   body={"by": "7 am", "percent": "80%"})
    assert status == 200, body
    assert body["speech"] == "OK, the car will be at 80 percent by 7 AM tomorrow."
    assert home.desired()["departure_goal"]["ready_by"] == "2026-11-27T07:00:00-08:00"
    # a bare hour takes the sooner reading in a one-shot Shortcut: 11 tonight
    status, body = await home.call("POST", "/voice/v1/charge-at",
                                   body={"at": "eleven", "until": "6 am"})
    assert body["speech"] == "OK, I'll start charging at 11 PM today and stop at 6 AM tomorrow."
    (window,) = home.desired()["schedules"]
    assert (window["start"], window["end"]) == ("2026-11-26T23:00:00-08:00",
                                                "2026-11-27T06:00:00-08:00")
    status, body = await home.call("POST", "/voice/v1/cancel-schedule")
    assert body["ok"] is True
    assert "schedules" not in home.desired() and "departure_goal" not in home.desired()


async def test_current_and_bad_input(home: VoiceHome) -> None:
    home.plug()
    status, body = await home.call("POST", "/voice/v1/current", body={"amps": 24})
    assert body["speech"] == "OK, I'll charge at up to 24 amps, about 5.8 kilowatts."
    assert home.desired()["current_limit_a"] == 24
    status, body = await home.call("POST", "/voice/v1/ready-by", body={"by": "tomorrow at banana"})
    assert status == 422 and body["error"]["field"] == "by"
    assert "banana" in body["speech"]
    status, body = await home.call("POST", "/voice/v1/current", body={"amps": "lots"})
    assert status == 422 and body["error"]["field"] == "amps"
    status, body = await home.call("POST", "/voice/v1/ready-by", body=["not", "an", "object"])
    assert status == 400
    assert home.desired()["current_limit_a"] == 24


async def test_shortcuts_need_this_homes_token(home: VoiceHome) -> None:
    for token in (None, OTHER_CREDENTIAL):
        status, body = await home.call("POST", "/voice/v1/stop", token=token)
        assert status == 401
    assert home.desired() == {}


# --------------------------------------------------------------------------- the real daemon


async def _start_daemon(data: Path) -> tuple[asyncio.subprocess.Process, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "controller.cli", "run", "--sim", "--data-dir", str(data),
        "--listen", "127.0.0.1:0", "--log-format", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None

    async def ready() -> dict[str, Any]:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError("mq200 run --sim exited before it was ready")
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(msg, dict) and msg.get("event") == "ready":
                return msg

    msg = await asyncio.wait_for(ready(), timeout=30)
    asyncio.get_running_loop().create_task(_drain(proc))
    return proc, str(msg["url"]), str(msg["client_token"])


async def _drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    while await proc.stdout.readline():
        pass


async def _until(client: TwinClient, check: Any) -> None:
    async def watch() -> None:
        async for state in client.watch():
            if check(state):
                return

    await asyncio.wait_for(watch(), timeout=30)


@pytest.mark.slow
async def test_shortcuts_against_mq200_run_sim(tmp_path: Path) -> None:
    if not (Path(__file__).resolve().parents[1] / "controller" / "cli.py").exists():
        pytest.skip("the daemon is not in this tree")
    proc, url, client_token = await _start_daemon(tmp_path / "data")
    runner: web.AppRunner | None = None
    try:
        credential = "shortcut-credential-for-e2e-test"
        homes = VoiceHomes(HomeLinks([HomeLink.with_credential(
            "home", url, client_token, "America/Los_Angeles", credential)]), AsyncioClock())
        app = web.Application()
        add_voice_routes(app, homes)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        voice_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        headers = {"Authorization": f"Bearer {credential}"}
        async with aiohttp.ClientSession() as http:
            twin = TwinClient(url, client_token, session=http)

            async def shortcut(method: str, action: str) -> dict[str, Any]:
                async with http.request(method, f"{voice_url}/voice/v1/{action}",
                                        headers=headers) as resp:
                    assert resp.status == 200
                    return dict(await resp.json())

            await _until(twin, lambda s: s.reported.get("status") == "Available")
            assert (await shortcut("GET", "status"))["speech"] == (
                "The charger is unplugged: no car is connected."
            )
            async with http.post(f"{url}/sim/plug", json={"soc": 0.5, "battery_kwh": 75},
                                 headers={"Authorization": f"Bearer {client_token}"}) as resp:
                assert resp.status == 200
            await _until(twin, lambda s: s.reported.get("pilot") in ("B", "C"))
            stopped = await shortcut("POST", "stop")
            assert stopped["ok"] is True and "paused" in stopped["speech"]
            state = await twin.get_state()
            assert state.desired["charging_enabled"] is False
            statuses = state.reported["desired_status"]
            assert isinstance(statuses, dict)
            entry = statuses["charging_enabled"]
            assert isinstance(entry, dict) and entry["state"] == "applied"
            started = await shortcut("POST", "start")
            assert started["ok"] is True
            assert (await twin.get_state()).desired["charging_enabled"] is True
    finally:
        if runner is not None:
            await runner.cleanup()
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=15)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
