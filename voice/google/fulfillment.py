"""Google Assistant Smart Home fulfillment: SYNC, QUERY, EXECUTE, DISCONNECT for one home.

The charger is one device of type CHARGER with the EnergyStorage, StartStop (pausable) and
OnOff traits.  Every command becomes a :class:`ChargerVoice` action, so Google gets the same
behaviour as Alexa; the outcome is mapped onto the platform's own status and error codes
(``deviceUnplugged`` for an unplugged car, ``offline`` when the controller is away) so the
Assistant can say what is really wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twin.client import TwinApiError
from twin.documents import JsonObject, JsonValue
from voice.charger_view import ChargerView
from voice.charger_voice import ChargerVoice, Outcome, VoiceReply

log = logging.getLogger(__name__)

DEVICE_TYPE = "action.devices.types.CHARGER"
TRAIT_ENERGY = "action.devices.traits.EnergyStorage"
TRAIT_STARTSTOP = "action.devices.traits.StartStop"
TRAIT_ONOFF = "action.devices.traits.OnOff"

CMD_ONOFF = "action.devices.commands.OnOff"
CMD_STARTSTOP = "action.devices.commands.StartStop"
CMD_PAUSE = "action.devices.commands.PauseUnpause"
CMD_CHARGE = "action.devices.commands.Charge"

#: command -> (parameter name, whether True means "charging enabled")
_COMMAND_PARAMS: dict[str, tuple[str, bool]] = {
    CMD_ONOFF: ("on", True),
    CMD_STARTSTOP: ("start", True),
    CMD_PAUSE: ("pause", False),
    CMD_CHARGE: ("charge", True),
}

#: what Google should say when the wish was already true: (enable, disable)
_ALREADY_CODES: dict[str, tuple[str, str]] = {
    CMD_ONOFF: ("alreadyOn", "alreadyOff"),
    CMD_STARTSTOP: ("alreadyStarted", "alreadyStopped"),
    CMD_PAUSE: ("alreadyStarted", "alreadyPaused"),
    CMD_CHARGE: ("alreadyStarted", "alreadyStopped"),
}

_OUTCOME_ERRORS: dict[Outcome, str] = {
    Outcome.UNPLUGGED: "deviceUnplugged",
    Outcome.FAULTED: "hardwareFailure",
    Outcome.REJECTED: "actionNotAvailable",
    Outcome.INVALID: "valueOutOfRange",
}


class GoogleRequestError(ValueError):
    """The request is not a Smart Home intent request (HTTP 400); the message says why."""


@dataclass(frozen=True)
class DeviceNames:
    name: str = "Car charger"
    nicknames: tuple[str, ...] = ("charger", "car charger", "EV charger")
    room_hint: str | None = "Garage"


def _descriptive(soc: float | None) -> str:
    """EnergyStorage requires a descriptive level; without a SoC it is a neutral MEDIUM."""
    if soc is None:
        return "MEDIUM"
    if soc >= 100:
        return "FULL"
    if soc >= 75:
        return "HIGH"
    if soc >= 25:
        return "MEDIUM"
    if soc >= 10:
        return "LOW"
    return "CRITICALLY_LOW"


def device_states(view: ChargerView, full: Mapping[str, JsonValue] | None) -> JsonObject:
    """QUERY/EXECUTE states of the charger device."""
    if not view.online:
        return {"online": False, "status": "OFFLINE", "errorCode": "offline"}
    states: JsonObject = {
        "online": True,
        "status": "SUCCESS",
        "on": view.enabled,
        "isRunning": view.charging,
        "isPaused": view.user_paused and view.plugged_in,
        "isCharging": view.charging,
        "isPluggedIn": view.plugged_in,
        "descriptiveCapacityRemaining": _descriptive(view.soc_pct if view.plugged_in else None),
    }
    soc = view.soc_pct if view.plugged_in else None
    if soc is not None:
        remaining: list[JsonValue] = [{"rawValue": int(round(soc)), "unit": "PERCENTAGE"}]
        until_full: list[JsonValue] = [{"rawValue": int(round(100 - soc)), "unit": "PERCENTAGE"}]
        if view.battery_kwh is not None:
            remaining.append(
                {"rawValue": int(round(view.battery_kwh * soc / 100)), "unit": "KILOWATT_HOURS"}
            )
            until_full.append(
                {"rawValue": int(round(view.battery_kwh * (100 - soc) / 100)),
                 "unit": "KILOWATT_HOURS"}
            )
        seconds = full.get("seconds") if full else None
        if view.charging and isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            until_full.insert(0, {"rawValue": int(seconds), "unit": "SECONDS"})
        states["capacityRemaining"] = remaining
        states["capacityUntilFull"] = until_full
    if view.faults:
        states["status"] = "EXCEPTIONS"
        states["errorCode"] = "hardwareFailure"
    return states


class GoogleFulfillment:
    """Answers one home's intents; the route has already authenticated the home."""

    def __init__(self, names: DeviceNames | None = None) -> None:
        self.names = names or DeviceNames()

    async def handle(self, voice: ChargerVoice, agent_user_id: str, body: Any) -> JsonObject:
        request_id, intent, payload = _parse(body)
        if intent == "action.devices.SYNC":
            return await self._sync(voice, agent_user_id, request_id)
        if intent == "action.devices.QUERY":
            return await self._query(voice, request_id, payload)
        if intent == "action.devices.EXECUTE":
            return await self._execute(voice, request_id, payload)
        if intent == "action.devices.DISCONNECT":
            log.info("Google account unlinked for %s", agent_user_id)
            return {}
        raise GoogleRequestError(f"inputs[0].intent: {intent!r} is not a Smart Home intent")

    async def _sync(self, voice: ChargerVoice, agent_user_id: str, request_id: str) -> JsonObject:
        state = await voice.twin.get_state()
        firmware = state.reported.get("firmware")
        device: JsonObject = {
            "id": state.device_id,
            "type": DEVICE_TYPE,
            "traits": [TRAIT_ENERGY, TRAIT_STARTSTOP, TRAIT_ONOFF],
            "name": {
                "defaultNames": ["MQ 200 charger"],
                "name": self.names.name,
                "nicknames": list(self.names.nicknames),
            },
            "willReportState": False,
            "attributes": {
                "isRechargeable": True,
                "queryOnlyEnergyStorage": False,
                "pausable": True,
                "commandOnlyOnOff": False,
                "queryOnlyOnOff": False,
            },
            "deviceInfo": {
                "manufacturer": "MQ",
                "model": "MQ 200",
                "swVersion": firmware if isinstance(firmware, str) else "unknown",
            },
        }
        if self.names.room_hint:
            device["roomHint"] = self.names.room_hint
        return {"requestId": request_id,
                "payload": {"agentUserId": agent_user_id, "devices": [device]}}

    async def _current(self, voice: ChargerVoice) -> tuple[str, JsonObject]:
        view = await voice.view()
        full: JsonObject | None = None
        if view.online and view.charging:
            answer = await voice.twin.whatif()
            candidate = answer.get("full")
            full = candidate if isinstance(candidate, dict) else None
        return view.device_id, device_states(view, full)

    async def _query(self, voice: ChargerVoice, request_id: str, payload: JsonObject) -> JsonObject:
        devices = payload.get("devices")
        if not isinstance(devices, list):
            raise GoogleRequestError("inputs[0].payload.devices: must be a list")
        device_id, states = await self._current(voice)
        out: JsonObject = {}
        for index, target in enumerate(devices):
            target_id = target.get("id") if isinstance(target, dict) else None
            if not isinstance(target_id, str):
                raise GoogleRequestError(f"inputs[0].payload.devices[{index}].id: must be a string")
            out[target_id] = (
                states if target_id == device_id
                else {"online": False, "status": "ERROR", "errorCode": "deviceNotFound"}
            )
        return {"requestId": request_id, "payload": {"devices": out}}

    async def _execute(self, voice: ChargerVoice, request_id: str, payload: JsonObject) -> JsonObject:
        commands = payload.get("commands")
        if not isinstance(commands, list):
            raise GoogleRequestError("inputs[0].payload.commands: must be a list")
        device_id = (await voice.twin.get_state()).device_id
        results: list[JsonValue] = []
        for c_index, group in enumerate(commands):
            if not isinstance(group, dict):
                raise GoogleRequestError(f"commands[{c_index}]: must be an object")
            targets = _ids(group.get("devices"), f"commands[{c_index}].devices")
            executions = group.get("execution")
            if not isinstance(executions, list):
                raise GoogleRequestError(f"commands[{c_index}].execution: must be a list")
            unknown: list[JsonValue] = [t for t in targets if t != device_id]
            if unknown:
                results.append({"ids": unknown, "status": "ERROR", "errorCode": "deviceNotFound"})
            if device_id not in targets:
                continue
            for execution in executions:
                results.append(await self._run(voice, device_id, execution))
        return {"requestId": request_id, "payload": {"commands": results}}

    async def _run(self, voice: ChargerVoice, device_id: str, execution: JsonValue) -> JsonObject:
        command = execution.get("command") if isinstance(execution, dict) else None
        params = execution.get("params") if isinstance(execution, dict) else None
        spec = _COMMAND_PARAMS.get(command) if isinstance(command, str) else None
        if spec is None or not isinstance(command, str):
            return {"ids": [device_id], "status": "ERROR", "errorCode": "functionNotSupported"}
        name, true_enables = spec
        value = params.get(name) if isinstance(params, dict) else None
        if not isinstance(value, bool):
            return {"ids": [device_id], "status": "ERROR", "errorCode": "notSupported"}
        enable = value if true_enables else not value
        try:
            reply = await voice.set_enabled(enable)
        except TwinApiError as exc:
            log.warning("Google %s failed at the twin: %s", command, exc)
            return {"ids": [device_id], "status": "ERROR", "errorCode": "transientError"}
        return _command_result(device_id, command, enable, reply)


def _command_result(device_id: str, command: str, enable: bool, reply: VoiceReply) -> JsonObject:
    ids: list[JsonValue] = [device_id]
    if reply.outcome is Outcome.OFFLINE:
        return {"ids": ids, "status": "OFFLINE", "errorCode": "offline"}
    if reply.outcome is Outcome.UNCONFIRMED:
        return {"ids": ids, "status": "PENDING"}
    if reply.outcome is Outcome.ALREADY:
        on_code, off_code = _ALREADY_CODES[command]
        return {"ids": ids, "status": "ERROR", "errorCode": on_code if enable else off_code}
    code = _OUTCOME_ERRORS.get(reply.outcome)
    if code is not None:
        return {"ids": ids, "status": "ERROR", "errorCode": code}
    states: JsonObject = {"online": True}
    if reply.view is not None:
        after = device_states(reply.view, None)
        states.update({k: v for k, v in after.items() if k not in ("status", "errorCode")})
    return {"ids": ids, "status": "SUCCESS", "states": states}


def _ids(value: JsonValue, where: str) -> list[str]:
    if not isinstance(value, list):
        raise GoogleRequestError(f"{where}: must be a list")
    ids: list[str] = []
    for index, item in enumerate(value):
        target = item.get("id") if isinstance(item, dict) else None
        if not isinstance(target, str):
            raise GoogleRequestError(f"{where}[{index}].id: must be a string")
        ids.append(target)
    return ids


def _parse(body: Any) -> tuple[str, str, JsonObject]:
    if not isinstance(body, dict):
        raise GoogleRequestError("body: must be a JSON object")
    request_id = body.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise GoogleRequestError("requestId: must be a non-empty string")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
        raise GoogleRequestError("inputs: must be a non-empty list of objects")
    intent = inputs[0].get("intent")
    if not isinstance(intent, str):
        raise GoogleRequestError("inputs[0].intent: must be a string")
    payload = inputs[0].get("payload", {})
    if not isinstance(payload, dict):
        raise GoogleRequestError("inputs[0].payload: must be an object")
    return request_id, intent, payload
