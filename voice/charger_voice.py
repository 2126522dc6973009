"""The charger as every voice assistant sees it: a few actions, each with a spoken answer.

Alexa, Google Assistant, the fauxmo switch and Siri Shortcuts all steer the charger through
this one class, and it steers the charger only through the twin's *desired* half (via
:class:`twin.client.TwinClient`).  After a change it waits for the controller's verdict in
``reported.desired_status`` so a refusal ("60 A is above the DIP switch maximum") reaches
the user instead of a false "OK".
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from controller.clock import Clock, utc_datetime
from twin.client import TwinApiError, TwinClient, TwinState
from twin.documents import JsonObject, JsonValue
from voice.charger_view import MIN_CHARGING_A, ChargerView, view_of
from voice.phrases import (
    blocker_reasons,
    charge_level_sentence,
    fault_words,
    join_words,
    kilowatt_hours,
    kilowatts,
    percent,
    spoken_time,
    status_sentence,
)

#: Schedule windows this module owns carry this id prefix, so "cancel" never touches the app's.
VOICE_WINDOW_PREFIX = "voice-"
CHARGE_AT_WINDOW_ID = "voice-charge-at"
DEFAULT_WINDOW = timedelta(hours=12)
DEFAULT_ACK_TIMEOUT_S = 5.0
MAX_CURRENT_A = 80
NOMINAL_VOLTAGE_V = 240.0


class Outcome(enum.Enum):
    DONE = "done"  # the change was made and the controller applied it
    ALREADY = "already"  # nothing to change
    BLOCKED = "blocked"  # done, but something else still holds charging (reason spoken)
    INFO = "info"  # an answer to a question
    UNPLUGGED = "unplugged"
    OFFLINE = "offline"
    FAULTED = "faulted"
    REJECTED = "rejected"  # the controller refused; the reason is spoken
    UNCONFIRMED = "unconfirmed"  # written to the twin, the controller has not answered yet
    INVALID = "invalid"  # the request itself is out of range


@dataclass(frozen=True)
class VoiceReply:
    speech: str
    outcome: Outcome
    view: ChargerView | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DONE, Outcome.ALREADY, Outcome.BLOCKED, Outcome.INFO)


class VoiceRequestError(ValueError):
    """A request from an assistant with a bad value; the message can be read out."""


@dataclass(frozen=True)
class _Verdict:
    state: str  # applied / rejected / pending
    reason: str | None


class ChargerVoice:
    """One home's charger, for assistants. ``zone`` is the home's time zone."""

    def __init__(
        self,
        twin: TwinClient,
        clock: Clock,
        zone: ZoneInfo,
        *,
        ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S,
    ) -> None:
        if ack_timeout_s <= 0:
            raise ValueError(f"ack_timeout_s must be positive, got {ack_timeout_s}")
        self.twin = twin
        self.clock = clock
        self.zone = zone
        self.ack_timeout_s = ack_timeout_s

    # ------------------------------------------------------------------ reads

    def now(self) -> datetime:
        return utc_datetime(self.clock).astimezone(self.zone)

    async def view(self) -> ChargerView:
        return view_of(await self.twin.get_state())

    async def _full_at(self, view: ChargerView) -> datetime | None:
        if not view.charging:
            return None
        answer = await self.twin.whatif()
        full = answer.get("full")
        if isinstance(full, dict) and full.get("reachable") is True:
            at = full.get("at")
            if isinstance(at, str):
                with contextlib.suppress(ValueError):
                    return datetime.fromisoformat(at)
        return None

    async def status(self) -> VoiceReply:
        view = await self.view()
        full_at = await self._full_at(view) if view.online else None
        return VoiceReply(status_sentence(view, self.now(), self.zone, full_at), Outcome.INFO, view)

    async def charge_level(self) -> VoiceReply:
        view = await self.view()
        full_at = await self._full_at(view) if view.online else None
        return VoiceReply(
            charge_level_sentence(view, self.now(), self.zone, full_at), Outcome.INFO, view
        )

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> VoiceReply:
        view = await self.view()
        if not view.online:
            return VoiceReply(
                "The charger is offline right now, so I can't start charging.", Outcome.OFFLINE, view
            )
        if view.faults:
            words = join_words([fault_words(c) for c in view.faults])
            return VoiceReply(
                f"I can't start charging: the charger has stopped because of {words}.",
                Outcome.FAULTED, view,
            )
        if not view.plugged_in and not view.user_paused:
            return VoiceReply(
                "I can't start charging: the charger is unplugged. Plug the car in and it will "
                "start by itself.", Outcome.UNPLUGGED, view,
            )
        if not view.user_paused:
            return self._already_on(view)
        patch: JsonObject = {"charging_enabled": True}
        if view.user_limit_a == 0:
            patch["current_limit_a"] = None
        verdicts, after = await self._apply(patch)
        refusal = await self._refusal(verdicts, after, "start charging")
        if refusal is not None:
            return refusal
        if not after.plugged_in:
            return VoiceReply(
                "OK, charging is back on. The car isn't plugged in yet; it will start as soon "
                "as you plug it in.", Outcome.DONE, after,
            )
        if after.blockers:
            return VoiceReply(
                "OK, I've turned charging back on, but it can't start yet: "
                f"{blocker_reasons(after.blockers)}.", Outcome.BLOCKED, after,
            )
        return VoiceReply("OK, charging has resumed.", Outcome.DONE, after)

    def _already_on(self, view: ChargerView) -> VoiceReply:
        if view.charging:
            return VoiceReply(
                f"The car is already charging, at {kilowatts(view.power_w)}.", Outcome.ALREADY, view
            )
        if view.blockers:
            return VoiceReply(
                "Charging is already on, but it can't start yet: "
                f"{blocker_reasons(view.blockers)}.", Outcome.BLOCKED, view,
            )
        return VoiceReply(
            status_sentence(view, self.now(), self.zone, None), Outcome.ALREADY, view
        )

    async def stop(self) -> VoiceReply:
        view = await self.view()
        if not view.online:
            return VoiceReply(
                "The charger is offline right now, so I can't pause charging.", Outcome.OFFLINE, view
            )
        if view.user_paused:
            return VoiceReply("Charging is already paused.", Outcome.ALREADY, view)
        verdicts, after = await self._apply({"charging_enabled": False})
        refusal = await self._refusal(verdicts, after, "pause charging")
        if refusal is not None:
            return refusal
        if not after.plugged_in:
            return VoiceReply(
                "OK, charging is paused. When you plug the car in it won't charge until you "
                "say start charging.", Outcome.DONE, after,
            )
        return VoiceReply(
            "OK, I've paused charging. Say start charging when you want it back on.",
            Outcome.DONE, after,
        )

    async def set_enabled(self, enabled: bool) -> VoiceReply:
        return await (self.start() if enabled else self.stop())

    # ------------------------------------------------------------------ current

    async def set_current(self, amps: float) -> VoiceReply:
        if isinstance(amps, bool) or not isinstance(amps, (int, float)) or amps != amps:
            raise VoiceRequestError(f"amps must be a number, got {amps!r}")
        view = await self.view()
        top = view.dip_max_a or MAX_CURRENT_A
        whole = int(round(amps))
        if whole != amps or not MIN_CHARGING_A <= whole <= top:
            return VoiceReply(
                f"I can set the charging current to a whole number of amps from "
                f"{int(MIN_CHARGING_A)} to {top}; {_amps(amps)} is outside that.",
                Outcome.INVALID, view,
            )
        if not view.online:
            return VoiceReply(
                "The charger is offline right now, so I can't change the current.",
                Outcome.OFFLINE, view,
            )
        if view.user_limit_a == whole:
            return VoiceReply(f"It's already set to {whole} amps.", Outcome.ALREADY, view)
        verdicts, after = await self._apply({"current_limit_a": whole})
        refusal = await self._refusal(verdicts, after, f"set {whole} amps")
        if refusal is not None:
            return refusal
        volts = NOMINAL_VOLTAGE_V
        speech = (
            f"OK, I'll charge at up to {whole} amps, about {kilowatts(whole * volts)}."
        )
        if not after.enabled:
            speech += " Charging is paused, though; say start charging to resume."
        return VoiceReply(speech, Outcome.DONE, after)

    # ------------------------------------------------------------------ schedules and goals

    async def charge_at(
        self, start: datetime, end: datetime | None = None, *, note: str | None = None
    ) -> VoiceReply:
        """Allow charging from ``start`` (until ``end``, default 12 hours later)."""
        _require_aware(start, "start")
        finish = end if end is not None else start + DEFAULT_WINDOW
        _require_aware(finish, "end")
        if finish <= start:
            return VoiceReply(
                "The end of the charging time has to be after its start.", Outcome.INVALID, None
            )
        now = self.now()
        state = await self.twin.get_state()
        view = view_of(state)
        if not view.online:
            return VoiceReply(
                "The charger is offline right now, so I can't set a charging time.",
                Outcome.OFFLINE, view,
            )
        window: JsonObject = {
            "id": CHARGE_AT_WINDOW_ID,
            "start": start.astimezone(self.zone).isoformat(),
            "end": finish.astimezone(self.zone).isoformat(),
            "enabled": True,
        }
        before = state.desired.get("schedules")
        kept = [
            w for w in (before if isinstance(before, list) else [])
            if not (isinstance(w, dict) and w.get("id") == CHARGE_AT_WINDOW_ID)
        ]
        verdicts, after = await self._apply({"schedules": [*kept, window]})
        refusal = await self._refusal(
            verdicts, after, "set that charging time", restore={"schedules": before}
        )
        if refusal is not None:
            return refusal
        speech = f"OK, I'll start charging at {spoken_time(start, now, self.zone)}"
        if end is not None:
            speech += f" and stop at {spoken_time(finish, now, self.zone)}"
        speech += "."
        if note:
            speech = f"{note} {speech}"
        if not after.plugged_in:
            speech += " Remember to plug the car in."
        return VoiceReply(speech, Outcome.DONE, after)

    async def ready_by(
        self,
        when: datetime,
        *,
        target_soc_pct: float | None = None,
        energy_wh: float | None = None,
        note: str | None = None,
    ) -> VoiceReply:
        """Set the departure goal; with neither target, the car should be full."""
        _require_aware(when, "when")
        if target_soc_pct is not None and energy_wh is not None:
            raise VoiceRequestError("give either a percentage or an amount of energy, not both")
        if energy_wh is None and target_soc_pct is None:
            target_soc_pct = 100.0
        if target_soc_pct is not None and not 1 <= target_soc_pct <= 100:
            return VoiceReply(
                f"The charge level has to be between 1 and 100 percent, not {_plain_number(target_soc_pct)}.",
                Outcome.INVALID, None,
            )
        if energy_wh is not None and not 1_000 <= energy_wh <= 200_000:
            return VoiceReply(
                "The energy has to be between 1 and 200 kilowatt-hours.", Outcome.INVALID, None
            )
        now = self.now()
        state = await self.twin.get_state()
        view = view_of(state)
        if not view.online:
            return VoiceReply(
                "The charger is offline right now, so I can't set a ready-by time.",
                Outcome.OFFLINE, view,
            )
        goal: JsonObject = {"ready_by": when.astimezone(self.zone).isoformat()}
        if energy_wh is not None:
            goal["energy_wh"] = int(round(energy_wh))
            amount = kilowatt_hours(energy_wh) + " added"
        else:
            assert target_soc_pct is not None
            goal["target_soc_pct"] = int(round(target_soc_pct))
            amount = "full" if target_soc_pct >= 100 else f"at {percent(target_soc_pct)}"
            if view.battery_kwh is not None:
                goal["battery_kwh"] = view.battery_kwh
        before = state.desired.get("departure_goal")
        verdicts, after = await self._apply({"departure_goal": goal})
        refusal = await self._refusal(
            verdicts, after, "set that ready-by time", restore={"departure_goal": before}
        )
        if refusal is not None:
            return refusal
        speech = f"OK, the car will be {amount} by {spoken_time(when, now, self.zone)}."
        if note:
            speech = f"{note} {speech}"
        shortfall = await self._goal_shortfall()
        if shortfall is not None:
            speech += f" {shortfall}"
        if not after.plugged_in:
            speech += " Remember to plug the car in."
        return VoiceReply(speech, Outcome.DONE, after)

    async def _goal_shortfall(self) -> str | None:
        """A warning when the twin's estimate says the goal cannot be met, else None."""
        try:
            answer = await self.twin.whatif()
        except TwinApiError:
            return None
        goal = answer.get("goal")
        if not isinstance(goal, dict) or goal.get("reachable") is not False:
            return None
        short = goal.get("shortfall_wh")
        if isinstance(short, (int, float)) and not isinstance(short, bool) and short > 0:
            return (
                "At the current rate it won't quite make it: it would be about "
                f"{kilowatt_hours(float(short))} short."
            )
        return None

    async def cancel_schedule(self) -> VoiceReply:
        state = await self.twin.get_state()
        view = view_of(state)
        if not view.online:
            return VoiceReply(
                "The charger is offline right now, so I can't change its schedule.",
                Outcome.OFFLINE, view,
            )
        windows = state.desired.get("schedules")
        windows = windows if isinstance(windows, list) else []
        kept = [
            w for w in windows
            if not (isinstance(w, dict) and str(w.get("id", "")).startswith(VOICE_WINDOW_PREFIX))
        ]
        patch: JsonObject = {}
        if len(kept) != len(windows):
            patch["schedules"] = kept if kept else None
        if state.desired.get("departure_goal") is not None:
            patch["departure_goal"] = None
        others = " Your weekly schedule from the app still applies." if kept else ""
        if not patch:
            return VoiceReply(
                "There's no charging time or ready-by goal to cancel." + others,
                Outcome.ALREADY, view,
            )
        verdicts, after = await self._apply(patch)
        refusal = await self._refusal(verdicts, after, "cancel the schedule")
        if refusal is not None:
            return refusal
        return VoiceReply(
            "OK, I've cancelled the charging time and ready-by goal." + others,
            Outcome.DONE, after,
        )

    # ------------------------------------------------------------------ plumbing

    async def _apply(self, patch: JsonObject) -> tuple[dict[str, _Verdict], ChargerView]:
        """Write ``patch`` to desired and wait (on the clock) for the controller's verdicts."""
        written = await self.twin.set_desired(patch)
        keys = list(patch)
        state = await self.twin.get_state()
        # A patch that changed nothing gets no version of its own: any settled verdict counts.
        since = written if state.desired_version >= written else 0
        if not _settled(state, keys, since):
            waited = await self._wait_until(lambda s: _settled(s, keys, since))
            state = waited if waited is not None else await self.twin.get_state()
        return _verdicts(state, keys, since), view_of(state)

    async def _wait_until(self, done: Callable[[TwinState], bool]) -> TwinState | None:
        loop = asyncio.get_running_loop()
        expired: asyncio.Future[None] = loop.create_future()

        def expire() -> None:
            if not expired.done():
                expired.set_result(None)

        timer = self.clock.call_later(self.ack_timeout_s, expire)

        async def watch() -> TwinState | None:
            async for state in self.twin.watch():
                if done(state):
                    return state
            return None

        task: asyncio.Future[TwinState | None] = asyncio.ensure_future(watch())
        waiters: set[asyncio.Future[TwinState | None] | asyncio.Future[None]] = {task, expired}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TwinApiError):
                    await task
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        return None

    async def _refusal(
        self,
        verdicts: dict[str, _Verdict],
        after: ChargerView,
        what: str,
        restore: JsonObject | None = None,
    ) -> VoiceReply | None:
        rejected = [v.reason or "no reason given" for v in verdicts.values() if v.state == "rejected"]
        if rejected:
            if restore is not None:
                # Take back what was refused, so desired never holds a wish nobody applies.
                await self.twin.set_desired(restore)
            return VoiceReply(
                f"The charger wouldn't {what}: {join_words(_dedupe(rejected))}.",
                Outcome.REJECTED, after,
            )
        if any(v.state == "pending" for v in verdicts.values()):
            return VoiceReply(
                f"I've asked the charger to {what}, but it hasn't confirmed yet. "
                "Ask me for the status in a moment.", Outcome.UNCONFIRMED, after,
            )
        return None


def _amps(value: float) -> str:
    return f"{_plain_number(value)} amps"


def _plain_number(value: float) -> str:
    return f"{value:g}"


def _dedupe(items: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise VoiceRequestError(f"{what} must be a timezone-aware datetime, got {value!r}")


def _status_entry(state: TwinState, key: str) -> dict[str, JsonValue] | None:
    statuses = state.reported.get("desired_status")
    entry = statuses.get(key) if isinstance(statuses, dict) else None
    return entry if isinstance(entry, dict) else None


def _settled(state: TwinState, keys: Sequence[str], since: int) -> bool:
    return all(v.state != "pending" for v in _verdicts(state, keys, since).values())


def _verdicts(state: TwinState, keys: Sequence[str], since: int) -> dict[str, _Verdict]:
    out: dict[str, _Verdict] = {}
    for key in keys:
        if key not in state.desired:  # a deletion: nothing for the controller to refuse
            out[key] = _Verdict("applied", None)
            continue
        entry = _status_entry(state, key)
        version = entry.get("version") if entry else None
        fresh = isinstance(version, int) and version >= since
        st = entry.get("state") if entry else None
        if not fresh or st not in ("applied", "rejected"):
            out[key] = _Verdict("pending", None)
            continue
        reason = entry.get("reason") if entry else None
        out[key] = _Verdict(str(st), reason if isinstance(reason, str) else None)
    return out
