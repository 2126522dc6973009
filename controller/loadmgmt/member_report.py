"""What a group member tells its gateway about its station, read from the charging core.

Gateway and client use the same reading, so the gateway's own station is treated exactly like
a client's.  The load-management limit itself is left out of "requested": a station asks for
what every *other* limit source allows, or the gateway could never raise it again.
"""

from __future__ import annotations

from controller.charging.station import Station, StationSnapshot
from controller.loadmgmt.protocol import PhaseCurrents, State
from controller.loadmgmt.wiring import WireType

LLM_SOURCE = "load_management"
# Sources that describe the station's hardware/firmware: they make up its own max, not a request.
_OWN_MAX_SOURCES = ("dip", "firmware")


def own_max_a(station: Station) -> int:
    """The station's own max: the lower of its DIP (HW) and FW settings, whole amps."""
    caps = [lim.amps for lim in station.arbiter.limits()
            if lim.source in _OWN_MAX_SOURCES and lim.amps is not None]
    return int(min(caps)) if caps else 0


def requested_a(station: Station) -> float | None:
    """The lowest limit of the sources other than load management and the own max."""
    amps = [lim.amps for lim in station.arbiter.limits()
            if lim.source not in (LLM_SOURCE, *_OWN_MAX_SOURCES) and lim.amps is not None]
    return min(amps) if amps else None


def is_requesting(snapshot: StationSnapshot) -> bool:
    """A session is running (authorized, not finished) and so wants current."""
    session = snapshot.session
    return session is not None and not session.get("stopped", False)


def phase_currents(current_a: float, wire: WireType) -> PhaseCurrents:
    """A line-to-line load carries its whole current on both of its legs."""
    amps = {"L1": 0.0, "L2": 0.0, "L3": 0.0}
    for conductor in wire.conductors:
        amps[conductor.value] = round(max(0.0, current_a), 2)
    return PhaseCurrents(**amps)


def station_state(station: Station, wire: WireType) -> State:
    snap = station.snapshot()
    requesting = is_requesting(snap)
    arrival = snap.session.get("started_at") if requesting and snap.session else None
    asked = requested_a(station)
    return State(
        requesting=requesting,
        max_a=min(80, own_max_a(station)),
        requested_a=None if asked is None else max(0.0, min(80.0, asked)),
        status=snap.status.value,
        phase_a=phase_currents(snap.current_a, wire),
        arrival=float(arrival) if isinstance(arrival, (int, float)) else None,
    )
