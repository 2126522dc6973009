"""Runs the real twin server (tests/ha/twin_process.py) in the device venv and plays the
controller against it through the device token, so HA tests see true pushes and true errors.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[2]
DEVICE_PYTHON = Path(os.environ.get("MQ200_DEVICE_PYTHON", REPO / ".venv" / "bin" / "python"))
TWIN_SCRIPT = Path(__file__).with_name("twin_process.py")

DEVICE_TOKEN = "dev-token-for-ha-tests-0001"
CLIENT_TOKEN = "client-token-for-ha-tests-0001"
SERIAL = "MQ200-00A1B2"

#: A charger that is on, idle and unplugged (the controller's full report).
IDLE_REPORT: dict[str, Any] = {
    "status": "Available",
    "pilot": "A",
    "offered_a": 0,
    "current_a": 0.0,
    "voltage_v": 240.5,
    "power_w": 0,
    "energy_wh": 1834520,
    "session_energy_wh": 0,
    "temperature_c": 31.5,
    "session": None,
    "faults": [],
    "limits": [{"source": "dip", "amps": 40, "paused": False, "reason": "DIP switch 40 A"}],
    "limit_reason": "DIP switch 40 A",
    "settings": {"max_amperage_fw": 40},
    "next_start": None,
    "network": {"active": "W", "wifi_ssid": "home", "signal_dbm": -61},
    "serial": SERIAL,
    "firmware": "0.1.0",
    "dip_max_a": 40,
    "ocpp": {"connected": True},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class TwinServer:
    """One twin process on 127.0.0.1; ``stop()``/``start()`` keep the port and database."""

    db: Path
    port: int = field(default_factory=free_port)
    client_token: str = CLIENT_TOKEN
    device_id: str = SERIAL
    proc: subprocess.Popen[str] | None = None

    host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(DEVICE_PYTHON), str(TWIN_SCRIPT), str(self.db), str(self.port),
             DEVICE_TOKEN, self.client_token, self.device_id],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"the twin process did not start (python {DEVICE_PYTHON})")
        assert json.loads(line)["port"] == self.port

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    # ------------------------------------------------------------------ as the controller

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
                    token: str = DEVICE_TOKEN) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.request(
            method, self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            data: dict[str, Any] = await resp.json()
            if resp.status >= 400:
                raise AssertionError(f"{method} {path} → {resp.status}: {data}")
            return data

    async def report(self, patch: dict[str, Any]) -> int:
        version: int = (await self._call("PATCH", "/state/reported", {"reported": patch}))["version"]
        return version

    async def state(self) -> dict[str, Any]:
        return await self._call("GET", "/state")

    async def desired(self) -> dict[str, Any]:
        desired: dict[str, Any] = (await self._call("GET", "/state/desired"))["desired"]
        return desired

    async def set_desired(self, patch: dict[str, Any]) -> None:
        await self._call("PATCH", "/state/desired", {"desired": patch}, token=self.client_token)

