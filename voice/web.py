"""Mount every voice front end on an aiohttp application (the daemon's, next to the twin).

``add_voice_routes(app, homes, ...)`` adds:

- ``POST /voice/alexa`` — the Alexa custom skill (signature-verified unless told otherwise);
- ``POST /voice/google`` — Google Smart Home fulfillment (Bearer = the home's voice credential);
- ``GET|POST /voice/v1/<action>`` — Siri Shortcuts (Bearer = the home's voice credential);
- optionally the fauxmo switch, started and stopped with the app.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from twin.client import TwinApiError
from voice.fauxmo.server import ChargerSwitch, serve_charger_switch
from voice.google.fulfillment import DeviceNames, GoogleFulfillment, GoogleRequestError
from voice.home_links import HomeLink, VoiceHomes
from voice.shortcuts import SHORTCUT_ACTIONS, ShortcutInputError, reply_body, run_shortcut

if TYPE_CHECKING:  # the Alexa SDK is imported only when the skill is mounted (~7 MB of RSS)
    from voice.alexa.endpoint import AlexaSettings

log = logging.getLogger(__name__)

PREFIX = "/voice"
HOMES_KEY = web.AppKey("voice_homes", VoiceHomes)
SWITCH_KEY = web.AppKey("voice_fauxmo_switch", list[ChargerSwitch])
SWITCH_FOLLOW_DELAY_S = 1.0


@dataclass(frozen=True)
class FauxmoSettings:
    link_name: str  # which linked home the LAN switch steers
    host: str = "0.0.0.0"
    port: int = 52001
    name: str = "car charger"
    advertise: bool = True
    advertise_ip: str | None = None


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _link(homes: VoiceHomes, request: web.Request) -> HomeLink | None:
    return homes.links.by_credential(_bearer(request))


async def _json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc.msg}") from None


def add_voice_routes(
    app: web.Application,
    homes: VoiceHomes,
    *,
    alexa: AlexaSettings | None = None,
    google: bool = True,
    google_names: DeviceNames | None = None,
    shortcuts: bool = True,
    fauxmo: FauxmoSettings | None = None,
) -> None:
    """Add the voice routes (and the switch's lifecycle) to ``app`` before it starts."""
    if fauxmo is not None and not any(link.name == fauxmo.link_name for link in homes.links):
        raise ValueError(f"fauxmo.link_name: no linked home is called {fauxmo.link_name!r}")
    app[HOMES_KEY] = homes
    app[SWITCH_KEY] = []
    r = app.router

    if alexa is not None:
        from voice.alexa.endpoint import AlexaEndpoint, handle_alexa

        endpoint = AlexaEndpoint(alexa, homes)

        async def alexa_route(request: web.Request) -> web.Response:
            body = await request.read()
            status, text = await handle_alexa(endpoint, dict(request.headers), body)
            return web.Response(text=text, status=status, content_type="application/json")

        r.add_post(f"{PREFIX}/alexa", alexa_route)

    if google:
        fulfillment = GoogleFulfillment(google_names)

        async def google_route(request: web.Request) -> web.Response:
            link = _link(homes, request)
            if link is None:
                return _error(401, "unauthorized", "a linked account's Bearer token is required")
            try:
                body = await _json_body(request)
                answer = await fulfillment.handle(homes.voice_for(link), link.name, body)
            except (GoogleRequestError, ValueError) as exc:
                return _error(400, "bad_request", str(exc))
            except TwinApiError as exc:
                log.warning("Google request failed at the twin: %s", exc)
                return _error(502, "twin_unavailable", exc.message)
            return web.json_response(answer)

        r.add_post(f"{PREFIX}/google", google_route)

    if shortcuts:
        for action, method in SHORTCUT_ACTIONS.items():
            r.add_route(method, f"{PREFIX}/v1/{action}", _shortcut_route(homes, action))

    async def start_switch(_app: web.Application) -> None:
        assert fauxmo is not None
        link = next(link for link in homes.links if link.name == fauxmo.link_name)
        switch = await serve_charger_switch(
            homes.voice_for(link), host=fauxmo.host, port=fauxmo.port, name=fauxmo.name,
            advertise=fauxmo.advertise, advertise_ip=fauxmo.advertise_ip,
            follow_after_s=SWITCH_FOLLOW_DELAY_S,  # the app's own site is not listening yet
        )
        app[SWITCH_KEY].append(switch)

    async def cleanup(_app: web.Application) -> None:
        for switch in app[SWITCH_KEY]:
            await switch.close()
        app[SWITCH_KEY].clear()
        await homes.close()

    if fauxmo is not None:
        app.on_startup.append(start_switch)
    app.on_cleanup.append(cleanup)


def _shortcut_route(homes: VoiceHomes, action: str) -> Any:
    async def route(request: web.Request) -> web.Response:
        link = _link(homes, request)
        if link is None:
            return _error(401, "unauthorized", "a Bearer token of a linked home is required")
        try:
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            reply = await run_shortcut(homes.voice_for(link), action, body)
        except ShortcutInputError as exc:
            return web.json_response(
                {"speech": exc.speech, "ok": False, "outcome": "needs_input",
                 "error": {"code": "invalid", "field": exc.field, "message": str(exc)}},
                status=422,
            )
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        except TwinApiError as exc:
            log.warning("Shortcut %s failed at the twin: %s", action, exc)
            return web.json_response(
                {"speech": "I couldn't reach the charger's controller just now.", "ok": False,
                 "outcome": "error", "error": {"code": exc.code, "message": exc.message}},
                status=502,
            )
        return web.json_response(reply_body(reply))

    return route
