"""The twin as its own process (``mq200 twin serve``), for a controller that connects to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from controller.clock import AsyncioClock, Clock
from twin.auth import TokenRegistry, load_config
from twin.server import create_app
from twin.service import TwinService
from twin.store import TwinStore


@dataclass
class RunningTwin:
    """A started twin: its service, store and runner, so a caller can stop it cleanly."""

    service: TwinService
    store: TwinStore
    runner: web.AppRunner
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()
        self.store.close()


async def start_twin(
    host: str,
    port: int,
    db_path: str | Path,
    device_id: str,
    tokens: TokenRegistry,
    *,
    time_zone: str = "UTC",
    clock: Clock | None = None,
) -> RunningTwin:
    """Open the database, build the service and serve it; ``port=0`` picks a free port."""
    try:
        tz = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time_zone: {time_zone!r} is not a known time zone") from exc
    store = TwinStore(db_path)
    try:
        service = TwinService(store, device_id, clock or AsyncioClock(), time_zone=tz)
        if service.state().reported.get("online") is True:
            service.set_online(False)  # nobody is connected to a freshly started process
        runner = web.AppRunner(create_app(service, tokens))
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        store.close()
        raise
    bound = port
    if port == 0 and runner.addresses:
        bound = int(runner.addresses[0][1])
    return RunningTwin(service, store, runner, bound)


def run_standalone(host: str, port: int, db_path: str, tokens_file: str) -> None:
    """Serve the twin until interrupted (blocking)."""
    config = load_config(tokens_file)

    async def main() -> None:
        twin = await start_twin(
            host, port, db_path, config.device_id, config.tokens, time_zone=config.time_zone
        )
        print(f"twin for {config.device_id} listening on http://{host}:{twin.port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await twin.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
