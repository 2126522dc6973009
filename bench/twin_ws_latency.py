"""Bench: state change in the controller → delta received by a WebSocket subscriber.

Runs a real twin (aiohttp on 127.0.0.1, SQLite file in a temporary folder), subscribes over
WebSocket, then makes N reported changes through ``TwinService.report`` (as the embedded
controller does) one after another; each latency is from just before ``report()`` to the
subscriber having parsed the matching delta. Target: p99 ≤ 50 ms over ≥ 1,000 changes.

    python bench/twin_ws_latency.py [--changes 2000] [--subscribers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from controller.clock import AsyncioClock
from twin.auth import TokenRegistry
from twin.standalone import start_twin

TOKEN = "bench-client-token-0123456789"
TARGET_P99_MS = 50.0


def percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(changes: int, subscribers: int) -> int:
    tokens = TokenRegistry()
    tokens.add(TOKEN, "client", "bench")
    with tempfile.TemporaryDirectory() as tmp:
        twin = await start_twin("127.0.0.1", 0, Path(tmp) / "bench.db", "MQ200-BENCH", tokens,
                                clock=AsyncioClock())
        url = f"http://127.0.0.1:{twin.port}/api/v1/ws"
        latencies: list[float] = []
        try:
            async with aiohttp.ClientSession() as http:
                sockets = [
                    await http.ws_connect(url, headers={"Authorization": f"Bearer {TOKEN}"})
                    for _ in range(subscribers)
                ]
                for ws in sockets:
                    await ws.send_str(json.dumps({"type": "subscribe"}))
                    snap = json.loads((await ws.receive()).data)
                    assert snap["type"] == "snapshot"
                for i in range(1, changes + 1):
                    started = time.perf_counter()
                    version = twin.service.report({"power_w": 7000 + i, "current_a": i % 48})
                    for ws in sockets:
                        msg = await asyncio.wait_for(ws.receive(), 5)
                        delta = json.loads(msg.data)
                        if delta.get("version") != version:
                            print(f"out of order: expected {version}, got {delta}")
                            return 2
                        latencies.append((time.perf_counter() - started) * 1000.0)
                for ws in sockets:
                    await ws.close()
        finally:
            await twin.stop()
    latencies.sort()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"twin WS delta latency: {changes} changes x {subscribers} subscriber(s), "
          f"{len(latencies)} deliveries")
    print(f"  p50 {p50:.2f} ms  p90 {percentile(latencies, 90):.2f} ms  "
          f"p99 {p99:.2f} ms  max {latencies[-1]:.2f} ms  mean {statistics.fmean(latencies):.2f} ms")
    verdict = "PASS" if p99 <= TARGET_P99_MS else "FAIL"
    print(f"  target p99 <= {TARGET_P99_MS:.0f} ms: {verdict}")
    return 0 if verdict == "PASS" else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=3)
    args = parser.parse_args()
    if args.changes < 1 or args.subscribers < 1:
        parser.error("--changes and --subscribers must be at least 1")
    sys.exit(asyncio.run(run(args.changes, args.subscribers)))


if __name__ == "__main__":
    main()
