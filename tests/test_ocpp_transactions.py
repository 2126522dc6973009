"""Core profile: Authorize, Start/StopTransaction, MeterValues and the persistent queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.ocpp.database import open_database
from controller.ocpp.id_tag_info import IdTagInfo
from controller.ocpp.tx_queue import TransactionQueue
from tests.ocpp_cs_driver import CentralSystem
from tests.ocpp_rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path, {"authorize": {"BAD": "Blocked"}})
    await rig.booted()
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


async def charge(rig: Rig, tag: str = "TAG1", seconds: float = 3600) -> None:
    rig.station.plug_in()
    rig.station.present_tag(tag)
    await rig.cs.wait_call("StartTransaction", where=lambda e: e["params"]["idTag"] == tag)
    rig.clock.advance(seconds)


async def test_authorize_start_meter_stop(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "600"})
    await rig.cs.call("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                              "value": "Energy.Active.Import.Register,Current.Import,Current.Offered,Voltage"})
    await charge(rig, seconds=0)
    auth = rig.cs.calls("Authorize")[0]["params"]
    assert auth == {"idTag": "TAG1"}
    start = rig.cs.calls("StartTransaction")[0]
    assert start["params"]["connectorId"] == 1 and start["params"]["meterStart"] == 0
    for _ in range(3):
        await rig.clock.advance_to_timer(600)
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("MeterValues")) == 3)
    mv = rig.cs.calls("MeterValues")[-1]["params"]
    assert mv["transactionId"] == start["result"]["transactionId"]
    values = {v["measurand"]: v for v in mv["meterValue"][0]["sampledValue"]}
    assert values["Energy.Active.Import.Register"]["value"] == str(int(32 * 240 * 0.5))
    assert values["Current.Offered"]["value"] == "32" and values["Current.Offered"]["unit"] == "A"
    rig.station.unplug()
    stop = await rig.cs.wait_call("StopTransaction")
    assert stop["params"]["reason"] == "EVDisconnected"
    assert stop["params"]["meterStop"] == 3840
    contexts = [sv["context"] for mv in stop["params"]["transactionData"] for sv in mv["sampledValue"]]
    assert "Transaction.Begin" in contexts and "Transaction.End" in contexts


async def test_blocked_tag_does_not_start(rig: Rig) -> None:
    rig.station.plug_in()
    rig.station.present_tag("BAD")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.cs.calls("Authorize") != []
    assert rig.station.answers[-1].status == "Blocked" and rig.station.session_tag is None
    assert rig.cs.calls("StartTransaction") == []


async def test_local_stop_with_tag(rig: Rig) -> None:
    await charge(rig, seconds=60)
    rig.station.present_tag("TAG1")
    stop = await rig.cs.wait_call("StopTransaction")
    assert stop["params"]["reason"] == "Local" and stop["params"]["idTag"] == "TAG1"


async def test_offline_transaction_is_queued_and_mapped(tmp_path: Path) -> None:
    cs = await CentralSystem.start()
    rig = await make_rig(tmp_path, cs=cs)
    await rig.booted()
    await cs.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"})
    await cs.command("disconnect", terminate=True)
    await asyncio.wait_for(rig.link.backing_off.wait(), 10)
    # Offline: unknown tag admitted (AllowOfflineTxForUnknownId), session runs, samples queue.
    rig.station.plug_in()
    rig.station.present_tag("OFFLINE")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].source == "offline" and rig.station.session_tag == "OFFLINE"
    rig.clock.advance(180)
    rig.station.unplug()
    assert len(rig.cp.queue) == 5  # start, 3 meter values, stop
    mark = len(cs.events)
    rig.clock.advance(2)  # reconnect
    stop = await cs.wait_call("StopTransaction", after=mark)
    methods = [c["method"] for c in cs.calls() if c["method"] in
               ("StartTransaction", "MeterValues", "StopTransaction")]
    assert methods == ["StartTransaction"] + ["MeterValues"] * 3 + ["StopTransaction"]
    tx_id = cs.calls("StartTransaction")[0]["result"]["transactionId"]
    assert {c["params"]["transactionId"] for c in cs.calls("MeterValues")} == {tx_id}
    assert stop["params"]["transactionId"] == tx_id
    await cs.call("GetLocalListVersion", {})  # a round trip: the confirmation has been handled
    assert len(rig.cp.queue) == 0
    await rig.stop()
    await cs.stop()
    rig.assert_strict_clean()


async def test_transaction_message_retries_then_succeeds(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "MinimumStatusDuration", "value": "0"})
    await rig.cs.command("fail", method="StartTransaction", count=2)
    rig.station.plug_in()
    rig.station.present_tag("TAG1")
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("StartTransaction")) == 1)
    await rig.clock.advance_to_timer(10)   # TransactionMessageRetryInterval x 1
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("StartTransaction")) == 2)
    await rig.clock.advance_to_timer(20)   # x 2
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("StartTransaction")) == 3)
    calls = rig.cs.calls("StartTransaction")
    assert [("error" in c) for c in calls] == [True, True, False]
    assert len({c["messageId"] for c in calls}) == 1  # one message, redelivered under its id


async def test_transaction_message_dropped_after_attempts(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "MinimumStatusDuration", "value": "0"})
    await rig.cs.call("ChangeConfiguration", {"key": "TransactionMessageAttempts", "value": "2"})
    await rig.cs.command("fail", method="StartTransaction", count=5)
    rig.station.plug_in()
    rig.station.present_tag("TAG1")
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("StartTransaction")) == 1)
    await rig.clock.advance_to_timer(10)
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("StartTransaction")) == 2)
    rig.station.unplug()  # its StopTransaction cannot be related to anything: discarded
    await rig.cs.call("GetLocalListVersion", {})  # a round trip: the failure has been handled
    rig.clock.advance(100)
    await rig.cs.call("GetLocalListVersion", {})
    assert len(rig.cp.queue) == 0 and rig.cs.calls("StopTransaction") == []


async def test_invalid_id_in_start_conf_stops_transaction(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "true"})
    await rig.cs.command("set", key="authorize", value={"LATE": "Invalid"})
    # Cached as accepted earlier, now invalid at the central system.
    rig.cp.cache.store("LATE", IdTagInfo("Accepted"), rig.clock.now())
    await rig.cs.call("ChangeConfiguration", {"key": "MaxEnergyOnInvalidId", "value": "0"})
    rig.station.plug_in()
    rig.station.present_tag("LATE")
    stop = await rig.cs.wait_call("StopTransaction")
    assert stop["params"]["reason"] == "DeAuthorized"
    assert rig.cs.calls("Authorize") == []  # pre-authorized from the cache


def test_queue_survives_reopen(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "q.sqlite")
    queue = TransactionQueue(engine)
    tx = queue.new_transaction()
    queue.enqueue("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0,
                                       "timestamp": "2026-01-01T00:00:00.000Z"}, tx)
    queue.enqueue("StopTransaction", {"meterStop": 5, "timestamp": "2026-01-01T00:00:00.000Z"}, tx)
    again = TransactionQueue(open_database(tmp_path / "q.sqlite"))
    head = again.head()
    assert head is not None and head.action == "StartTransaction"
    again.confirm(head, {"transactionId": 77, "idTagInfo": {"status": "Accepted"}})
    nxt = again.head()
    assert nxt is not None and nxt.payload["transactionId"] == 77
    with pytest.raises(ValueError, match="transactionId"):
        again.enqueue("MeterValues", {"transactionId": 1}, tx)
    with pytest.raises(ValueError, match="Heartbeat"):
        again.enqueue("Heartbeat", {}, tx)
