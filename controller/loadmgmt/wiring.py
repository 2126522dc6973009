"""The phase model: which grid conductors a station loads (SPEC §Wiring).

A station is a single-phase load connected line to line, so the whole current it draws flows
out on one conductor and back on the other: a station on ``L1-L2`` adds its full current to
both L1 and L2.  The grid limit is a per-conductor limit, so it must hold on each conductor.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from controller.loadmgmt.errors import LoadManagementError, WiringError


class Conductor(StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class WireType(StrEnum):
    """The two legs that feed a station (the LLM status page's "wire type")."""

    L1_L2 = "L1-L2"
    L2_L3 = "L2-L3"
    L1_L3 = "L1-L3"

    @property
    def conductors(self) -> tuple[Conductor, Conductor]:
        return _WIRE_LEGS[self]


_WIRE_LEGS: dict[WireType, tuple[Conductor, Conductor]] = {
    WireType.L1_L2: (Conductor.L1, Conductor.L2),
    WireType.L2_L3: (Conductor.L2, Conductor.L3),
    WireType.L1_L3: (Conductor.L1, Conductor.L3),
}


class SiteWiring(StrEnum):
    SPLIT_PHASE_240 = "split_phase_240"
    WYE_208 = "wye_208"
    DELTA_240 = "delta_240"

    @property
    def conductors(self) -> tuple[Conductor, ...]:
        if self is SiteWiring.SPLIT_PHASE_240:
            return (Conductor.L1, Conductor.L2)
        return (Conductor.L1, Conductor.L2, Conductor.L3)


# By the usual North American marking the wild (high) leg of a 240 V delta is phase B.
DEFAULT_DELTA_HIGH_LEG = Conductor.L2


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``kind``, or an error that names the field and the choices."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    choices = ", ".join(repr(member.value) for member in kind)
    raise LoadManagementError(f"{field}: {value!r} is not one of {choices}")


def check_wire_type(
    wiring: SiteWiring, high_leg: Conductor | None, wire_type: WireType, station_id: str
) -> None:
    """Refuse a station whose legs do not exist on the site or include the delta high leg."""
    if wiring is SiteWiring.SPLIT_PHASE_240 and wire_type is not WireType.L1_L2:
        raise WiringError(
            f"station {station_id!r}: wire_type {wire_type.value!r} is impossible on a 240 V "
            "split-phase site, which has only L1 and L2 (use 'L1-L2')"
        )
    if wiring is SiteWiring.DELTA_240 and high_leg is not None and high_leg in wire_type.conductors:
        allowed = "-".join(c.value for c in wiring.conductors if c is not high_leg)
        raise WiringError(
            f"station {station_id!r}: wire_type {wire_type.value!r} uses the high leg "
            f"{high_leg.value} of the 240 V delta; a station may only use {allowed!r}"
        )


def allowed_wire_types(wiring: SiteWiring, high_leg: Conductor | None) -> tuple[WireType, ...]:
    """The wire types a station may have on this site (those :func:`check_wire_type` accepts)."""
    if wiring is SiteWiring.SPLIT_PHASE_240:
        return (WireType.L1_L2,)
    if wiring is SiteWiring.DELTA_240 and high_leg is not None:
        return tuple(w for w in WireType if high_leg not in w.conductors)
    return tuple(WireType)
