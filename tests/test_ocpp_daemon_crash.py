"""Crash test of the real daemon: 100 SIGKILLs of `mq200 run --sim` during Plug-and-Charge sessions.

One data directory is kept across all cycles, so the daemon's SQLite transaction queue, its
energy register and the OCPP keys set in the first cycle persist as they would on a charger
whose power is pulled. Each cycle starts the daemon, plugs the simulated EV (the Plug and
Charge id starts a session), lets a random 0.2-3 s pass while the central system sometimes
drops the connection and the EV sometimes leaves (and comes back), then SIGKILLs the daemon.
A last clean start drains the queue. The independent strict central system must then hold
every transaction message exactly once (a repeat carries the same message id and the same
content, and is counted), in order, with consistent transaction ids and energy values that
never go backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.ocpp.charge_point import OcppChargePoint
from controller.ocpp.database import open_database
from controller.ocpp.ocpp_settings import OcppSettings
from controller.ocpp.station_port import StopReason
from controller.ocpp.tx_queue import QueuedMessage, TransactionIdMap, TransactionQueue
from sqlmodel import Session, select
from tests.daemon_process import RunningDaemon, start_daemon
from tests.ocpp_cs_driver import CentralSystem, Event
from tests.ocpp_rig import ObservedClock
from tests.ocpp_station_double import StationDouble

TX_METHODS = ("StartTransaction", "MeterValues", "StopTransaction")
ENERGY = "Energy.Active.Import.Register"
OCPP_KEYS = {
    "MeterValueSampleInterval": "1",
    "MinimumStatusDuration": "0",
    "TransactionMessageRetryInterval": "1",
}


def daemon_config(url: str) -> str:
    return f"""
[identity]
serial_number = "MQ200-CRASH001"

[station]
plug_and_charge_id = "PNC00001"

[ocpp]
central_system_url = "{url}"
charge_point_id = "CP-CRASH-1"
"""


@dataclass
class CrashLog:
    """What the test did, as positions in the central system's event list (for classification)."""

    kills: list[int] = field(default_factory=list)  # event index at each SIGKILL
    disconnects: list[int] = field(default_factory=list)  # event index at each commanded drop
    connected_at: dict[int, float] = field(default_factory=dict)  # 'connected' index -> wall time
    unplugs: int = 0


@dataclass(frozen=True)
class Figures:
    cycles: int
    transactions: int
    messages: int  # distinct transaction messages
    deliveries: int  # CALLs received, repeats included
    repeats_after_kill: int
    repeats_after_disconnect: int
    offline_started: int
    orphan_local_ids: int  # a kill before the StartTransaction was queued: never a transaction


async def _watch_connections(cs: CentralSystem, log: CrashLog) -> None:
    """Note when each connection arrived (to tell transactions started offline)."""
    position = 0
    while True:
        event = await cs.wait_for(lambda e: e.get("event") == "connected", timeout=3600, after=position)
        index = cs.events.index(event, position)
        log.connected_at[index] = time.time()
        position = index + 1


async def _sim(daemon: RunningDaemon, action: str, body: dict[str, Any] | None = None) -> None:
    """A control-surface action that may race the SIGKILL (then it simply did not happen)."""
    with contextlib.suppress(aiohttp.ClientError, AssertionError, asyncio.TimeoutError):
        await asyncio.wait_for(daemon.sim(action, body), 5)


async def _configure(cs: CentralSystem) -> None:
    await cs.wait_call("BootNotification", timeout=30)
    for key, value in OCPP_KEYS.items():
        answer = await cs.call("ChangeConfiguration", {"key": key, "value": value})
        assert answer["result"] == {"status": "Accepted"}, (key, answer)


async def _one_cycle(
    cs: CentralSystem, daemon: RunningDaemon, rng: random.Random, log: CrashLog, mark: int
) -> None:
    """Plug, random disturbances on timers, SIGKILL at a random instant."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Any]] = []
    killed: asyncio.Future[None] = loop.create_future()

    def later(delay: float, action: Callable[[], Awaitable[Any]]) -> None:
        loop.call_later(delay, lambda: tasks.append(asyncio.ensure_future(action())))

    async def disconnect() -> None:
        log.disconnects.append(len(cs.events))
        await cs.command("disconnect", terminate=rng.random() < 0.5)

    async def unplug_and_maybe_return(replug: bool) -> None:
        log.unplugs += 1
        await _sim(daemon, "unplug")
        if replug:
            await _sim(daemon, "plug", {"soc": 0.4})

    def kill() -> None:
        log.kills.append(len(cs.events))
        if daemon.proc.returncode is None:
            daemon.proc.send_signal(signal.SIGKILL)
        killed.set_result(None)

    lifetime = rng.uniform(0.2, 3.0)
    if rng.random() < 0.2:  # once connected, drop it: the session starts offline
        await cs.wait_call("BootNotification", timeout=30, after=mark)
        await disconnect()  # (the charger reconnects after 0.5-1.5 s)
    tasks.append(asyncio.ensure_future(_sim(daemon, "plug", {"soc": rng.uniform(0.1, 0.7)})))
    if rng.random() < 0.35:
        later(rng.uniform(0.0, lifetime), disconnect)
    if rng.random() < 0.25:
        replug = rng.random() < 0.5
        later(rng.uniform(0.1, lifetime), lambda: unplug_and_maybe_return(replug))
    loop.call_later(lifetime, kill)
    await killed
    await asyncio.wait_for(daemon.proc.wait(), 30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _energies(call: Event) -> list[float]:
    """The energy figures of one message in the order they were measured."""
    params = call["params"]
    if call["method"] == "StartTransaction":
        return [float(params["meterStart"])]
    if call["method"] == "StopTransaction":
        return [float(params["meterStop"])]
    return [float(sv["value"]) for mv in params["meterValue"] for sv in mv["sampledValue"]
            if sv.get("measurand", ENERGY) == ENERGY]


def _ocpp_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def check_central_system(cs: CentralSystem, log: CrashLog, data_dir: Path, cycles: int) -> Figures:
    """Every assertion of the crash test; returns the figures for the report."""
    assert cs.validation_failures() == []
    calls = [(i, e) for i, e in enumerate(cs.events)
             if e.get("event") == "call" and e.get("method") in TX_METHODS]
    assert all("result" in e for _, e in calls), "the central system refused a transaction message"

    # A repeated message id is the same message again (same action, same content).
    first: dict[str, tuple[int, Event]] = {}
    repeats_after_kill = repeats_after_disconnect = 0
    for index, call in calls:
        seen = first.get(call["messageId"])
        if seen is None:
            first[call["messageId"]] = (index, call)
            continue
        assert (seen[1]["method"], seen[1]["params"]) == (call["method"], call["params"]), (
            "a message id was reused for a different message", seen[1], call)
        # what ended the connection the earlier delivery was on: our drop or a SIGKILL?
        drops = [d for d in log.disconnects if d >= seen[0]]
        kills = [k for k in log.kills if k >= seen[0]]
        if drops and (not kills or min(drops) <= min(kills)):
            repeats_after_disconnect += 1
        else:
            repeats_after_kill += 1
    unique = sorted(first.values(), key=lambda pair: pair[0])

    # Transaction ids: each StartTransaction got one; later messages carry a known, started one.
    tx_of_start: dict[str, int] = {}
    by_tx: dict[int, list[Event]] = {}
    offline_started = 0
    connections = sorted(log.connected_at)
    for index, call in unique:
        if call["method"] == "StartTransaction":
            tx = int(call["result"]["transactionId"])
            assert tx not in by_tx, f"transaction id {tx} issued twice"
            tx_of_start[call["messageId"]] = tx
            by_tx[tx] = [call]
            opened = [c for c in connections if c < index]
            if opened and _ocpp_time(call["params"]["timestamp"]) < log.connected_at[opened[-1]]:
                offline_started += 1  # started before the connection that carried it existed
        else:
            tx = int(call["params"]["transactionId"])
            assert tx in by_tx, f"{call['method']} for transaction {tx} before its StartTransaction"
            by_tx[tx].append(call)

    # Per transaction: Start, then its MeterValues, then exactly one Stop, nothing after it.
    for tx, messages in by_tx.items():
        methods = [m["method"] for m in messages]
        assert methods[0] == "StartTransaction" and methods[-1] == "StopTransaction", (tx, methods)
        assert methods.count("StartTransaction") == 1 and methods.count("StopTransaction") == 1
        stop = messages[-1]["params"]
        start = messages[0]["params"]
        assert stop["meterStop"] >= start["meterStart"]
        data = [float(sv["value"]) for mv in stop.get("transactionData", [])
                for sv in mv["sampledValue"] if sv.get("measurand", ENERGY) == ENERGY]
        assert data == sorted(data) and all(
            start["meterStart"] <= e <= stop["meterStop"] for e in data), (tx, data)

    # Energy never goes backwards across the whole run (meterStart, samples, meterStop).
    energies = [e for _, call in unique for e in _energies(call)]
    assert energies, "no energy figure reached the central system"
    assert energies == sorted(energies), "energy went backwards"

    # The charger's side: nothing left queued; every local transaction that queued a
    # StartTransaction got the central system's id (a kill between allocating a local id and
    # queueing the StartTransaction leaves an id that never became a transaction).
    engine = open_database(data_dir / "mq200.db")
    assert len(TransactionQueue(engine)) == 0
    with Session(engine) as session:
        mappings = session.exec(select(TransactionIdMap)).all()
    mapped = {m.remote_tx_id for m in mappings if m.remote_tx_id is not None}
    assert not any(m.dropped for m in mappings)
    assert mapped == set(by_tx), (sorted(mapped ^ set(by_tx)))
    engine.dispose()
    return Figures(
        cycles=cycles,
        transactions=len(by_tx),
        messages=len(unique),
        deliveries=len(calls),
        repeats_after_kill=repeats_after_kill,
        repeats_after_disconnect=repeats_after_disconnect,
        offline_started=offline_started,
        orphan_local_ids=sum(1 for m in mappings if m.remote_tx_id is None),
    )


async def run_daemon_crash_cycles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cycles: int, seed: int
) -> Figures:
    # compiled modules kept between the 100 starts (this machine sets PYTHONDONTWRITEBYTECODE)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "pycache"))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    rng = random.Random(seed)
    log = CrashLog()
    cs = await CentralSystem.start()
    watcher = asyncio.ensure_future(_watch_connections(cs, log))
    data_dir = tmp_path / "var"
    config = daemon_config(cs.url)
    try:
        for cycle in range(cycles):
            mark = len(cs.events)
            daemon = await start_daemon(data_dir, config)
            if cycle == 0:
                await _configure(cs)  # persisted in the charger's database from now on
            await _one_cycle(cs, daemon, rng, log, mark)
        # A clean last run: recovery closes the killed session, a last session runs to its end.
        spawned = time.time()
        mark = len(cs.events)
        daemon = await start_daemon(data_dir, config)
        try:
            # plugged only once the board is up and the killed session closed (else the station
            # takes the EV for the interrupted session's and starts no new one)
            await cs.wait_call("StatusNotification", timeout=60, after=mark, where=lambda e: (
                e["params"]["connectorId"] == 1 and e["params"]["status"] == "Available"))
            await daemon.sim("plug", {"soc": 0.5})
            start = await cs.wait_call(  # not one carried over from a killed run
                "StartTransaction", timeout=60, after=mark,
                where=lambda e: "result" in e and _ocpp_time(e["params"]["timestamp"]) > spawned)
            await daemon.sim("unplug")
            tx = start["result"]["transactionId"]
            stop = await cs.wait_call(
                "StopTransaction", timeout=60, after=mark,
                where=lambda e: e["params"]["transactionId"] == tx)
            assert stop["params"]["reason"] == "EVDisconnected"
        finally:
            assert await daemon.stop() == 0
    finally:
        watcher.cancel()
        await cs.stop()
    return check_central_system(cs, log, data_dir, cycles)


def _report(figures: Figures) -> None:
    print("daemon crash test:", json.dumps(figures.__dict__))


async def test_daemon_crash_cycles_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = await run_daemon_crash_cycles(tmp_path, monkeypatch, cycles=6, seed=7)
    _report(figures)
    assert figures.transactions >= 2


@pytest.mark.timeout(600)
async def test_daemon_crash_cycles_100(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = await run_daemon_crash_cycles(tmp_path, monkeypatch, cycles=100, seed=2026)
    _report(figures)
    assert figures.transactions >= 50
    assert figures.offline_started >= 1  # the id mapping of offline transactions was exercised


# --- the confirmation window, frame by frame (in-process charge point, real SQLite) ----------


@dataclass
class FrameLink:
    """The charge point's side of a WebSocket, driven frame by frame by the test."""

    sent: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    incoming: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    async def next_call(self, action: str) -> list[Any]:
        """The next CALL of ``action``; other CALLs on the way get an empty/accepted answer."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.sent.get(), 10))
            if frame[0] == 2 and frame[2] == action:
                return list(frame)
            if frame[0] == 2:
                answer: dict[str, Any] = {}
                if frame[2] == "BootNotification":
                    answer = {"status": "Accepted", "currentTime": "2026-09-21T00:00:00Z",
                              "interval": 300}
                self.incoming.put_nowait(json.dumps([3, frame[1], answer]))


def _queued_rows(engine: Any) -> list[QueuedMessage]:
    with Session(engine) as session:
        return list(session.exec(select(QueuedMessage)).all())


async def test_confirmation_is_committed_when_its_frame_is_read(tmp_path: Path) -> None:
    clock = ObservedClock(1_790_000_000.0)
    station = StationDouble(clock)
    engine = open_database(tmp_path / "cp.sqlite")
    settings = OcppSettings(charge_point_id="CP-WINDOW", central_system_url="ws://127.0.0.1:9/ocpp")
    cp = OcppChargePoint(settings, clock, station, engine)
    station.events = cp
    cp.config.set("MinimumStatusDuration", "0")
    cp.config.set("TransactionMessageRetryInterval", "7")  # the only timer due in 7 s
    link = FrameLink()
    cp.attach(link.incoming.get, link.sent.put)
    session = asyncio.ensure_future(cp.run_session())
    try:
        local = cp.recorder.begin("TAG00001", 0.0, clock.now(), None)
        start = await link.next_call("StartTransaction")
        # The answer is handled as the reader does; before anything else can run (the sender
        # has not resumed), the message has left the queue and its id is mapped.
        conf = [3, start[1], {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}]
        await cp.route_message(json.dumps(conf))
        assert _queued_rows(engine) == [] and cp.queue.remote_id(local) == 42

        # A StartTransaction.conf without a transactionId confirms nothing: a failed attempt,
        # then the same message (same id) again after TransactionMessageRetryInterval.
        cp.recorder.end(StopReason.LOCAL, 5.0, clock.now())
        stop = await link.next_call("StopTransaction")
        assert stop[3]["transactionId"] == 42
        link.incoming.put_nowait(json.dumps([3, stop[1], {}]))
        second = cp.recorder.begin("TAG00002", 5.0, clock.now(), None)
        first_try = await link.next_call("StartTransaction")
        await cp.route_message(json.dumps([3, first_try[1], {"idTagInfo": {"status": "Accepted"}}]))
        rows = _queued_rows(engine)
        assert [r.message_id for r in rows] == [first_try[1]]
        await clock.timer_due_by(clock.now() + 7)  # the sender recorded the attempt, then waits
        assert _queued_rows(engine)[0].attempts == 1
        clock.advance(7)
        again = await link.next_call("StartTransaction")
        assert again[1] == first_try[1] and again[3] == first_try[3]
        await cp.route_message(json.dumps([3, again[1], {"transactionId": 43,
                                                         "idTagInfo": {"status": "Accepted"}}]))
        assert _queued_rows(engine) == [] and cp.queue.remote_id(second) == 43
    finally:
        session.cancel()
        cp.detach()
        await asyncio.gather(session, return_exceptions=True)
