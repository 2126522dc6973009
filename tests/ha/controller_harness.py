"""Starts the real controller (``mq200 run --sim``) from the device venv for end-to-end tests:
the controller embeds the twin, drives the simulated power board, and serves /sim to act on it.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .twin_harness import REPO, free_port

MQ200 = Path(os.environ.get("MQ200_BIN", REPO / ".venv" / "bin" / "mq200"))
E2E_SERIAL = "MQ200-00E2E001"
E2E_TAG = "04A1B2C3"
LABEL_FILE = "initial-passwords.txt"
_LOGIN_CSRF = re.compile(r'name=login_csrf value="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

CONFIG = f"""
[daemon]
log_level = "info"
log_format = "json"

[identity]
serial_number = "{E2E_SERIAL}"

[station]
local_list = ["{E2E_TAG}"]
"""


@dataclass
class SimController:
    data_dir: Path
    port: int = field(default_factory=free_port)
    client_token: str = ""
    proc: subprocess.Popen[str] | None = None
    host = "127.0.0.1"

    def start(self, timeout: float = 60) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "mq200.toml"
        config.write_text(CONFIG, encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(MQ200), "run", "--sim", "--config", str(config), "--data-dir",
             str(self.data_dir), "--listen", f"{self.host}:{self.port}", "--dip", "32"],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=open(self.data_dir / "stderr.log", "w"), text=True,  # noqa: SIM115
        )
        assert self.proc.stdout is not None
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                self.stop()
                raise RuntimeError(f"mq200 run --sim did not start; see {self.data_dir}/stderr.log")
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "ready":
                self.client_token = event["client_token"]
                return

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with aiohttp.ClientSession() as session, session.request(
            method, f"http://{self.host}:{self.port}{path}", json=body,
            headers={"Authorization": f"Bearer {self.client_token}"},
        ) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise AssertionError(f"{method} {path} → {resp.status}: {data}")
            return data

    async def sim(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Act on the simulated world (plug, unplug, tag, fault...) and get the board state."""
        result: dict[str, Any] = await self._call("POST", f"/sim/{action}", body or {})
        return result

    async def board(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/sim/state")
        return result

    async def twin_state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/api/v1/state")
        return result

    # ------------------------------------------------------------------ the web portal

    def initial_password(self, user: str) -> str:
        """The portal password printed on the charger's label (``initial-passwords.txt``)."""
        for line in (self.data_dir / LABEL_FILE).read_text(encoding="utf-8").splitlines()[1:]:
            name, _, password = line.partition(": ")
            if name == user:
                return password
        raise AssertionError(f"no {user} in {self.data_dir / LABEL_FILE}")

    async def change_portal_password(self, user: str, new: str) -> None:
        """Log in with the label's password and pass the portal's forced first change, like a
        browser: the login form's token, the session cookie, the change form's CSRF token."""
        base = f"http://{self.host}:{self.port}/portal"
        current = self.initial_password(user)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP-address host
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(f"{base}/login") as resp:
                found = _LOGIN_CSRF.search(await resp.text())
            assert found, "no login form token"
            async with browser.post(f"{base}/login", allow_redirects=False, data={
                "login_csrf": found.group(1), "username": user, "password": current, "next": "",
            }) as resp:
                assert resp.status == 303 and resp.headers["Location"] == "/portal/password", (
                    resp.status, await resp.text())
            async with browser.get(f"{base}/password") as resp:
                found = _CSRF.search(await resp.text())
            assert found, "no CSRF token on the password form"
            async with browser.post(f"{base}/password", allow_redirects=False, data={
                "csrf": found.group(1), "current": current, "new": new, "confirm": new,
            }) as resp:
                assert resp.status == 303, (resp.status, await resp.text())
