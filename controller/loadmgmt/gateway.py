"""The group's gateway: admits clients, recomputes every limit on every change, pushes them.

The gateway is a member itself (index 1, its own station) and the only one that runs the
allocation engine.  Admission: the client proves the group secret (HMAC of a nonce, see
:mod:`controller.loadmgmt.protocol`), its Group ID must equal the gateway's, its wire type must
exist on the site, and the group may not grow past Group Size.  A member that was seen and is
gone (socket lost, or silent for ``gateway_timeout_s``) stays in the table as offline and gets
its fallback current reserved until it returns or is forgotten.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.charging.station import Station, StationSnapshot
from controller.clock import Clock, ScopedClock, TimerHandle
from controller.loadmgmt.allocation import (
    Allocation,
    Site,
    StationAllocation,
    allocate,
)
from controller.loadmgmt.allocation import Station as EngineStation
from controller.loadmgmt.errors import LoadManagementError
from controller.loadmgmt.inflight import InFlight
from controller.loadmgmt.lan_link import (
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    CLOSE_TIMEOUT,
    LanLink,
    WebSocketLike,
)
from controller.loadmgmt.member_report import LLM_SOURCE, own_max_a, station_state
from controller.loadmgmt.protocol import (
    PROTOCOL_VERSION,
    Bye,
    Hello,
    Join,
    Joined,
    LanMessage,
    Limit,
    Ping,
    Pong,
    RejectCode,
    Rejected,
    State,
    token_valid,
)
from controller.loadmgmt.settings import LoadManagementSettings
from controller.loadmgmt.status import LlmRow, LlmStatus
from controller.loadmgmt.wiring import DEFAULT_DELTA_HIGH_LEG, SiteWiring, WireType, check_wire_type

log = logging.getLogger(__name__)

MAX_REJECTIONS_SHOWN = 20


@dataclass
class Member:
    """One row of the group table (the gateway's own station included)."""

    serial: str
    index: int
    wire: WireType
    max_a: int
    lan_ip: str
    charge_point_id: str | None = None
    is_gateway: bool = False
    link: LanLink | None = None
    online: bool = True
    state: State | None = None
    arrival: float | None = None  # gateway clock when its current session was first seen
    last_seen: float = 0.0
    sent: Limit | None = None  # the limit it has now
    allocation: StationAllocation | None = None
    watchdog: TimerHandle | None = None
    offline_reason: str = ""

    def engine_station(self) -> EngineStation:
        state = self.state
        requesting = bool(state and state.requesting and self.online)
        return EngineStation(
            station_id=self.serial,
            max_current_a=self.max_a,
            wire_type=self.wire,
            online=self.online,
            vehicle_present=requesting,
            arrival=self.arrival if requesting else None,
            requested_current_a=state.requested_a if state and requesting else None,
        )


@dataclass
class _Pending:
    """A connection that has had its hello but has not joined yet."""

    link: LanLink
    nonce: str
    deadline: TimerHandle | None = None


def limit_reason(allocation: StationAllocation) -> str:
    """The text the station shows as its binding reason when load management limits it."""
    if allocation.reason is not None:
        return f"load management: {allocation.reason.value}"
    if allocation.demand_a == 0:
        return "load management: no session"
    return f"load management: {allocation.current_a} A from the gateway"


class Gateway:
    def __init__(
        self,
        settings: LoadManagementSettings,
        clock: Clock,
        station: Station,
        serial: str,
        *,
        inflight: InFlight | None = None,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
        remembered: list[dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = ScopedClock(clock)
        self.station = station
        self.serial = serial
        self._inflight = inflight
        self._nonce = nonce
        self.members: dict[str, Member] = {}  # insertion order = connection order
        self._pending: dict[LanLink, _Pending] = {}
        self.rejections: deque[str] = deque(maxlen=MAX_REJECTIONS_SHOWN)
        self.allocation: Allocation | None = None
        self.recomputes = 0
        self._ping_seq = 0
        self._ping_timer: TimerHandle | None = None
        self._halted = False
        self._next_index = 1
        self.on_limits: list[Callable[[Allocation], None]] = []  # observers (bench, twin)
        self._remembered = list(remembered or [])

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return not self._halted

    def start(self) -> None:
        """Take the gateway's own station into the group and compute the first limits."""
        self.members[self.serial] = Member(
            serial=self.serial, index=self._take_index(), wire=self.settings.wire_type,
            max_a=0, lan_ip="(this gateway)", is_gateway=True, last_seen=self._clock.now(),
        )
        for record in self._remembered:
            self._restore(record)
        self.station.on_change(self._own_station_changed)
        self._own_station_changed(self.station.snapshot())
        self._arm_ping()
        self.recompute("gateway started")

    def halt(self) -> None:
        """Stop dead (power lost): no more frames, timers or limits; sockets stay open, mute."""
        self._halted = True
        self._clock.close()
        for pending in list(self._pending.values()):
            pending.link.mute()
        for member in self.members.values():
            if member.link is not None:
                member.link.mute()
        self._pending.clear()

    async def stop(self, reason: str = "gateway shutting down") -> None:
        """Orderly shutdown: tell every client, then close the links."""
        links = [m.link for m in self.members.values() if m.link is not None]
        links += [p.link for p in self._pending.values()]
        for link in links:
            link.send(Bye(reason=reason))
        self.halt_timers()
        for link in links:
            await link.close(CLOSE_NORMAL, reason)
        self._halted = True

    def halt_timers(self) -> None:
        self._clock.close()

    # ------------------------------------------------------------------ connections
    async def serve(self, ws: WebSocketLike, peer_ip: str) -> None:
        """Run one client connection (called by the LAN server per WebSocket)."""
        link = LanLink(ws, peer_ip, self._on_message, self._on_link_lost, self._inflight)
        if self._halted:
            link.mute()
        else:
            pending = _Pending(link, self._nonce())
            pending.deadline = self._clock.call_later(
                self.settings.gateway_timeout_s, lambda: self._join_overdue(link)
            )
            self._pending[link] = pending
            link.send(Hello(nonce=pending.nonce))
        await link.run()

    def _join_overdue(self, link: LanLink) -> None:
        if link in self._pending:
            self._reject(link, "", "protocol",
                         f"no join within {self.settings.gateway_timeout_s:g} s of the hello")

    def _on_message(self, link: LanLink, message: LanMessage) -> None:
        if self._halted:
            return
        pending = self._pending.get(link)
        if pending is not None:
            if isinstance(message, Join):
                self._admit(pending, message)
            else:
                self._reject(link, "", "protocol", f"expected join first, got {message.type!r}")
            return
        member = self._member_of(link)
        if member is None:
            return  # a link being closed (replaced or rejected)
        member.last_seen = self._clock.now()
        if isinstance(message, State):
            self._apply_state(member, message)
        elif isinstance(message, Pong):
            pass
        elif isinstance(message, Bye):
            self._lose(member, f"left: {message.reason}")
            link.close_soon(CLOSE_NORMAL, "bye")
        else:
            log.warning("member %s sent %s, which only a gateway sends", member.serial, message.type)

    def _on_link_lost(self, link: LanLink, why: str) -> None:
        if self._halted:
            return
        pending = self._pending.pop(link, None)
        if pending is not None:
            if pending.deadline is not None:
                pending.deadline.cancel()
            return
        member = self._member_of(link)
        if member is not None:
            self._lose(member, why)

    def _member_of(self, link: LanLink) -> Member | None:
        for member in self.members.values():
            if member.link is link:
                return member
        return None

    # ------------------------------------------------------------------ admission
    def _admit(self, pending: _Pending, join: Join) -> None:
        link = pending.link
        s = self.settings
        if join.protocol != PROTOCOL_VERSION:
            self._reject(link, join.serial, "protocol",
                         f"protocol version {join.protocol}; this gateway speaks {PROTOCOL_VERSION}")
            return
        if join.group_id != s.group_id:
            self._reject(link, join.serial, "group_id",
                         f"Group ID {join.group_id!r} differs from the gateway's {s.group_id!r}")
            return
        if not token_valid(s.group_secret, pending.nonce, join):
            self._reject(link, join.serial, "auth",
                         "authentication failed: the group secret differs from the gateway's")
            return
        wire = WireType(join.wire)
        try:
            high = DEFAULT_DELTA_HIGH_LEG if s.site_wiring is SiteWiring.DELTA_240 else None
            check_wire_type(s.site_wiring, high, wire, join.serial)
        except LoadManagementError as exc:
            self._reject(link, join.serial, "wiring", str(exc))
            return
        member = self.members.get(join.serial)
        if member is not None and member.is_gateway:
            self._reject(link, join.serial, "protocol",
                         f"serial {join.serial!r} is the gateway's own serial")
            return
        if member is None and len(self.members) >= s.group_size:
            self._reject(link, join.serial, "group_full",
                         f"group is full: Group Size is {s.group_size} and "
                         f"{len(self.members)} members are known")
            return
        self._pending.pop(link, None)
        if pending.deadline is not None:
            pending.deadline.cancel()
        now = self._clock.now()
        if member is None:
            member = Member(serial=join.serial, index=self._take_index(), wire=wire,
                            max_a=join.max_a, lan_ip=link.peer)
            self.members[join.serial] = member
        elif member.link is not None and member.link is not link:
            old = member.link
            member.link = None
            old.close_soon(CLOSE_REPLACED, "the same serial joined on another connection")
        member.wire, member.max_a, member.lan_ip = wire, join.max_a, link.peer
        member.charge_point_id = join.charge_point_id
        member.link, member.online, member.last_seen = link, True, now
        member.state, member.arrival, member.sent, member.offline_reason = None, None, None, ""
        link.send(Joined(group_id=s.group_id, index=member.index, fallback_a=s.fallback_current_a,
                         ping_interval_s=s.ping_interval_s, timeout_s=s.gateway_timeout_s))
        self._arm_watchdog(member)
        log.info("member %s joined from %s (index %d)", member.serial, link.peer, member.index)
        self.recompute(f"{member.serial} joined")

    def _reject(self, link: LanLink, serial: str, code: RejectCode, reason: str) -> None:
        pending = self._pending.pop(link, None)
        if pending is not None and pending.deadline is not None:
            pending.deadline.cancel()
        who = serial or "?"
        self.rejections.append(f"{who} from {link.peer}: {reason}")
        log.warning("refused %s from %s: %s", who, link.peer, reason)
        link.send(Rejected(code=code, reason=reason))
        link.close_soon(CLOSE_POLICY, code)

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    # ------------------------------------------------------------------ member state
    def _own_station_changed(self, _snap: StationSnapshot) -> None:
        if self._halted:
            return
        me = self.members.get(self.serial)
        if me is None:
            return
        me.max_a = own_max_a(self.station)
        self._apply_state(me, station_state(self.station, self.settings.wire_type))

    def _apply_state(self, member: Member, state: State) -> None:
        before = member.engine_station()
        status_before = member.state.status if member.state is not None else None
        if state.requesting and not (member.state and member.state.requesting):
            member.arrival = self._clock.now()
        elif not state.requesting:
            member.arrival = None
        if not member.is_gateway:
            member.max_a = state.max_a
        member.state = state
        if member.engine_station() != before or state.status != status_before:
            self.recompute(f"{member.serial}: {state.status}")

    def _lose(self, member: Member, why: str) -> None:
        if member.is_gateway or not member.online:
            return
        log.warning("member %s lost: %s", member.serial, why)
        member.online = False
        member.offline_reason = why
        member.link = None
        member.sent = None
        if member.watchdog is not None:
            member.watchdog.cancel()
            member.watchdog = None
        self.recompute(f"{member.serial} lost")

    def remembered(self) -> list[dict[str, Any]]:
        """The client table to keep across a restart (the daemon stores it)."""
        return [
            {"serial": m.serial, "index": m.index, "wire": m.wire.value, "max_a": m.max_a,
             "lan_ip": m.lan_ip, "charge_point_id": m.charge_point_id}
            for m in self.members.values() if not m.is_gateway
        ]

    def _restore(self, record: dict[str, Any]) -> None:
        """A member known before the restart: offline (fallback reserved) until it rejoins."""
        try:
            serial = str(record["serial"])
            member = Member(
                serial=serial, index=int(record["index"]), wire=WireType(record["wire"]),
                max_a=int(record["max_a"]), lan_ip=str(record.get("lan_ip", "?")),
                charge_point_id=record.get("charge_point_id"), online=False,
                offline_reason="not seen since the gateway restarted",
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.error("remembered member %r dropped: %s", record, exc)
            return
        if serial == self.serial or serial in self.members:
            return
        self.members[serial] = member
        self._next_index = max(self._next_index, member.index + 1)

    def forget(self, serial: str) -> None:
        """Drop an offline member from the group (its reservation ends)."""
        member = self.members.get(serial)
        if member is None:
            raise KeyError(f"no member {serial!r}")
        if member.online:
            raise ValueError(f"member {serial!r} is online; only an offline member can be forgotten")
        del self.members[serial]
        self.recompute(f"{serial} forgotten")

    # ------------------------------------------------------------------ timers
    def _arm_ping(self) -> None:
        self._ping_timer = self._clock.call_later(self.settings.ping_interval_s, self._ping_all)

    def _ping_all(self) -> None:
        self._ping_seq += 1
        for member in self.members.values():
            if member.link is not None:
                member.link.send(Ping(seq=self._ping_seq))
        self._arm_ping()

    def _arm_watchdog(self, member: Member) -> None:
        if member.watchdog is not None:
            member.watchdog.cancel()
        due = member.last_seen + self.settings.gateway_timeout_s
        member.watchdog = self._clock.call_at(due, lambda: self._watchdog(member))

    def _watchdog(self, member: Member) -> None:
        member.watchdog = None
        if not member.online or member.link is None:
            return
        silent = self._clock.now() - member.last_seen
        if silent >= self.settings.gateway_timeout_s:
            link = member.link
            self._lose(member, f"silent for {silent:g} s")
            link.close_soon(CLOSE_TIMEOUT, "timeout")
        else:
            self._arm_watchdog(member)

    # ------------------------------------------------------------------ allocation
    def site(self) -> Site:
        s = self.settings
        return Site(grid_limit_a=s.grid_max_a, wiring=s.site_wiring, policy=s.policy,
                    fallback_current_a=s.fallback_current_a, max_group_size=s.max_group_size)

    def recompute(self, why: str = "") -> None:
        """Run the engine on the whole table and push every changed limit at once."""
        if self._halted:
            return
        members = list(self.members.values())
        try:
            allocation = allocate(self.site(), [m.engine_station() for m in members])
        except LoadManagementError as exc:
            log.error("allocation refused (%s): keeping the limits in force", exc)
            return
        self.allocation = allocation
        self.recomputes += 1
        fallback = self.settings.fallback_current_a
        for member, share in zip(members, allocation.stations, strict=True):
            member.allocation = share
            if not member.online:
                continue
            limit = Limit(amps=share.current_a, reason=limit_reason(share), fallback_a=fallback)
            if member.is_gateway:
                self.station.arbiter.set_limit(LLM_SOURCE, limit.amps, limit.reason)
                member.sent = limit
            elif member.link is not None and limit != member.sent:
                member.sent = limit
                member.link.send(limit)
        for observer in list(self.on_limits):
            observer(allocation)
        log.debug("recomputed (%s): %s", why, allocation.currents())

    def apply_settings(self, settings: LoadManagementSettings) -> None:
        """New gateway settings; a changed Group ID sends every client away with the reason."""
        old = self.settings
        self.settings = settings
        if settings.group_id != old.group_id:
            for member in list(self.members.values()):
                if member.is_gateway:
                    continue
                if member.link is not None:
                    link = member.link
                    member.link = None
                    self.rejections.append(f"{member.serial}: Group ID changed")
                    link.send(Rejected(code="group_id", reason=(
                        f"the gateway's Group ID changed from {old.group_id!r} to "
                        f"{settings.group_id!r}")))
                    link.close_soon(CLOSE_POLICY, "group_id")
                del self.members[member.serial]
        me = self.members.get(self.serial)
        if me is not None:
            me.wire = settings.wire_type
        self.recompute("settings changed")

    # ------------------------------------------------------------------ lookups
    def member_for_charge_point(self, charge_point_id: str) -> Member | None:
        for member in self.members.values():
            if member.online and member.charge_point_id == charge_point_id:
                return member
        return None

    def limits(self) -> dict[str, int]:
        """Each online member's limit in force (what it was sent)."""
        return {m.serial: m.sent.amps for m in self.members.values() if m.sent is not None}

    def status(self) -> LlmStatus:
        rows = []
        for member in self.members.values():
            state = member.state
            share = member.allocation
            requested = 0.0
            if state is not None and state.requesting and member.online:
                requested = float(state.requested_a if state.requested_a is not None
                                  else member.max_a)
                requested = min(requested, float(member.max_a))
            phases: dict[str, float] = {"L1": 0.0, "L2": 0.0, "L3": 0.0}
            if state is not None and member.online:
                phases = state.phase_a.model_dump()
            reason = ""
            if not member.online:
                reason = member.offline_reason
            elif share is not None and share.reason is not None:
                reason = share.reason.value
            rows.append(LlmRow(
                index=member.index, serial=member.serial, lan_ip=member.lan_ip,
                wire_type=member.wire.value, requested_a=requested,
                allowed_a=member.sent.amps if member.sent and member.online else 0,
                phase_a=phases, online=member.online,
                status=(state.status if state and member.online else "Offline"),
                reason=reason, reserved_a=share.reserved_a if share else 0,
            ))
        connected = sum(1 for m in self.members.values() if m.online)
        s = self.settings
        extra: dict[str, Any] = {"recomputes": self.recomputes}
        if self.allocation is not None:
            extra["load_a"] = {c.value: a for c, a in self.allocation.load_a.items()}
            extra["warnings"] = list(self.allocation.warnings)
        me = self.members.get(self.serial)
        return LlmStatus(
            network_mode="gateway", enabled=True,
            network_status="halted" if self._halted else f"serving {connected - 1} client(s)",
            gateway_status="this station", group_id=s.group_id, connected=connected,
            total=max(s.group_size, len(self.members)), policy=s.policy.value,
            grid_max_a=s.grid_max_a, fallback_a=s.fallback_current_a,
            limit_a=me.sent.amps if me and me.sent else None, rows=tuple(rows),
            rejections=tuple(self.rejections), extra=extra,
        )
