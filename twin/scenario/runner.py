"""Run a scenario: real Station objects, the physics model, one virtual clock.

Deterministic for a given seed: every random choice (meter error, cold-load delay) draws from
generators seeded by the scenario seed and the charger id.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from controller.charging.dip import dip_for_amps
from controller.charging.station import Station, StationEvent, StationSnapshot
from controller.charging.status import ChargerStatus
from controller.clock import ScopedClock, VirtualClock
from controller.settings import StationSettings
from controller.storage import Storage
from twin.inprocess_link import InProcessLink, StationPort
from twin.physics.board import BoardConfig, SimBoard
from twin.physics.ev import EV, EVSpec
from twin.physics.faults import BoardFault
from twin.physics.grid import Grid
from twin.scenario.scheduling_events import SCHEDULING_EVENTS, SchedulingRun
from twin.scenario.lan_group import ScenarioLanGroup
from twin.scenario.model import (
    AmbientEvent,
    ChargerSpec,
    EVSpecModel,
    FaultEvent,
    GridVoltageEvent,
    LimitEvent,
    PowerLossEvent,
    Scenario,
    SettingsEvent,
    TagEvent,
)

TAG_DELAY_S = 2.0  # a driver presents the card a moment after plugging in
TIMELINE_EVENT_KINDS = {
    "session_started", "session_stopped", "session_resumed", "auth_rejected",
    "authorization_expired", "power_fail", "board_hello", "watchdog_tripped", "factory_reset",
    "reboot_requested", "warning",
}


@dataclass
class ChargerRun:
    spec: ChargerSpec
    settings: StationSettings
    storage: Storage
    board: SimBoard
    link: InProcessLink
    rng: random.Random
    station: Station | None = None
    scope: ScopedClock | None = None
    port: StationPort | None = None
    register_start: int = 0
    last_key: tuple[Any, ...] | None = None
    charging_since: float | None = None
    charging_s: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    active_faults: set[str] = field(default_factory=set)
    sessions: int = 0
    ev: EV | None = None
    ev_id: str | None = None
    scheduling: SchedulingRun = field(default_factory=SchedulingRun)


@dataclass
class EVRun:
    spec: EVSpecModel
    ev: EV | None = None
    charging_s: float = 0.0
    initial_soc: float = 0.0


class ScenarioRunner:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.t0 = scenario.start.timestamp()
        self.clock = VirtualClock(self.t0)
        self.samples: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.chargers: dict[str, ChargerRun] = {}
        self.evs: dict[str, EVRun] = {e.id: EVRun(e, initial_soc=e.soc) for e in scenario.evs}
        for spec in scenario.chargers:
            self.chargers[spec.id] = self._build_charger(spec)
        self.lan: ScenarioLanGroup | None = None
        if any(spec.role != "direct" for spec in scenario.chargers):
            self.lan = ScenarioLanGroup(scenario, self.clock, self._on_llm_limits)
            self._llm_last: dict[str, Any] | None = None

    # ------------------------------------------------------------------ setup
    def _build_charger(self, spec: ChargerSpec) -> ChargerRun:
        seed = self.scenario.seed
        rng = random.Random(f"{seed}:{spec.id}")
        link = InProcessLink(self.clock)
        grid = Grid(self.scenario.site.voltage_v)
        config = BoardConfig(
            meter_interval_s=max(self.scenario.sample_s, 1.0),
            watchdog_s=None,
            ambient_c=self.scenario.site.ambient_c,
        )
        board = SimBoard(self.clock, link.deliver, random.Random(f"{seed}:{spec.id}:board"),
                         dip=dip_for_amps(spec.dip_a), config=config, grid=grid)
        return ChargerRun(spec, spec.station_settings(), Storage(":memory:"), board, link, rng)

    def _boot_controller(self, run: ChargerRun) -> None:
        """A controller instance starts (first boot, or after power returns)."""
        scope = ScopedClock(self.clock)
        port = StationPort(run.board)
        station = Station(scope, port, run.storage, run.settings, run.rng)
        station.on_change(lambda snap: self._on_change(run, snap))
        station.on_event(lambda ev: self._on_event(run, ev))
        run.station, run.scope, run.port = station, scope, port
        if self.lan is not None and self.lan.is_member(run.spec.id):
            self.lan.boot(run.spec, station, scope)
        run.scheduling.attach(
            station, random.Random(f"{self.scenario.seed}:{run.spec.id}:dr"),
            lambda: run.ev.soc * 100.0 if run.ev is not None else None,
        )
        run.link.attach(station.handle_board_event)

    def _kill_controller(self, run: ChargerRun) -> None:
        if self.lan is not None and self.lan.is_member(run.spec.id):
            self.lan.kill(run.spec.id)
        run.link.detach()
        run.scheduling.detach()
        if run.scope is not None:
            run.scope.close()
        if run.port is not None:
            run.port.cut()
        self._account_charging(run, None)
        run.station = None

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        if self.lan is not None:
            return asyncio.run(self._run_with_lan(self.lan))
        s = self.scenario
        for run in self.chargers.values():
            self._boot_controller(run)
            run.board.start()
        self.clock.run_until(self.t0)  # boot handshake
        for run in self.chargers.values():
            assert run.station is not None
            run.register_start = run.station.register_wh
        for ev in s.evs:
            self._at(ev.arrive_s, lambda e=ev: self._arrive(e))
            if ev.leave_s is not None and ev.leave_s < s.duration_s:
                self._at(ev.leave_s, lambda e=ev: self._leave(e))
        for event in s.events:
            self._schedule_event(event)
        self._arm_sampler(s.sample_s)
        self.clock.run_until(self.t0 + s.duration_s)
        for run in self.chargers.values():
            run.board.sync()
        self.clock.run_until(self.t0 + s.duration_s)
        for run in self.chargers.values():
            self._sample(run, force=True)
            self._account_charging(run, None)
        return self.timeline()

    async def _run_with_lan(self, lan: ScenarioLanGroup) -> dict[str, Any]:
        """The same run as :meth:`run`, with the group's LAN protocol on 127.0.0.1."""
        s = self.scenario
        await lan.start()
        try:
            for run in self.chargers.values():
                self._boot_controller(run)
                run.board.start()
            await lan.run_until(self.t0)  # boot handshake and joins
            for run in self.chargers.values():
                assert run.station is not None
                run.register_start = run.station.register_wh
                if lan.is_member(run.spec.id) and not run.spec.online:
                    lan.cut_network(run.spec.id)
                    self._log(run.spec.id, "llm_network_down")
            for ev in s.evs:
                self._at(ev.arrive_s, lambda e=ev: self._arrive(e))
                if ev.leave_s is not None and ev.leave_s < s.duration_s:
                    self._at(ev.leave_s, lambda e=ev: self._leave(e))
            for event in s.events:
                self._schedule_event(event)
            self._arm_sampler(s.sample_s)
            await lan.run_until(self.t0 + s.duration_s)
            for run in self.chargers.values():
                run.board.sync()
            await lan.run_until(self.t0 + s.duration_s)
            for run in self.chargers.values():
                self._sample(run, force=True)
                self._account_charging(run, None)
            timeline = self.timeline()
            timeline["summary"]["llm"] = lan.status()
            return timeline
        finally:
            await lan.close()

    def _on_llm_limits(self, gateway_id: str, allocation: Any) -> None:
        """Log the group's limits each time the gateway changes any of them."""
        entry = {
            "limits": allocation.currents(),
            "reserved": {a.station_id: a.reserved_a for a in allocation if a.reserved_a},
        }
        if entry != self._llm_last:
            self._llm_last = entry
            self._log(gateway_id, "llm_limits", **entry)

    def _at(self, offset_s: float, action: Any) -> None:
        self.clock.call_at(self.t0 + offset_s, action)

    def _arm_sampler(self, every: float) -> None:
        def tick() -> None:
            for run in self.chargers.values():
                run.board.sync()
            self.clock.call_later(0.0, sample_all)

        def sample_all() -> None:
            for run in self.chargers.values():
                self._sample(run, force=True)
            if self.clock.now() + every <= self.t0 + self.scenario.duration_s:
                self.clock.call_later(every - 0.0, tick)

        self.clock.call_later(every, tick)

    # ------------------------------------------------------------------ world events
    def _arrive(self, spec: EVSpecModel) -> None:
        run = self.chargers[spec.charger]
        ev = EV(
            self.clock,
            EVSpec(battery_kwh=spec.battery_kwh, max_current_a=spec.max_a),
            soc=spec.soc,
            target_soc=spec.target_soc,
            needs_ventilation=spec.needs_ventilation,
        )
        self.evs[spec.id].ev = ev
        run.ev, run.ev_id = ev, spec.id
        run.board.plug(ev)
        self._log(run.spec.id, "ev_arrived", ev=spec.id, soc=round(spec.soc, 4))
        if spec.tag:
            self.clock.call_later(TAG_DELAY_S, lambda: run.board.present_tag(spec.tag or ""))

    def _leave(self, spec: EVSpecModel) -> None:
        run = self.chargers[spec.charger]
        if run.ev is None:
            return
        run.board.unplug()
        self._log(run.spec.id, "ev_left", ev=spec.id, soc=round(run.ev.soc, 4))
        run.ev, run.ev_id = None, None

    def _schedule_event(self, event: Any) -> None:
        if isinstance(event, FaultEvent):
            fault = BoardFault(event.fault)
            board = self.chargers[event.charger].board
            self._at(event.at_s, lambda: self._world(event.charger, "fault_injected", board.inject_fault, fault))
            if event.clear_at_s is not None:
                self._at(event.clear_at_s, lambda: self._world(event.charger, "fault_cleared", board.clear_fault, fault))
        elif isinstance(event, PowerLossEvent):
            targets = [event.charger] if event.charger else list(self.chargers)
            runs = [self.chargers[c] for c in targets]
            self._at(event.at_s, lambda: self._each(runs, self._power_cut))
            self._at(event.restore_at_s, lambda: self._each(runs, self._power_back))
        elif isinstance(event, TagEvent):
            board = self.chargers[event.charger].board
            self._at(event.at_s, lambda: board.present_tag(event.tag))
        elif isinstance(event, SettingsEvent):
            self._at(event.at_s, lambda: self._apply_settings(event))
        elif isinstance(event, LimitEvent):
            self._at(event.at_s, lambda: self._apply_limit(event))
        elif isinstance(event, AmbientEvent):
            board = self.chargers[event.charger].board
            self._at(event.at_s, lambda: board.set_ambient(event.ambient_c))
        elif isinstance(event, GridVoltageEvent):
            targets = [event.charger] if event.charger else list(self.chargers)
            boards = [self.chargers[c].board for c in targets]
            self._at(event.at_s, lambda: self._each(boards, lambda b: b.set_grid_voltage(event.voltage_v)))
        elif isinstance(event, SCHEDULING_EVENTS):
            self._at(event.at_s, lambda: self._apply_scheduling(event))

    def _apply_scheduling(self, event: Any) -> None:
        targets = [event.charger] if event.charger else list(self.chargers)
        for cid in targets:
            logged = self.chargers[cid].scheduling.apply(event, self.t0)
            self._log(cid, event.type, **logged)

    @staticmethod
    def _each(items: list[Any], action: Any) -> None:
        for item in items:
            action(item)

    def _world(self, charger: str, kind: str, action: Any, fault: BoardFault) -> None:
        action(fault)
        self._log(charger, kind, fault=fault.value)

    def _power_cut(self, run: ChargerRun) -> None:
        run.board.cut_power()
        self._log(run.spec.id, "power_loss")
        self.clock.call_later(0.0, lambda: self._kill_controller(run))

    def _power_back(self, run: ChargerRun) -> None:
        self._boot_controller(run)
        run.board.restore_power()
        self._log(run.spec.id, "power_restored")

    def _apply_settings(self, event: SettingsEvent) -> None:
        run = self.chargers[event.charger]
        if run.station is not None:
            run.settings = run.station.apply_settings(event.settings)
            self._log(event.charger, "settings_changed", settings=event.settings)

    def _apply_limit(self, event: LimitEvent) -> None:
        run = self.chargers[event.charger]
        if run.station is not None:
            run.station.arbiter.set_limit(event.source, event.amps, event.reason or f"{event.source} limit")

    # ------------------------------------------------------------------ observation
    def _on_change(self, run: ChargerRun, snap: StationSnapshot) -> None:
        for fault in snap.faults:
            kind = str(fault["kind"])
            if kind not in run.active_faults:
                run.faults[kind] += 1
                self._log(run.spec.id, "fault", fault=kind, latched=fault["latched"])
        run.active_faults = {str(f["kind"]) for f in snap.faults}
        self._account_charging(run, snap.status)
        self._sample(run, force=False)

    def _on_event(self, run: ChargerRun, event: StationEvent) -> None:
        if event.kind == "session_started":
            run.sessions += 1
        if event.kind in TIMELINE_EVENT_KINDS:
            self._log(run.spec.id, event.kind, **event.data)
        if event.kind == "reboot_requested":  # the weekly self-reboot: a new controller instance
            self.clock.call_later(0.0, lambda: self._reboot_controller(run))

    def _reboot_controller(self, run: ChargerRun) -> None:
        if run.station is None:
            return
        self._kill_controller(run)
        self._boot_controller(run)
        assert run.station is not None
        run.station.request_board_status()  # the board kept running: bring the new one up to date

    def _account_charging(self, run: ChargerRun, status: ChargerStatus | None) -> None:
        now = self.clock.now()
        if run.charging_since is not None:
            dt = now - run.charging_since
            run.charging_s += dt
            if run.ev_id is not None:
                self.evs[run.ev_id].charging_s += dt
            run.charging_since = None
        if status is ChargerStatus.CHARGING:
            run.charging_since = now

    def _sample(self, run: ChargerRun, force: bool) -> None:
        station = run.station
        t_s = round(self.clock.now() - self.t0, 3)
        if station is None:
            key: tuple[Any, ...] = ("off",)
            row = {
                "t_s": t_s, "charger": run.spec.id, "status": "Unavailable", "pilot": None,
                "duty_pct": None, "offered_a": 0.0, "current_a": 0.0,
                "energy_wh": self._energy(run), "contactor": False,
                "limit_reason": "no power", "power_w": 0.0,
                "soc": round(run.ev.soc, 4) if run.ev else None,
            }
        else:
            snap = station.snapshot()
            key = (snap.status, snap.offered_a, snap.limit_reason, snap.contactor, snap.pilot)
            row = {
                "t_s": t_s,
                "charger": run.spec.id,
                "status": snap.status.value,
                "pilot": snap.pilot,
                "duty_pct": snap.duty_pct,
                "offered_a": snap.offered_a,
                "current_a": snap.current_a,
                "energy_wh": self._energy(run),
                "contactor": snap.contactor,
                "limit_reason": snap.limit_reason,
                "power_w": snap.power_w,
                "soc": round(run.ev.soc, 4) if run.ev else None,
            }
        if not force and key == run.last_key:
            return
        run.last_key = key
        if self.samples and self.samples[-1]["t_s"] == t_s and self.samples[-1]["charger"] == run.spec.id:
            self.samples[-1] = row  # one sample per instant: the latest state wins
        else:
            self.samples.append(row)

    def _energy(self, run: ChargerRun) -> int:
        register = run.station.register_wh if run.station else run.storage.load_register()
        return register - run.register_start

    def _log(self, charger: str, kind: str, **data: Any) -> None:
        entry = {"t_s": round(self.clock.now() - self.t0, 3), "charger": charger, "type": kind}
        entry.update(data)
        self.events.append(entry)

    # ------------------------------------------------------------------ output
    def timeline(self) -> dict[str, Any]:
        chargers = {}
        for cid, run in self.chargers.items():
            chargers[cid] = {
                "energy_wh": self._energy(run),
                "charging_s": round(run.charging_s, 1),
                "sessions": run.sessions,
                "faults": dict(run.faults),
                "fault_count": sum(run.faults.values()),
                **run.scheduling.summary(),
            }
        evs = {}
        for eid, ev_run in self.evs.items():
            ev = ev_run.ev
            evs[eid] = {
                "charger": ev_run.spec.charger,
                "energy_wh": round(ev.delivered_wh, 1) if ev else 0.0,
                "charging_s": round(ev_run.charging_s, 1),
                "initial_soc": ev_run.initial_soc,
                "final_soc": round(ev.soc, 4) if ev else ev_run.initial_soc,
            }
        return {
            "scenario": {
                "start": self.scenario.start.isoformat(),
                "duration_s": self.scenario.duration_s,
                "seed": self.scenario.seed,
                "sample_s": self.scenario.sample_s,
            },
            "samples": self.samples,
            "events": self.events,
            "summary": {"chargers": chargers, "evs": evs},
        }


def run_scenario(scenario: Scenario) -> dict[str, Any]:
    return ScenarioRunner(scenario).run()
