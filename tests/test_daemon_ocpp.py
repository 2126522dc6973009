"""The real daemon (charge logic on the simulated charger) against the independent central system.

ocpp-rpc in strict mode validates every message our charger sends; nothing here is a double.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.daemon_process import start_daemon
from tests.ocpp_cs_driver import CentralSystem
from tests.test_daemon_sim import wait_for
from twin.client import TwinClient, TwinState


def config(url: str) -> str:
    return f"""
[identity]
serial_number = "MQ200-OCPP0001"

[ocpp]
central_system_url = "{url}"
charge_point_id = "CP-HOME-1"
"""


async def test_session_authorized_by_the_central_system_with_remote_stop_and_profile(tmp_path: Path) -> None:
    cs = await CentralSystem.start({"authorize": {"BLOCKED01": "Blocked"}, "heartbeatInterval": 60})
    daemon = await start_daemon(tmp_path / "var", config(cs.url))
    try:
        boot = await cs.wait_call("BootNotification", timeout=20)
        assert boot["params"]["chargePointSerialNumber"] == "MQ200-OCPP0001"
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, lambda s: (s.reported.get("ocpp") or {}).get("connected") is True)
            await daemon.sim("plug", {"soc": 0.3})
            # a tag the central system blocks never gets energy
            mark = len(cs.events)
            await daemon.sim("tag", {"uid": "BLOCKED01"})
            await cs.wait_call("Authorize", after=mark, where=lambda e: e["params"]["idTag"] == "BLOCKED01")
            await wait_for(client, lambda s: s.reported.get("status") == "Preparing")
            assert (await daemon.sim("state"))["contactor"] is False
            # an accepted tag: Authorize, StartTransaction, Charging
            await daemon.sim("tag", {"uid": "GOOD0001"})
            start = await cs.wait_call("StartTransaction", timeout=15)
            assert start["params"]["idTag"] == "GOOD0001" and start["params"]["connectorId"] == 1
            tx = start["result"]["transactionId"]
            await cs.wait_call("StatusNotification", timeout=15,
                               where=lambda e: e["params"]["status"] == "Charging")
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            # a TxProfile of 10 A from the central system enters the arbiter as one source
            result = await cs.call("SetChargingProfile", {
                "connectorId": 1,
                "csChargingProfiles": {
                    "chargingProfileId": 7, "transactionId": tx, "stackLevel": 1,
                    "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                    "chargingSchedule": {"chargingRateUnit": "A",
                                         "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]},
                }})
            assert result["result"]["status"] == "Accepted"
            state = await wait_for(client, lambda s: s.reported.get("offered_a") == 10)
            assert state.reported["limit_source"] == "ocpp"
            # remote stop: StopTransaction with reason Remote, the contactor opens
            result = await cs.call("RemoteStopTransaction", {"transactionId": tx})
            assert result["result"]["status"] == "Accepted"
            stop = await cs.wait_call("StopTransaction", timeout=15)
            assert stop["params"]["transactionId"] == tx and stop["params"]["reason"] == "Remote"
            assert stop["params"]["meterStop"] >= start["params"]["meterStart"]
            await wait_for(client, lambda s: s.reported.get("status") == "Finishing")
            assert (await daemon.sim("state"))["contactor"] is False
        assert cs.validation_failures() == []
    finally:
        await daemon.stop()
        await cs.stop()


async def test_remote_start_and_unplug_stop(tmp_path: Path) -> None:
    cs = await CentralSystem.start()
    daemon = await start_daemon(tmp_path / "var", config(cs.url))
    try:
        await cs.wait_call("BootNotification", timeout=20)
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, lambda s: (s.reported.get("ocpp") or {}).get("connected") is True)
            await daemon.sim("plug", {"soc": 0.6})
            result = await cs.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "APPUSER1"})
            assert result["result"]["status"] == "Accepted"
            start = await cs.wait_call("StartTransaction", timeout=15)
            assert start["params"]["idTag"] == "APPUSER1"
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            # hours of operation sent by the central system supersede the station's defaults
            bad = await cs.call("ChangeConfiguration", {"key": "MQ200HoursOfOperation", "value": "mon=25:00"})
            assert bad["result"]["status"] == "Rejected"
            closed = ";".join(f"{d}=0000-0001" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
            ok = await cs.call("ChangeConfiguration", {"key": "MQ200HoursOfOperation", "value": closed})
            assert ok["result"]["status"] == "Accepted"
            state = await wait_for(client, lambda s: s.reported.get("limit_source") == "hours")
            assert state.reported["status"] == "SuspendedEVSE"
            await cs.call("ChangeConfiguration", {"key": "MQ200HoursOfOperation", "value": ""})
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            await daemon.sim("unplug")
            stop = await cs.wait_call("StopTransaction", timeout=15)
            assert stop["params"]["reason"] == "EVDisconnected"
        assert cs.validation_failures() == []
    finally:
        await daemon.stop()
        await cs.stop()


def ocpp_connected(state: TwinState) -> bool:
    ocpp = state.reported.get("ocpp")
    return isinstance(ocpp, dict) and ocpp.get("connected") is True


async def test_remote_start_without_ev_expires_after_connection_timeout(tmp_path: Path) -> None:
    cs = await CentralSystem.start()
    daemon = await start_daemon(tmp_path / "var", config(cs.url))
    try:
        await cs.wait_call("BootNotification", timeout=20)
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, ocpp_connected)
            await wait_for(client, lambda s: s.reported.get("status") == "Available")
            for key, value in (("MinimumStatusDuration", "0"), ("ConnectionTimeOut", "10")):
                answer = await cs.call("ChangeConfiguration", {"key": key, "value": value})
                assert answer["result"]["status"] == "Accepted", (key, answer)
            mark = len(cs.events)
            result = await cs.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "APPUSER2"})
            assert result["result"]["status"] == "Accepted"
            preparing = await cs.wait_call("StatusNotification", after=mark, timeout=15,
                                           where=lambda e: e["params"]["status"] == "Preparing")
            # no EV: the authorization lapses after ConnectionTimeOut and the connector is free again
            available = await cs.wait_call("StatusNotification", after=mark, timeout=30,
                                           where=lambda e: e["params"]["status"] == "Available")
            waited = (datetime.fromisoformat(available["params"]["timestamp"].replace("Z", "+00:00"))
                      - datetime.fromisoformat(preparing["params"]["timestamp"].replace("Z", "+00:00")))
            assert 9.0 <= waited.total_seconds() <= 13.0, waited
            await wait_for(client, lambda s: s.reported.get("status") == "Available")
            assert cs.calls("StartTransaction") == []
            # plugging in later does not start a session on the lapsed authorization
            await daemon.sim("plug", {"soc": 0.5})
            await wait_for(client, lambda s: s.reported.get("status") == "Preparing")
            assert (await daemon.sim("state"))["contactor"] is False
            assert cs.calls("StartTransaction") == []
        assert cs.validation_failures() == []
    finally:
        await daemon.stop()
        await cs.stop()


async def test_connection_timeout_the_core_cannot_honour_is_rejected(tmp_path: Path) -> None:
    cs = await CentralSystem.start()
    daemon = await start_daemon(tmp_path / "var", config(cs.url))
    try:
        await cs.wait_call("BootNotification", timeout=20)
        async with TwinClient(daemon.url, daemon.token) as client:
            await wait_for(client, ocpp_connected)
            # the station's EV connect timeout is 10…86400 s: a shorter one must not be reported
            # as set while the core keeps its old value
            answer = await cs.call("ChangeConfiguration", {"key": "ConnectionTimeOut", "value": "5"})
            assert answer["result"]["status"] == "Rejected"
            keys = await cs.call("GetConfiguration", {"key": ["ConnectionTimeOut"]})
            assert keys["result"]["configurationKey"][0]["value"] == "900"
        assert cs.validation_failures() == []
    finally:
        await daemon.stop()
        await cs.stop()
