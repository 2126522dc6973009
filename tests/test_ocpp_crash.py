"""Crash test: random SIGKILLs of the charge point daemon and random disconnects mid-session.

Afterwards the central system must have every transaction message exactly once (redeliveries
carry the original message id and are counted separately), in order, and the energy values it
received must never go backwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from controller.ocpp.database import open_database
from controller.ocpp.tx_queue import TransactionQueue
from tests.ocpp_cs_driver import CentralSystem

ROOT = Path(__file__).resolve().parent.parent
TX_METHODS = ("StartTransaction", "MeterValues", "StopTransaction")


async def spawn(db: Path, register: Path, cs: CentralSystem) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.ocpp_cp_process", str(db), str(register), cs.url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert json.loads(line)["event"] == "running"
    return proc


async def send(proc: asyncio.subprocess.Process, **command: Any) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(command) + "\n").encode())
    await proc.stdin.drain()


async def kill_after(proc: asyncio.subprocess.Process, delay: float) -> None:
    """SIGKILL at a random instant (a timer), then wait for the process to be gone."""

    def kill() -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)

    asyncio.get_running_loop().call_later(delay, kill)
    await asyncio.wait_for(proc.wait(), 30)


def energy_of(call: dict[str, Any]) -> list[float]:
    params = call["params"]
    if call["method"] == "StartTransaction":
        return [float(params["meterStart"])]
    if call["method"] == "StopTransaction":
        return [float(params["meterStop"])]
    return [float(sv["value"]) for mv in params["meterValue"] for sv in mv["sampledValue"]
            if sv.get("measurand") == "Energy.Active.Import.Register"]


async def run_crash_cycles(tmp_path: Path, cycles: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    cs = await CentralSystem.start()
    db, register = tmp_path / "cp.sqlite", tmp_path / "register.txt"
    try:
        for cycle in range(cycles):
            proc = await spawn(db, register, cs)
            await send(proc, cmd="start", tag=f"T{cycle}")
            if rng.random() < 0.3:
                asyncio.get_running_loop().call_later(
                    rng.uniform(0.0, 0.4),
                    lambda: asyncio.ensure_future(cs.command("disconnect", terminate=True)))
            await kill_after(proc, rng.uniform(0.05, 1.5))
        # A last, clean run: recovery closes the killed session and the queue drains.
        proc = await spawn(db, register, cs)

        def settled(_: Any) -> bool:
            starts = {c["result"]["transactionId"] for c in cs.calls("StartTransaction") if "result" in c}
            stops = {c["params"]["transactionId"] for c in cs.calls("StopTransaction") if "result" in c}
            return bool(starts) and starts == stops and len(starts) >= 1

        await cs.wait_for(settled, timeout=120)
        await send(proc, cmd="drain")
        assert proc.stdout is not None
        done = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        proc.stdin.close()  # type: ignore[union-attr]
        await asyncio.wait_for(proc.wait(), 30)
        assert done["queued"] == 0
    finally:
        await cs.stop()

    assert cs.validation_failures() == []
    tx_calls = [c for c in cs.calls() if c["method"] in TX_METHODS and "result" in c]
    deliveries = Counter(c["messageId"] for c in tx_calls)
    redelivered = sum(n - 1 for n in deliveries.values())
    unique: list[dict[str, Any]] = []
    seen: set[str] = set()
    for call in tx_calls:
        if call["messageId"] not in seen:
            seen.add(call["messageId"])
            unique.append(call)
    # Per transaction: one start, one stop, start first and stop last, time in order.
    tx_of_start = {c["messageId"]: c["result"]["transactionId"] for c in unique
                   if c["method"] == "StartTransaction"}
    by_tx: dict[int, list[dict[str, Any]]] = {}
    for call in unique:
        tx = tx_of_start.get(call["messageId"]) or call["params"].get("transactionId")
        by_tx.setdefault(tx, []).append(call)
    for tx, calls in by_tx.items():
        methods = [c["method"] for c in calls]
        assert methods[0] == "StartTransaction" and methods[-1] == "StopTransaction", (tx, methods)
        assert methods.count("StartTransaction") == 1 and methods.count("StopTransaction") == 1
    # Energy never goes backwards across everything received.
    energies = [e for call in unique for e in energy_of(call)]
    assert energies == sorted(energies)
    assert len(TransactionQueue(open_database(db))) == 0
    return {"transactions": len(by_tx), "messages": len(unique), "redelivered": redelivered}


async def test_crash_cycles_short(tmp_path: Path) -> None:
    figures = await run_crash_cycles(tmp_path, cycles=8, seed=1)
    assert figures["transactions"] >= 1
    print("crash test (8 cycles):", figures)


@pytest.mark.slow
async def test_crash_cycles_100(tmp_path: Path) -> None:
    figures = await run_crash_cycles(tmp_path, cycles=100, seed=2026)
    print("crash test (100 cycles):", figures)
    assert figures["transactions"] >= 50
