"""``POST /portal/api/token``: the admin's portal credentials buy the twin's client token.

Home Assistant's setup asks for the portal password instead of making the homeowner dig the
token out of ``tokens.json``. It is a JSON API for programs, with no cookie session, so CSRF
does not apply; every other guard of the login form does: the per-address throttle (shared with
the login form, so the two cannot be played against each other), the per-user lock-out, the
argon2 check off the event loop, a dummy check for unknown names, and the forced first change.
The password is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from controller.portal.accounts import verify_dummy, verify_password
from controller.portal.service import PortalService
from controller.portal.throttle import LoginThrottle

log = logging.getLogger(__name__)

TOKEN_PATH = "/api/token"
TOKEN_USER = "admin"
MAX_NAME_LENGTH = 32
MAX_PASSWORD_LENGTH = 256
INITIAL_PASSWORD_REASON = "change the initial password in the portal first"


def _error(status: int, code: str, message: str, *,
           retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": f"{max(1, round(retry_after))}"} if retry_after else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)


def _credentials(body: Any) -> tuple[str, str]:
    """``{"username", "password"}`` as text; ValueError names the bad field."""
    if not isinstance(body, dict):
        raise ValueError('expected a JSON object {"username": ..., "password": ...}')
    out: list[str] = []
    for key in ("username", "password"):
        value = body.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key}: expected a non-empty string")
        out.append(value)
    return out[0].strip(), out[1]


def token_handler(
    service: PortalService, throttle: LoginThrottle
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler, bound to the portal's accounts and its login throttle."""

    async def issue_token(request: web.Request) -> web.StreamResponse:
        address = request.remote or "unknown"
        wait = throttle.retry_after(address)
        if wait > 0:
            return _error(429, "rate_limited", f"too many failed logins from this address; "
                          f"try again in {wait / 60:.0f} min", retry_after=wait)
        try:
            name, password = _credentials(json.loads(await request.text()))
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            return _error(400, "bad_request", f"bad request body: {exc}")
        user = service.accounts.get(name) if len(name) <= MAX_NAME_LENGTH else None
        loop = asyncio.get_running_loop()
        if user is not None:
            locked = service.accounts.locked_for(user)
            if locked > 0:
                return _error(429, "locked", f"too many failed logins: {name!r} is locked for "
                              f"{locked / 60:.0f} more min", retry_after=locked)
            ok = await loop.run_in_executor(None, verify_password, user.password_hash,
                                            password[:MAX_PASSWORD_LENGTH])
        else:
            ok = await loop.run_in_executor(None, verify_dummy, password[:MAX_PASSWORD_LENGTH])
        if not ok or user is None:
            throttle.failed(address)
            lock = service.accounts.record_failure(name) if user is not None else 0.0
            log.warning("portal token request: wrong credentials for %r from %s",
                        name[:MAX_NAME_LENGTH], address)
            message = "wrong user name or password"
            if lock:
                message += f"; too many failed logins: {name!r} is locked for {lock / 60:.0f} min"
            return _error(401, "invalid_credentials", message)
        throttle.succeeded(address)
        service.accounts.record_success(name)
        if name != TOKEN_USER:
            return _error(403, "not_admin", "only the admin user may fetch the device token")
        if user.must_change:
            return _error(403, "initial_password", INITIAL_PASSWORD_REASON)
        token = service.host.client_token
        if token is None:
            return _error(503, "unavailable", "this controller has no twin client token")
        log.info("portal token request: client token given to %s at %s", name, address)
        return web.json_response({"token": token, "role": "client"},
                                 headers={"Cache-Control": "no-store"})

    return issue_token


def add_token_route(app: web.Application, service: PortalService,
                    throttle: LoginThrottle) -> None:
    app.router.add_post(TOKEN_PATH, token_handler(service, throttle))
