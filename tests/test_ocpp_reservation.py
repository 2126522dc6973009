"""Reservation profile: ReserveNow (connectors 0 and 1), CancelReservation, expiry, parent ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.ocpp.id_tag_info import format_ocpp_time
from tests.ocpp_rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path, {"parents": {"SIBLING": "FAMILY"}})
    await rig.booted()
    await rig.cs.call("ChangeConfiguration", {"key": "MinimumStatusDuration", "value": "0"})
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


async def reserve(rig: Rig, connector: int = 1, rid: int = 1, tag: str = "OWNER",
                  seconds: float = 600, parent: str | None = None) -> str:
    params: dict[str, object] = {"connectorId": connector, "reservationId": rid, "idTag": tag,
                                 "expiryDate": format_ocpp_time(rig.clock.now() + seconds)}
    if parent:
        params["parentIdTag"] = parent
    return str((await rig.cs.call("ReserveNow", params))["result"]["status"])


@pytest.mark.parametrize("connector", [0, 1])
async def test_reserve_then_owner_starts(rig: Rig, connector: int) -> None:
    assert await reserve(rig, connector) == "Accepted"
    await rig.cs.wait_call("StatusNotification", where=lambda e: e["params"]["status"] == "Reserved")
    rig.station.plug_in()
    rig.station.present_tag("INTRUDER")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].accepted is False
    rig.station.present_tag("OWNER")
    start = await rig.cs.wait_call("StartTransaction")
    assert start["params"]["reservationId"] == 1
    assert rig.cp.reservations.current() is None


async def test_parent_id_may_use_reservation(rig: Rig) -> None:
    assert await reserve(rig, parent="FAMILY") == "Accepted"
    rig.station.plug_in()
    rig.station.present_tag("SIBLING")
    start = await rig.cs.wait_call("StartTransaction")
    assert start["params"]["idTag"] == "SIBLING"


async def test_reservation_expires(rig: Rig) -> None:
    assert await reserve(rig, seconds=60) == "Accepted"
    mark = len(rig.cs.events)
    await rig.clock.advance_to_timer(60)
    await rig.cs.wait_call("StatusNotification", after=mark,
                           where=lambda e: e["params"]["status"] == "Available")
    assert rig.cp.reservations.current() is None


async def test_cancel_and_occupied(rig: Rig) -> None:
    assert await reserve(rig, rid=5) == "Accepted"
    assert await reserve(rig, rid=6) == "Occupied"
    assert await reserve(rig, rid=5, tag="OWNER2") == "Accepted"  # same id replaces
    missing = await rig.cs.call("CancelReservation", {"reservationId": 99})
    assert missing["result"] == {"status": "Rejected"}
    ok = await rig.cs.call("CancelReservation", {"reservationId": 5})
    assert ok["result"] == {"status": "Accepted"} and rig.station.reserved is False


async def test_reserve_refused_when_faulted_unavailable_or_charging(rig: Rig) -> None:
    rig.station.fault = "OverCurrentFailure"
    rig.station._changed()
    assert await reserve(rig) == "Faulted"
    rig.station.fault = None
    rig.station._changed()
    await rig.cs.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert await reserve(rig) == "Unavailable"
    await rig.cs.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    rig.station.plug_in()
    rig.station.present_tag("T")
    await rig.cs.wait_call("StartTransaction")
    assert await reserve(rig) == "Occupied"
