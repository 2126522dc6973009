"""HTTP control surface of the simulated charger (docs/simulator.md).

Lets a person (or a test) act on the world around the board: plug an EV in, present a card,
inject faults, cut power.  Only served by ``mq200 run --sim``; needs a client token.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from twin.auth import TokenRegistry
from twin.physics.ev import EVSpec
from twin.physics.faults import BoardFault
from twin.pty_board import PtyBoard

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/sim"


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{key} must be a number within {lo:g}…{hi:g}, got {value!r}")
    return float(value)


def board_state(pty: PtyBoard) -> dict[str, Any]:
    board = pty.board
    ev = board.ev
    return {
        "powered": board.powered,
        "contactor": board.contactor_closed,
        "pwm_duty": board.pwm_duty,
        "offered_a": board.offered_a,
        "pilot": board.reported_pilot.value if board.reported_pilot else None,
        "current_a": round(board.true_current_a, 3),
        "energy_wh": round(board.true_energy_wh, 1),
        "temperature_c": round(board.temperature_c, 2),
        "faults": sorted(f.value for f in board.faults),
        "led": board.led.value,
        "display": board.display_text,
        "ev": None if ev is None else {"soc": round(ev.soc, 4), "pilot": ev.state.value,
                                       "battery_kwh": ev.spec.battery_kwh},
    }


def sim_routes(app: web.Application, pty: PtyBoard, tokens: TokenRegistry) -> None:
    async def body_of(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json()
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    def guarded(action: Callable[[dict[str, Any]], None]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            principal = tokens.authenticate(request.headers.get("Authorization"))
            if principal is None:
                return _error(401, "unauthorized", "a Bearer token is required")
            if principal.role != "client":
                return _error(403, "forbidden", "the simulator takes client tokens")
            try:
                action(await body_of(request))
            except (ValueError, TypeError) as exc:
                return _error(422, "invalid", str(exc))
            return web.json_response(board_state(pty))

        return handler

    def plug(body: dict[str, Any]) -> None:
        spec = EVSpec(
            battery_kwh=_number(body, "battery_kwh", 60.0, 1, 300),
            max_current_a=_number(body, "max_a", 32.0, 1, 80),
        )
        pty.plug(spec, soc=_number(body, "soc", 0.5, 0, 1),
                 target_soc=_number(body, "target_soc", 1.0, 0, 1),
                 needs_ventilation=bool(body.get("needs_ventilation", False)))

    def fault_of(body: dict[str, Any]) -> BoardFault:
        name = body.get("fault")
        try:
            return BoardFault(name)
        except ValueError:
            known = ", ".join(f.value for f in BoardFault)
            raise ValueError(f"unknown fault {name!r}; one of {known}") from None

    def tag(body: dict[str, Any]) -> None:
        uid = body.get("uid")
        if not isinstance(uid, str):
            raise ValueError("uid must be a string")
        pty.present_tag(uid)

    def power(body: dict[str, Any]) -> None:
        on = body.get("on")
        if not isinstance(on, bool):
            raise ValueError("on must be true or false")
        if on:
            pty.restore_power()
        else:
            pty.cut_power()

    def unplug(_body: dict[str, Any]) -> None:
        pty.unplug()

    async def state(request: web.Request) -> web.StreamResponse:
        if tokens.authenticate(request.headers.get("Authorization")) is None:
            return _error(401, "unauthorized", "a Bearer token is required")
        return web.json_response(board_state(pty))

    r = app.router
    r.add_get(f"{PREFIX}/state", state)
    r.add_post(f"{PREFIX}/plug", guarded(plug))
    r.add_post(f"{PREFIX}/unplug", guarded(unplug))
    r.add_post(f"{PREFIX}/tag", guarded(tag))
    r.add_post(f"{PREFIX}/fault", guarded(lambda b: pty.inject_fault(fault_of(b))))
    r.add_post(f"{PREFIX}/clear", guarded(lambda b: pty.clear_fault(fault_of(b))))
    r.add_post(f"{PREFIX}/power", guarded(power))
    r.add_post(
        f"{PREFIX}/ambient",
        guarded(lambda b: pty.set_ambient(_number(b, "celsius", 25.0, -60, 100))),
    )
    r.add_post(
        f"{PREFIX}/voltage",
        guarded(lambda b: pty.set_grid_voltage(_number(b, "volts", 240.0, 0, 320))),
    )
