"""The Alexa custom skill: ask-sdk-core handlers over :class:`voice.charger_voice.ChargerVoice`.

ask-sdk-core dispatches synchronously, while the twin client is async on the web server's
loop.  The endpoint therefore runs :meth:`CustomSkill.invoke` in a worker thread and hands
the handlers a :class:`SkillCall`; :meth:`SkillCall.run` submits a coroutine back to the loop
and waits for it.  Every handler ends by building a response with the SDK's own
``ResponseFactory``; times in slots go through :mod:`voice.natural_time`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ask_sdk_core.dispatch_components.exception_components import AbstractExceptionHandler
from ask_sdk_core.dispatch_components.request_components import AbstractRequestHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.skill import CustomSkill
from ask_sdk_core.skill_builder import SkillBuilder
from ask_sdk_core.utils.predicate import is_intent_name, is_request_type
from ask_sdk_core.utils.request_util import get_slot_value, is_new_session
from ask_sdk_model.dialog.elicit_slot_directive import ElicitSlotDirective
from ask_sdk_model.intent import Intent
from ask_sdk_model.intent_request import IntentRequest
from ask_sdk_model.response import Response
from ask_sdk_model.ui.link_account_card import LinkAccountCard
from ask_sdk_model.ui.simple_card import SimpleCard

from twin.client import TwinApiError
from voice.charger_voice import ChargerVoice, VoiceReply, VoiceRequestError
from voice.natural_time import (
    Clarification,
    ClarificationReason,
    ResolvedTime,
    TimeParseError,
    resolve_alexa_slots,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
CARD_TITLE = "Car charger"
HELP = (
    "You can say: start charging, pause charging, is the car charging, how much charge has "
    "the car got, charge at eleven pm, have the car ready by seven am, or charge at 16 amps. "
    "What would you like?"
)
HELP_REPROMPT = "What would you like the charger to do?"


@dataclass(frozen=True)
class SkillCall:
    """What one request may use: its home's voice (None if not linked) and the server loop."""

    voice: ChargerVoice | None
    loop: asyncio.AbstractEventLoop
    timeout_s: float = 30.0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout_s)


def _call(handler_input: HandlerInput) -> SkillCall:
    call = handler_input.context
    if not isinstance(call, SkillCall):
        raise TypeError("the skill must be invoked with a SkillCall context")
    return call


def _voice(handler_input: HandlerInput) -> ChargerVoice:
    voice = _call(handler_input).voice
    if voice is None:  # the unlinked handler runs first; this is a programming error
        raise RuntimeError("no linked home for this request")
    return voice


def _answer(handler_input: HandlerInput, reply: VoiceReply) -> Response:
    builder = handler_input.response_builder
    builder.speak(reply.speech).set_card(SimpleCard(CARD_TITLE, reply.speech))
    builder.set_should_end_session(True)
    return builder.response


def _ask(handler_input: HandlerInput, speech: str, reprompt: str) -> Response:
    return handler_input.response_builder.speak(speech).ask(reprompt).response


def _elicit(handler_input: HandlerInput, slot: str, question: str, *, clear: tuple[str, ...] = ()) -> Response:
    """Ask for one slot again, keeping what the user already said (minus ``clear``)."""
    request = handler_input.request_envelope.request
    intent = request.intent if isinstance(request, IntentRequest) else None
    if isinstance(intent, Intent) and intent.slots:
        for name in clear:
            if name in intent.slots:
                intent.slots[name].value = None
    builder = handler_input.response_builder
    builder.speak(question).ask(question)
    builder.add_directive(ElicitSlotDirective(updated_intent=intent, slot_to_elicit=slot))
    return builder.response


def _slot(handler_input: HandlerInput, name: str) -> str | None:
    try:
        value = get_slot_value(handler_input, name)
    except ValueError:  # the slot is not in this intent
        return None
    if not isinstance(value, str) or not value.strip() or value.strip() == "?":
        return None
    return value.strip()


def _number_slot(handler_input: HandlerInput, name: str) -> float | None | str:
    """The number, None when empty, or the raw text when it is not a number."""
    raw = _slot(handler_input, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw


def _resolve(
    voice: ChargerVoice, time: str | None, date: str | None, duration: str | None
) -> ResolvedTime | Clarification:
    return resolve_alexa_slots(
        voice.now(), voice.zone, time=time, date_value=date, duration=duration
    )


def _clarify(handler_input: HandlerInput, clarification: Clarification) -> Response:
    if clarification.reason is ClarificationReason.NEEDS_DAY:
        return _elicit(handler_input, "date", clarification.question, clear=("date",))
    clear = ("time",) if clarification.reason is ClarificationReason.IN_PAST else ()
    return _elicit(handler_input, "time", clarification.question, clear=clear)


# --------------------------------------------------------------------------- handlers


class SessionEndedHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_request_type("SessionEndedRequest")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        return handler_input.response_builder.response


class UnlinkedHandler(AbstractRequestHandler):  # type: ignore[misc]
    """Requests from an Alexa account that is not linked to any home get nothing but a card."""

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return _call(handler_input).voice is None

    def handle(self, handler_input: HandlerInput) -> Response:
        speech = (
            "This charger isn't linked to your Alexa account yet, so I can't control it. "
            "Open the Alexa app to link it."
        )
        builder = handler_input.response_builder
        builder.speak(speech).set_card(LinkAccountCard()).set_should_end_session(True)
        return builder.response


class LaunchHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_request_type("LaunchRequest")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        reply = _call(handler_input).run(_voice(handler_input).status())
        return _ask(handler_input, f"{reply.speech} {HELP_REPROMPT}", HELP_REPROMPT)


class StartHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("StartChargingIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        return _answer(handler_input, _call(handler_input).run(_voice(handler_input).start()))


class StopChargingHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("StopChargingIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        return _answer(handler_input, _call(handler_input).run(_voice(handler_input).stop()))


class OneShotStopHandler(AbstractRequestHandler):  # type: ignore[misc]
    """'Alexa, ask my charger to stop' arrives as AMAZON.StopIntent in a brand-new session:
    there is no conversation to stop, so the user means the charging."""

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("AMAZON.StopIntent")(handler_input)) and bool(
            handler_input.request_envelope.session is not None and is_new_session(handler_input)
        )

    def handle(self, handler_input: HandlerInput) -> Response:
        return _answer(handler_input, _call(handler_input).run(_voice(handler_input).stop()))


class StatusHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("StatusIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        return _answer(handler_input, _call(handler_input).run(_voice(handler_input).status()))


class ChargeLevelHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("ChargeLevelIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        voice = _voice(handler_input)
        return _answer(handler_input, _call(handler_input).run(voice.charge_level()))


class ScheduleHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("ScheduleChargingIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        voice = _voice(handler_input)
        time, date = _slot(handler_input, "time"), _slot(handler_input, "date")
        duration, end_time = _slot(handler_input, "duration"), _slot(handler_input, "end_time")
        question = "What time should charging start?"
        if time is None and duration is None:
            return _elicit(handler_input, "time", question)
        try:
            start = _resolve(voice, time, date, duration)
        except TimeParseError as exc:
            return _elicit(handler_input, "time", f"{exc}. {question}", clear=("time", "duration"))
        if isinstance(start, Clarification):
            return _clarify(handler_input, start)
        end: datetime | None = None
        if end_time is not None:
            try:
                resolved_end = resolve_alexa_slots(
                    start.when, voice.zone, time=end_time
                )  # the next such time after the start
            except TimeParseError as exc:
                return _elicit(handler_input, "end_time", f"{exc}. When should it stop?",
                               clear=("end_time",))
            if isinstance(resolved_end, Clarification):
                return _elicit(handler_input, "end_time", resolved_end.question, clear=("end_time",))
            end = resolved_end.when
        reply = _call(handler_input).run(voice.charge_at(start.when, end, note=start.note))
        return _answer(handler_input, reply)


class ReadyByHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("ReadyByIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        voice = _voice(handler_input)
        time, date = _slot(handler_input, "time"), _slot(handler_input, "date")
        question = "What time do you need the car?"
        if time is None:
            return _elicit(handler_input, "time", question)
        percent = _number_slot(handler_input, "percent")
        energy = _number_slot(handler_input, "energy")
        if isinstance(percent, str):
            return _elicit(handler_input, "percent", "What percentage should the car reach?",
                           clear=("percent",))
        if isinstance(energy, str):
            return _elicit(handler_input, "energy", "How many kilowatt-hours should I add?",
                           clear=("energy",))
        try:
            when = _resolve(voice, time, date, None)
        except TimeParseError as exc:
            return _elicit(handler_input, "time", f"{exc}. {question}", clear=("time",))
        if isinstance(when, Clarification):
            return _clarify(handler_input, when)
        if percent is not None and energy is not None:
            energy = None  # a percentage is what people mean when they say both
        reply = _call(handler_input).run(voice.ready_by(
            when.when,
            target_soc_pct=percent,
            energy_wh=None if energy is None else energy * 1000.0,
            note=when.note,
        ))
        return _answer(handler_input, reply)


class SetCurrentHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("SetCurrentIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        amps = _number_slot(handler_input, "amps")
        question = "How many amps? For example, 16 or 32."
        if amps is None or isinstance(amps, str):
            return _elicit(handler_input, "amps", question, clear=("amps",))
        voice = _voice(handler_input)
        return _answer(handler_input, _call(handler_input).run(voice.set_current(amps)))


class CancelScheduleHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("CancelScheduleIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        voice = _voice(handler_input)
        return _answer(handler_input, _call(handler_input).run(voice.cancel_schedule()))


class HelpHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("AMAZON.HelpIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        return _ask(handler_input, HELP, HELP_REPROMPT)


class GoodbyeHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return any(
            is_intent_name(name)(handler_input)
            for name in ("AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent")
        )

    def handle(self, handler_input: HandlerInput) -> Response:
        builder = handler_input.response_builder
        return builder.speak("OK.").set_should_end_session(True).response


class FallbackHandler(AbstractRequestHandler):  # type: ignore[misc]
    def can_handle(self, handler_input: HandlerInput) -> bool:
        return bool(is_intent_name("AMAZON.FallbackIntent")(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        return _ask(handler_input, "Sorry, I can't do that with the charger. " + HELP, HELP_REPROMPT)


class UnknownRequestHandler(AbstractRequestHandler):  # type: ignore[misc]
    """Any other request type (e.g. a display event): answer politely, change nothing."""

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return True

    def handle(self, handler_input: HandlerInput) -> Response:
        return _ask(handler_input, "Sorry, I didn't get that. " + HELP, HELP_REPROMPT)


class ErrorHandler(AbstractExceptionHandler):  # type: ignore[misc]
    """Speak what went wrong, naming the part, instead of a generic apology."""

    def can_handle(self, handler_input: HandlerInput, exception: Exception) -> bool:
        return True

    def handle(self, handler_input: HandlerInput, exception: Exception) -> Response:
        if isinstance(exception, VoiceRequestError):
            speech = f"I can't do that: {exception}."
        elif isinstance(exception, TwinApiError):
            log.warning("twin refused a voice request: %s", exception)
            speech = f"The charger's controller refused that: {exception.message}."
        else:
            log.exception("Alexa request failed", exc_info=exception)
            speech = "I couldn't reach the charger's controller just now. Please try again."
        builder = handler_input.response_builder
        return builder.speak(speech).set_should_end_session(True).response


def build_skill(skill_id: str | None = None) -> CustomSkill:
    """The skill with every handler, in the order they are tried."""
    builder = SkillBuilder()
    if skill_id is not None:
        builder.skill_id = skill_id  # type: ignore[assignment]
    for handler in (
        SessionEndedHandler(),
        UnlinkedHandler(),
        LaunchHandler(),
        StartHandler(),
        StopChargingHandler(),
        OneShotStopHandler(),
        StatusHandler(),
        ChargeLevelHandler(),
        ScheduleHandler(),
        ReadyByHandler(),
        SetCurrentHandler(),
        CancelScheduleHandler(),
        HelpHandler(),
        GoodbyeHandler(),
        FallbackHandler(),
        UnknownRequestHandler(),
    ):
        builder.add_request_handler(handler)
    builder.add_exception_handler(ErrorHandler())
    return builder.create()
