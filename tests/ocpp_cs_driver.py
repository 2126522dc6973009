"""Drive the independent Node central system (tests/ocpp_cs/central_system.js) from pytest."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

CS_DIR = Path(__file__).parent / "ocpp_cs"
Event = dict[str, Any]


def ensure_node_modules() -> None:
    """Install the pinned ocpp-rpc (npm ci) if the lead's Makefile has not done it yet."""
    if (CS_DIR / "node_modules" / "ocpp-rpc").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the OCPP tests (node 20 + npm)")
    subprocess.run([npm, "ci", "--prefix", str(CS_DIR)], check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CentralSystem:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, options: dict[str, Any] | None = None) -> CentralSystem:
        ensure_node_modules()
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            "node", str(CS_DIR / "central_system.js"), str(port), json.dumps(options or {}),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        cs = cls(process, port)
        await cs.wait_for(lambda e: e.get("event") == "listening")
        return cs

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 10.0, after: int = 0
    ) -> Event:
        """The first event (from index ``after``) matching ``predicate``; waits for it."""

        async def find() -> Event:
            position = after
            async with self._changed:
                while True:
                    while position < len(self.events):
                        event = self.events[position]
                        position += 1
                        if predicate(event):
                            return event
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_call(self, method: str, timeout: float = 10.0, after: int = 0,
                        where: Callable[[Event], bool] = lambda e: True) -> Event:
        return await self.wait_for(
            lambda e: e.get("event") == "call" and e.get("method") == method and where(e),
            timeout, after,
        )

    def calls(self, method: str | None = None) -> list[Event]:
        return [e for e in self.events if e.get("event") == "call"
                and (method is None or e.get("method") == method)]

    def validation_failures(self) -> list[Event]:
        return [e for e in self.events if e.get("event") == "strictValidationFailure"]

    async def command(self, cmd: str, timeout: float = 10.0, **fields: Any) -> Event:
        command_id = next(self._ids)
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"id": command_id, "cmd": cmd, **fields}) + "\n").encode())
        await self.process.stdin.drain()
        return await self.wait_for(
            lambda e: e.get("event") == "response" and e.get("id") == command_id, timeout
        )

    async def call(self, method: str, params: dict[str, Any], timeout: float = 10.0) -> Event:
        return await self.command("call", timeout, method=method, params=params)

    async def stop(self) -> None:
        if self.process.returncode is None:
            try:
                await self.command("quit", timeout=5)
            except (asyncio.TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()
