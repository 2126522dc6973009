"""Twin documents: merge patch, validation, versioning, persistence of the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.clock import VirtualClock
from twin.documents import (
    DocumentError,
    JsonObject,
    diff_patch,
    merge_patch,
    validate_desired,
    validate_reported,
)
from twin.service import Delta, TwinService, VersionConflict
from twin.store import TwinStore

T0 = 1_795_000_000.0  # 2026-11-18


# ------------------------------------------------------------------ merge patch


def test_merge_patch_rfc7386_semantics() -> None:
    doc: JsonObject = {"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]}
    out = merge_patch(doc, {"a": None, "b": {"c": 5, "d": None, "e": 6}, "l": [9]})
    assert out == {"b": {"c": 5, "e": 6}, "l": [9]}
    assert doc == {"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]}, "input must not be mutated"
    assert merge_patch({"a": 1}, {"a": {"x": None}}) == {"a": {}}


json_scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text("abc", min_size=1, max_size=2), inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text("abcd", min_size=1, max_size=2), json_values, max_size=4)


@given(json_objects, json_objects)
def test_diff_then_merge_round_trips(old: dict[str, Any], new: dict[str, Any]) -> None:
    patch = diff_patch(old, new)
    assert merge_patch(old, patch) == new
    if old == new:
        assert patch == {}


# ------------------------------------------------------------------ desired validation


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"current_limit_a": 81}, "current_limit_a"),
        ({"current_limit_a": -1}, "current_limit_a"),
        ({"current_limit_a": 16.5}, "current_limit_a"),
        ({"current_limit_a": "16"}, "current_limit_a"),
        ({"current_limit_a": True}, "current_limit_a"),
        ({"charging_enabled": "yes"}, "charging_enabled"),
        ({"colour": "red"}, "colour"),
        ({"schedules": [{"id": "n", "start": "24:00", "end": "06:00", "days": ["mon"]}]},
         "schedules.0.start"),
        ({"schedules": [{"id": "n", "start": "22:00", "end": "06:00", "days": ["mo"]}]},
         "schedules.0.days.0"),
        ({"schedules": [{"id": "n", "start": "2026-11-20T01:00:00",
                         "end": "2026-11-20T02:00:00+00:00"}]}, "schedules.0.start"),
        ({"departure_goal": {"ready_by": "2026-11-20T07:00:00+00:00", "target_soc_pct": 120}},
         "departure_goal.target_soc_pct"),
        ({"departure_goal": {"ready_by": "2026-11-20T07:00:00+00:00"}}, "departure_goal"),
        ({"dr_opt_out": 1}, "dr_opt_out"),
        ({"settings": {"Max-Amps": 3}}, "settings.Max-Amps"),
        ({"settings": {"max_amps": [1]}}, "settings.max_amps"),
        ({"prices": [{"start": "2026-11-20T02:00:00+00:00", "end": "2026-11-20T01:00:00+00:00",
                      "price_per_kwh": 0.1}]}, "prices.0"),
    ],
)
def test_bad_desired_names_the_key(doc: JsonObject, key: str) -> None:
    with pytest.raises(DocumentError) as err:
        validate_desired(doc)
    keys = [p.key for p in err.value.problems]
    assert any(k.startswith(key) for k in keys), keys
    assert key.split(".")[0] in str(err.value)


def test_good_desired_passes() -> None:
    validate_desired(
        {
            "charging_enabled": False,
            "current_limit_a": 24,
            "schedules": [
                {"id": "night", "start": "23:00", "end": "06:30", "days": ["mon", "tue"]},
                {"id": "trip", "start": "2026-11-20T01:00:00+00:00",
                 "end": "2026-11-20T05:00:00+00:00", "enabled": False},
            ],
            "departure_goal": {"ready_by": "2026-11-20T07:00:00-06:00", "energy_wh": 20000},
            "dr_opt_out": True,
            "settings": {"cold_load_pickup_max_delay_s": 600, "time_zone": "UTC"},
            "prices": [{"start": "2026-11-20T00:00:00+00:00",
                        "end": "2026-11-20T01:00:00+00:00", "price_per_kwh": 0.12}],
        }
    )


def test_duplicate_window_ids_and_overlapping_prices_rejected() -> None:
    w: JsonObject = {"id": "x", "start": "01:00", "end": "02:00", "days": ["mon"]}
    with pytest.raises(DocumentError, match="unique"):
        validate_desired({"schedules": [w, dict(w)]})
    p1: JsonObject = {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-20T02:00:00+00:00",
          "price_per_kwh": 0.1}
    p2: JsonObject = {"start": "2026-11-20T01:00:00+00:00", "end": "2026-11-20T03:00:00+00:00",
          "price_per_kwh": 0.2}
    with pytest.raises(DocumentError, match="overlap"):
        validate_desired({"prices": [p1, p2]})


def test_reported_validation() -> None:
    validate_reported({"status": "Charging", "power_w": 7000, "custom_fact": {"x": 1}})
    with pytest.raises(DocumentError) as err:
        validate_reported({"status": "CHARGINGISH"})
    assert err.value.problems[0].key == "status"
    with pytest.raises(DocumentError):
        validate_reported({"BadKey": 1})


# ------------------------------------------------------------------ the service


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


def make(tmp_path: Path, clock: VirtualClock) -> tuple[TwinService, TwinStore]:
    store = TwinStore(tmp_path / "twin.db")
    return TwinService(store, "MQ200-T1", clock), store


def test_every_change_bumps_version_and_no_change_does_not(
    tmp_path: Path, clock: VirtualClock
) -> None:
    svc, _ = make(tmp_path, clock)
    deltas: list[Delta] = []
    svc.subscribe(deltas.append)
    v1 = svc.report({"status": "Available", "power_w": 0})
    v2 = svc.report({"power_w": 0})  # no change
    v3 = svc.set_desired({"current_limit_a": 16}, actor="test")
    v4 = svc.set_desired({"current_limit_a": 16}, actor="test")  # no change
    assert (v1, v2, v3, v4) == (1, 1, 2, 2)
    assert [d.version for d in deltas] == [1, 2]
    assert deltas[1].desired == {"current_limit_a": 16}
    assert deltas[1].reported == {
        "desired_status": {"current_limit_a": {"state": "pending", "version": 2}}
    }


def test_bad_patch_changes_nothing(tmp_path: Path, clock: VirtualClock) -> None:
    svc, store = make(tmp_path, clock)
    svc.set_desired({"current_limit_a": 16, "charging_enabled": True}, actor="t")
    before = svc.state()
    with pytest.raises(DocumentError) as err:
        svc.set_desired({"charging_enabled": False, "current_limit_a": 200}, actor="t")
    assert err.value.problems[0].key == "current_limit_a"
    assert err.value.problems[0].value == 200
    assert svc.state().as_json() == before.as_json()
    reopened = store.load_document("MQ200-T1")
    assert reopened is not None and reopened.desired == before.desired
    with pytest.raises(DocumentError):
        svc.report({"desired_status": {}})
    with pytest.raises(DocumentError):
        svc.report({"online": True})


def test_if_version_conflict(tmp_path: Path, clock: VirtualClock) -> None:
    svc, _ = make(tmp_path, clock)
    v = svc.set_desired({"dr_opt_out": True}, actor="a")
    with pytest.raises(VersionConflict):
        svc.set_desired({"dr_opt_out": False}, actor="b", if_version=v - 1)
    assert svc.set_desired({"dr_opt_out": False}, actor="b", if_version=v) == v + 1


def test_ack_applied_and_rejected(tmp_path: Path, clock: VirtualClock) -> None:
    svc, _ = make(tmp_path, clock)
    svc.report({"dip_max_a": 32})
    v = svc.set_desired(
        {"current_limit_a": 48, "charging_enabled": True, "settings": {"foo": 1, "bar": 2}},
        actor="app",
    )
    svc.ack_desired(v, {
        "current_limit_a": {"state": "rejected", "reason": "48 A is above the DIP max 32 A"},
        "settings.foo": {"state": "rejected", "reason": "unknown setting"},
    })
    ds = svc.state().reported["desired_status"]
    assert isinstance(ds, dict)
    assert ds["current_limit_a"] == {
        "state": "rejected", "version": v, "reason": "48 A is above the DIP max 32 A"}
    assert ds["charging_enabled"] == {"state": "applied", "version": v}
    assert ds["settings.bar"] == {"state": "applied", "version": v}
    foo = ds["settings.foo"]
    assert isinstance(foo, dict) and foo["state"] == "rejected"
    assert svc.state().desired["current_limit_a"] == 48, "rejected value is kept, not dropped"
    rejected = svc.events(kind="desired_rejected")
    assert {e.data["key"] for e in rejected} == {"current_limit_a", "settings.foo"}
    # an ack for the future is refused
    with pytest.raises(DocumentError):
        svc.ack_desired(v + 10, {})
    # an old ack does not touch a newer pending change
    v2 = svc.set_desired({"current_limit_a": 24}, actor="app")
    svc.ack_desired(v, {"current_limit_a": {"state": "rejected", "reason": "old"}})
    ds = svc.state().reported["desired_status"]
    assert isinstance(ds, dict)
    assert ds["current_limit_a"] == {"state": "pending", "version": v2}


def test_rejected_reason_required(tmp_path: Path, clock: VirtualClock) -> None:
    svc, _ = make(tmp_path, clock)
    v = svc.set_desired({"current_limit_a": 10}, actor="a")
    with pytest.raises(DocumentError, match="reason"):
        svc.ack_desired(v, {"current_limit_a": {"state": "rejected"}})


def test_reopen_keeps_document_sessions_events_energy(tmp_path: Path, clock: VirtualClock) -> None:
    svc, store = make(tmp_path, clock)
    svc.report({"energy_wh": 1000, "status": "Charging"})
    clock.advance(3600)
    svc.report({"energy_wh": 8000})
    svc.record_session({"id": "s1", "started_at": "2026-11-18T08:00:00+00:00",
                        "ended_at": "2026-11-18T09:00:00+00:00", "energy_wh": 7000})
    svc.record_event({"kind": "fault_raised", "message": "over-current", "data": {"a": 60}})
    svc.set_desired({"charging_enabled": False}, actor="voice")
    version = svc.version
    store.close()

    svc2, store2 = make(tmp_path, clock)
    assert svc2.version == version
    assert svc2.state().desired == {"charging_enabled": False}
    assert svc2.state().reported["energy_wh"] == 8000
    days = svc2.energy_daily()
    assert [(d.day, d.energy_wh, d.sessions) for d in days] == [("2026-11-18", 7000.0, 1)]
    assert [s.id for s in svc2.sessions()] == ["s1"]
    assert [e.kind for e in svc2.events(kind="fault_raised")] == ["fault_raised"]
    # a session re-reported as ended is not counted twice
    svc2.record_session({"id": "s1", "started_at": "2026-11-18T08:00:00+00:00",
                         "ended_at": "2026-11-18T09:00:00+00:00", "energy_wh": 7000})
    assert svc2.energy_daily()[0].sessions == 1
    store2.close()


def test_meter_reset_is_not_counted_as_energy(tmp_path: Path, clock: VirtualClock) -> None:
    svc, _ = make(tmp_path, clock)
    svc.report({"energy_wh": 5000})
    svc.report({"energy_wh": 10})  # register replaced
    svc.report({"energy_wh": 510})
    assert [d.energy_wh for d in svc.energy_daily()] == [500.0]


def test_failed_write_changes_nothing(tmp_path: Path, clock: VirtualClock) -> None:
    svc, store = make(tmp_path, clock)
    svc.report({"status": "Available"})
    deltas: list[Delta] = []
    svc.subscribe(deltas.append)
    store.close()
    (tmp_path / "twin.db").unlink()
    (tmp_path / "twin.db").mkdir()  # make the file unopenable
    with pytest.raises(Exception):  # noqa: B017 - any storage failure
        svc.report({"status": "Charging"})
    assert svc.state().reported == {"status": "Available"}
    assert deltas == []


def test_listener_failure_does_not_break_others(tmp_path: Path, clock: VirtualClock) -> None:
    svc, _ = make(tmp_path, clock)
    got: list[int] = []

    def broken(_: Delta) -> None:
        raise RuntimeError("boom")

    svc.subscribe(broken)
    svc.subscribe(lambda d: got.append(d.version))
    svc.report({"status": "Available"})
    assert got == [1]


def test_removing_all_settings_tracks_each_setting(tmp_path: Path, clock: VirtualClock) -> None:
    svc, _ = make(tmp_path, clock)
    v1 = svc.set_desired({"settings": {"a_b": 1, "c": "x"}}, actor="t")
    svc.ack_desired(v1, {})
    v2 = svc.set_desired({"settings": None}, actor="t")
    ds = svc.state().reported["desired_status"]
    assert isinstance(ds, dict)
    assert ds["settings.a_b"] == {"state": "pending", "version": v2}
    svc.ack_desired(v2, {})
    assert svc.state().reported["desired_status"] == {}, "applied removals leave no status"
