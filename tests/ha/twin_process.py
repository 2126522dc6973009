"""A standalone twin server for the HA tests, run with the device venv's Python.

Usage: ``python tests/ha/twin_process.py DB PORT DEVICE_TOKEN CLIENT_TOKEN [DEVICE_ID]``.
Prints one JSON line ``{"port": PORT}`` once it listens on 127.0.0.1 and serves until stdin
closes or it gets SIGTERM. The tests play the controller through the device token (REST), so
the twin here is the real server with the real store, only the charger is scripted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from aiohttp import web

from controller.clock import AsyncioClock
from twin.auth import TokenRegistry
from twin.server import create_app
from twin.service import TwinService
from twin.store import TwinStore


async def serve(db: str, port: int, device_token: str, client_token: str, device_id: str) -> None:
    tokens = TokenRegistry()
    tokens.add(device_token, "device", "controller")
    tokens.add(client_token, "client", "home-assistant")
    store = TwinStore(db)
    service = TwinService(store, device_id, AsyncioClock())
    runner = web.AppRunner(create_app(service, tokens))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.readline() else None)
    await stop.wait()
    await runner.cleanup()
    store.close()


def main() -> None:
    args = sys.argv[1:]
    if len(args) not in (4, 5):
        sys.exit("usage: twin_process.py DB PORT DEVICE_TOKEN CLIENT_TOKEN [DEVICE_ID]")
    if int(args[1]) <= 0:
        sys.exit("PORT must be a free port number (the tests pick one)")
    asyncio.run(serve(args[0], int(args[1]), args[2], args[3],
                      args[4] if len(args) == 5 else "MQ200-00A1B2"))


if __name__ == "__main__":
    main()
