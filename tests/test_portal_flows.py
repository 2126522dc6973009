"""Portal behaviour against a real daemon: the settings door through the twin, validation,
login security, resets, firmware upload and the live stream."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.clock import VirtualClock
from controller.portal.accounts import FAILURES_BEFORE_LOCK
from controller.portal.firmware import build_image, load_private_key
from controller.portal.sessions import IDLE_TIMEOUT_S, SessionStore
from controller.portal.station_form import current_values
from controller.portal.throttle import MAX_FAILURES, LoginThrottle
from controller.settings import StationSettings
from controller.storage import Storage
from tests.portal_harness import (
    NEW_PASSWORDS,
    PortalClient,
    label_passwords,
    logged_in,
    portal_of,
    running_daemon,
)


def station_form(daemon: object, section: str, **changes: str) -> dict[str, str]:
    """The section's form as the page shows it, with ``changes`` typed over it."""
    from controller.portal.fields import form_text
    from controller.portal.station_form import SECTIONS

    station = daemon.station  # type: ignore[attr-defined]
    values = current_values(station)
    form = {s.name: form_text(s, values[s.name]) for s in SECTIONS[section]}
    form.update(changes)
    form["section"] = section
    return form


def err_of(page: str, field: str) -> str | None:
    m = re.search(rf'id="err-{re.escape(field)}">([^<]*)<', page)
    return m.group(1) if m else None


async def test_forced_change_then_setting_flows_through_the_twin(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        client = PortalClient(daemon.url)
        try:
            initial = label_passwords(tmp_path)["admin"]
            status, _, resp = await client.login("admin", initial)
            assert status == 303 and resp.headers["Location"] == "/portal/password"
            # every page sends the user back to the password change until it is done
            status, _, resp = await client.get("/portal/station")
            assert status == 303 and resp.headers["Location"] == "/portal/password"
            cookie = resp.cookies.get("mq200_portal") or next(
                c for c in client.http.cookie_jar if c.key == "mq200_portal")
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            await client.get("/portal/password")
            status, page, _ = await client.post("/portal/password", {
                "current": initial, "new": initial, "confirm": initial})
            assert status == 422 and err_of(page, "new")
            status, page, _ = await client.post("/portal/password", {
                "current": initial, "new": "short", "confirm": "short"})
            assert status == 422 and "at least 10" in (err_of(page, "new") or "")
            new = NEW_PASSWORDS["admin"]
            status, _, _ = await client.post("/portal/password",
                                             {"current": initial, "new": new, "confirm": new})
            assert status == 303
            assert portal_of(daemon).accounts.get("admin").must_change is False  # type: ignore[union-attr]

            await client.get("/portal/station")
            status, _, _ = await client.post(
                "/portal/station", station_form(daemon, "general", max_amperage_fw_a="24"))
            assert status == 303
            assert daemon.station is not None and daemon.service is not None
            assert daemon.station.settings.max_amperage_fw_a == 24
            doc = daemon.service.state()
            assert doc.desired["settings"] == {"max_amperage_fw_a": 24}
            reported: Any = doc.reported
            assert reported["desired_status"]["settings.max_amperage_fw_a"]["state"] == "applied"
            assert reported["settings"]["max_amperage_fw_a"] == 24
            events = daemon.service.events(kind="desired_changed")
            assert any(ev.message == "portal:admin" for ev in events)
            # the arbiter took it: the firmware cap now binds below the DIP's 32 A
            assert daemon.station.snapshot().limit_a == 24
            _, page, _ = await client.get("/portal/station")
            assert 'name="max_amperage_fw_a" id="f-max_amperage_fw_a" value="24"' in page
        finally:
            await client.close()


async def test_invalid_form_changes_nothing_and_names_each_field(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, dip_a=32) as daemon:
        client = await logged_in(daemon, tmp_path, "admin")
        assert daemon.station is not None and daemon.service is not None
        try:
            before = daemon.station.settings.to_dict()
            version = daemon.service.version
            await client.get("/portal/station")
            status, page, _ = await client.post("/portal/station", station_form(
                daemon, "general", max_amperage_fw_a="40", authorize_timeout_s="abc",
                display_intensity_pct="180", time_zone="Mars/Olympus"))
            # the per-field checks report all at once; the DIP rule needs the others valid first
            assert status == 422
            assert "whole number" in (err_of(page, "authorize_timeout_s") or "")
            assert "0…100" in (err_of(page, "display_intensity_pct") or "")
            assert 'value="abc"' in page  # what the user typed is shown again
            status, page, _ = await client.post("/portal/station", station_form(
                daemon, "general", max_amperage_fw_a="40", time_zone="Mars/Olympus"))
            assert status == 422 and "unknown time zone" in (err_of(page, "time_zone") or "")
            status, page, _ = await client.post("/portal/station", station_form(
                daemon, "general", max_amperage_fw_a="40"))
            assert status == 422 and "DIP switch max of 32 A" in (err_of(page, "max_amperage_fw_a") or "")
            status, page, _ = await client.post("/portal/station", station_form(
                daemon, "warnings", voltage_low_warning_v="250", voltage_high_warning_v="240"))
            assert status == 422 and "low warning" in (err_of(page, "voltage_low_warning_v") or "")
            status, page, _ = await client.post("/portal/station", station_form(
                daemon, "hours", hours_mon_start="2500"))
            assert status == 422 and "HHMM" in (err_of(page, "hours_mon_start") or "")
            assert daemon.station.settings.to_dict() == before
            assert daemon.service.version == version
        finally:
            await client.close()


async def test_reboot_star_hours_pricing_and_twin_agreement(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        client = await logged_in(daemon, tmp_path, "maintain")
        assert daemon.station is not None and daemon.service is not None
        try:
            await client.get("/portal/station")
            status, _, _ = await client.post("/portal/station",
                                             station_form(daemon, "general", local_language="fr"))
            assert status == 303
            _, page, _ = await client.get("/portal/station")
            assert "take effect after a reboot" in page or "takes effect after a reboot" in page
            assert 'id="reboot-now"' in page
            status, _, _ = await client.post("/portal/station", station_form(
                daemon, "hours", hours_sat_start="0800", hours_sat_end="2000"))
            assert status == 303
            assert daemon.station.settings.hours_of_operation["sat"] == ["0800", "2000"]
            reported: Any = daemon.service.state().reported
            assert reported["settings"]["hours_of_operation"]["sat"] == ["0800", "2000"]
            # a change made through the twin shows in the portal
            daemon.service.set_desired({"settings": {"latitude": 45.5}}, actor="client:test")
            _, page, _ = await client.get("/portal/station")
            assert 'value="45.5"' in page
            # pricing: portal-owned, validated the same way
            form = {"section": "pricing", **{k: str(v) for k, v in portal_of(daemon).extra.get("pricing").items()}}
            form["tax_rate_pct"] = "150"
            status, page, _ = await client.post("/portal/station", form)
            assert status == 422 and err_of(page, "tax_rate_pct")
            form["tax_rate_pct"] = "8.5"
            assert (await client.post("/portal/station", form))[0] == 303
            assert portal_of(daemon).extra.get("pricing")["tax_rate_pct"] == 8.5
        finally:
            await client.close()


async def test_ocpp_keys_and_communication(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        client = await logged_in(daemon, tmp_path, "admin")
        svc = portal_of(daemon)
        try:
            _, page, _ = await client.get("/portal/ocpp")
            assert "MaxEnergyOnInvalidId" in page and 'id="key-NumberOfConnectors">1<' in page
            status, page, _ = await client.post("/portal/ocpp", {
                "section": "keys", "key:HeartbeatInterval": "300", "key:LightIntensity": "250"})
            assert status == 422 and err_of(page, "key-LightIntensity")
            assert svc.ocpp_config.get("HeartbeatInterval") == "0"
            status, _, _ = await client.post("/portal/ocpp", {
                "section": "keys", "key:HeartbeatInterval": "300", "key:LightIntensity": "80"})
            assert status == 303 and svc.ocpp_config.get("HeartbeatInterval") == "300"
            status, _, _ = await client.post("/portal/ocpp", {
                "section": "keys", "key:NumberOfConnectors": "2"})
            assert status == 422
            # service settings: URL scheme checked; reboot-marked
            form = {"section": "service", **{k: str(v) for k, v in svc.extra.get("ocpp").items()
                                             if k not in ("protocol_name",)}}
            form["basic_auth_password"] = ""
            form["ftp_password"] = ""
            form["central_system_url"] = "http://cs.example/ocpp"
            status, page, _ = await client.post("/portal/ocpp", form)
            assert status == 422 and "ws://" in (err_of(page, "central_system_url") or "")
            form["central_system_url"] = "wss://cs.example/ocpp"
            form["basic_auth_password"] = "s3cret-pass"
            status, _, _ = await client.post("/portal/ocpp", form)
            assert status == 303
            _, page, _ = await client.get("/portal/ocpp")
            assert "s3cret-pass" not in page and "reboot" in page
            assert svc.extra.get("ocpp")["basic_auth_password"] == "s3cret-pass"
            # communication: gateway mode is saved now and used from the next start on
            comm = svc.extra.get("communication")
            form = {"section": "network", "network_mode": "Gateway",
                    "connectivity": str(comm["connectivity"]), "group_use_external_gateway": "off"}
            assert (await client.post("/portal/communication", form))[0] == 303
            assert svc.extra.get("communication")["network_mode"] == "Gateway"
            from controller.config import Config
            from controller.portal.startup import apply_stored_settings

            next_start = Config()
            next_start.load_management = next_start.load_management.apply(
                {"group_secret": "a-long-shared-group-secret"})
            assert apply_stored_settings(next_start, svc.station.storage) == []
            assert next_start.load_management.network_mode.value == "gateway"
            assert next_start.ocpp.central_system_url == "wss://cs.example/ocpp"
            assert next_start.ocpp.basic_auth_password == "s3cret-pass"
            without_secret = Config()
            problems = apply_stored_settings(without_secret, svc.station.storage)
            assert problems and "group_secret" in problems[0]
            assert without_secret.load_management.network_mode.value == "direct"
            form["connectivity"] = "Carrier pigeon"
            status, page, _ = await client.post("/portal/communication", form)
            assert status == 422 and err_of(page, "connectivity")
        finally:
            await client.close()


async def test_lockout_after_failed_logins(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        client = PortalClient(daemon.url)
        try:
            right = label_passwords(tmp_path)["maintain"]
            for _ in range(FAILURES_BEFORE_LOCK - 1):
                status, page, _ = await client.login("maintain", "wrong-password")
                assert status == 401 and "Wrong user name or password" in page
            status, page, _ = await client.login("maintain", "wrong-password")
            assert status == 401 and "locked" in page
            status, page, _ = await client.login("maintain", right)
            assert status == 429 and "locked" in page
            # the other user is not affected
            status, _, _ = await client.login("admin", label_passwords(tmp_path)["admin"])
            assert status == 303
        finally:
            await client.close()


def test_throttle_and_session_expiry_on_virtual_clock(tmp_path: Path) -> None:
    clock = VirtualClock(1_000_000.0)
    throttle = LoginThrottle(clock)
    for _ in range(MAX_FAILURES):
        assert throttle.retry_after("192.0.2.1") == 0
        throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") > 0
    assert throttle.retry_after("192.0.2.2") == 0
    clock.advance(601)
    assert throttle.retry_after("192.0.2.1") == 0

    storage = Storage(tmp_path / "s.db")
    store = SessionStore(storage.engine, clock)
    token, session = store.create("admin")
    assert store.lookup(token) == session
    clock.advance(IDLE_TIMEOUT_S - 10)
    assert store.lookup(token) is not None  # activity keeps it alive
    clock.advance(IDLE_TIMEOUT_S + 1)
    assert store.lookup(token) is None and not store.still_valid(session)
    token, session = store.create("admin")
    for _ in range(50):  # busy, but past the absolute limit
        clock.advance(IDLE_TIMEOUT_S / 2)
        store.lookup(token)
    assert store.lookup(token) is None
    assert store.lookup("x" * 500) is None
    storage.close()


async def test_factory_reset_restores_settings_and_passwords_keeps_history(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        assert daemon.station is not None and daemon.service is not None
        admin = await logged_in(daemon, tmp_path, "admin")
        svc = portal_of(daemon)
        storage = daemon.station.storage
        session_id = storage.start_session(1.0, "TAG1", 0)
        storage.stop_session(session_id, 2.0, 500, "Local")
        try:
            await admin.get("/portal/station")
            await admin.post("/portal/station", station_form(daemon, "general", max_amperage_fw_a="20"))
            await admin.post("/portal/ocpp", {"section": "keys", "key:HeartbeatInterval": "60"})
            assert daemon.station.settings.max_amperage_fw_a == 20
            old_label = label_passwords(tmp_path)
            await admin.get("/portal/maintenance")
            assert (await admin.post("/portal/maintenance/factory-reset", {}))[0] == 422
            assert daemon.station.settings.max_amperage_fw_a == 20
            status, _, resp = await admin.post("/portal/maintenance/factory-reset", {"confirm": "yes"})
            assert status == 303 and resp.headers["Location"] == "/portal/login"
            assert daemon.station.settings == StationSettings()
            assert "settings" not in daemon.service.state().desired
            assert svc.ocpp_config.get("HeartbeatInterval") == "0"
            assert [s.id for s in storage.sessions()] == [session_id]  # history stays
            new_label = label_passwords(tmp_path)
            assert new_label != old_label
            assert (await admin.get("/portal/status"))[0] == 303  # logged out
            assert (await admin.login("admin", NEW_PASSWORDS["admin"]))[0] == 401
            status, _, resp = await admin.login("admin", new_label["admin"])
            assert status == 303 and resp.headers["Location"] == "/portal/password"
            # after the reset, the same value set again goes through (desired was cleared)
            await admin.first_login("admin", new_label["admin"], NEW_PASSWORDS["admin"])
            await admin.get("/portal/station")
            await admin.post("/portal/station", station_form(daemon, "general", max_amperage_fw_a="20"))
            assert daemon.station.settings.max_amperage_fw_a == 20
            # the DIP OFF-OFF-OFF path is the station's own factory reset: passwords follow
            daemon.station.factory_reset()
            assert label_passwords(tmp_path) != new_label
            assert svc.accounts.get("admin").must_change  # type: ignore[union-attr]
        finally:
            await admin.close()


async def test_reset_passwords_of_all_users(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        admin = await logged_in(daemon, tmp_path, "admin")
        maintain = await logged_in(daemon, tmp_path, "maintain")
        try:
            await admin.get("/portal/security")
            status, page, _ = await admin.post("/portal/security/reset-passwords", {"confirm": "yes"})
            assert status == 200
            shown = dict(re.findall(r"<tr><td>(\w+)</td><td><code>([^<]+)</code>", page))
            assert shown == label_passwords(tmp_path)
            assert (await maintain.get("/portal/status"))[0] == 303
            assert (await admin.get("/portal/status"))[0] == 303
            status, _, resp = await maintain.login("maintain", shown["maintain"])
            assert resp.headers["Location"] == "/portal/password"
        finally:
            await admin.close()
            await maintain.close()


async def _upload(client: PortalClient, image: bytes, downgrade: bool = False) -> tuple[int, dict[str, object]]:
    form = aiohttp.FormData()
    form.add_field("csrf", client.csrf)
    if downgrade:
        form.add_field("allow_downgrade", "yes")
    form.add_field("image", image, filename="fw.img", content_type="application/octet-stream")
    async with client.http.post(client.base + "/portal/maintenance/firmware", data=form,
                                headers={"X-Requested-With": "portal"}) as resp:
        return resp.status, await resp.json()


async def test_firmware_upload_signed_tampered_downgrade(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        assert daemon.service is not None
        client = await logged_in(daemon, tmp_path, "admin")
        svc = portal_of(daemon)
        key = load_private_key(tmp_path / "firmware-dev-signing.key")
        try:
            await client.get("/portal/maintenance")
            good = build_image(key, "1.4.0", b"\x7fELF new controller" * 1000)
            tampered = bytearray(good)
            tampered[200] ^= 0x01
            status, body = await _upload(client, bytes(tampered))
            assert status == 422 and "signature check failed" in str(body["message"])
            other = build_image(Ed25519PrivateKey.generate(), "1.4.0", b"payload")
            status, body = await _upload(client, other)
            assert status == 422 and "signed by another key" in str(body["message"])
            status, body = await _upload(client, b"just some bytes")
            assert status == 422 and "wrong header" in str(body["message"])
            assert svc.firmware.running_version == "0.1.0"
            assert not (tmp_path / "firmware").exists()

            status, body = await _upload(client, good)
            assert status == 200 and body["ok"], body
            assert "rebooted into firmware 1.4.0" in str(body["message"]).lower()
            assert svc.firmware.running_version == "1.4.0"
            assert daemon.service.state().reported["firmware"] == "1.4.0"
            assert (tmp_path / "firmware" / "mq200-1.4.0.img").read_bytes() == good

            older = build_image(key, "1.3.9", b"old")
            status, body = await _upload(client, older)
            assert status == 422 and "older than the running 1.4.0" in str(body["message"])
            assert svc.firmware.running_version == "1.4.0"
            status, body = await _upload(client, older, downgrade=True)
            assert status == 200 and "downgrade" in str(body["warning"])
            assert svc.firmware.running_version == "1.3.9"
            # without the CSRF token nothing is read
            form = aiohttp.FormData()
            form.add_field("image", good, filename="fw.img")
            async with client.http.post(client.base + "/portal/maintenance/firmware", data=form) as resp:
                assert resp.status == 403
        finally:
            await client.close()


async def test_status_stream_follows_a_session(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        assert daemon.pty is not None and daemon.station is not None
        daemon.station.apply_settings({"local_list": ["CARD-1"]})
        client = await logged_in(daemon, tmp_path, "maintain")
        try:
            async with client.http.get(client.base + "/portal/events") as resp:
                assert resp.status == 200 and resp.content_type == "text/event-stream"

                async def next_status() -> dict[str, object]:
                    event = ""
                    while True:
                        line = (await resp.content.readline()).decode().strip()
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: ") and event == "status":
                            parsed: dict[str, object] = json.loads(line[6:])
                            return parsed

                first = await asyncio.wait_for(next_status(), 5)
                assert first["status"] in ("Available", "AVAILABLE") or first["session"] is None
                daemon.pty.plug()
                daemon.pty.present_tag("CARD-1")

                async def until_charging() -> dict[str, object]:
                    while True:
                        st = await next_status()
                        if st["contactor"] and st.get("power_w", 0):
                            return st

                charging = await asyncio.wait_for(until_charging(), 15)
                assert charging["session"] is not None
                assert "sample" in charging or charging["power_w"]
        finally:
            await client.close()
