"""A group client: joins its gateway, reports its station, applies the limits it is given.

The load-management limit of the station is always set by this class and only from three
things: the gateway's latest ``limit``, the fallback current while the gateway is out of reach,
and 0 while the gateway refuses the client.  Fallback timing (docs/load-management.md):

* socket closed or ``bye`` received: fallback at once;
* gateway silent (it pings every ``ping_interval_s``): fallback exactly ``gateway_timeout_s``
  after its last frame (default 3 s);
* then reconnect with back-off on the injected clock (``reconnect_min_s`` doubling up to
  ``reconnect_max_s``), and on joining adopt the gateway's fallback current: no restart needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import StrEnum

import aiohttp

from controller.charging.station import Station, StationSnapshot
from controller.clock import Clock, ScopedClock, TimerHandle
from controller.loadmgmt.inflight import InFlight
from controller.loadmgmt.lan_link import CLOSE_NORMAL, CLOSE_TIMEOUT, LanLink
from controller.loadmgmt.member_report import LLM_SOURCE, own_max_a, station_state
from controller.loadmgmt.protocol import (
    LAN_PATH,
    MAX_FRAME_BYTES,
    Bye,
    Hello,
    Join,
    Joined,
    LanMessage,
    Limit,
    Ping,
    Pong,
    Rejected,
    State,
    join_token,
)
from controller.loadmgmt.settings import LoadManagementSettings
from controller.loadmgmt.status import LlmRow, LlmStatus

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # network-level guard on the TCP/WebSocket handshake (wall time)


class ClientState(StrEnum):
    CONNECTING = "connecting"
    JOINED = "joined"
    REJECTED = "rejected"
    LOST = "gateway lost"
    STOPPED = "stopped"


REASON_NOT_YET = "gateway not reached yet: fallback current"
REASON_LOST = "gateway lost: fallback current"


class LoadManagementClient:
    def __init__(
        self,
        settings: LoadManagementSettings,
        clock: Clock,
        station: Station,
        serial: str,
        *,
        charge_point_id: str | None = None,
        gateway_url: str | None = None,
        inflight: InFlight | None = None,
    ) -> None:
        self.settings = settings
        self._clock = ScopedClock(clock)
        self.station = station
        self.serial = serial
        self.charge_point_id = charge_point_id
        self.url = gateway_url or f"ws://{settings.gateway_host}:{settings.port}{LAN_PATH}"
        self._inflight = inflight
        self.state = ClientState.CONNECTING
        self.fallback_a = settings.fallback_current_a
        self.index: int | None = None
        self.limit: Limit | None = None
        self.rejection: str | None = None
        self.lost_reason: str | None = None
        self.joins = 0
        self._link: LanLink | None = None
        self._session: aiohttp.ClientSession | None = None
        self._attempts = 0
        self._attempt_open: int | None = None  # the attempt counted in ``inflight``, unsettled
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_timer: TimerHandle | None = None
        self._watchdog: TimerHandle | None = None
        self._last_heard = 0.0
        self._delay = settings.reconnect_min_s
        self._last_state: State | None = None
        self._halted = False
        self.lan_up = True
        self.on_state: list[Callable[[ClientState], None]] = []  # observers (twin, tests)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Fallback until the gateway answers; connect now."""
        self.station.on_change(self._station_changed)
        self._set_limit(self.fallback_a, REASON_NOT_YET)
        self._connect_soon(0.0)

    def halt(self) -> None:
        """Stop dead (power lost): no timers, no frames; the socket stays open but mute."""
        self._halted = True
        self._clock.close()
        if self._link is not None:
            self._link.mute()
        self._set_state(ClientState.STOPPED)

    async def stop(self) -> None:
        """Orderly shutdown: say bye, close the link and the HTTP session."""
        link = self._link
        if link is not None and link.open and self.state is ClientState.JOINED:
            link.send(Bye(reason="client shutting down"))
        self.halt_timers()
        self._halted = True
        self._set_state(ClientState.STOPPED)
        if link is not None:
            await link.close(CLOSE_NORMAL, "client stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def last_heard(self) -> float:
        """Clock time of the gateway's latest frame: the fallback is due ``gateway_timeout_s`` later."""
        return self._last_heard

    def _set_state(self, state: ClientState) -> None:
        self.state = state
        for observer in list(self.on_state):
            observer(state)

    def set_lan_up(self, up: bool) -> None:
        """The station's network goes down (cable pulled, Wi-Fi lost) or comes back.

        Down: the link goes silent both ways, as on a cut cable, so both watchdogs notice it;
        connection attempts fail until it is up again.
        """
        self.lan_up = up
        if not up and self._link is not None:
            self._link.mute()

    def halt_timers(self) -> None:
        self._clock.close()

    # ------------------------------------------------------------------ connecting
    def _connect_soon(self, delay: float) -> None:
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        self._retry_timer = self._clock.call_later(delay, self._connect_now)

    def _connect_now(self) -> None:
        self._retry_timer = None
        if self._halted:
            return
        if not self.lan_up:
            self.lost_reason = "network down"
            self._retry_later()
            return
        self._attempt_settled()
        self._attempts += 1
        self._attempt_open = self._attempts
        if self._inflight is not None:
            self._inflight.begin()
        task = asyncio.ensure_future(self._connect(self._attempts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _attempt_settled(self, attempt: int | None = None) -> None:
        """The connect attempt has an outcome (hello, refusal, failure): uncount it once."""
        if self._attempt_open is not None and attempt in (None, self._attempt_open):
            self._attempt_open = None
            if self._inflight is not None:
                self._inflight.end()

    async def _connect(self, attempt: int) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S,
                                              connect=CONNECT_TIMEOUT_S))
        try:
            ws = await self._session.ws_connect(
                self.url, max_msg_size=MAX_FRAME_BYTES, autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CONNECT_TIMEOUT_S),
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            if not self._halted:
                log.info("gateway %s not reachable: %s", self.url, exc)
                self.lost_reason = f"cannot connect: {exc}"
                self._retry_later()
            self._attempt_settled(attempt)
            return
        link = LanLink(ws, self.url, self._on_message, self._on_lost, self._inflight)
        if self._halted:
            link.mute()
        self._link = link
        try:
            await link.run()
        finally:
            self._attempt_settled(attempt)
            if not ws.closed:
                await ws.close()

    def _retry_later(self) -> None:
        if self._halted:
            return
        delay = self._delay
        if self.state is ClientState.REJECTED:
            delay = self.settings.reconnect_max_s
        self._delay = min(self._delay * 2, self.settings.reconnect_max_s)
        self._connect_soon(delay)

    # ------------------------------------------------------------------ messages
    def _on_message(self, link: LanLink, message: LanMessage) -> None:
        if self._halted or link is not self._link:
            return
        self._heard()
        if isinstance(message, Hello):
            self._attempt_settled()
            s = self.settings
            link.send(Join(
                group_id=s.group_id, serial=self.serial, wire=s.wire_type.value,
                max_a=min(80, own_max_a(self.station)),
                token=join_token(s.group_secret, message.nonce, self.serial, s.group_id),
                charge_point_id=self.charge_point_id,
            ))
        elif isinstance(message, Joined):
            self._set_state(ClientState.JOINED)
            self.index = message.index
            self.fallback_a = message.fallback_a  # the gateway's fallback overwrites ours
            self.rejection = self.lost_reason = None
            self._delay = self.settings.reconnect_min_s
            self.joins += 1
            self._last_state = None
            self._report()
        elif isinstance(message, Limit):
            self.limit = message
            self.fallback_a = message.fallback_a
            self._set_limit(message.amps, message.reason)
        elif isinstance(message, Ping):
            link.send(Pong(seq=message.seq))
        elif isinstance(message, Rejected):
            self._set_state(ClientState.REJECTED)
            self.rejection = f"rejected by the gateway: {message.reason}"
            log.error("%s", self.rejection)
            self._set_limit(0, self.rejection)
            self._stop_watchdog()
            self._retry_later()
        elif isinstance(message, Bye):
            self._gateway_gone(f"gateway said bye: {message.reason}")
            link.close_soon(CLOSE_NORMAL, "bye")
        else:
            log.warning("gateway sent %s, which only a client sends", message.type)

    def _on_lost(self, link: LanLink, why: str) -> None:
        if self._halted or link is not self._link:
            return
        self._attempt_settled()
        if self.state is ClientState.REJECTED:
            return  # the close that follows a rejection; the retry is already armed
        self._gateway_gone(why)

    def _gateway_gone(self, why: str) -> None:
        self._stop_watchdog()
        self._link = None
        self._set_state(ClientState.LOST)
        self.lost_reason = why
        self.limit = None
        log.warning("gateway lost (%s): fallback current %d A", why, self.fallback_a)
        self._set_limit(self.fallback_a, REASON_LOST)
        self._retry_later()

    # ------------------------------------------------------------------ watchdog
    def _heard(self) -> None:
        self._last_heard = self._clock.now()
        if self._watchdog is None:
            self._arm_watchdog()

    def _arm_watchdog(self) -> None:
        due = self._last_heard + self.settings.gateway_timeout_s
        self._watchdog = self._clock.call_at(due, self._watchdog_due)

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _watchdog_due(self) -> None:
        self._watchdog = None
        silent = self._clock.now() - self._last_heard
        if silent < self.settings.gateway_timeout_s:
            self._arm_watchdog()
            return
        link = self._link
        self._gateway_gone(f"no frame from the gateway for {silent:g} s")
        if link is not None:
            link.close_soon(CLOSE_TIMEOUT, "gateway silent")

    # ------------------------------------------------------------------ station
    def _station_changed(self, _snap: StationSnapshot) -> None:
        if not self._halted and self.state is ClientState.JOINED:
            self._report()

    def _report(self) -> None:
        state = station_state(self.station, self.settings.wire_type)
        if state != self._last_state and self._link is not None:
            self._last_state = state
            self._link.send(state)

    def _set_limit(self, amps: int, reason: str) -> None:
        self.station.arbiter.set_limit(LLM_SOURCE, amps, reason)

    # ------------------------------------------------------------------ status
    def status(self) -> LlmStatus:
        snap = self.station.snapshot()
        state = station_state(self.station, self.settings.wire_type)
        network = self.state.value
        if self.state is ClientState.REJECTED and self.rejection:
            network = self.rejection
        elif self.state is ClientState.LOST and self.lost_reason:
            network = f"gateway lost ({self.lost_reason}): fallback {self.fallback_a} A"
        lim = self.station.arbiter.limit(LLM_SOURCE)
        allowed = int(lim.amps) if lim is not None and lim.amps is not None else 0
        row = LlmRow(
            index=self.index or 0, serial=self.serial, lan_ip="(this client)",
            wire_type=self.settings.wire_type.value,
            requested_a=float(state.requested_a if state.requested_a is not None else state.max_a)
            if state.requesting else 0.0,
            allowed_a=allowed, phase_a=state.phase_a.model_dump(), online=True,
            status=snap.status.value, reason=lim.reason if lim is not None else "",
        )
        return LlmStatus(
            network_mode="client", enabled=True, network_status=network,
            gateway_status=f"{self.url}: {'reachable' if self.state is ClientState.JOINED else 'unreachable'}",
            group_id=self.settings.group_id, connected=1 if self.state is ClientState.JOINED else 0,
            total=1, fallback_a=self.fallback_a, limit_a=allowed, rows=(row,),
        )
