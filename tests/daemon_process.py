"""Start `mq200 run --sim` as its own process, as in a home, and talk to it over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RunningDaemon:
    proc: asyncio.subprocess.Process
    url: str
    token: str
    data_dir: Path
    ready_lines: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def sim(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {self.token}"}
            if action == "state":
                resp = await http.get(f"{self.url}/sim/state", headers=headers)
            else:
                resp = await http.post(f"{self.url}/sim/{action}", json=body or {}, headers=headers)
            data: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise AssertionError(f"/sim/{action} -> {resp.status}: {data}")
            return data

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 20)


async def start_daemon(data_dir: Path, config_text: str = "", *extra: str) -> RunningDaemon:
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "controller.cli", "run", "--sim", "--data-dir", str(data_dir),
            "--listen", "127.0.0.1:0", "--log-format", "text", *extra]
    if config_text:
        cfg = data_dir / "mq200.toml"
        cfg.write_text(config_text)
        args += ["--config", str(cfg)]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not raw:
            raise AssertionError("daemon exited before it was ready:\n" + "".join(lines))
        line = raw.decode()
        lines.append(line)
        if line.startswith("{") and '"ready"' in line:
            ready = json.loads(line)
            break
    daemon = RunningDaemon(proc, ready["url"], ready["client_token"], data_dir)
    asyncio.get_running_loop().create_task(_drain(proc.stdout, daemon.ready_lines))
    return daemon


async def _drain(stream: asyncio.StreamReader, ready: asyncio.Queue[dict[str, Any]]) -> None:
    """Keep reading the daemon's output; a reboot (re-exec) announces itself with a new ready line."""
    while line := await stream.readline():
        text = line.decode()
        if text.startswith("{") and '"ready"' in text:
            ready.put_nowait(json.loads(text))
