"""The twin service: the one place that changes a device's document.

Every change follows the same order: validate → build the next document → write it (with its
events and energy) in one transaction → swap it in memory → tell subscribers. If validation or
the write fails, nothing is changed and nobody is told. Used directly by the controller in
embedded mode and by the aiohttp server in both modes.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Callable, Mapping

from controller.clock import Clock
from twin import whatif
from twin.documents import (
    DESIRED_KEYS,
    TWIN_MAINTAINED_KEYS,
    DesiredAck,
    DocumentError,
    EventIn,
    FieldProblem,
    JsonObject,
    JsonValue,
    KeyStatus,
    SessionIn,
    TwinDocument,
    check_device_report,
    diff_patch,
    ensure_object,
    iso,
    merge_patch,
    validate_ack,
    validate_desired,
    validate_event,
    validate_reported,
    validate_session,
)
from twin.store import (
    DailyEnergy,
    EventRecord,
    NewEvent,
    SessionRecord,
    TwinStore,
    WriteBatch,
)

log = logging.getLogger(__name__)

#: A meter register jump larger than this between two reports is treated as a reset, not use.
MAX_PLAUSIBLE_METER_STEP_WH = 100_000.0


class VersionConflict(Exception):
    """``if_version`` did not match; the caller should re-read and retry."""

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(f"if_version {expected} does not match the current version {current}")


@dataclass(frozen=True)
class Delta:
    """One version step: the merge patch of each half that changed."""

    version: int
    at: float
    reported: JsonObject | None
    desired: JsonObject | None
    desired_version: int
    _text: list[str] = field(default_factory=list, compare=False, repr=False)

    def as_message(self) -> JsonObject:
        msg: JsonObject = {"type": "delta", "version": self.version, "at": iso(self.at)}
        if self.desired is not None:
            msg["desired"] = self.desired
            msg["desired_version"] = self.desired_version
        if self.reported is not None:
            msg["reported"] = self.reported
        return msg

    def as_text(self) -> str:
        """JSON text of the message, encoded once however many subscribers there are."""
        if not self._text:
            self._text.append(json.dumps(self.as_message(), separators=(",", ":")))
        return self._text[0]


@dataclass(frozen=True)
class DesiredDelivery:
    """The whole desired half handed to the controller, to apply and then acknowledge."""

    desired_version: int
    desired: JsonObject

    def as_message(self) -> JsonObject:
        return {
            "type": "desired",
            "desired_version": self.desired_version,
            "desired": copy.deepcopy(self.desired),
        }


class Subscription:
    """Handle returned by subscribe/on_desired; ``cancel()`` stops the callbacks."""

    def __init__(self, registry: list[Subscription], callback: Callable[..., None]) -> None:
        self._registry = registry
        self.callback = callback
        registry.append(self)

    def cancel(self) -> None:
        if self in self._registry:
            self._registry.remove(self)


class TwinService:
    """Holds one device's document; every write goes through here."""

    def __init__(
        self,
        store: TwinStore,
        device_id: str,
        clock: Clock,
        *,
        time_zone: tzinfo = timezone.utc,
        price_lookup: whatif.PriceLookup | None = None,
    ) -> None:
        self.store = store
        self.device_id = device_id
        self.clock = clock
        self.time_zone = time_zone
        self.price_lookup = price_lookup
        loaded = store.load_document(device_id)
        self._doc = loaded if loaded is not None else TwinDocument(device_id, updated_at=clock.now())
        self._subscribers: list[Subscription] = []
        self._desired_listeners: list[Subscription] = []

    # ------------------------------------------------------------------ reads

    @property
    def version(self) -> int:
        return self._doc.version

    def state(self) -> TwinDocument:
        """A private copy of the current document."""
        return self._doc.copy()

    def desired_delivery(self) -> DesiredDelivery:
        return DesiredDelivery(self._doc.desired_version, copy.deepcopy(self._doc.desired))

    def sessions(
        self, since: float | None = None, until: float | None = None, limit: int = 100
    ) -> list[SessionRecord]:
        return self.store.sessions(self.device_id, since, until, limit)

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        return self.store.events(self.device_id, since, until, kind, limit)

    def energy_daily(
        self, first_day: str | None = None, last_day: str | None = None
    ) -> list[DailyEnergy]:
        return self.store.energy_daily(self.device_id, first_day, last_day)

    def whatif(self, question: whatif.WhatIfQuestion) -> JsonObject:
        return whatif.answer(
            self._doc.reported, self._doc.desired, self.clock.now(), question, self.price_lookup
        )

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, callback: Callable[[Delta], None]) -> Subscription:
        """Call ``callback`` with every future delta (synchronously, after it is persisted)."""
        return Subscription(self._subscribers, callback)

    def on_desired(self, callback: Callable[[DesiredDelivery], None]) -> Subscription:
        """Call ``callback`` with the whole desired half each time it changes (device side)."""
        return Subscription(self._desired_listeners, callback)

    # ------------------------------------------------------------------ writes: device

    def report(self, patch: Mapping[str, JsonValue]) -> int:
        """Merge a reported patch from the controller; returns the (possibly unchanged) version."""
        body = ensure_object(dict(patch), "reported", "invalid_report")
        check_device_report(body)
        reported = merge_patch(self._doc.reported, body)
        assert isinstance(reported, dict)
        return self._commit_reported(reported, [])

    def device_hello(self, full_reported: Mapping[str, JsonValue]) -> DesiredDelivery:
        """The controller (re)connected: take its whole reported state, mark it online."""
        body = ensure_object(dict(full_reported), "reported", "invalid_report")
        check_device_report(body)
        reported: JsonObject = copy.deepcopy(body)
        for key in TWIN_MAINTAINED_KEYS:
            if key in self._doc.reported:
                reported[key] = copy.deepcopy(self._doc.reported[key])
        events = []
        if self._doc.reported.get("online") is not True:
            events.append(NewEvent(self.clock.now(), "device_connected"))
        reported["online"] = True
        self._commit_reported(reported, events)
        return self.desired_delivery()

    def set_online(self, online: bool) -> int:
        if self._doc.reported.get("online") is online:
            return self._doc.version
        reported = copy.deepcopy(self._doc.reported)
        reported["online"] = online
        kind = "device_connected" if online else "device_disconnected"
        return self._commit_reported(reported, [NewEvent(self.clock.now(), kind)])

    def ack_desired(
        self, desired_version: int, statuses: Mapping[str, KeyStatus | Mapping[str, JsonValue]]
    ) -> int:
        """The controller applied desired up to ``desired_version``; record per-key verdicts."""
        raw: JsonObject = {}
        for key, st in statuses.items():
            raw[key] = st.model_dump(exclude_none=True) if isinstance(st, KeyStatus) else dict(st)
        ack = validate_ack({"desired_version": desired_version, "statuses": raw})
        return self._apply_ack(ack)

    def _apply_ack(self, ack: DesiredAck) -> int:
        if ack.desired_version > self._doc.desired_version:
            raise DocumentError(
                "invalid_ack",
                "ack",
                [FieldProblem("desired_version", ack.desired_version,
                              f"newer than the twin's desired version {self._doc.desired_version}")],
            )
        current = self._doc.reported.get("desired_status")
        status: JsonObject = copy.deepcopy(current) if isinstance(current, dict) else {}
        events: list[NewEvent] = []
        now = self.clock.now()
        for key, entry in list(status.items()):
            if not isinstance(entry, dict):
                continue
            ver = entry.get("version")
            if entry.get("state") != "pending" or not isinstance(ver, int):
                continue
            if ver <= ack.desired_version and key not in ack.statuses:
                if self._desired_has(key):
                    status[key] = {"state": "applied", "version": ver}
                else:
                    del status[key]
        for key, verdict in ack.statuses.items():
            entry = status.get(key)
            ver = entry.get("version") if isinstance(entry, dict) else None
            if isinstance(ver, int) and ver > ack.desired_version:
                continue  # a newer change of this key is still on its way
            version = ver if isinstance(ver, int) else ack.desired_version
            new: JsonObject = {"state": verdict.state, "version": version}
            if verdict.reason:
                new["reason"] = verdict.reason
            if status.get(key) != new and verdict.state == "rejected":
                events.append(NewEvent(now, "desired_rejected", verdict.reason or "",
                                       {"key": key, "value": self._desired_value(key)}))
            if verdict.state == "applied" and not self._desired_has(key):
                status.pop(key, None)
            else:
                status[key] = new
        reported = copy.deepcopy(self._doc.reported)
        reported["desired_status"] = status
        return self._commit_reported(reported, events)

    def record_event(self, event: EventIn | Mapping[str, JsonValue]) -> int:
        ev = event if isinstance(event, EventIn) else validate_event(dict(event))
        at = ev.at.timestamp() if ev.at is not None else self.clock.now()
        data = json.loads(json.dumps(ev.data))
        ids = self.store.write(
            WriteBatch(self.device_id, events=[NewEvent(at, ev.kind, ev.message, data)])
        )
        return ids[0]

    def record_session(self, session: SessionIn | Mapping[str, JsonValue]) -> str:
        s = session if isinstance(session, SessionIn) else validate_session(dict(session))
        record = SessionRecord(
            id=s.id,
            started_at=s.started_at.timestamp(),
            ended_at=None if s.ended_at is None else s.ended_at.timestamp(),
            id_tag=s.id_tag,
            energy_wh=float(s.energy_wh),
            meter_start_wh=None if s.meter_start_wh is None else float(s.meter_start_wh),
            meter_stop_wh=None if s.meter_stop_wh is None else float(s.meter_stop_wh),
            cost=None if s.cost is None else float(s.cost),
            stop_reason=s.stop_reason,
        )
        end_day = None if record.ended_at is None else self._local_day(record.ended_at)
        self.store.write(WriteBatch(self.device_id, session=record, session_end_day=end_day))
        return s.id

    # ------------------------------------------------------------------ writes: clients

    def set_desired(
        self,
        patch: Mapping[str, JsonValue],
        actor: str,
        if_version: int | None = None,
    ) -> int:
        """Merge a client's desired patch; returns the new (or unchanged) version."""
        if if_version is not None and if_version != self._doc.version:
            raise VersionConflict(if_version, self._doc.version)
        body = ensure_object(dict(patch), "desired", "invalid_patch")
        desired = merge_patch(self._doc.desired, body)
        assert isinstance(desired, dict)
        validate_desired(desired)
        changed = diff_patch(self._doc.desired, desired)
        if not changed:
            return self._doc.version
        now = self.clock.now()
        version = self._doc.version + 1
        reported = copy.deepcopy(self._doc.reported)
        status_raw = reported.get("desired_status")
        status: JsonObject = status_raw if isinstance(status_raw, dict) else {}
        for key in _status_keys(changed, self._doc.desired):
            status[key] = {"state": "pending", "version": version}
        reported["desired_status"] = status
        nxt = TwinDocument(self.device_id, version, version, now, reported, desired)
        event = NewEvent(now, "desired_changed", actor[:500], {"patch": changed, "version": version})
        self._commit(nxt, WriteBatch(self.device_id, document=nxt, events=[event]))
        return version

    # ------------------------------------------------------------------ internals

    def _desired_has(self, status_key: str) -> bool:
        return self._desired_value(status_key) is not None

    def _desired_value(self, status_key: str) -> JsonValue:
        if status_key.startswith("settings."):
            settings = self._doc.desired.get("settings")
            if isinstance(settings, dict):
                return settings.get(status_key[len("settings."):])
            return None
        return self._doc.desired.get(status_key)

    def _local_day(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, tz=self.time_zone).date().isoformat()

    def _commit_reported(self, reported: JsonObject, events: list[NewEvent]) -> int:
        validate_reported(reported)
        if reported == self._doc.reported and not events:
            return self._doc.version
        now = self.clock.now()
        batch = WriteBatch(self.device_id, events=events)
        if reported != self._doc.reported:
            nxt = TwinDocument(
                self.device_id,
                self._doc.version + 1,
                self._doc.desired_version,
                now,
                reported,
                copy.deepcopy(self._doc.desired),
            )
            batch.document = nxt
            wh = self._meter_rise(self._doc.reported.get("energy_wh"), reported.get("energy_wh"))
            if wh > 0:
                batch.energy_by_day[self._local_day(now)] = wh
            self._commit(nxt, batch)
        else:
            self.store.write(batch)
        return self._doc.version

    @staticmethod
    def _meter_rise(before: JsonValue, after: JsonValue) -> float:
        if isinstance(before, bool) or isinstance(after, bool):
            return 0.0
        if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
            return 0.0
        rise = float(after) - float(before)
        return rise if 0 < rise <= MAX_PLAUSIBLE_METER_STEP_WH else 0.0

    def _commit(self, nxt: TwinDocument, batch: WriteBatch) -> None:
        prev = self._doc
        self.store.write(batch)  # raises → nothing changed
        self._doc = nxt
        reported_diff = diff_patch(prev.reported, nxt.reported)
        desired_diff = diff_patch(prev.desired, nxt.desired)
        delta = Delta(
            version=nxt.version,
            at=nxt.updated_at,
            reported=reported_diff or None,
            desired=desired_diff or None,
            desired_version=nxt.desired_version,
        )
        for sub in list(self._subscribers):
            _safe_call(sub.callback, delta)
        if desired_diff:
            delivery = self.desired_delivery()
            for sub in list(self._desired_listeners):
                _safe_call(sub.callback, delivery)


def _status_keys(changed: JsonObject, before: JsonObject) -> list[str]:
    """desired_status keys touched by a desired diff (one per setting for ``settings``)."""
    keys: list[str] = []
    for key, value in changed.items():
        if key == "settings" and isinstance(value, dict):
            keys.extend(f"settings.{name}" for name in value)
        elif key == "settings" and value is None and isinstance(before.get("settings"), dict):
            old = before["settings"]
            assert isinstance(old, dict)
            keys.extend(f"settings.{name}" for name in old)
        else:
            keys.append(key)
    return keys


def _safe_call(callback: Callable[..., None], arg: object) -> None:
    try:
        callback(arg)
    except Exception:  # a broken listener must not break the twin or other listeners
        log.exception("twin listener %r failed", callback)


__all__ = [
    "DESIRED_KEYS",
    "Delta",
    "DesiredDelivery",
    "Subscription",
    "TwinService",
    "VersionConflict",
]
