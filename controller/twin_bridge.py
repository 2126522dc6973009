"""Between the station and its twin: state out as `reported`, wishes in from `desired`.

Desired values enter the controller only here, and only as settings changes or as the
``user`` limit source of the arbiter; every desired key gets a verdict (applied, or rejected
with the reason) in ``reported.desired_status``, never a silent drop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from controller.charging.station import Station, StationEvent, StationSnapshot
from controller.settings import SettingsError
from twin.device_link import DeviceLink
from twin.service import DesiredDelivery

log = logging.getLogger(__name__)

MIN_USER_LIMIT_A = 6
COMMANDS_KEY = "twin_commands_done"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


DesiredHandler = Callable[[str, Any], str | None]


class TwinBridge:
    def __init__(
        self,
        station: Station,
        link: DeviceLink,
        identity: Mapping[str, Any],
        extra_reported: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.station = station
        self.link = link
        self.identity = dict(identity)
        self._extra = extra_reported
        self._last: dict[str, Any] = {}
        self._desired: dict[str, Any] = {}
        # Keys owned by other parts (schedules, goals, DR, prices): name -> handler that applies
        # the value and returns None, or returns the reason it was refused.
        self.handlers: dict[str, DesiredHandler] = {}
        # Parts that add facts to `reported` (schedule, next_start, session cost, DR): each hook
        # may add or amend keys of the reported dict before it is sent.
        self.reported_hooks: list[Callable[[dict[str, Any]], None]] = []
        # Command "settings" (reboot_request, fault_reset_request, ...): a new value is a new
        # request. What was last carried out is kept in the database so that a request is never
        # carried out twice, not even after the reboot it asked for.
        self.commands: dict[str, DesiredHandler] = {
            "fault_reset_request": self._fault_reset,
        }
        self._commands_done: dict[str, Any] = dict(station.storage.get_json(COMMANDS_KEY) or {})

    def start(self) -> None:
        self.station.on_change(self._on_change)
        self.station.on_event(self._on_event)
        self.station.on_settings(lambda _settings: self.push())
        self.push()
        self.link.on_desired(self._on_desired)

    # ------------------------------------------------------------------ reported
    def reported(self, snap: StationSnapshot | None = None) -> dict[str, Any]:
        snap = snap or self.station.snapshot()
        d = snap.as_dict()
        session = d.pop("session")
        d["session"] = (
            None
            if session is None or session.get("stopped")
            else {
                "id": str(session["id"]),
                "started_at": iso(session["started_at"]),
                "id_tag": session["id_tag"],
                "energy_wh": session["energy_wh"],
            }
        )
        d["cold_load_until"] = iso(d["cold_load_until"])
        d["settings"] = self.station.settings.to_dict()
        d["network"] = {"active": self.station.settings.network}
        d.update(self.identity)
        if self._extra is not None:
            d.update(self._extra())
        for hook in self.reported_hooks:
            hook(d)
        return d

    def push(self) -> None:
        self._send(self.reported())

    def _on_change(self, snap: StationSnapshot) -> None:
        self._send(self.reported(snap))

    def _send(self, full: dict[str, Any]) -> None:
        patch = {k: v for k, v in full.items() if self._last.get(k, _MISSING) != v}
        if not patch:
            return
        self._last.update(patch)
        try:
            self.link.report(patch)
        except Exception:  # the twin must never take the charge logic down
            log.exception("twin report failed")

    def _on_event(self, event: StationEvent) -> None:
        try:
            if event.kind == "session_started":
                self.link.record_session(
                    {
                        "id": str(event.data["session_id"]),
                        "started_at": iso(event.at),
                        "id_tag": event.data["id_tag"],
                        "meter_start_wh": event.data["meter_start_wh"],
                    }
                )
            elif event.kind == "session_stopped":
                self.link.record_session(
                    {
                        "id": str(event.data["session_id"]),
                        "started_at": iso(event.data["started_at"]),
                        "ended_at": iso(event.at),
                        "id_tag": event.data["id_tag"],
                        "energy_wh": max(0, event.data["energy_wh"]),
                        "meter_stop_wh": event.data["meter_stop_wh"],
                        "stop_reason": event.data["reason"],
                    }
                )
            self.link.record_event(
                {"kind": event.kind, "at": iso(event.at), "data": _jsonable(event.data)}
            )
        except Exception:
            log.exception("twin event record failed")

    # ------------------------------------------------------------------ desired
    def _on_desired(self, delivery: DesiredDelivery) -> None:
        desired: dict[str, Any] = dict(delivery.desired)
        statuses: dict[str, dict[str, Any]] = {}
        version = delivery.desired_version

        def verdict(key: str, reason: str | None) -> None:
            statuses[key] = (
                {"state": "applied", "version": version}
                if reason is None
                else {"state": "rejected", "version": version, "reason": reason}
            )

        changed = {k for k in set(desired) | set(self._desired) if desired.get(k) != self._desired.get(k)}
        if changed & {"charging_enabled", "current_limit_a"}:
            enabled = desired.get("charging_enabled")
            limit = desired.get("current_limit_a")
            limit_reason = self._check_user_limit(limit)
            if "current_limit_a" in desired:
                verdict("current_limit_a", limit_reason)
            if "charging_enabled" in desired:
                verdict("charging_enabled", None)
            self._apply_user_limit(enabled, None if limit_reason else limit)
        if "settings" in changed:
            for name, value in (desired.get("settings") or {}).items():
                if (self._desired.get("settings") or {}).get(name, _MISSING) == value:
                    continue
                if name in self.commands:
                    if self._commands_done.get(name, _MISSING) != value:
                        self._commands_done[name] = value
                        self.station.storage.put_json(COMMANDS_KEY, self._commands_done)
                        verdict(f"settings.{name}", self.commands[name](name, value))
                    continue
                try:
                    self.station.apply_settings({name: value})
                    verdict(f"settings.{name}", None)
                except SettingsError as exc:
                    verdict(f"settings.{name}", "; ".join(exc.errors.values()))
        for key in sorted(changed - {"charging_enabled", "current_limit_a", "settings"}):
            if key not in desired:
                handler = self.handlers.get(key)
                if handler is not None:
                    handler(key, None)
                continue
            handler = self.handlers.get(key)
            if handler is None:
                verdict(key, f"{key} is not supported by this controller")
            else:
                verdict(key, handler(key, desired[key]))
        self._desired = desired
        try:
            self.link.ack_desired(version, statuses)
        except Exception:
            log.exception("twin desired ack failed")

    def _fault_reset(self, _key: str, _value: Any) -> str | None:
        if not self.station.faults.any_active:
            return None
        self.station.reset_fault()
        if self.station.faults.any_active:
            kinds = ", ".join(f.kind.value for f in self.station.faults.active)
            return f"the fault condition is still present: {kinds}"
        return None

    def _check_user_limit(self, limit: Any) -> str | None:
        if limit is None:
            return None
        dip = self.station.dip.max_a if self.station.dip else None
        if dip is not None and limit > dip:
            return f"{limit} A is above the DIP switch max of {dip} A"
        if 0 < limit < MIN_USER_LIMIT_A:
            return f"{limit} A is below the 6 A minimum of J1772; pause charging instead"
        return None

    def _apply_user_limit(self, enabled: Any, limit: Any) -> None:
        arbiter = self.station.arbiter
        if enabled is False:
            arbiter.set_limit("user", 0, "paused by the user")
        elif limit is not None:
            arbiter.set_limit("user", float(limit), f"current limit {limit} A set by the user")
        else:
            arbiter.set_limit("user", None, "no user limit")


class _Missing:
    pass


_MISSING = _Missing()


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out
