"""The portal's routes: who may see what (middleware) and the page handlers."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import BodyPartReader, web

from controller.ocpp.config_keys import KEYS, KeyType
from controller.portal import html
from controller.portal.accounts import (
    PasswordPolicyError,
    check_policy,
    hash_password,
    verify_dummy,
    verify_password,
)
from controller.portal.pricing_form import pricing_from_form
from controller.portal.extra_settings import COMMUNICATION, OCPP_SERVICE, PRICING
from controller.portal.fields import FieldSpec, FormErrors, parse_form
from controller.portal.firmware import MAX_IMAGE_BYTES, FirmwareError
from controller.portal.html import csrf_input, e
from controller.portal.service import PortalService, stored_serial_number
from controller.portal.sessions import COOKIE_NAME, ActiveSession, csrf_matches
from controller.portal.station_form import SECTIONS, current_values, submit_station_section
from controller.portal.throttle import LoginThrottle
from controller.portal.token_api import TOKEN_PATH, add_token_route

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVICE_KEY = web.AppKey("portal_service", PortalService)
THROTTLE_KEY = web.AppKey("portal_throttle", LoginThrottle)
LOGIN_COOKIE = "mq200_login"
PREFIX = "/portal"
# The token API checks credentials itself (JSON, no cookie session: no CSRF; see token_api).
PUBLIC_PATHS = frozenset({f"{PREFIX}/login", f"{PREFIX}{TOKEN_PATH}"})
ALLOWED_BEFORE_CHANGE = frozenset({f"{PREFIX}/password", f"{PREFIX}/logout"})
ADMIN_PREFIX = f"{PREFIX}/security"
MULTIPART_CSRF_IN_BODY = frozenset({f"{PREFIX}/maintenance/firmware"})
KEEPALIVE_S = 15.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _svc(request: web.Request) -> PortalService:
    return request.app[SERVICE_KEY]


def _sess(request: web.Request) -> ActiveSession:
    session: ActiveSession = request["portal_session"]
    return session


def _role(user: str) -> str:
    return "admin" if user == "admin" else "maintain"


# ---------------------------------------------------------------------- middleware

@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _deny(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No anonymous access but the login page; CSRF on every POST; Security for admin only."""
    path = request.path
    if path in PUBLIC_PATHS:
        return await handler(request)
    svc = _svc(request)
    session = svc.sessions.lookup(request.cookies.get(COOKIE_NAME))
    if session is None:
        if request.method == "GET":
            target = quote(request.path_qs, safe="/?=&")
            raise web.HTTPSeeOther(f"{PREFIX}/login?next={target}")
        return _deny(401, "log in first")
    request["portal_session"] = session
    user = svc.accounts.get(session.user)
    if user is None:
        svc.sessions.end(session)
        return _deny(401, "log in first")
    if request.method == "POST":
        if not _same_origin(request):
            return _deny(403, "cross-site request refused")
        token = request.headers.get("X-CSRF-Token")
        if token is None and not (
            path in MULTIPART_CSRF_IN_BODY and request.content_type.startswith("multipart/")
        ):
            form = await request.post()
            field = form.get("csrf")
            token = field if isinstance(field, str) else None
            if not csrf_matches(session.csrf, token):
                return _deny(403, "the form's security token is missing or stale: reload the page")
        elif token is not None and not csrf_matches(session.csrf, token):
            return _deny(403, "the form's security token is missing or stale: reload the page")
    if user.must_change and path not in ALLOWED_BEFORE_CHANGE:
        if request.method == "GET":
            raise web.HTTPSeeOther(f"{PREFIX}/password")
        return _deny(403, "change the initial password first")
    if path.startswith(ADMIN_PREFIX) and session.user != "admin":
        return _deny(403, "the Security page is for the admin user")
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not sent by every browser on same-origin form posts; CSRF token still checked
    return urlsplit(origin).netloc == request.host


# ---------------------------------------------------------------------- rendering

def _render(
    request: web.Request,
    title: str,
    body: str,
    *,
    active: str = "",
    status: int = 200,
    flash: list[tuple[str, str]] | None = None,
    scripts: bool = False,
    data: Mapping[str, Any] | None = None,
) -> web.Response:
    session: ActiveSession | None = request.get("portal_session")
    messages = list(flash or [])
    if session is not None:
        messages = _svc(request).take_flash(session.token_hash) + messages
    text = html.page(
        title, body, active=active,
        user=session.user if session else None,
        role=_role(session.user) if session else None,
        csrf=session.csrf if session else "",
        flash=messages, scripts=scripts, data=data,
    )
    return web.Response(text=text, status=status, content_type="text/html")


def _redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def _flash(request: web.Request, kind: str, message_html: str) -> None:
    _svc(request).add_flash(_sess(request).token_hash, kind, message_html)


async def _form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(COOKIE_NAME, token, httponly=True, samesite="Strict", path=PREFIX,
                        secure=request.secure)


# ---------------------------------------------------------------------- login / logout / password

def _login_page(request: web.Request, token: str, message: str = "", status: int = 200,
                next_url: str = "") -> web.Response:
    err = f'<div class="flash bad" id="login-error">{e(message)}</div>' if message else ""
    body = (
        f'<section class="login"><h2>Log in</h2>{err}<form method=post action="{PREFIX}/login">'
        f'<input type=hidden name=login_csrf value="{e(token)}">'
        f'<input type=hidden name=next value="{e(next_url)}">'
        '<label for=username>User</label><input id=username name=username autocomplete=username>'
        '<label for=password>Password</label>'
        '<input id=password name=password type=password autocomplete=current-password>'
        '<button class=primary type=submit id=login>Log in</button></form>'
        '<p class=unit>First login: use the initial password on the charger\'s label.</p></section>'
    )
    response = _render(request, "Log in", body, status=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", path=PREFIX,
                        secure=request.secure)
    return response


async def login_get(request: web.Request) -> web.StreamResponse:
    return _login_page(request, secrets.token_urlsafe(24),
                       next_url=request.query.get("next", ""))


def _safe_next(value: str) -> str:
    if value.startswith(f"{PREFIX}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/status"


async def login_post(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    throttle = request.app[THROTTLE_KEY]
    form = await _form(request)
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not csrf_matches(cookie, form.get("login_csrf")):
        return _deny(403, "the login form's security token is missing or stale: reload the page")
    new_token = secrets.token_urlsafe(24)
    next_url = form.get("next", "")
    address = request.remote or "unknown"
    wait = throttle.retry_after(address)
    if wait > 0:
        return _login_page(request, new_token, f"Too many failed logins from this address; "
                           f"try again in {wait / 60:.0f} min.", 429, next_url)
    name = form.get("username", "").strip()
    password = form.get("password", "")
    user = svc.accounts.get(name) if len(name) <= 32 else None
    loop = asyncio.get_running_loop()
    if user is not None:
        locked = svc.accounts.locked_for(user)
        if locked > 0:
            return _login_page(request, new_token, f"Too many failed logins: '{name}' is locked "
                               f"for {locked / 60:.0f} more min.", 429, next_url)
        ok = await loop.run_in_executor(None, verify_password, user.password_hash, password[:256])
    else:
        ok = await loop.run_in_executor(None, verify_dummy, password[:256])
    if not ok or user is None:
        throttle.failed(address)
        lock = svc.accounts.record_failure(name) if user is not None else 0.0
        log.warning("portal login failed for %r from %s", name[:32], address)
        message = "Wrong user name or password."
        if lock:
            message += f" Too many failed logins: '{name}' is locked for {lock / 60:.0f} min."
        return _login_page(request, new_token, message, 401, next_url)
    throttle.succeeded(address)
    svc.accounts.record_success(name)
    token, _session = svc.sessions.create(name)
    log.info("portal login: %s from %s", name, address)
    target = f"{PREFIX}/password" if user.must_change else _safe_next(next_url)
    response = web.HTTPSeeOther(target)
    _set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_COOKIE, path=PREFIX)
    raise response


async def logout_post(request: web.Request) -> web.StreamResponse:
    _svc(request).sessions.end(_sess(request))
    response = web.HTTPSeeOther(f"{PREFIX}/login")
    response.del_cookie(COOKIE_NAME, path=PREFIX)
    raise response


def _password_body(request: web.Request, errors: Mapping[str, str]) -> str:
    session = _sess(request)
    user = _svc(request).accounts.get(session.user)
    forced = user is not None and user.must_change
    note = (
        '<div class="flash warn" id="forced-change">This is the first login with the initial '
        "password from the label: choose your own password to continue.</div>" if forced else ""
    )

    def box(name: str, label: str, auto: str) -> str:
        err = errors.get(name)
        msg = f'<div class="err" id="err-{name}">{e(err)}</div>' if err else ""
        cls = "field bad" if err else "field"
        return (f'<div class="{cls}"><label for="f-{name}">{label}</label>'
                f'<input type=password name={name} id="f-{name}" autocomplete={auto}>{msg}</div>')

    return (
        f"{note}<section><h2>Change password for {e(session.user)}</h2>"
        f'<form method=post action="{PREFIX}/password">{csrf_input(session.csrf)}'
        + box("current", "Current password", "current-password")
        + box("new", "New password (at least 10 characters)", "new-password")
        + box("confirm", "New password again", "new-password")
        + '<button class=primary type=submit id="change-password">Change password</button>'
        "</form></section>"
    )


async def password_get(request: web.Request) -> web.StreamResponse:
    return _render(request, "Change password", _password_body(request, {}), active="security")


async def password_post(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    session = _sess(request)
    form = await _form(request)
    current, new, confirm = (form.get(k, "") for k in ("current", "new", "confirm"))
    errors: dict[str, str] = {}
    user = svc.accounts.get(session.user)
    assert user is not None
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, verify_password, user.password_hash, current[:256]):
        errors["current"] = "the current password is wrong"
    try:
        check_policy(session.user, new, current=current)
    except PasswordPolicyError as exc:
        errors["new"] = str(exc)
    if new != confirm:
        errors["confirm"] = "the two new passwords differ"
    if errors:
        return _render(request, "Change password", _password_body(request, errors),
                       active="security", status=422)
    svc.accounts.set_password_hash(session.user, await loop.run_in_executor(None, hash_password, new))
    svc.sessions.end_all(session.user)
    token, fresh = svc.sessions.create(session.user)
    svc.add_flash(fresh.token_hash, "ok", "Password changed. Other sessions of this user were logged out.")
    log.info("portal password changed for %s", session.user)
    response = web.HTTPSeeOther(f"{PREFIX}/status")
    _set_session_cookie(request, response, token)
    raise response


# ---------------------------------------------------------------------- configuration pages

async def index(request: web.Request) -> web.StreamResponse:
    raise _redirect(f"{PREFIX}/status")


async def factory_get(request: web.Request) -> web.StreamResponse:
    facts = _svc(request).factory_facts()
    ids = {label: "fact-" + label.lower().replace(" ", "-") for label, _ in facts}
    body = f"<section><h2>Factory Settings</h2>{html.kv_table(facts, ids)}</section>"
    return _render(request, "Factory Settings", body, active="factory")


_SECTION_TITLES = {"general": "General settings", "warnings": "Warning settings",
                   "hours": "Default hours of operation", "gps": "GPS", "pricing": "Default pricing"}


def _station_body(request: web.Request, errors: Mapping[str, Mapping[str, str]],
                  raw: Mapping[str, Mapping[str, str]]) -> str:
    svc = _svc(request)
    csrf = _sess(request).csrf
    snap = svc.station.snapshot()
    values = current_values(svc.station)
    facts = html.kv_table([
        ("Output power type", "AC"), ("Phases", 1),
        ("Max amperage HW setting (DIP)", f"{snap.dip_max_a} A" if snap.dip_max_a else "—"),
        ("PWM amperage", f"{snap.offered_a:g} A"), ("Real amperage", f"{snap.current_a:g} A"),
    ], {"PWM amperage": "pwm-amperage", "Max amperage HW setting (DIP)": "hw-max"})
    parts = [f"<section><h2>Station</h2>{facts}</section>"]
    for section, specs in SECTIONS.items():
        parts.append(html.form_section(
            _SECTION_TITLES[section], f"{PREFIX}/station", csrf, specs, values,
            errors.get(section, {}), raw.get(section), hidden={"section": section},
            section_id=f"s-{section}"))
    parts.append(html.form_section(
        _SECTION_TITLES["pricing"], f"{PREFIX}/station", csrf, PRICING,
        svc.extra.get("pricing"), errors.get("pricing", {}), raw.get("pricing"),
        hidden={"section": "pricing"}, section_id="s-pricing"))
    return "".join(parts)


async def station_get(request: web.Request) -> web.StreamResponse:
    return _render(request, "Station Settings", _station_body(request, {}, {}), active="station")


async def station_post(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    session = _sess(request)
    form = await _form(request)
    section = form.get("section", "")
    try:
        if section == "pricing":
            values = parse_form(PRICING, form)
            if svc.host.apply_pricing is not None:  # the session pricer checks it first
                try:
                    svc.host.apply_pricing(pricing_from_form({**svc.extra.get("pricing"), **values}))
                except ValueError as exc:
                    raise FormErrors({"usage_billing_type": str(exc)}) from None
            reboot = svc.extra.update("pricing", values)
            changed = True
        elif section in SECTIONS:
            result = submit_station_section(svc.station, svc.host.service, section, form,
                                            session.user)
            reboot, changed = result.reboot_needed, bool(result.changed)
        else:
            raise FormErrors({"section": f"unknown section {section!r}"})
    except FormErrors as exc:
        body = _station_body(request, {section: exc.errors}, {section: form})
        flash = [("bad", f"Nothing was changed: {len(exc.errors)} field(s) need attention.")]
        return _render(request, "Station Settings", body, active="station", status=422, flash=flash)
    _saved_flash(request, reboot, changed)
    raise _redirect(f"{PREFIX}/station#s-{section}")


def _saved_flash(request: web.Request, reboot: list[str], changed: bool) -> None:
    bridge = _svc(request).host.bridge
    if bridge is not None:
        bridge.push()  # settings that moved no live value still reach reported.settings now
    if reboot:
        _flash(request, "warn", html.reboot_offer(_sess(request).csrf, reboot))
    else:
        _flash(request, "ok", "Saved." if changed else "No changes.")


def _ocpp_key_rows(request: web.Request, errors: Mapping[str, str],
                   raw: Mapping[str, str] | None) -> str:
    store = _svc(request).ocpp_config
    rows = []
    for name, definition in KEYS.items():
        value = raw.get(f"key:{name}", store.get(name)) if raw else store.get(name)
        err = errors.get(name)
        msg = f'<div class="err" id="err-key-{e(name)}">{e(err)}</div>' if err else ""
        star = ' <span class="star">*</span>' if definition.reboot_required else ""
        if definition.readonly:
            control = f'<span id="key-{e(name)}">{e(value)}</span>'
        elif definition.key_type is KeyType.BOOL:
            opts = "".join(f'<option{" selected" if value == v else ""}>{v}</option>'
                           for v in ("true", "false"))
            control = f'<select name="key:{e(name)}" id="key-{e(name)}">{opts}</select>'
        else:
            control = f'<input name="key:{e(name)}" id="key-{e(name)}" value="{e(value)}">'
        rows.append(
            f'<tr class="{"bad" if err else ""}"><td>{e(name)}{star}</td><td>{control}{msg}</td>'
            f"<td>{e(definition.key_type.value)}{' (read-only)' if definition.readonly else ''}</td>"
            f"<td>{e(definition.default)}</td></tr>"
        )
    return "".join(rows)


def _ocpp_body(request: web.Request, errors: Mapping[str, Mapping[str, str]],
               raw: Mapping[str, Mapping[str, str]]) -> str:
    svc = _svc(request)
    csrf = _sess(request).csrf
    service = html.form_section(
        "OCPP service", f"{PREFIX}/ocpp", csrf, OCPP_SERVICE, svc.extra.get("ocpp"),
        errors.get("service", {}), raw.get("service"), hidden={"section": "service"},
        section_id="s-service")
    keys = (
        f'<section id="s-keys"><h2>OCPP 1.6 configuration keys</h2><form method=post '
        f'action="{PREFIX}/ocpp">{csrf_input(csrf)}<input type=hidden name=section value=keys>'
        "<table><tr><th>Key</th><th>Value</th><th>Type</th><th>Default</th></tr>"
        f"{_ocpp_key_rows(request, errors.get('keys', {}), raw.get('keys'))}</table>"
        '<button class=primary type=submit>Apply</button></form></section>'
    )
    return service + keys


async def ocpp_get(request: web.Request) -> web.StreamResponse:
    return _render(request, "OCPP Settings", _ocpp_body(request, {}, {}), active="ocpp")


def _apply_ocpp_keys(svc: PortalService, form: Mapping[str, str]) -> list[str]:
    """Check every submitted key first; write only when all pass (ChangeConfiguration's door)."""
    store = svc.ocpp_config
    errors: dict[str, str] = {}
    changes: dict[str, str] = {}
    for field, value in form.items():
        if not field.startswith("key:"):
            continue
        name = field[4:]
        definition = KEYS.get(name)
        if definition is None:
            errors[name] = "unknown configuration key"
            continue
        if definition.readonly:
            errors[name] = "read-only key"
            continue
        max_items = store.get_int(definition.max_items_key) if definition.max_items_key else None
        try:
            normal = definition.check(value, max_items)
        except ValueError as exc:
            errors[name] = str(exc).removeprefix(f"{name}: ")
            continue
        if normal != store.get(name):
            changes[name] = normal
    if errors:
        raise FormErrors(errors)
    for name, value in changes.items():
        store.set(name, value)
    return [n for n in changes if KEYS[n].reboot_required]


async def ocpp_post(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    form = await _form(request)
    section = form.get("section", "")
    try:
        if section == "service":
            reboot = svc.extra.update("ocpp", parse_form(OCPP_SERVICE, form))
        elif section == "keys":
            reboot = _apply_ocpp_keys(svc, form)
        else:
            raise FormErrors({"section": f"unknown section {section!r}"})
    except FormErrors as exc:
        body = _ocpp_body(request, {section: exc.errors}, {section: form})
        flash = [("bad", f"Nothing was changed: {len(exc.errors)} field(s) need attention.")]
        return _render(request, "OCPP Settings", body, active="ocpp", status=422, flash=flash)
    _saved_flash(request, reboot, True)
    raise _redirect(f"{PREFIX}/ocpp#s-{section}")


_COMM_SECTIONS = {"network": "Network", "ethernet": "Ethernet", "wifi": "Wi-Fi",
                  "cellular": "Cellular", "llm": "Load management"}


def _comm_specs(section: str) -> tuple[FieldSpec, ...]:
    return tuple(s for s in COMMUNICATION if s.section == section)


def _communication_body(request: web.Request, errors: Mapping[str, Mapping[str, str]],
                        raw: Mapping[str, Mapping[str, str]]) -> str:
    svc = _svc(request)
    csrf = _sess(request).csrf
    values = svc.extra.get("communication")
    report = svc.network()
    address = {"Direct": "10.10.0.1", "Gateway": "10.10.0.1", "Client": "10.10.0.2"}
    facts = html.kv_table([
        ("Active network", report.active + " (simulated network)" if report.simulated else ""),
        ("Portal address", address.get(str(values["network_mode"]), "10.10.0.1")),
        ("Ethernet link", report.ethernet_link),
        ("Wi-Fi signal", f"{report.wifi_signal_dbm} dBm"),
        ("Wi-Fi networks found", ", ".join(report.wifi_scan)),
        ("Cellular signal", f"{report.cellular_signal_dbm} dBm"),
        ("ICCID", report.iccid), ("IMSI", report.imsi), ("IMEI", report.imei),
        ("Max group size", 20),
    ])
    parts = [f"<section><h2>Status</h2>{facts}</section>"]
    for section, title in _COMM_SECTIONS.items():
        parts.append(html.form_section(
            title, f"{PREFIX}/communication", csrf, _comm_specs(section), values,
            errors.get(section, {}), raw.get(section), hidden={"section": section},
            section_id=f"s-{section}"))
    return "".join(parts)


async def communication_get(request: web.Request) -> web.StreamResponse:
    return _render(request, "Communication Settings", _communication_body(request, {}, {}),
                   active="communication")


async def communication_post(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    form = await _form(request)
    section = form.get("section", "")
    try:
        if section not in _COMM_SECTIONS:
            raise FormErrors({"section": f"unknown section {section!r}"})
        reboot = svc.extra.update("communication", parse_form(_comm_specs(section), form))
    except FormErrors as exc:
        body = _communication_body(request, {section: exc.errors}, {section: form})
        flash = [("bad", f"Nothing was changed: {len(exc.errors)} field(s) need attention.")]
        return _render(request, "Communication Settings", body, active="communication",
                       status=422, flash=flash)
    _saved_flash(request, reboot, True)
    raise _redirect(f"{PREFIX}/communication#s-{section}")


# ---------------------------------------------------------------------- maintenance

def _maintenance_body(request: web.Request, errors: Mapping[str, str]) -> str:
    svc = _svc(request)
    csrf = _sess(request).csrf

    def err(name: str) -> str:
        return f'<div class="err" id="err-{name}">{e(errors[name])}</div>' if name in errors else ""

    confirm = ('<label><input type=checkbox name=confirm value=yes id="confirm-{0}"> '
               "{1}</label>")
    pending = stored_serial_number(svc.station)
    last = f"<p id=last-reboot>Last: {e(svc.last_reboot)}</p>" if svc.last_reboot else ""
    return (
        f'<section id=s-reboot><h2>Reboot</h2>{last}<form method=post action="{PREFIX}/maintenance/reboot">'
        f'{csrf_input(csrf)}{confirm.format("reboot", "Yes, reboot the charger")}{err("reboot")}'
        '<br><button class=primary type=submit id=reboot>Reboot</button></form></section>'
        f'<section id=s-reset><h2>Reset to MFG default</h2><p>Every setting and every password '
        "goes back to its factory state (new initial passwords are written to the label). "
        "Charging history and the energy meter stay.</p>"
        f'<form method=post action="{PREFIX}/maintenance/factory-reset">{csrf_input(csrf)}'
        f'{confirm.format("reset", "Yes, reset everything to factory default")}{err("reset")}'
        '<br><button class="primary danger" type=submit id=factory-reset>Reset to MFG default'
        "</button></form></section>"
        f'<section id=s-serial><h2>Change Serial Number</h2><form method=post '
        f'action="{PREFIX}/maintenance/serial">{csrf_input(csrf)}'
        f'<div class="field{" bad" if "serial" in errors else ""}"><label for=f-serial>'
        f'New serial number <span class=star>*</span></label><input name=serial id=f-serial '
        f'value="{e(pending or svc.serial_number)}">{err("serial")}</div>'
        '<button class=primary type=submit id=change-serial>Change</button></form></section>'
        f'<section id=s-firmware><h2>Firmware Upgrade</h2><p>Running firmware: '
        f'<b id=running-firmware>{e(svc.firmware.running_version)}</b>. Images must be signed '
        "by the vendor; the charger reboots into the new image when it has been checked.</p>"
        f'<form method=post action="{PREFIX}/maintenance/firmware" enctype="multipart/form-data" '
        f'id=firmware-form>{csrf_input(csrf)}'
        '<label><input type=checkbox name=allow_downgrade value=yes id=allow-downgrade> '
        "Install an older version (downgrades are allowed but discouraged)</label>"
        '<input type=file name=image id=firmware-file accept=".img,application/octet-stream">'
        '<progress id=firmware-progress max=100 value=0 hidden></progress>'
        '<div id=firmware-result role=status></div>'
        '<button class=primary type=submit id=firmware-upload>Upload</button></form></section>'
    )


async def maintenance_get(request: web.Request) -> web.StreamResponse:
    return _render(request, "Maintenance", _maintenance_body(request, {}), active="maintenance",
                   scripts=True)


def _confirmed(form: Mapping[str, str]) -> bool:
    return form.get("confirm") == "yes"


async def reboot_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    if not _confirmed(form):
        return _render(request, "Maintenance",
                       _maintenance_body(request, {"reboot": "tick the box to confirm"}),
                       active="maintenance", status=422, scripts=True)
    message = _svc(request).reboot(f"requested by {_sess(request).user} in the portal")
    _flash(request, "ok", e(message))
    raise _redirect(f"{PREFIX}/maintenance")


async def factory_reset_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    if not _confirmed(form):
        return _render(request, "Maintenance",
                       _maintenance_body(request, {"reset": "tick the box to confirm"}),
                       active="maintenance", status=422, scripts=True)
    _svc(request).factory_reset(_sess(request).user)
    response = web.HTTPSeeOther(f"{PREFIX}/login")
    response.del_cookie(COOKIE_NAME, path=PREFIX)
    raise response


async def serial_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    svc = _svc(request)
    try:
        svc.set_serial(form.get("serial", "").strip())
    except ValueError as exc:
        return _render(request, "Maintenance", _maintenance_body(request, {"serial": str(exc)}),
                       active="maintenance", status=422, scripts=True)
    _flash(request, "warn", html.reboot_offer(_sess(request).csrf, ["Serial number"]))
    raise _redirect(f"{PREFIX}/maintenance#s-serial")


async def firmware_post(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    session = _sess(request)
    wants_json = request.headers.get("X-Requested-With") == "portal"
    header_ok = csrf_matches(session.csrf, request.headers.get("X-CSRF-Token"))

    def answer(status: int, ok: bool, message: str, warning: str = "") -> web.StreamResponse:
        if wants_json:
            return web.json_response({"ok": ok, "message": message, "warning": warning},
                                     status=status)
        kind = "ok" if ok else "bad"
        flash = [(kind, e(message))] + ([("warn", e(warning))] if warning else [])
        return _render(request, "Maintenance", _maintenance_body(request, {}),
                       active="maintenance", status=status, flash=flash, scripts=True)

    if not request.content_type.startswith("multipart/"):
        return answer(422, False, "upload the image as a file (multipart form)")
    reader = await request.multipart()
    csrf_ok = header_ok
    allow_downgrade = False
    image: bytes | None = None
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "csrf":
            csrf_ok = csrf_ok or csrf_matches(session.csrf, (await part.text())[:200])
        elif part.name == "allow_downgrade":
            allow_downgrade = (await part.text())[:10] == "yes"
        elif part.name == "image":
            if not csrf_ok:
                break
            chunks = bytearray()
            while chunk := await part.read_chunk(65536):
                chunks += chunk
                if len(chunks) > MAX_IMAGE_BYTES:
                    return answer(413, False, f"image larger than {MAX_IMAGE_BYTES} bytes")
            image = bytes(chunks)
    if not csrf_ok:
        return _deny(403, "the form's security token is missing or stale: reload the page")
    if not image:
        return answer(422, False, "choose a firmware image file")
    try:
        result, message = svc.install_firmware(image, allow_downgrade)
    except FirmwareError as exc:
        log.warning("firmware upload by %s refused: %s", session.user, exc)
        return answer(422, False, f"Firmware refused: {exc}")
    log.warning("firmware %s installed by %s", result.version, session.user)
    warning = (f"{result.version} is older than {result.previous}: downgrade installed."
               if result.downgrade else "")
    return answer(200, True, f"Firmware {result.version} accepted. {message}", warning)


# ---------------------------------------------------------------------- status pages

def _status_body() -> str:
    tiles = "".join(
        f'<div class=tile><span>{label}</span><b class=big data-k="{key}">—</b></div>'
        for key, label in (("status", "Status"), ("power_w", "Power"), ("current_a", "Real current"),
                           ("offered_a", "PWM current"), ("voltage_v", "Voltage"),
                           ("temperature_c", "Temperature"), ("session_energy_wh", "Session energy"),
                           ("energy_wh", "Meter"))
    )
    return (
        f'<section><h2>Live</h2><div class=tiles>{tiles}</div>'
        '<p>Limit: <span data-k="limit_a"></span> — <span data-k="limit_reason"></span>. '
        'LED: <span data-k="led"></span>. Display: <span data-k="display"></span>. '
        'Faults: <span data-k="faults"></span>. <span id=live-state class=unit>connecting…</span></p>'
        "</section>"
        '<section><h2>Session</h2><div id=session-info>No session.</div>'
        '<svg id=power-chart viewBox="0 0 640 200" width="100%" height="220" role=img '
        'aria-label="power of the current session"></svg></section>'
        '<section><h2>Recent sessions</h2><svg id=energy-chart viewBox="0 0 640 160" width="100%" '
        'height="170" role=img aria-label="energy of recent sessions"></svg>'
        '<table id=session-table></table></section>'
    )


async def status_get(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    data = {"live": "status", "status": svc.status_payload(), "samples": svc.chart_samples(),
            "sessions": svc.recent_sessions()}
    return _render(request, "EVSE Status", _status_body(), active="status", scripts=True, data=data)


def _llm_body(request: web.Request) -> str:
    return (
        '<section><h2>Group</h2><table class=kv id=llm-summary></table></section>'
        '<section><h2>Stations</h2><table id=llm-table><tr><th>Index</th><th>Serial number</th>'
        "<th>LAN IP</th><th>Wire type</th><th>Requested (A)</th><th>PWM (A)</th><th>Phase 1 (A)</th>"
        "<th>Phase 2 (A)</th><th>Phase 3 (A)</th></tr></table>"
        '<p id=llm-empty class=unit hidden>No group members: this station runs Direct (standalone).</p>'
        '<span id=live-state class=unit>connecting…</span></section>'
    )


async def llm_get(request: web.Request) -> web.StreamResponse:
    data = {"live": "llm", "llm": _svc(request).llm().as_dict()}
    return _render(request, "LLM Status", _llm_body(request), active="llm", scripts=True, data=data)


async def events(request: web.Request) -> web.StreamResponse:
    """The live stream of the status pages; ends when the session ends or expires."""
    svc = _svc(request)
    session = _sess(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    queue = svc.hub.subscribe()
    try:
        await response.write(b"retry: 2000\n\n")
        first = svc.status_payload()
        await response.write(f"event: status\ndata: {_json(first)}\n\n".encode())
        await response.write(f"event: llm\ndata: {_json(svc.llm().as_dict())}\n\n".encode())
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                message = ": keep-alive\n\n"
            if message is None:
                break
            if not svc.sessions.still_valid(session):
                await response.write(b"event: logout\ndata: {}\n\n")
                break
            await response.write(message.encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        svc.hub.unsubscribe(queue)
    return response


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


# ---------------------------------------------------------------------- security

def _security_body(request: web.Request, error: str = "") -> str:
    csrf = _sess(request).csrf
    err = f'<div class="err" id="err-reset">{e(error)}</div>' if error else ""
    return (
        f'<section><h2>Change password</h2><p><a href="{PREFIX}/password">Change the password '
        "of the admin user</a>.</p></section>"
        "<section><h2>Reset password of all users</h2><p>Both users (admin and maintain) get new "
        "initial passwords, shown once here and written to the label file; everyone is logged "
        "out and must choose a new password at the next login.</p>"
        f'<form method=post action="{PREFIX}/security/reset-passwords">{csrf_input(csrf)}'
        '<label><input type=checkbox name=confirm value=yes id=confirm-reset-passwords> '
        f"Yes, reset every user's password</label>{err}"
        '<br><button class="primary danger" type=submit id=reset-passwords>Reset passwords</button>'
        "</form></section>"
    )


async def security_get(request: web.Request) -> web.StreamResponse:
    return _render(request, "Security", _security_body(request), active="security")


async def reset_passwords_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    if not _confirmed(form):
        return _render(request, "Security", _security_body(request, "tick the box to confirm"),
                       active="security", status=422)
    passwords = _svc(request).reset_passwords()
    rows = "".join(f"<tr><td>{e(u)}</td><td><code>{e(p)}</code></td></tr>"
                   for u, p in passwords.items())
    body = (f"<section><h2>New initial passwords</h2><table class=kv id=new-passwords>{rows}"
            f"</table><p>Everyone was logged out. <a href=\"{PREFIX}/login\">Log in</a> with the "
            "new password; you will be asked to choose your own.</p></section>")
    request["portal_session"] = None
    response = _render(request, "Security", body)
    response.del_cookie(COOKIE_NAME, path=PREFIX)
    return response


# ---------------------------------------------------------------------- static

_SCRIPT = resources.files("controller.portal").joinpath("static/portal.js").read_text("utf-8")


async def script(_request: web.Request) -> web.StreamResponse:
    return web.Response(text=_SCRIPT, content_type="application/javascript",
                        headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------------- routing

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/login", login_get),
    ("POST", "/login", login_post),
    ("POST", "/logout", logout_post),
    ("GET", "/password", password_get),
    ("POST", "/password", password_post),
    ("GET", "/", index),
    ("GET", "/factory", factory_get),
    ("GET", "/station", station_get),
    ("POST", "/station", station_post),
    ("GET", "/ocpp", ocpp_get),
    ("POST", "/ocpp", ocpp_post),
    ("GET", "/communication", communication_get),
    ("POST", "/communication", communication_post),
    ("GET", "/maintenance", maintenance_get),
    ("POST", "/maintenance/reboot", reboot_post),
    ("POST", "/maintenance/factory-reset", factory_reset_post),
    ("POST", "/maintenance/serial", serial_post),
    ("POST", "/maintenance/firmware", firmware_post),
    ("GET", "/status", status_get),
    ("GET", "/llm", llm_get),
    ("GET", "/events", events),
    ("GET", "/security", security_get),
    ("POST", "/security/reset-passwords", reset_passwords_post),
    ("GET", "/static/portal.js", script),
)


def build_portal_app(service: PortalService) -> web.Application:
    app = web.Application(middlewares=[security_headers, guard])
    app[SERVICE_KEY] = service
    app[THROTTLE_KEY] = LoginThrottle(service.clock)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    add_token_route(app, service, app[THROTTLE_KEY])

    async def close_streams(_app: web.Application) -> None:
        service.hub.close_all()

    app.on_shutdown.append(close_streams)
    return app
