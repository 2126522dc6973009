"""Google Smart Home fulfillment against Google's own JSON schemas, on the simulated charger.

Every request we send and every response we get is validated with `jsonschema` against the
schemas in ../shared/oracles/google-smart-home-schema (intent envelopes, then each trait's
attributes / states / command params, found through the trait's index.yaml and resolved in
a `referencing` registry), plus the platform's error-code list.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.voice_rig import DEVICE_ID, OTHER_CREDENTIAL, VoiceHome

SCHEMAS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "oracles" / "google-smart-home-schema"
)
BASE = "https://smart-home-schema.test/"


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.rglob("*.schema.json"):
        contents = json.loads(path.read_text())
        uri = BASE + path.relative_to(SCHEMAS).as_posix()
        resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def _trait_index(trait: str) -> dict[str, Any]:
    short = trait.rsplit(".", 1)[1].lower()
    index = yaml.safe_load((SCHEMAS / "traits" / short / "index.yaml").read_text())
    assert index["name"] == trait
    index["_dir"] = f"traits/{short}/"
    return dict(index)


def validate(uri_path: str, instance: Any) -> None:
    validator = jsonschema.Draft7Validator(
        {"$ref": BASE + uri_path}, registry=REGISTRY,
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def validate_error_code(code: str) -> None:
    validate("platform/errors.schema.json", code)


def validate_trait_part(trait: str, part: str, instance: Any) -> None:
    index = _trait_index(trait)
    validate(index["_dir"] + index[part]["$ref"], instance)


def validate_states(traits: list[str], states: dict[str, Any]) -> None:
    trait_states = {k: v for k, v in states.items() if k not in ("online", "status", "errorCode")}
    for trait in traits:
        validate_trait_part(trait, "states", trait_states)
    if "errorCode" in states:
        validate_error_code(states["errorCode"])


TRAITS = [
    "action.devices.traits.EnergyStorage",
    "action.devices.traits.StartStop",
    "action.devices.traits.OnOff",
]


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[VoiceHome]:
    h = VoiceHome(tmp_path)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


async def fulfill(home: VoiceHome, intent: str, payload: dict[str, Any] | None = None,
                  token: str | None = None) -> dict[str, Any]:
    short = intent.rsplit(".", 1)[1].lower()
    request: dict[str, Any] = {"requestId": str(uuid.uuid4()), "inputs": [{"intent": intent}]}
    if payload is not None:
        request["inputs"][0]["payload"] = payload
    validate(f"intents/{short}/{short}.request.schema.json", request)
    kwargs = {"token": token} if token is not None else {}
    status, body = await home.call("POST", "/voice/google", body=request, **kwargs)
    assert status == 200, body
    validate(f"intents/{short}/{short}.response.schema.json", body)
    if short != "disconnect":
        assert body["requestId"] == request["requestId"]
    return dict(body)


async def query(home: VoiceHome) -> dict[str, Any]:
    body = await fulfill(home, "action.devices.QUERY", {"devices": [{"id": DEVICE_ID}]})
    states = body["payload"]["devices"][DEVICE_ID]
    if states["status"] in ("SUCCESS", "EXCEPTIONS"):
        validate_states(TRAITS, states)
    return dict(states)


async def execute(home: VoiceHome, command: str, params: dict[str, Any],
                  device: str = DEVICE_ID) -> list[dict[str, Any]]:
    trait = next(t for t in TRAITS if command in _trait_index(t).get("commands", {}))
    index = _trait_index(trait)
    validate(index["_dir"] + index["commands"][command]["params"]["$ref"], params)
    body = await fulfill(home, "action.devices.EXECUTE", {"commands": [{
        "devices": [{"id": device}], "execution": [{"command": command, "params": params}],
    }]})
    results = body["payload"]["commands"]
    for result in results:
        if "errorCode" in result:
            validate_error_code(result["errorCode"])
        if "states" in result:
            validate_states(TRAITS, result["states"])
    return list(results)


# --------------------------------------------------------------------------- SYNC


async def test_sync_describes_a_charger_with_its_traits(home: VoiceHome) -> None:
    body = await fulfill(home, "action.devices.SYNC")
    assert body["payload"]["agentUserId"] == "home"
    (device,) = body["payload"]["devices"]
    assert device["id"] == DEVICE_ID
    assert device["type"] == "action.devices.types.CHARGER"
    assert device["traits"] == TRAITS
    charger_type = yaml.safe_load((SCHEMAS / "types" / "charger" / "index.yaml").read_text())
    for required in charger_type["traits"]["required"]:
        assert f"action.devices.traits.{required}" in device["traits"]
    for trait in TRAITS:
        validate_trait_part(trait, "attributes", device["attributes"])
    assert device["attributes"]["isRechargeable"] is True
    assert device["attributes"]["pausable"] is True
    assert device["deviceInfo"]["swVersion"] == "0.1.0-test"


# --------------------------------------------------------------------------- QUERY


async def test_query_while_charging_reports_level_and_time_to_full(home: VoiceHome) -> None:
    home.plug(soc=0.62)
    home.advance(60)
    states = await query(home)
    assert states["online"] is True and states["status"] == "SUCCESS"
    assert states["isCharging"] is True and states["isRunning"] is True
    assert states["isPluggedIn"] is True and states["on"] is True
    assert states["descriptiveCapacityRemaining"] == "MEDIUM"
    assert {"rawValue": 62, "unit": "PERCENTAGE"} in states["capacityRemaining"]
    units = [c["unit"] for c in states["capacityUntilFull"]]
    assert units[0] == "SECONDS" and "KILOWATT_HOURS" in units


async def test_query_unplugged_is_success_not_an_error(home: VoiceHome) -> None:
    states = await query(home)
    assert states["status"] == "SUCCESS" and states["online"] is True
    assert states["isPluggedIn"] is False and states["isCharging"] is False
    assert "errorCode" not in states


async def test_query_offline_and_unknown_device(home: VoiceHome) -> None:
    home.service.set_online(False)  # the controller's connection to the twin dropped
    states = await query(home)
    assert states == {"online": False, "status": "OFFLINE", "errorCode": "offline"}
    validate_error_code(states["errorCode"])
    body = await fulfill(home, "action.devices.QUERY", {"devices": [{"id": "someone-else"}]})
    assert body["payload"]["devices"]["someone-else"]["errorCode"] == "deviceNotFound"


# --------------------------------------------------------------------------- EXECUTE


async def test_pause_and_unpause_drive_the_contactor(home: VoiceHome) -> None:
    home.plug()
    assert home.contactor
    (paused,) = await execute(home, "action.devices.commands.PauseUnpause", {"pause": True})
    assert paused["status"] == "SUCCESS"
    assert paused["states"]["isPaused"] is True and paused["states"]["on"] is False
    home.advance(10)
    assert not home.contactor
    (again,) = await execute(home, "action.devices.commands.PauseUnpause", {"pause": True})
    assert again == {"ids": [DEVICE_ID], "status": "ERROR", "errorCode": "alreadyPaused"}
    (resumed,) = await execute(home, "action.devices.commands.PauseUnpause", {"pause": False})
    assert resumed["status"] == "SUCCESS"
    home.advance(10)
    assert home.contactor
    assert (await query(home))["isCharging"] is True


async def test_onoff_and_charge_commands(home: VoiceHome) -> None:
    home.plug()
    (off,) = await execute(home, "action.devices.commands.OnOff", {"on": False})
    assert off["status"] == "SUCCESS"
    home.advance(10)
    assert not home.contactor and (await query(home))["on"] is False
    (charge,) = await execute(home, "action.devices.commands.Charge", {"charge": True})
    assert charge["status"] == "SUCCESS"
    home.advance(10)
    assert home.contactor
    (already,) = await execute(home, "action.devices.commands.StartStop", {"start": True})
    assert already["errorCode"] == "alreadyStarted"


async def test_start_when_unplugged_says_device_unplugged(home: VoiceHome) -> None:
    (result,) = await execute(home, "action.devices.commands.StartStop", {"start": True})
    assert result == {"ids": [DEVICE_ID], "status": "ERROR", "errorCode": "deviceUnplugged"}
    assert home.desired() == {}


async def test_execute_offline_unknown_device_and_unknown_command(home: VoiceHome) -> None:
    home.plug()
    home.service.set_online(False)
    (offline,) = await execute(home, "action.devices.commands.OnOff", {"on": False})
    assert offline == {"ids": [DEVICE_ID], "status": "OFFLINE", "errorCode": "offline"}
    assert home.desired() == {}
    home.service.set_online(True)
    (missing,) = await execute(home, "action.devices.commands.OnOff", {"on": False},
                               device="not-mine")
    assert missing == {"ids": ["not-mine"], "status": "ERROR", "errorCode": "deviceNotFound"}
    body = await fulfill(home, "action.devices.EXECUTE", {"commands": [{
        "devices": [{"id": DEVICE_ID}],
        "execution": [{"command": "action.devices.commands.BrightnessAbsolute",
                       "params": {"brightness": 50}}],
    }]})
    assert body["payload"]["commands"][0]["errorCode"] == "functionNotSupported"


# --------------------------------------------------------------------------- DISCONNECT, auth


async def test_disconnect_answers_an_empty_object(home: VoiceHome) -> None:
    assert await fulfill(home, "action.devices.DISCONNECT") == {}


async def test_requests_need_this_homes_token(home: VoiceHome) -> None:
    request = {"requestId": str(uuid.uuid4()), "inputs": [{"intent": "action.devices.SYNC"}]}
    for token in (None, OTHER_CREDENTIAL, "x" * 40):
        status, body = await home.call("POST", "/voice/google", token=token, body=request)
        assert status == 401, token
        assert body["error"]["code"] == "unauthorized"


async def test_malformed_requests_are_400_with_the_field(home: VoiceHome) -> None:
    status, body = await home.call("POST", "/voice/google", body={"inputs": []})
    assert status == 400 and "requestId" in body["error"]["message"]
    status, body = await home.call(
        "POST", "/voice/google",
        body={"requestId": "r", "inputs": [{"intent": "action.devices.QUERY", "payload": {}}]},
    )
    assert status == 400 and "devices" in body["error"]["message"]
