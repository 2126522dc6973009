"""POST /portal/api/token against a real daemon (simulated board, embedded twin, portal): the
admin's portal credentials buy the twin's client token, under the login form's guards."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.daemon import Daemon
from controller.portal.accounts import FAILURES_BEFORE_LOCK
from controller.portal.throttle import MAX_FAILURES
from tests.portal_harness import (
    NEW_PASSWORDS,
    PortalClient,
    label_passwords,
    logged_in,
    portal_of,
    running_daemon,
)

pytestmark = pytest.mark.timeout(120)


async def _ask(daemon: Daemon, body: Any, *, raw: str | None = None
               ) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    """One token request from a program: no cookies, no CSRF token."""
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with http.post(f"{daemon.url}/portal/api/token", **kwargs) as resp:
            data: dict[str, Any] = await resp.json()
            return resp.status, data, resp


def _code(data: dict[str, Any]) -> str:
    code: str = data["error"]["code"]
    return code


async def test_token_for_admin_after_the_first_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_daemon(tmp_path) as daemon:
        assert daemon.tokens is not None
        label = label_passwords(tmp_path)

        # The maintain user, even with its right password, may not have the token.
        status, data, _ = await _ask(daemon, {"username": "maintain", "password": label["maintain"]})
        assert status == 403 and _code(data) == "not_admin"

        # The admin with the label's initial password: refused with the reason.
        status, data, _ = await _ask(daemon, {"username": "admin", "password": label["admin"]})
        assert status == 403 and _code(data) == "initial_password"
        assert data["error"]["message"] == "change the initial password in the portal first"

        # After the forced change in the portal, the new password buys the client token.
        client = await logged_in(daemon, tmp_path, "admin")
        await client.close()
        status, data, resp = await _ask(daemon, {"username": "admin",
                                                 "password": NEW_PASSWORDS["admin"]})
        assert status == 200, data
        assert data == {"token": daemon.tokens.client_token, "role": "client"}
        assert resp.headers["Cache-Control"] == "no-store"

        # The token works on the twin API (it is the client one: it may write desired).
        async with aiohttp.ClientSession() as http, http.patch(
            f"{daemon.url}/api/v1/state/desired", json={"desired": {}},
            headers={"Authorization": f"Bearer {data['token']}"},
        ) as answer:
            assert answer.status == 200

        # The old initial password no longer works.
        status, data, _ = await _ask(daemon, {"username": "admin", "password": label["admin"]})
        assert status == 401 and _code(data) == "invalid_credentials"

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert NEW_PASSWORDS["admin"] not in logged
    assert "portal token request" in logged


async def test_wrong_password_locks_the_user_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_daemon(tmp_path) as daemon:
        await (await logged_in(daemon, tmp_path, "admin")).close()
        wrong = "Not-The-Password-9"
        for attempt in range(1, FAILURES_BEFORE_LOCK + 1):
            status, data, _ = await _ask(daemon, {"username": "admin", "password": wrong})
            assert status == 401 and _code(data) == "invalid_credentials", attempt
        assert "locked" in data["error"]["message"]
        account = portal_of(daemon).accounts.get("admin")
        assert account is not None and portal_of(daemon).accounts.locked_for(account) > 0

        # Locked: even the right password is refused until the lock-out ends.
        status, data, resp = await _ask(daemon, {"username": "admin",
                                                 "password": NEW_PASSWORDS["admin"]})
        assert status == 429 and _code(data) == "locked"
        assert int(resp.headers["Retry-After"]) > 0

        # The portal's login form sees the same lock-out.
        browser = PortalClient(daemon.url)
        try:
            status, text, _ = await browser.login("admin", NEW_PASSWORDS["admin"])
            assert status == 429 and "locked" in text
        finally:
            await browser.close()
    assert wrong not in "\n".join(r.getMessage() for r in caplog.records)


async def test_address_throttle_is_shared_with_the_login_form(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        # Guessing user names from one address: the per-address limit, not a user's lock-out.
        for i in range(MAX_FAILURES):
            status, data, _ = await _ask(daemon, {"username": f"user{i}", "password": "guess-123456"})
            assert status == 401 and _code(data) == "invalid_credentials"
        status, data, resp = await _ask(daemon, {"username": "admin",
                                                 "password": label_passwords(tmp_path)["admin"]})
        assert status == 429 and _code(data) == "rate_limited"
        assert int(resp.headers["Retry-After"]) > 0
        browser = PortalClient(daemon.url)
        try:
            status, text, _ = await browser.login("admin", label_passwords(tmp_path)["admin"])
            assert status == 429 and "Too many failed logins from this address" in text
        finally:
            await browser.close()


async def test_bad_bodies_are_refused_with_the_field(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        for body, raw, fragment in (
            (None, "not json", "bad request body"),
            ([1, 2], None, "expected a JSON object"),
            ({"username": "admin"}, None, "password: expected a non-empty string"),
            ({"username": 7, "password": "x"}, None, "username: expected a non-empty string"),
        ):
            status, data, _ = await _ask(daemon, body, raw=raw)
            assert status == 400 and _code(data) == "bad_request"
            assert fragment in data["error"]["message"], data
        # Too long a name is an unknown user (same answer, same cost), not a crash.
        status, data, _ = await _ask(daemon, {"username": "a" * 500, "password": "x" * 5000})
        assert status == 401 and _code(data) == "invalid_credentials"
