"""Authorization matrix of the portal: every route × {anonymous, maintain, admin, admin without
CSRF token} × {GET, POST}, against a real daemon with a simulated board."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.portal.views import ROUTES
from tests.portal_harness import PortalClient, logged_in, running_daemon

PATHS = sorted({"/portal" + path for _, path, _ in ROUTES})
GET_ROUTES = {"/portal" + p for m, p, _ in ROUTES if m == "GET"}
POST_ROUTES = {"/portal" + p for m, p, _ in ROUTES if m == "POST"}
# POST with nothing but the CSRF token: what each form answers (its own validation).
EMPTY_POST = {
    "/portal/logout": 303,
    "/portal/password": 422,
    "/portal/station": 422,
    "/portal/ocpp": 422,
    "/portal/communication": 422,
    "/portal/maintenance/reboot": 422,
    "/portal/maintenance/factory-reset": 422,
    "/portal/maintenance/serial": 422,
    "/portal/maintenance/firmware": 422,
    "/portal/security/reset-passwords": 422,
}


def expected(role: str, method: str, path: str) -> int:
    if path == "/portal/login":
        # the login form: always visible; a POST without its own token is refused
        return 200 if method == "GET" else 403
    if role == "anonymous":
        return 303 if method == "GET" else 401
    if method == "POST" and role == "admin-no-csrf":
        return 403
    if path.startswith("/portal/security") and role == "maintain":
        return 403
    if method == "GET":
        if path not in GET_ROUTES:
            return 405
        return 303 if path == "/portal/" else 200
    if path not in POST_ROUTES:
        return 405
    return EMPTY_POST[path]


def test_every_route_is_in_the_matrix() -> None:
    assert set(EMPTY_POST) == POST_ROUTES - {"/portal/login"}
    assert "/portal/security" in PATHS and "/portal/events" in PATHS


@pytest.mark.timeout(120)
async def test_authorization_matrix(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        clients = {
            "anonymous": PortalClient(daemon.url),
            "maintain": await logged_in(daemon, tmp_path, "maintain"),
            "admin": await logged_in(daemon, tmp_path, "admin"),
        }
        clients["admin-no-csrf"] = clients["admin"]
        got: dict[tuple[str, str, str], int] = {}
        want: dict[tuple[str, str, str], int] = {}
        try:
            for role, client in clients.items():
                for path in PATHS:
                    for method in ("GET", "POST"):
                        if path == "/portal/logout" and method == "POST" and role != "anonymous":
                            continue  # checked last: it ends the session
                        key = (role, method, path)
                        want[key] = expected(role, method, path)
                        if method == "GET":
                            status, _, resp = await client.get(path)
                            if status == 303 and role == "anonymous":
                                assert resp.headers["Location"].startswith("/portal/login?next=")
                        else:
                            status, _, _ = await client.post(path, {},
                                                             csrf=role != "admin-no-csrf")
                        got[key] = status
            assert got == want
            # logout: refused without the token, works with it, and then nothing is reachable
            for role in ("admin", "maintain"):
                client = clients[role]
                assert (await client.post("/portal/logout", {}, csrf=False))[0] == 403
                status, _, resp = await client.post("/portal/logout", {})
                assert status == 303 and resp.headers["Location"] == "/portal/login"
                assert (await client.get("/portal/status"))[0] == 303
                assert (await client.post("/portal/station", {"section": "gps"}))[0] == 401
        finally:
            for client in {id(c): c for c in clients.values()}.values():
                await client.close()


async def test_menu_hides_security_from_maintain(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        maintain = await logged_in(daemon, tmp_path, "maintain")
        admin = await logged_in(daemon, tmp_path, "admin")
        try:
            _, page, _ = await maintain.get("/portal/status")
            assert 'href="/portal/security"' not in page
            _, page, _ = await admin.get("/portal/status")
            assert 'href="/portal/security"' in page
        finally:
            await maintain.close()
            await admin.close()
