"""The Alexa skill end to end: signed request envelopes over HTTP, a real twin, real charge logic.

Every response is checked against ask-sdk-model's ResponseEnvelope: deserialized, then
re-serialized and compared with what was sent, so an unknown or misspelt key fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model.response_envelope import ResponseEnvelope

from tests.voice_rig import (
    ALEXA_USER,
    OTHER_CREDENTIAL,
    VOICE_CREDENTIAL,
    VoiceHome,
    alexa_envelope,
)

INTERACTION_MODEL = Path(__file__).resolve().parents[1] / "voice" / "alexa" / "interaction_model.json"
_serializer = DefaultSerializer()


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[VoiceHome]:
    h = VoiceHome(tmp_path)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


def checked(body: dict[str, Any]) -> dict[str, Any]:
    """The response as ask-sdk-model reads it; fails on keys the model does not know."""
    envelope = _serializer.deserialize(json.dumps(body), ResponseEnvelope)
    assert isinstance(envelope, ResponseEnvelope)
    assert _serializer.serialize(envelope) == body, "response changed on a model round trip"
    assert body["version"] == "1.0"
    response: dict[str, Any] = body["response"]
    return response


def speech(response: dict[str, Any]) -> str:
    ssml = response["outputSpeech"]["ssml"]
    assert ssml.startswith("<speak>") and ssml.endswith("</speak>")
    return str(ssml[len("<speak>"):-len("</speak>")])


async def ask(home: VoiceHome, intent: str, slots: dict[str, str | None] | None = None,
              **kw: Any) -> dict[str, Any]:
    status, body = await home.post_alexa(
        alexa_envelope("IntentRequest", home.clock, intent=intent, slots=slots, **kw)
    )
    assert status == 200, body
    return checked(body)


# --------------------------------------------------------------------------- the model


def test_interaction_model_has_every_intent_and_real_samples() -> None:
    model = json.loads(INTERACTION_MODEL.read_text())["interactionModel"]["languageModel"]
    intents = {i["name"]: i for i in model["intents"]}
    for name in ("StartChargingIntent", "StopChargingIntent", "StatusIntent", "ChargeLevelIntent",
                 "ScheduleChargingIntent", "ReadyByIntent", "SetCurrentIntent",
                 "CancelScheduleIntent", "AMAZON.HelpIntent", "AMAZON.StopIntent",
                 "AMAZON.CancelIntent", "AMAZON.FallbackIntent"):
        assert name in intents, name
    slot_types = {s["name"]: s["type"] for s in intents["ScheduleChargingIntent"]["slots"]}
    assert slot_types["time"] == "AMAZON.TIME" and slot_types["date"] == "AMAZON.DATE"
    assert slot_types["duration"] == "AMAZON.DURATION"
    assert "charge at {time}" in intents["ScheduleChargingIntent"]["samples"]
    assert "have the car ready by {time}" in intents["ReadyByIntent"]["samples"]
    assert "charge at {amps} amps" in intents["SetCurrentIntent"]["samples"]
    assert "how much charge has the car got" in intents["ChargeLevelIntent"]["samples"]
    # every {slot} in a sample is a declared slot of that intent
    for intent in intents.values():
        declared = {s["name"] for s in intent.get("slots", [])}
        for sample in intent["samples"]:
            for part in sample.split("{")[1:]:
                assert part.split("}")[0] in declared, (intent["name"], sample)


# --------------------------------------------------------------------------- sessions


async def test_launch_speaks_status_and_keeps_the_session_open(home: VoiceHome) -> None:
    home.plug()
    status, body = await home.post_alexa(alexa_envelope("LaunchRequest", home.clock))
    assert status == 200
    response = checked(body)
    assert speech(response).startswith("Charging at 7.7 kilowatts, 62 percent, full by ")
    assert response["shouldEndSession"] is False
    assert "reprompt" in response


async def test_session_ended_request_gets_an_empty_response(home: VoiceHome) -> None:
    status, body = await home.post_alexa(alexa_envelope("SessionEndedRequest", home.clock))
    assert status == 200
    assert checked(body) == {}


async def test_help_and_fallback_reprompt(home: VoiceHome) -> None:
    help_ = await ask(home, "AMAZON.HelpIntent", new_session=False)
    assert "charge at eleven pm" in speech(help_) and help_["shouldEndSession"] is False
    fallback = await ask(home, "AMAZON.FallbackIntent", new_session=False)
    assert speech(fallback).startswith("Sorry, I can't do that") and "reprompt" in fallback


# --------------------------------------------------------------------------- start / stop


async def test_stop_and_start_move_the_simulated_contactor(home: VoiceHome) -> None:
    home.plug()
    assert home.contactor
    stop = await ask(home, "StopChargingIntent")
    assert speech(stop) == "OK, I've paused charging. Say start charging when you want it back on."
    assert stop["shouldEndSession"] is True and stop["card"]["type"] == "Simple"
    assert home.desired()["charging_enabled"] is False
    home.advance(10)
    assert not home.contactor
    assert home.reported()["status"] == "SuspendedEVSE"

    again = await ask(home, "StopChargingIntent")
    assert speech(again) == "Charging is already paused."

    start = await ask(home, "StartChargingIntent")
    assert speech(start) == "OK, charging has resumed."
    home.advance(10)
    assert home.contactor and home.reported()["status"] == "Charging"


async def test_one_shot_stop_pauses_but_stop_inside_a_dialog_just_ends(home: VoiceHome) -> None:
    home.plug()
    inside = await ask(home, "AMAZON.StopIntent", new_session=False)
    assert speech(inside) == "OK." and inside["shouldEndSession"] is True
    assert "charging_enabled" not in home.desired()
    one_shot = await ask(home, "AMAZON.StopIntent", new_session=True)
    assert "paused charging" in speech(one_shot)
    home.advance(10)
    assert not home.contactor


async def test_start_when_unplugged_is_refused_with_the_reason(home: VoiceHome) -> None:
    response = await ask(home, "StartChargingIntent")
    assert speech(response).startswith("I can't start charging: the charger is unplugged.")
    assert home.desired() == {}


async def test_start_relays_the_utilitys_pause(home: VoiceHome) -> None:
    home.plug()
    await ask(home, "StopChargingIntent")
    # the demand-response source of the controller pauses charging (as an OpenADR event would)
    home.station.arbiter.set_limit(
        "demand_response", 0, "the utility has asked us to pause until 7 PM"
    )
    home.advance(5)
    response = await ask(home, "StartChargingIntent")
    assert speech(response) == (
        "OK, I've turned charging back on, but it can't start yet: "
        "the utility has asked us to pause until 7 PM."
    )
    status = await ask(home, "StatusIntent")
    assert speech(status).startswith(
        "The car is plugged in but not charging: the utility has asked us to pause until 7 PM."
    )


# --------------------------------------------------------------------------- questions


async def test_status_and_charge_level_have_numbers_units_and_local_times(home: VoiceHome) -> None:
    home.plug(soc=0.62)
    home.advance(60)
    status = await ask(home, "StatusIntent")
    text = speech(status)
    assert text.startswith("Charging at 7.7 kilowatts, 62 percent, full by ")
    assert "AM tomorrow" in text  # 20:00 local + ~7 h lands after midnight, home time
    level = await ask(home, "ChargeLevelIntent")
    level_text = speech(level)
    assert level_text.startswith("The car is at 62 percent, about 46.")
    assert "kilowatt-hours. It should be full by " in level_text
    home.unplug()
    unplugged = await ask(home, "StatusIntent")
    assert speech(unplugged) == "The charger is unplugged: no car is connected."


# --------------------------------------------------------------------------- schedules


async def test_charge_at_eleven_pm_writes_a_window_in_home_time(home: VoiceHome) -> None:
    home.plug()
    response = await ask(home, "ScheduleChargingIntent",
                         {"time": "23:00", "date": None, "duration": None, "end_time": None})
    assert speech(response) == "OK, I'll start charging at 11 PM today."
    (window,) = home.desired()["schedules"]
    assert window["id"] == "voice-charge-at"
    assert window["start"] == "2026-11-26T23:00:00-08:00"
    assert window["end"] == "2026-11-27T11:00:00-08:00"
    # the controller's own schedule handler took it
    reported = home.reported()
    assert reported["desired_status"]["schedules"]["state"] == "applied"
    assert [w["id"] for w in reported["schedule"]["definitions"]] == ["voice-charge-at"]


async def test_a_goal_the_controller_refuses_is_relayed_and_taken_back(home: VoiceHome) -> None:
    # no car plugged in: the controller cannot know its state of charge, and says so
    response = await ask(home, "ReadyByIntent",
                         {"time": "07:00", "date": None, "percent": "80", "energy": None})
    assert speech(response) == (
        "The charger wouldn't set that ready-by time: departure_goal.target_soc_pct: the EV's "
        "state of charge is not known to this charger; give energy_wh instead."
    )
    assert "departure_goal" not in home.desired()


async def test_schedule_without_a_time_elicits_the_slot(home: VoiceHome) -> None:
    response = await ask(home, "ScheduleChargingIntent",
                         {"time": None, "date": None, "duration": None, "end_time": None},
                         dialog_state="STARTED")
    assert speech(response) == "What time should charging start?"
    assert response["shouldEndSession"] is False
    (directive,) = response["directives"]
    assert directive["type"] == "Dialog.ElicitSlot" and directive["slotToElicit"] == "time"
    assert directive["updatedIntent"]["name"] == "ScheduleChargingIntent"


async def test_a_date_already_past_asks_again(home: VoiceHome) -> None:
    response = await ask(home, "ScheduleChargingIntent",
                         {"time": "08:00", "date": "2026-11-26", "duration": None,
                          "end_time": None})
    assert speech(response) == "8 AM today is already in the past. What time do you want?"
    assert response["directives"][0]["slotToElicit"] == "time"


async def test_ready_by_seven_am_sets_the_departure_goal(home: VoiceHome) -> None:
    home.plug(soc=0.62)
    response = await ask(home, "ReadyByIntent",
                         {"time": "07:00", "date": None, "percent": "80", "energy": None})
    assert speech(response) == "OK, the car will be at 80 percent by 7 AM tomorrow."
    goal = home.desired()["departure_goal"]
    assert goal == {"ready_by": "2026-11-27T07:00:00-08:00", "target_soc_pct": 80,
                    "battery_kwh": 75.0}
    assert home.reported()["desired_status"]["departure_goal"]["state"] == "applied"
    cancel = await ask(home, "CancelScheduleIntent")
    assert speech(cancel) == "OK, I've cancelled the charging time and ready-by goal."
    assert "departure_goal" not in home.desired()


async def test_ready_by_an_impossible_goal_says_the_shortfall(home: VoiceHome) -> None:
    home.plug(soc=0.10)
    response = await ask(home, "ReadyByIntent",
                         {"time": "21:00", "date": None, "percent": None, "energy": None})
    text = speech(response)
    assert text.startswith("OK, the car will be full by 9 PM today.")
    assert "short" in text and "kilowatt-hours" in text


# --------------------------------------------------------------------------- current


async def test_set_current_changes_the_offer_and_refuses_above_the_dip(home: VoiceHome) -> None:
    home.plug()
    response = await ask(home, "SetCurrentIntent", {"amps": "16"})
    assert speech(response) == "OK, I'll charge at up to 16 amps, about 3.8 kilowatts."
    home.advance(20)
    assert home.board.offered_a == pytest.approx(16, abs=0.5)
    too_much = await ask(home, "SetCurrentIntent", {"amps": "40"})
    assert speech(too_much) == (
        "I can set the charging current to a whole number of amps from 6 to 32; 40 amps is "
        "outside that."
    )
    assert home.desired()["current_limit_a"] == 16
    missing = await ask(home, "SetCurrentIntent", {"amps": "?"})
    assert missing["directives"][0]["slotToElicit"] == "amps"


# --------------------------------------------------------------------------- linking and trust


async def test_an_unlinked_alexa_account_cannot_steer_the_charger(home: VoiceHome) -> None:
    home.plug()
    response = await ask(home, "StopChargingIntent", user_id="amzn1.ask.account.STRANGER",
                         access_token=OTHER_CREDENTIAL)
    assert response["card"] == {"type": "LinkAccount"}
    assert "isn't linked" in speech(response)
    assert home.desired() == {}


async def test_account_linking_token_links_the_home(home: VoiceHome) -> None:
    home.plug()
    response = await ask(home, "StopChargingIntent", user_id="amzn1.ask.account.OTHERDEVICE",
                         access_token=VOICE_CREDENTIAL)
    assert "paused" in speech(response)
    assert ALEXA_USER != "amzn1.ask.account.OTHERDEVICE"


async def test_unsigned_tampered_stale_and_foreign_requests_are_refused(home: VoiceHome) -> None:
    env = alexa_envelope("IntentRequest", home.clock, intent="StopChargingIntent")
    status, body = await home.post_alexa(env, sign=False)
    assert status == 400 and "Signature" in body["error"]["message"]
    status, body = await home.post_alexa(env, headers={"Signature-256": "AAAA"})
    assert status == 400
    old = datetime.fromtimestamp(home.clock.now(), tz=timezone.utc) - timedelta(minutes=10)
    status, body = await home.post_alexa(
        alexa_envelope("IntentRequest", home.clock, intent="StopChargingIntent", timestamp=old)
    )
    assert status == 400 and "TimestampTooOld" in body["error"]["message"]
    status, body = await home.post_alexa(
        alexa_envelope("IntentRequest", home.clock, intent="StopChargingIntent",
                       skill_id="amzn1.ask.skill.someone-else")
    )
    assert status == 400 and "skill" in body["error"]["message"]
    assert home.desired() == {}


