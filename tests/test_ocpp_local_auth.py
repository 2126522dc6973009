"""LocalAuthListManagement and the Authorization Cache (with the offline rules)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ocpp_rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path)
    await rig.booted()
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


def entry(tag: str, status: str | None = "Accepted", **info: str) -> dict[str, object]:
    item: dict[str, object] = {"idTag": tag}
    if status is not None:
        item["idTagInfo"] = {"status": status, **info}
    return item


async def send_list(rig: Rig, version: int, kind: str, entries: list[dict[str, object]]) -> str:
    answer = await rig.cs.call("SendLocalList", {"listVersion": version, "updateType": kind,
                                                 "localAuthorizationList": entries})
    return str(answer["result"]["status"])


async def version(rig: Rig) -> int:
    return int((await rig.cs.call("GetLocalListVersion", {}))["result"]["listVersion"])


async def test_full_and_differential_updates_with_versions(rig: Rig) -> None:
    assert await version(rig) == 0
    assert await send_list(rig, 3, "Full", [entry("A"), entry("B", "Blocked")]) == "Accepted"
    assert await version(rig) == 3
    assert await send_list(rig, 3, "Differential", [entry("C")]) == "VersionMismatch"
    assert await send_list(rig, 4, "Differential", [entry("C"), entry("A", None)]) == "Accepted"
    assert rig.cp.local_list.lookup("A") is None and rig.cp.local_list.lookup("C") is not None
    assert await send_list(rig, 5, "Full", [entry("Z")]) == "Accepted"
    assert len(rig.cp.local_list) == 1


async def test_list_limits(rig: Rig) -> None:
    too_many = [entry(f"T{i}") for i in range(101)]
    assert await send_list(rig, 1, "Full", too_many) == "Failed"
    assert await send_list(rig, 1, "Full", [entry("A"), entry("A")]) == "Failed"
    assert await version(rig) == 0


async def test_disabled_list(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
    assert await version(rig) == -1
    assert await send_list(rig, 1, "Full", [entry("A")]) == "NotSupported"


async def test_local_pre_authorize_skips_central_system(rig: Rig) -> None:
    await send_list(rig, 1, "Full", [entry("LOCAL")])
    rig.station.present_tag("LOCAL")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].source == "local_list" and rig.station.answers[-1].accepted
    assert rig.cs.calls("Authorize") == []


async def test_expired_local_entry_goes_online(rig: Rig) -> None:
    await send_list(rig, 1, "Full", [entry("OLD", expiryDate="2020-01-01T00:00:00Z")])
    rig.station.present_tag("OLD")
    await rig.cs.wait_call("Authorize")


async def test_cache_fills_online_and_serves_offline(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "false"})
    await rig.cs.call("ChangeConfiguration", {"key": "AllowOfflineTxForUnknownId", "value": "false"})
    rig.station.present_tag("CACHED")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.cp.cache.lookup("CACHED") is not None
    await rig.cs.command("disconnect", terminate=True)
    await asyncio.wait_for(rig.link.backing_off.wait(), 10)
    rig.station.answered.clear()
    rig.station.present_tag("CACHED")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].source == "cache" and rig.station.answers[-1].accepted
    rig.station.answered.clear()
    rig.station.present_tag("STRANGER")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].accepted is False  # AllowOfflineTxForUnknownId=false


async def test_clear_cache(rig: Rig) -> None:
    rig.station.present_tag("X")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.cp.cache.lookup("X") is not None
    answer = await rig.cs.call("ClearCache", {})
    assert answer["result"] == {"status": "Accepted"}
    assert rig.cp.cache.lookup("X") is None


async def test_local_authorize_offline_disabled(rig: Rig) -> None:
    await send_list(rig, 1, "Full", [entry("LOCAL", "Blocked")])
    await rig.cs.call("ChangeConfiguration", {"key": "LocalAuthorizeOffline", "value": "false"})
    await rig.cs.command("disconnect", terminate=True)
    await asyncio.wait_for(rig.link.backing_off.wait(), 10)
    rig.station.present_tag("LOCAL")
    await asyncio.wait_for(rig.station.answered.wait(), 10)
    assert rig.station.answers[-1].accepted is False
