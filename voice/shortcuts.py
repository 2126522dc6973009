"""Siri Shortcuts' REST calls: one URL per action, each answering with a sentence to speak.

A Shortcut is a one-shot request with no dialog, so a bare hour ("by seven") takes the
sooner reading (MeridiemPolicy.NEAREST) rather than asking back; anything still unclear is
answered 422 with the question to show.  Refusals (unplugged, offline, rejected by the
controller) are 200 with ``ok: false`` so the Shortcut simply speaks ``speech``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from twin.documents import JsonObject
from voice.charger_voice import ChargerVoice, VoiceReply
from voice.natural_time import (
    Clarification,
    MeridiemPolicy,
    ResolvedTime,
    TimeParseError,
    parse_spoken_time,
)


class ShortcutInputError(ValueError):
    """A bad field in a Shortcut's body; ``speech`` is what to tell the user."""

    def __init__(self, field: str, speech: str) -> None:
        super().__init__(f"{field}: {speech}")
        self.field = field
        self.speech = speech


def reply_body(reply: VoiceReply) -> JsonObject:
    body: JsonObject = {"speech": reply.speech, "ok": reply.ok, "outcome": reply.outcome.value}
    view = reply.view
    if view is not None:
        body["charger"] = {
            "online": view.online,
            "status": view.status,
            "plugged_in": view.plugged_in,
            "charging": view.charging,
            "charging_enabled": view.enabled,
            "power_kw": round(view.power_w / 1000.0, 2),
            "soc_pct": view.soc_pct,
        }
    return body


def _time(voice: ChargerVoice, body: dict[str, Any], field: str, required: bool) -> ResolvedTime | None:
    text = body.get(field)
    if text is None and not required:
        return None
    if not isinstance(text, str) or not text.strip():
        raise ShortcutInputError(field, f"say a time, like '7 am' or 'in 2 hours' (got {text!r})")
    try:
        resolved = parse_spoken_time(
            text, voice.now(), voice.zone, meridiem_policy=MeridiemPolicy.NEAREST
        )
    except TimeParseError as exc:
        raise ShortcutInputError(field, str(exc)) from exc
    if isinstance(resolved, Clarification):
        raise ShortcutInputError(field, resolved.question)
    return resolved


def _number(body: dict[str, Any], field: str) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().rstrip("%"))
        except ValueError:
            raise ShortcutInputError(field, f"{value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ShortcutInputError(field, f"{value!r} is not a number")
    return float(value)


async def run_shortcut(voice: ChargerVoice, action: str, body: dict[str, Any]) -> VoiceReply:
    """Do one Shortcut action; raises ShortcutInputError or KeyError (unknown action)."""
    if action == "status":
        return await voice.status()
    if action == "charge-level":
        return await voice.charge_level()
    if action == "start":
        return await voice.start()
    if action == "stop":
        return await voice.stop()
    if action == "cancel-schedule":
        return await voice.cancel_schedule()
    if action == "current":
        amps = _number(body, "amps")
        if amps is None:
            raise ShortcutInputError("amps", "say how many amps, like 16 or 32")
        return await voice.set_current(amps)
    if action == "charge-at":
        start = _time(voice, body, "at", required=True)
        until = _time(voice, body, "until", required=False)
        assert start is not None
        end = until.when if until is not None else None
        if end is not None and end <= start.when:
            end += timedelta(days=1)
        return await voice.charge_at(start.when, end, note=start.note)
    if action == "ready-by":
        when = _time(voice, body, "by", required=True)
        assert when is not None
        percent = _number(body, "percent")
        kwh = _number(body, "kwh")
        if percent is not None and kwh is not None:
            raise ShortcutInputError("percent", "give a percentage or kilowatt-hours, not both")
        return await voice.ready_by(
            when.when,
            target_soc_pct=percent,
            energy_wh=None if kwh is None else kwh * 1000.0,
            note=when.note,
        )
    raise KeyError(action)


SHORTCUT_ACTIONS: dict[str, str] = {
    "status": "GET",
    "charge-level": "GET",
    "start": "POST",
    "stop": "POST",
    "cancel-schedule": "POST",
    "current": "POST",
    "charge-at": "POST",
    "ready-by": "POST",
}
