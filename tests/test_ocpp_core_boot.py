"""Core profile: connection, BootNotification, Heartbeat, StatusNotification, configuration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.ocpp.config_keys import KEYS
from tests.ocpp_cs_driver import CentralSystem
from tests.ocpp_rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path, {"heartbeatInterval": 300, "password": "s3cret"},
                         basic_auth_password="s3cret")
    await rig.booted()
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


async def test_boot_status_and_basic_auth(rig: Rig) -> None:
    handshake = next(e for e in rig.cs.events if e.get("event") == "handshake")
    assert handshake == {"event": "handshake", "identity": "MQ200-TEST", "password": "s3cret",
                         "endpoint": "/ocpp"}
    boot = rig.cs.calls("BootNotification")[0]["params"]
    assert boot["chargePointVendor"] == "MQ" and boot["chargePointModel"] == "MQ 200"
    statuses = [(c["params"]["connectorId"], c["params"]["status"])
                for c in rig.cs.calls("StatusNotification")]
    assert statuses == [(0, "Available"), (1, "Available")]
    assert rig.cp.config.get("HeartbeatInterval") == "300"


async def test_heartbeat_follows_central_system_interval(rig: Rig) -> None:
    assert rig.cs.calls("Heartbeat") == []
    mark = len(rig.cs.events)
    await rig.clock.timer_due_by(rig.clock.now() + 300)
    rig.clock.advance(299)
    assert rig.cs.calls("Heartbeat") == []
    rig.clock.advance(1)
    await rig.cs.wait_call("Heartbeat", after=mark)
    rig.clock.advance(300)
    await rig.cs.wait_for(lambda e: len([c for c in rig.cs.calls("Heartbeat")]) == 2)


async def test_wrong_password_is_refused_and_retried(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path, {"password": "right"}, basic_auth_password="wrong")
    try:
        await rig.cs.wait_for(lambda e: e.get("event") == "handshake")
        assert rig.cs.calls() == []
        await asyncio.wait_for(rig.link.backing_off.wait(), 10)
        rig.clock.advance(5)  # back-off on the clock, then another attempt
        await rig.cs.wait_for(
            lambda e: len([x for x in rig.cs.events if x.get("event") == "handshake"]) >= 2)
    finally:
        await rig.stop()
        await rig.cs.stop()


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
async def test_boot_pending_or_rejected_retries_after_interval(tmp_path: Path, status: str) -> None:
    rig = await make_rig(tmp_path, {"bootStatus": status, "bootRetry": 42})
    try:
        await rig.cs.wait_call("BootNotification")
        # Nothing but BootNotification is sent until accepted.
        await rig.clock.timer_due_by(rig.clock.now() + 42)
        rig.clock.advance(41)
        assert len(rig.cs.calls("BootNotification")) == 1
        await rig.cs.command("set", key="bootStatus", value="Accepted")
        rig.clock.advance(1)
        await rig.booted()
        assert len(rig.cs.calls("BootNotification")) == 2
        assert [c["method"] for c in rig.cs.calls()][:2] == ["BootNotification"] * 2
    finally:
        await rig.stop()
        await rig.cs.stop()
    rig.assert_strict_clean()


async def test_boot_retry_count_limits_attempts(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path, {"bootStatus": "Rejected", "bootRetry": 10}, boot_retries=1)
    try:
        await rig.cs.wait_call("BootNotification")
        await rig.clock.advance_to_timer(10)
        await rig.cs.wait_for(lambda e: len(rig.cs.calls("BootNotification")) == 2)
        await rig.clock.advance_to_timer(10)  # retries exhausted: the charge point drops the connection
        await rig.cs.wait_for(lambda e: e.get("event") == "disconnected")
        assert len(rig.cs.calls("BootNotification")) == 2
    finally:
        await rig.stop()
        await rig.cs.stop()


async def test_get_configuration_all_and_unknown(rig: Rig) -> None:
    everything = await rig.cs.call("GetConfiguration", {})
    keys = {k["key"]: k for k in everything["result"]["configurationKey"]}
    assert set(keys) == set(KEYS)
    assert keys["ConnectionTimeOut"] == {"key": "ConnectionTimeOut", "readonly": False, "value": "900"}
    assert keys["NumberOfConnectors"]["readonly"] is True
    assert keys["SupportedFeatureProfiles"]["value"] == (
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger")
    some = await rig.cs.call("GetConfiguration", {"key": ["MeterValueSampleInterval", "Nope"]})
    assert some["result"] == {
        "configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "0"}],
        "unknownKey": ["Nope"],
    }


async def test_get_configuration_max_keys(rig: Rig) -> None:
    answer = await rig.cs.call("GetConfiguration", {"key": [f"K{i}" for i in range(61)]})
    assert answer["error"]["code"] == "OccurenceConstraintViolation"


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("MeterValueSampleInterval", "60", "Accepted"),
        ("MeterValueSampleInterval", "-1", "Rejected"),
        ("MeterValueSampleInterval", "abc", "Rejected"),
        ("LocalPreAuthorize", "false", "Accepted"),
        ("LocalPreAuthorize", "maybe", "Rejected"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Current.Offered", "Accepted"),
        ("MeterValuesSampledData", "Power.Active.Import", "Rejected"),
        ("NumberOfConnectors", "2", "Rejected"),
        ("LightIntensity", "101", "Rejected"),
        ("MQ200RemoteServiceType", "APP", "RebootRequired"),
        ("NoSuchKey", "1", "NotSupported"),
    ],
)
async def test_change_configuration(rig: Rig, key: str, value: str, status: str) -> None:
    answer = await rig.cs.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer["result"] == {"status": status}


async def test_configuration_persists_and_reaches_core(tmp_path: Path) -> None:
    cs = await CentralSystem.start()
    rig = await make_rig(tmp_path, cs=cs)
    await rig.booted()
    await cs.call("ChangeConfiguration", {"key": "ConnectionTimeOut", "value": "120"})
    assert rig.station.settings["ConnectionTimeOut"] == "120"
    await rig.stop()
    again = await make_rig(tmp_path, cs=cs)
    assert again.cp.config.get("ConnectionTimeOut") == "120"
    assert again.station.settings["ConnectionTimeOut"] == "120"
    await again.stop()
    await cs.stop()
    again.assert_strict_clean()


async def test_heartbeat_interval_change_rearms_timer(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "20"})
    mark = len(rig.cs.events)
    await rig.clock.advance_to_timer(20)
    await rig.cs.wait_call("Heartbeat", after=mark)


async def test_minimum_status_duration_suppresses_flicker(rig: Rig) -> None:
    mark = len(rig.cs.events)
    rig.station.plug_in()  # Preparing...
    rig.clock.advance(3)
    rig.station.unplug()  # ...back to Available within MinimumStatusDuration (10 s)
    rig.clock.advance(20)
    rig.station.plug_in()
    rig.clock.advance(10)
    event = await rig.cs.wait_call("StatusNotification", after=mark)
    assert event["params"]["status"] == "Preparing"
    assert [c["params"]["status"] for c in rig.cs.calls("StatusNotification")][2:] == ["Preparing"]


async def test_faulted_is_reported_at_once(rig: Rig) -> None:
    mark = len(rig.cs.events)
    rig.station.fault = "GroundFailure"
    rig.station._changed()
    event = await rig.cs.wait_call("StatusNotification", after=mark)
    assert event["params"]["status"] == "Faulted"
    assert event["params"]["errorCode"] == "GroundFailure"


async def test_reconnect_after_central_system_drops_us(rig: Rig) -> None:
    mark = len(rig.cs.events)
    await rig.cs.command("disconnect", terminate=True)
    await rig.cs.wait_for(lambda e: e.get("event") == "disconnected", after=mark)
    await asyncio.wait_for(rig.link.backing_off.wait(), 10)
    rig.clock.advance(2)  # back-off (1 s +- 50 %)
    await rig.cs.wait_call("BootNotification", after=mark)
    await rig.booted(after=mark)
