"""The conditions under which the contactor may close.

Checked where the contactor is commanded, every time; the hypothesis stateful tests fuzz the
same function as the invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.charging.pilot import MIN_OFFER_A
from controller.hal.messages import PilotState


@dataclass(frozen=True)
class ContactorConditions:
    board_ready: bool
    pilot: PilotState | None
    authorized: bool
    fault_active: bool
    ground_present: bool
    offered_a: float
    cold_load_waiting: bool
    available: bool


def contactor_blockers(c: ContactorConditions) -> list[str]:
    """Why the contactor must stay open; an empty list means it may close."""
    blockers: list[str] = []
    if not c.board_ready:
        blockers.append("power board not ready")
    if c.pilot not in (PilotState.C, PilotState.D):
        blockers.append("EV not requesting energy (pilot not C/D)")
    if not c.authorized:
        blockers.append("session not authorized")
    if c.fault_active:
        blockers.append("fault active")
    if not c.ground_present:
        blockers.append("no earth ground")
    if c.offered_a < MIN_OFFER_A:
        blockers.append("offered current below 6 A")
    if c.cold_load_waiting:
        blockers.append("cold load pickup delay running")
    if not c.available:
        blockers.append("connector unavailable")
    return blockers


def may_close(c: ContactorConditions) -> bool:
    return not contactor_blockers(c)
