"""What a voice assistant needs to know about the charger, read from one twin state.

The twin document is loose JSON written by the controller; every assistant (Alexa, Google,
the fauxmo switch, Shortcuts) asks the same questions of it — is a car plugged in, is it
charging, did the user pause it, what else is holding it back — so the answers are worked
out once, here, and never re-derived from raw keys elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twin.client import TwinState
from twin.documents import JsonObject, JsonValue

#: OCPP statuses in which a car is connected to the cable.
_PLUGGED_STATUSES = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})
_PLUGGED_PILOTS = frozenset({"B", "C", "D"})
MIN_CHARGING_A = 6.0  # J1772: below this the pilot offers nothing


@dataclass(frozen=True)
class Blocker:
    """A limit source that holds charging at zero, with the controller's own reason."""

    source: str
    reason: str


@dataclass(frozen=True)
class ChargerView:
    device_id: str
    online: bool
    status: str | None
    plugged_in: bool
    charging: bool
    power_w: float
    offered_a: float | None
    soc_pct: float | None
    battery_kwh: float | None
    session_energy_wh: float | None
    enabled: bool  # the user's wish: charging_enabled is not false
    user_limit_a: int | None
    dip_max_a: int | None
    faults: tuple[str, ...]
    blockers: tuple[Blocker, ...]  # other sources pausing charging (not the user)
    limit_reason: str | None
    next_start: datetime | None
    firmware: str | None
    desired_status: JsonObject

    @property
    def user_paused(self) -> bool:
        return not self.enabled or self.user_limit_a == 0

    def key_status(self, key: str) -> JsonObject | None:
        entry = self.desired_status.get(key)
        return entry if isinstance(entry, dict) else None


def _num(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _text(value: JsonValue) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: JsonValue) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _blockers(limits: JsonValue) -> tuple[Blocker, ...]:
    found: list[Blocker] = []
    if not isinstance(limits, list):
        return ()
    for entry in limits:
        if not isinstance(entry, dict):
            continue
        source = _text(entry.get("source")) or "unknown"
        if source == "user":
            continue
        amps = _num(entry.get("amps"))
        paused = entry.get("paused") is True or (amps is not None and amps < MIN_CHARGING_A)
        if paused:
            found.append(Blocker(source, _text(entry.get("reason")) or source.replace("_", " ")))
    return tuple(found)


def _fault_codes(faults: JsonValue) -> tuple[str, ...]:
    if not isinstance(faults, list):
        return ()
    codes: list[str] = []
    for fault in faults:
        if isinstance(fault, dict):
            code = _text(fault.get("code")) or _text(fault.get("kind")) or "unknown fault"
            codes.append(code)
        elif isinstance(fault, str):
            codes.append(fault)
    return tuple(codes)


def view_of(state: TwinState) -> ChargerView:
    rep, des = state.reported, state.desired
    status = _text(rep.get("status"))
    pilot = _text(rep.get("pilot"))
    plugged = (status in _PLUGGED_STATUSES) or (pilot in _PLUGGED_PILOTS)
    ev = rep.get("ev")
    soc = _num(ev.get("soc_pct")) if isinstance(ev, dict) else None
    battery = _num(ev.get("battery_kwh")) if isinstance(ev, dict) else None
    session = rep.get("session")
    session_wh = _num(rep.get("session_energy_wh"))
    if session_wh is None and isinstance(session, dict):
        session_wh = _num(session.get("energy_wh"))
    limit = des.get("current_limit_a")
    dip = rep.get("dip_max_a")
    statuses = rep.get("desired_status")
    return ChargerView(
        device_id=state.device_id,
        online=rep.get("online") is not False,
        status=status,
        plugged_in=plugged,
        charging=status == "Charging",
        power_w=_num(rep.get("power_w")) or 0.0,
        offered_a=_num(rep.get("offered_a")),
        soc_pct=soc,
        battery_kwh=battery,
        session_energy_wh=session_wh,
        enabled=des.get("charging_enabled") is not False,
        user_limit_a=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        dip_max_a=dip if isinstance(dip, int) and not isinstance(dip, bool) else None,
        faults=_fault_codes(rep.get("faults")) if status == "Faulted" or rep.get("faults") else (),
        blockers=_blockers(rep.get("limits")),
        limit_reason=_text(rep.get("limit_reason")),
        next_start=_time(rep.get("next_start")),
        firmware=_text(rep.get("firmware")),
        desired_status=statuses if isinstance(statuses, dict) else {},
    )
