"""The twin as its own process (`mq200 twin serve`) and the daemon reporting to it from afar."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from controller.tokens import ensure_tokens_file
from tests.daemon_process import ROOT, start_daemon
from tests.test_daemon_llm import free_port
from tests.test_daemon_sim import wait_for
from twin.client import TwinClient


async def start_twin(db: Path, tokens: Path, port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "controller.cli", "twin", "serve", "--db", str(db),
        "--tokens", str(tokens), "--listen", f"127.0.0.1:{port}",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert b"listening" in line, line
    return proc


async def test_daemon_reports_to_a_standalone_twin_and_catches_up_after_being_away(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.json"
    tokens = ensure_tokens_file(tokens_file, "MQ200-REMOTE01", "America/Los_Angeles")
    port = free_port()
    twin = await start_twin(tmp_path / "twin.db", tokens_file, port)
    config = f"""
[identity]
serial_number = "MQ200-REMOTE01"

[twin]
mode = "remote"
remote_url = "ws://127.0.0.1:{port}/api/v1/ws"
tokens_file = "{tokens_file}"

[station]
local_list = ["ABCD1234"]
"""
    url = f"http://127.0.0.1:{port}"
    daemon = await start_daemon(tmp_path / "var", config)
    try:
        async with TwinClient(url, tokens.client_token) as client:
            await wait_for(client, lambda s: s.reported.get("online") is True
                           and s.reported.get("status") == "Available")
            await daemon.sim("plug", {"soc": 0.3})
            await daemon.sim("tag", {"uid": "ABCD1234"})
            await wait_for(client, lambda s: s.reported.get("status") == "Charging")
            # the charger goes away; a wish made meanwhile waits for it
            assert await daemon.stop() == 0
            await wait_for(client, lambda s: s.reported.get("online") is False)
            await client.set_desired({"current_limit_a": 16})
            daemon = await start_daemon(tmp_path / "var", config)
            await wait_for(client, lambda s: s.reported.get("online") is True
                           and s.reported.get("desired_status", {}).get("current_limit_a", {})
                           .get("state") == "applied")
            await wait_for(client, lambda s: any(
                lim["source"] == "user" and lim["amps"] == 16 for lim in s.reported.get("limits", [])))
    finally:
        await daemon.stop()
        twin.terminate()
        await twin.wait()
    assert json.loads(tokens_file.read_text())["device_id"] == "MQ200-REMOTE01"
