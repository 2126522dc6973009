"""Standalone twin + RemoteDeviceLink: offline desired, visible rejections, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.clock import AsyncioClock
from twin.auth import TokenRegistry
from twin.client import TwinClient, TwinState
from twin.device_link import EmbeddedDeviceLink, RemoteDeviceLink
from twin.documents import JsonObject, TwinDocument
from twin.service import DesiredDelivery, TwinService
from twin.standalone import start_twin
from twin.store import TwinStore

DEVICE_TOKEN = "device-token-0123456789"
CLIENT_TOKEN = "client-token-0123456789"
DEVICE_ID = "MQ200-OFF1"


def tokens() -> TokenRegistry:
    reg = TokenRegistry()
    reg.add(DEVICE_TOKEN, "device", "controller")
    reg.add(CLIENT_TOKEN, "client", "app")
    return reg


class ControllerStandIn:
    """The controller's use of a link: apply desired, refuse limits above its DIP max."""

    def __init__(self, link: RemoteDeviceLink | EmbeddedDeviceLink, dip_max_a: int) -> None:
        self.link = link
        self.dip_max_a = dip_max_a
        self.limit_a: int | None = None
        self.deliveries: asyncio.Queue[DesiredDelivery] = asyncio.Queue()
        link.on_desired(self.apply)

    def apply(self, delivery: DesiredDelivery) -> None:
        statuses: JsonObject = {}
        wanted = delivery.desired.get("current_limit_a")
        if isinstance(wanted, int) and wanted > self.dip_max_a:
            statuses["current_limit_a"] = {
                "state": "rejected",
                "reason": f"{wanted} A is above the DIP switch maximum of {self.dip_max_a} A",
            }
        else:
            self.limit_a = wanted if isinstance(wanted, int) else None
        self.link.ack_desired(delivery.desired_version, statuses)  # type: ignore[arg-type]
        self.deliveries.put_nowait(delivery)


async def until(svc: TwinService, pred: Callable[[TwinDocument], bool], timeout: float = 5) -> None:
    """Wait (on deltas, not by polling) until the service's document satisfies ``pred``."""
    if pred(svc.state()):
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(_: object) -> None:
        if not done.done() and pred(svc.state()):
            done.set_result(None)

    sub = svc.subscribe(check)
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        sub.cancel()


def status_of(doc: TwinDocument, key: str) -> JsonObject:
    ds = doc.reported.get("desired_status")
    assert isinstance(ds, dict)
    entry = ds.get(key)
    assert isinstance(entry, dict), (key, ds)
    return entry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def link_for(port: int) -> RemoteDeviceLink:
    return RemoteDeviceLink(f"http://127.0.0.1:{port}", DEVICE_TOKEN, AsyncioClock(),
                            min_backoff_s=0.05, max_backoff_s=0.2, heartbeat_s=5)


async def test_desired_set_while_device_away_is_applied_on_return(tmp_path: Path) -> None:
    twin = await start_twin("127.0.0.1", 0, tmp_path / "t.db", DEVICE_ID, tokens())
    svc = twin.service
    link = link_for(twin.port)
    device = ControllerStandIn(link, dip_max_a=40)
    link.report({"status": "Available", "dip_max_a": 40, "energy_wh": 100})
    try:
        await link.start()
        await link.wait_connected(5)
        await asyncio.wait_for(device.deliveries.get(), 5)
        await until(svc, lambda d: d.reported.get("online") is True)
        assert svc.state().reported["status"] == "Available"

        await link.close()  # the controller goes away (cellular drop, reboot, ...)
        await until(svc, lambda d: d.reported.get("online") is False)
        # while away: reports pile up in the link's mirror, apps change desired
        link.report({"status": "Charging", "energy_wh": 900})
        link.record_event({"kind": "fault_cleared", "message": "while offline"})
        async with TwinClient(f"http://127.0.0.1:{twin.port}", CLIENT_TOKEN) as app:
            v = await app.set_desired({"current_limit_a": 24, "charging_enabled": False})
        assert status_of(svc.state(), "current_limit_a") == {"state": "pending", "version": v}
        assert device.limit_a is None

        await link.start()
        delivery = await asyncio.wait_for(device.deliveries.get(), 5)
        assert delivery.desired == {"current_limit_a": 24, "charging_enabled": False}
        assert delivery.desired_version == v
        assert device.limit_a == 24
        await until(svc, lambda d: status_of(d, "current_limit_a").get("state") == "applied")
        state = svc.state()
        assert status_of(state, "charging_enabled") == {"state": "applied", "version": v}
        assert state.reported["status"] == "Charging"  # the full mirror came with hello
        assert state.reported["online"] is True
        assert link.connects == 2
        # the event recorded while offline went out before the ack, on the same socket
        assert [e.message for e in svc.events(kind="fault_cleared")] == ["while offline"]
        assert [d.energy_wh for d in svc.energy_daily()] == [800.0]
    finally:
        await link.close()
        await twin.stop()


async def test_rejected_value_is_visible_with_reason(tmp_path: Path) -> None:
    twin = await start_twin("127.0.0.1", 0, tmp_path / "t.db", DEVICE_ID, tokens())
    link = link_for(twin.port)
    device = ControllerStandIn(link, dip_max_a=32)
    link.report({"status": "Available", "dip_max_a": 32})
    base = f"http://127.0.0.1:{twin.port}"
    try:
        await link.start()
        await link.wait_connected(5)
        async with TwinClient(base, CLIENT_TOKEN) as app:
            stream = app.watch()
            state: TwinState = await asyncio.wait_for(anext(stream), 5)
            v = await app.set_desired({"current_limit_a": 48})
            while True:
                state = await asyncio.wait_for(anext(stream), 5)
                st = state.reported.get("desired_status", {})
                assert isinstance(st, dict)
                entry = st.get("current_limit_a")
                if isinstance(entry, dict) and entry.get("state") == "rejected":
                    break
            await stream.aclose()  # type: ignore[attr-defined]
            assert entry == {"state": "rejected", "version": v,
                             "reason": "48 A is above the DIP switch maximum of 32 A"}
            assert state.desired == {"current_limit_a": 48}, "kept, not silently dropped"
            assert device.limit_a is None
            events = await app.events(kind="desired_rejected")
            assert events[0]["data"] == {"key": "current_limit_a", "value": 48}
            # a value the controller can honour replaces it and is applied
            v2 = await app.set_desired({"current_limit_a": 32})
            await until(twin.service,
                        lambda d: status_of(d, "current_limit_a").get("version") == v2
                        and status_of(d, "current_limit_a").get("state") == "applied")
            assert device.limit_a == 32
    finally:
        await link.close()
        await twin.stop()


async def test_twin_restart_keeps_documents_and_history_and_link_reconnects(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    port = free_port()
    twin = await start_twin("127.0.0.1", port, db, DEVICE_ID, tokens())
    link = link_for(port)
    device = ControllerStandIn(link, dip_max_a=48)
    link.report({"status": "Charging", "energy_wh": 1000})
    try:
        await link.start()
        await link.wait_connected(5)
        await asyncio.wait_for(device.deliveries.get(), 5)
        link.report({"energy_wh": 3000})
        link.record_session({"id": "s1", "started_at": "2026-11-18T07:00:00+00:00",
                             "ended_at": "2026-11-18T08:00:00+00:00", "energy_wh": 2000})
        twin.service.set_desired({"dr_opt_out": True}, actor="app")
        await until(twin.service, lambda d: d.reported.get("energy_wh") == 3000
                    and status_of(d, "dr_opt_out").get("state") == "applied")
        version = twin.service.version
        while not device.deliveries.empty():
            device.deliveries.get_nowait()
        await twin.stop()  # the twin process dies; the link starts backing off
        twin = await start_twin("127.0.0.1", port, db, DEVICE_ID, tokens())
        svc = twin.service
        assert svc.state().desired == {"dr_opt_out": True}
        assert svc.state().reported["energy_wh"] == 3000
        assert svc.state().reported["online"] is False
        assert svc.version == version + 1  # only the offline mark was added
        assert [s.id for s in svc.sessions()] == ["s1"]
        days = svc.energy_daily()  # meter rise counted today, the session on its end day
        assert sum(d.energy_wh for d in days) == 2000.0
        assert sum(d.sessions for d in days) == 1
        # changed before the controller is back: applied when it reconnects
        v = svc.set_desired({"current_limit_a": 20}, actor="app")
        delivery = await asyncio.wait_for(device.deliveries.get(), 10)
        assert delivery.desired == {"dr_opt_out": True, "current_limit_a": 20}
        await until(svc, lambda d: status_of(d, "current_limit_a") == {
            "state": "applied", "version": v})
        assert svc.state().reported["online"] is True
        assert link.connects == 2
    finally:
        await link.close()
        await twin.stop()


async def test_standalone_process(tmp_path: Path) -> None:
    port = free_port()
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps({
        "device_id": DEVICE_ID,
        "time_zone": "America/Chicago",
        "tokens": [{"name": "controller", "role": "device", "token": DEVICE_TOKEN},
                   {"name": "app", "role": "client", "token": CLIENT_TOKEN}],
    }))
    code = (
        "from twin.standalone import run_standalone; "
        f"run_standalone('127.0.0.1', {port}, {str(tmp_path / 'p.db')!r}, {str(tokens_file)!r})"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=os.getcwd()
    )
    link = link_for(port)
    device = ControllerStandIn(link, dip_max_a=40)
    link.report({"status": "Available"})
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert b"listening" in line
        await link.start()
        await link.wait_connected(5)
        await asyncio.wait_for(device.deliveries.get(), 5)
        async with TwinClient(f"http://127.0.0.1:{port}", CLIENT_TOKEN) as app:
            await app.set_desired({"current_limit_a": 50})
            delivery = await asyncio.wait_for(device.deliveries.get(), 5)
            assert delivery.desired == {"current_limit_a": 50}
            stream = app.watch()
            while True:
                state = await asyncio.wait_for(anext(stream), 5)
                ds = state.reported.get("desired_status", {})
                if isinstance(ds, dict) and isinstance(ds.get("current_limit_a"), dict):
                    entry = ds["current_limit_a"]
                    if isinstance(entry, dict) and entry.get("state") == "rejected":
                        break
            await stream.aclose()  # type: ignore[attr-defined]
            assert state.device_id == DEVICE_ID
            assert state.reported["online"] is True
    finally:
        await link.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0


async def test_embedded_link_delivers_and_acks(tmp_path: Path) -> None:
    store = TwinStore(tmp_path / "e.db")
    svc = TwinService(store, DEVICE_ID, AsyncioClock())
    svc.set_desired({"current_limit_a": 60}, actor="app")  # made before the controller started
    link = EmbeddedDeviceLink(svc)
    device = ControllerStandIn(link, dip_max_a=40)
    first = device.deliveries.get_nowait()
    assert first.desired == {"current_limit_a": 60}
    assert status_of(svc.state(), "current_limit_a")["state"] == "rejected"
    svc.set_desired({"current_limit_a": 16}, actor="app")
    assert device.limit_a == 16
    assert status_of(svc.state(), "current_limit_a")["state"] == "applied"
    link.report({"status": "Charging"})
    link.record_event({"kind": "session_started"})
    link.record_session({"id": "e1", "started_at": "2026-11-18T07:00:00+00:00"})
    assert svc.state().reported["online"] is True
    assert [s.id for s in svc.sessions()] == ["e1"]
    link.close()
    assert svc.state().reported["online"] is False
    store.close()


@pytest.mark.parametrize("bad", ["ftp://x", "not a url"])
def test_remote_link_rejects_bad_url(bad: str) -> None:
    with pytest.raises(ValueError, match="url"):
        RemoteDeviceLink(bad, DEVICE_TOKEN, AsyncioClock())
