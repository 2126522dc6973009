"""A real daemon (simulated board, embedded twin, portal) in the test's event loop, and a browser-
like HTTP client for the portal: cookies, the CSRF token from each page, the label passwords."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from controller.config import Config
from controller.daemon import Daemon, SimOptions
from controller.portal import PORTAL_SERVICE_KEY
from controller.portal.service import PortalService

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
LOGIN_CSRF_RE = re.compile(r'name=login_csrf value="([^"]+)"')
NEW_PASSWORDS = {"admin": "Blue-Garage-Volt-42", "maintain": "Green-Cable-Amp-17"}


def label_passwords(data_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (data_dir / "initial-passwords.txt").read_text().splitlines()[1:]:
        user, _, pw = line.partition(": ")
        out[user] = pw
    return out


@asynccontextmanager
async def running_daemon(data_dir: Path, dip_a: int = 32) -> AsyncIterator[Daemon]:
    config = Config()
    config.daemon.database = str(data_dir / "mq200.db")
    config.twin.tokens_file = str(data_dir / "tokens.json")
    daemon = Daemon(config, sim=SimOptions(dip_a=dip_a, meter_interval_s=0.2),
                    listen=("127.0.0.1", 0))
    await daemon.start()
    assert daemon.station is not None
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(_snap: Any) -> None:
        if daemon.station is not None and daemon.station.dip is not None and not ready.done():
            ready.set_result(None)

    daemon.station.on_change(check)
    check(None)
    try:
        await asyncio.wait_for(ready, 10)
        yield daemon
    finally:
        await daemon.stop()


def portal_of(daemon: Daemon) -> PortalService:
    assert daemon.app is not None
    return daemon.app[PORTAL_SERVICE_KEY]


class PortalClient:
    """One browser: its own cookie jar; remembers the last CSRF token it saw."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(self.base + path, allow_redirects=False) as resp:
            if resp.content_type == "text/event-stream":
                return resp.status, "", resp
            text = await resp.text()
            found = CSRF_RE.search(text)
            if found:
                self.csrf = found.group(1)
            return resp.status, text, resp

    async def post(self, path: str, data: dict[str, str] | None = None, *,
                   csrf: bool = True, headers: dict[str, str] | None = None
                   ) -> tuple[int, str, aiohttp.ClientResponse]:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        async with self.http.post(self.base + path, data=form, allow_redirects=False,
                                  headers=headers) as resp:
            text = await resp.text()
            found = CSRF_RE.search(text)
            if found:
                self.csrf = found.group(1)
            return resp.status, text, resp

    async def login(self, user: str, password: str) -> tuple[int, str, aiohttp.ClientResponse]:
        status, text, _ = await self.get("/portal/login")
        token = LOGIN_CSRF_RE.search(text)
        assert token, text
        async with self.http.post(self.base + "/portal/login", allow_redirects=False, data={
            "login_csrf": token.group(1), "username": user, "password": password, "next": "",
        }) as resp:
            return resp.status, await resp.text(), resp

    async def first_login(self, user: str, initial: str, new: str) -> None:
        status, _, resp = await self.login(user, initial)
        assert status == 303 and resp.headers["Location"] == "/portal/password", status
        await self.get("/portal/password")
        status, text, resp = await self.post("/portal/password",
                                             {"current": initial, "new": new, "confirm": new})
        assert status == 303, text
        await self.get("/portal/status")


async def logged_in(daemon: Daemon, data_dir: Path, user: str) -> PortalClient:
    """A client past the forced first change (or a plain login when that was done before)."""
    client = PortalClient(daemon.url)
    svc = portal_of(daemon)
    account = svc.accounts.get(user)
    assert account is not None
    if account.must_change:
        await client.first_login(user, label_passwords(data_dir)[user], NEW_PASSWORDS[user])
    else:
        status, _, _ = await client.login(user, NEW_PASSWORDS[user])
        assert status == 303
        await client.get("/portal/status")
    return client
