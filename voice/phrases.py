"""The sentences the assistants speak, so Alexa, Google and Siri word things the same way.

Numbers carry their units in words ("7.7 kilowatts", "62 percent") because they are read
aloud; times are the home's wall clock, phrased by :func:`voice.natural_time.describe`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from voice.charger_view import Blocker, ChargerView
from voice.natural_time import describe

MIN_SPOKEN_WH = 50.0  # less than this rounds to "0 kilowatt-hours": say nothing

_FAULT_WORDS = {
    "ground_fault": "a ground fault",
    "groundfailure": "a ground fault",
    "no_ground": "a missing ground connection",
    "over_current": "too much current drawn",
    "overcurrentfailure": "too much current drawn",
    "over_voltage": "the supply voltage being too high",
    "overvoltage": "the supply voltage being too high",
    "under_voltage": "the supply voltage being too low",
    "undervoltage": "the supply voltage being too low",
    "over_temperature": "overheating",
    "hightemperature": "overheating",
    "short_circuit": "a short circuit",
    "stuck_relay": "a stuck relay",
    "powerswitchfailure": "a stuck relay",
    "pilot_error": "a problem talking to the car",
}


def number(value: float) -> str:
    """One decimal, none when whole: 7.68 -> '7.7', 16.0 -> '16'."""
    rounded = round(value, 1)
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.1f}"


def kilowatts(watts: float) -> str:
    return f"{number(watts / 1000.0)} kilowatts"


def kilowatt_hours(wh: float) -> str:
    kwh = number(wh / 1000.0)
    return f"{kwh} kilowatt-hour" + ("" if kwh == "1" else "s")


def percent(value: float) -> str:
    return f"{round(value)} percent"


def spoken_time(when: datetime, now: datetime, zone: ZoneInfo) -> str:
    """The home's wall-clock time, relative to today: '6:40 AM tomorrow'."""
    return describe(when.astimezone(zone), now.astimezone(zone))


def fault_words(code: str) -> str:
    key = code.strip().lower()
    if key in _FAULT_WORDS:
        return _FAULT_WORDS[key]
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", code).replace("_", " ").lower()
    return f"a fault ({spaced})"


def join_words(items: Sequence[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def blocker_reasons(blockers: Sequence[Blocker]) -> str:
    """The controller's reasons, deduplicated, as one clause ('the utility has asked ...')."""
    seen: list[str] = []
    for blocker in blockers:
        reason = blocker.reason.rstrip(". ")
        if reason and reason not in seen:
            seen.append(reason)
    return join_words(seen)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def held_back_clause(view: ChargerView, now: datetime, zone: ZoneInfo) -> str | None:
    """Why a plugged-in car is not charging, or None if nothing we know of holds it."""
    if view.user_paused:
        return "you paused charging"
    if view.blockers:
        return blocker_reasons(view.blockers)
    if view.next_start is not None and view.next_start > now:
        return f"it's waiting for the schedule, which starts at {spoken_time(view.next_start, now, zone)}"
    return None


def status_sentence(
    view: ChargerView, now: datetime, zone: ZoneInfo, full_at: datetime | None
) -> str:
    """One or two sentences that answer 'is the car charging?' with numbers and units."""
    if not view.online:
        return "The charger is offline right now, so I can't see what the car is doing."
    if view.faults:
        return (
            f"The charger has stopped because of {join_words([fault_words(c) for c in view.faults])}."
            " It retries by itself when the condition clears."
        )
    if view.status == "Initializing":
        return "The charger is starting up. Ask me again in a minute."
    if view.status == "Unavailable":
        return "The charger is set to unavailable, so it won't charge until it's made available again."
    if not view.plugged_in:
        return "The charger is unplugged: no car is connected."
    if view.charging:
        parts = [f"Charging at {kilowatts(view.power_w)}"]
        if view.soc_pct is not None:
            parts.append(percent(view.soc_pct))
        if full_at is not None:
            parts.append(f"full by {spoken_time(full_at, now, zone)}")
        sentence = ", ".join(parts) + "."
        added_wh = view.session_energy_wh or 0.0
        if added_wh >= MIN_SPOKEN_WH:
            sentence += f" {_capital(kilowatt_hours(added_wh))} added so far."
        return sentence
    soc = f" It's at {percent(view.soc_pct)}." if view.soc_pct is not None else ""
    if view.status == "Finishing":
        added_wh = view.session_energy_wh or 0.0
        added = f", with {kilowatt_hours(added_wh)} added" if added_wh >= MIN_SPOKEN_WH else ""
        return f"Charging has finished{added}; the car is still plugged in.{soc}"
    if view.status == "Preparing":
        return (
            "The car is plugged in, but the charging session hasn't been authorized yet: "
            "tap your card on the charger." + soc
        )
    held = held_back_clause(view, now, zone)
    if held is not None:
        return f"The car is plugged in but not charging: {held}.{soc}"
    if view.status == "SuspendedEV":
        return f"The car is plugged in but isn't taking power right now; it may be full.{soc}"
    return f"The car is plugged in but not charging.{soc}"


def charge_level_sentence(view: ChargerView, now: datetime, zone: ZoneInfo,
                          full_at: datetime | None) -> str:
    """'How much charge has the car got?'"""
    if not view.online:
        return "The charger is offline right now, so I can't check the car."
    if not view.plugged_in:
        return "No car is plugged in, so I can't tell its charge level."
    if view.soc_pct is None:
        added_wh = view.session_energy_wh or 0.0
        added = (
            f" This session has added {kilowatt_hours(added_wh)}." if added_wh >= MIN_SPOKEN_WH
            else ""
        )
        return "The car doesn't share its battery level with the charger." + added
    sentence = f"The car is at {percent(view.soc_pct)}"
    if view.battery_kwh is not None:
        stored = view.battery_kwh * view.soc_pct / 100.0
        sentence += f", about {kilowatt_hours(stored * 1000.0)}"
    sentence += "."
    if view.charging and full_at is not None:
        sentence += f" It should be full by {spoken_time(full_at, now, zone)}."
    return sentence
