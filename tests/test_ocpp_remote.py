"""Core + RemoteTrigger: remote start/stop, reset, availability, unlock, trigger, data
transfer, and CallErrors for malformed or schema-invalid CALLs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ocpp_rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path, {"authorize": {"BAD": "Invalid"}})
    await rig.booted()
    await rig.cs.call("ChangeConfiguration", {"key": "MinimumStatusDuration", "value": "0"})
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


async def test_remote_start_authorizes_then_starts(rig: Rig) -> None:
    rig.station.plug_in()
    answer = await rig.cs.call("RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1})
    assert answer["result"] == {"status": "Accepted"}
    await rig.cs.wait_call("Authorize")
    start = await rig.cs.wait_call("StartTransaction")
    assert start["params"]["idTag"] == "REMOTE"
    tx = start["result"]["transactionId"]
    wrong = await rig.cs.call("RemoteStopTransaction", {"transactionId": tx + 100})
    assert wrong["result"] == {"status": "Rejected"}
    await rig.cs.call("GetLocalListVersion", {})  # confirmation handled (round trip)
    stop_answer = await rig.cs.call("RemoteStopTransaction", {"transactionId": tx})
    assert stop_answer["result"] == {"status": "Accepted"}
    stop = await rig.cs.wait_call("StopTransaction")
    assert stop["params"]["reason"] == "Remote" and stop["params"]["transactionId"] == tx


async def test_remote_start_without_authorize_when_disabled(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"})
    rig.station.plug_in()
    await rig.cs.call("RemoteStartTransaction", {"idTag": "REMOTE"})
    await rig.cs.wait_call("StartTransaction")
    assert rig.cs.calls("Authorize") == []


async def test_remote_start_invalid_tag_does_not_start(rig: Rig) -> None:
    rig.station.plug_in()
    await rig.cs.call("RemoteStartTransaction", {"idTag": "BAD"})
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].accepted is False and rig.station.session_tag is None


async def test_remote_start_with_tx_profile_limits_current(rig: Rig) -> None:
    rig.station.plug_in()
    profile = {"chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
               "chargingProfileKind": "Relative",
               "chargingSchedule": {"chargingRateUnit": "A",
                                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}
    answer = await rig.cs.call("RemoteStartTransaction", {"idTag": "R", "chargingProfile": profile})
    assert answer["result"] == {"status": "Accepted"}
    await rig.cs.wait_call("StartTransaction")
    assert rig.station.limits["ocpp"] == 16.0
    rig.station.unplug()
    await rig.cs.wait_call("StopTransaction")
    assert "ocpp" not in rig.station.limits  # the TxProfile ended with its transaction


async def test_remote_start_rejected_while_busy_or_with_wrong_profile(rig: Rig) -> None:
    bad_profile = {"chargingProfileId": 1, "stackLevel": 1,
                   "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative",
                   "chargingSchedule": {"chargingRateUnit": "A",
                                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}}
    answer = await rig.cs.call("RemoteStartTransaction", {"idTag": "R", "chargingProfile": bad_profile})
    assert answer["result"] == {"status": "Rejected"}
    answer = await rig.cs.call("RemoteStartTransaction", {"idTag": "R", "connectorId": 2})
    assert answer["result"] == {"status": "Rejected"}


@pytest.mark.parametrize("kind", ["Soft", "Hard"])
async def test_reset_stops_session_and_reboots(rig: Rig, kind: str) -> None:
    rig.station.plug_in()
    rig.station.present_tag("T")
    await rig.cs.wait_call("StartTransaction")
    mark = len(rig.cs.events)
    answer = await rig.cs.call("Reset", {"type": kind})
    assert answer["result"] == {"status": "Accepted"}
    if kind == "Soft":  # a soft reset lets the StopTransaction out before rebooting
        await rig.cs.wait_call("StopTransaction", after=mark)
    await rig.cs.wait_for(lambda e: e.get("event") == "disconnected", after=mark)
    assert rig.station.resets == [kind == "Hard"]
    await asyncio.wait_for(rig.link.backing_off.wait(), 10)
    rig.clock.advance(2)
    boot = await rig.cs.wait_call("BootNotification", after=mark)
    stop = await rig.cs.wait_call("StopTransaction", after=mark)  # queued: survives the reboot
    assert stop["params"]["reason"] == f"{kind}Reset"
    assert len(rig.cs.calls("StopTransaction")) == 1
    if kind == "Hard":
        assert rig.cs.events.index(stop) > rig.cs.events.index(boot)


async def test_change_availability_immediate_and_scheduled(rig: Rig) -> None:
    answer = await rig.cs.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert answer["result"] == {"status": "Accepted"}
    await rig.cs.wait_call("StatusNotification", where=lambda e: e["params"]["status"] == "Unavailable")
    start = await rig.cs.call("RemoteStartTransaction", {"idTag": "R"})
    assert start["result"] == {"status": "Rejected"}
    await rig.cs.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    rig.station.plug_in()
    rig.station.present_tag("T")
    await rig.cs.wait_call("StartTransaction")
    answer = await rig.cs.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer["result"] == {"status": "Scheduled"}
    assert rig.station.available is True
    mark = len(rig.cs.events)
    rig.station.unplug()
    await rig.cs.wait_call("StatusNotification", after=mark,
                           where=lambda e: e["params"]["status"] == "Unavailable")
    assert rig.station.available is False and rig.cp.state.available() is False


async def test_unlock_connector(rig: Rig) -> None:
    ok = await rig.cs.call("UnlockConnector", {"connectorId": 1})
    assert ok["result"] == {"status": "Unlocked"} and rig.station.unlocks == 1
    other = await rig.cs.call("UnlockConnector", {"connectorId": 2})
    assert other["result"] == {"status": "NotSupported"}


@pytest.mark.parametrize("message", ["BootNotification", "Heartbeat", "StatusNotification",
                                     "MeterValues", "FirmwareStatusNotification",
                                     "DiagnosticsStatusNotification"])
async def test_trigger_message(rig: Rig, message: str) -> None:
    mark = len(rig.cs.events)
    answer = await rig.cs.call("TriggerMessage", {"requestedMessage": message})
    assert answer["result"] == {"status": "Accepted"}
    event = await rig.cs.wait_call(message, after=mark)
    if message == "FirmwareStatusNotification":
        assert event["params"] == {"status": "Idle"}


async def test_trigger_message_bad_connector(rig: Rig) -> None:
    answer = await rig.cs.call("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 5})
    assert answer["result"] == {"status": "Rejected"}


async def test_data_transfer(rig: Rig) -> None:
    other = await rig.cs.call("DataTransfer", {"vendorId": "com.example"})
    assert other["result"] == {"status": "UnknownVendorId"}
    ours = await rig.cs.call("DataTransfer", {"vendorId": "MQ", "messageId": "x"})
    assert ours["result"] == {"status": "UnknownMessageId"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([2, "m1", "ChangeAvailability", {"connectorId": "one", "type": "Operative"}],
         "TypeConstraintViolation"),
        ([2, "m2", "ChangeAvailability", {"connectorId": 1, "type": "Sideways"}],
         "PropertyConstraintViolation"),
        ([2, "m3", "ChangeAvailability", {"connectorId": 1}], "ProtocolError"),
        ([2, "m4", "ChangeAvailability", {"connectorId": 1, "type": "Operative", "x": 1}],
         "FormationViolation"),
        ([2, "m5", "ChangeAvailability", [1, 2]], "FormationViolation"),
        ([2, "m6", "FlyToTheMoon", {}], "NotSupported"),
        ([2, "m7", "GetConfiguration", {"key": "NotAList"}], "TypeConstraintViolation"),
        ([2, "m8"], "ProtocolError"),
    ],
)
async def test_malformed_calls_get_call_errors(rig: Rig, frame: list[object], code: str) -> None:
    mark = len(rig.cs.events)
    await rig.cs.command("raw", text=json.dumps(frame))
    bad = await rig.cs.wait_for(lambda e: e.get("event") == "badMessage", after=mark)
    reply = json.loads(bad["text"])
    assert reply[0] == 4 and reply[1] == frame[1] and reply[2] == code
    # The connection stays up and keeps working.
    ok = await rig.cs.call("GetLocalListVersion", {})
    assert "result" in ok


async def test_garbage_text_is_ignored_connection_stays(rig: Rig) -> None:
    await rig.cs.command("raw", text="this is not json")
    ok = await rig.cs.call("GetLocalListVersion", {})
    assert "result" in ok
