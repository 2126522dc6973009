"""The controller daemon: station + board link + twin + web server on one asyncio loop."""

from __future__ import annotations

import asyncio
import socket
import contextlib
import dataclasses
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from controller import __version__
from controller.charging.dip import dip_for_amps
from controller.charging.station import Station, StationEvent
from controller.clock import AsyncioClock
from controller.config import Config
from controller.demand_response.ven import VenConfig
from controller.loadmgmt.service import LoadManagementService
from controller.scheduling.wiring import SchedulingParts
from controller.scheduling.wiring import attach as attach_scheduling
from controller.ocpp.charge_point import OcppChargePoint
from controller.ocpp.connection import CentralSystemLink
from controller.ocpp.core_port import CorePort
from controller.ocpp.database import open_database
from controller.ocpp.ocpp_settings import OcppSettings
from controller.loadmgmt.allocation import Policy
from controller.hal.messages import BoardCommand
from controller.hal.serial_link import SerialBoardLink
from controller.portal import PORTAL_SERVICE_KEY, mount_portal
from controller.portal.service import PENDING_SERIAL_KEY
from controller.portal.startup import apply_stored_settings
from controller.storage import Storage
from controller.tokens import DeviceTokens, ensure_tokens_file
from controller.twin_bridge import TwinBridge
from voice.home_links import HomeLink, HomeLinks, VoiceHomes
from voice.web import FauxmoSettings, add_voice_routes
from twin.auth import TokenRegistry
from twin.auth import load_config as load_tokens
from twin.device_link import DeviceLink, EmbeddedDeviceLink, RemoteDeviceLink
from twin.physics.board import BoardConfig
from twin.pty_board import PtyBoard
from twin.server import create_app
from twin.service import TwinService
from twin.sim_control import sim_routes
from twin.store import TwinStore

if TYPE_CHECKING:  # imported where used: only a charger that advertises / runs the skill pays
    from controller.discovery import Advertiser
    from voice.alexa.endpoint import AlexaSettings

log = logging.getLogger(__name__)

_POLICY_NAMES = {"UD": "uniform_distribution", "FIFS": "first_in_first_serve"}


@dataclass(frozen=True)
class SimOptions:
    dip_a: int = 32
    seed: int = 0
    meter_interval_s: float = 1.0


class _LatePort:
    """BoardPort handed to the station before the serial link exists (one tick at start)."""

    def __init__(self) -> None:
        self.target: SerialBoardLink | None = None

    def send(self, command: BoardCommand) -> None:
        if self.target is not None:
            self.target.send(command)


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        serial: str | None = None,
        sim: SimOptions | None = None,
        listen: tuple[str, int] | None = None,
        advertise: bool | None = None,
    ) -> None:
        if sim is None and not (serial or config.daemon.serial):
            raise ValueError("no serial port: give --serial PATH, set daemon.serial, or use --sim")
        self.config = config
        self.serial_path = serial or config.daemon.serial
        self.sim = sim
        self.listen = listen or (config.twin.listen_host, config.twin.listen_port)
        self.clock = AsyncioClock()
        self.pty: PtyBoard | None = None
        self.station: Station | None = None
        self.link: SerialBoardLink | None = None
        self.service: TwinService | None = None
        self.device_link: DeviceLink | None = None
        self.bridge: TwinBridge | None = None
        self.tokens: DeviceTokens | None = None
        self.registry: TokenRegistry | None = None
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._stopped = asyncio.Event()
        self.reboot_requested = False
        self.llm: LoadManagementService | None = None
        self._http: aiohttp.ClientSession | None = None
        self.scheduling: SchedulingParts | None = None
        self.ocpp_cp: OcppChargePoint | None = None
        self.ocpp_link: CentralSystemLink | None = None
        self._ocpp_task: asyncio.Task[None] | None = None
        # mDNS on by default on a real charger; off in the simulator unless asked for
        self.advertise = advertise if advertise is not None else (sim is None and config.twin.advertise)
        self._advertiser: Advertiser | None = None

    @property
    def url(self) -> str:
        return f"http://{self.listen[0]}:{self.port}"

    async def start(self) -> None:
        cfg = self.config
        db_path = Path(cfg.daemon.database)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        storage = Storage(db_path)
        pending_serial = storage.get_json(PENDING_SERIAL_KEY)  # changed in the portal
        if isinstance(pending_serial, str) and pending_serial:
            cfg.identity.serial_number = pending_serial
        device_id = cfg.identity.serial_number
        for problem in apply_stored_settings(cfg, storage):  # the portal's * settings
            log.error("%s", problem)
        self.tokens = ensure_tokens_file(cfg.twin.tokens_file, device_id, cfg.station.time_zone)
        self.registry = load_tokens(cfg.twin.tokens_file).tokens

        port = _LatePort()
        self.station = Station(self.clock, port, storage, cfg.station, random.Random())
        self.station.on_event(self._on_station_event)

        if self.sim is not None:
            self.pty = PtyBoard(
                dip=dip_for_amps(self.sim.dip_a),
                seed=self.sim.seed,
                config=BoardConfig(meter_interval_s=self.sim.meter_interval_s),
            )
            self.pty.start()
            self.serial_path = self.pty.port_path
        self.link = SerialBoardLink(
            self.serial_path, self.clock, self.station.handle_board_event,
            on_link_error=lambda err: log.error("board link error: %s", err),
        )
        self.link.open()
        port.target = self.link
        self.station.request_board_status()  # the board may have booted long before we did

        self.device_link = await self._make_device_link(device_id, db_path)
        identity = {"serial": device_id, "firmware": __version__, "model": cfg.identity.model}
        self.bridge = TwinBridge(self.station, self.device_link, identity)
        self.bridge.commands["reboot_request"] = self._reboot_command
        self.bridge.commands["llm_policy"] = self._llm_policy_command
        self.bridge.commands["firmware_install"] = lambda _k, _v: (
            "firmware is installed from a signed image on the portal's Firmware Upgrade page"
        )
        self.bridge.reported_hooks.append(self._report_load_management)
        self.bridge.reported_hooks.append(self._report_ev)
        # schedules, goals, hours, DR and pricing take their desired keys before the first delivery
        self.scheduling = attach_scheduling(self.station, self.bridge, self.clock,
                                            soc_provider=self._ev_soc)
        self.bridge.start()
        dr = cfg.demand_response
        if dr.vtn_url:
            await self.scheduling.start_ven(VenConfig(
                dr.vtn_url, dr.ven_name or device_id, cert=dr.cert or None, key=dr.key or None,
                ca_file=dr.ca_file or None, vtn_fingerprint=dr.vtn_fingerprint or None,
            ))

        self._start_ocpp(db_path, device_id)
        self.bridge.reported_hooks.append(self._report_ocpp)

        self.llm = LoadManagementService(
            cfg.load_management, self.clock, self.station, device_id,
            charge_point_id=self.ocpp_cp.settings.charge_point_id if self.ocpp_cp else device_id,
            central_system_url=cfg.ocpp.central_system_url or None,
        )
        await self.llm.start()
        if self.llm.gateway is not None:
            self.llm.gateway.on_limits.append(lambda _alloc: self._push_reported())
        if self.llm.client is not None:
            self.llm.client.on_state.append(lambda _state: self._push_reported())

        # Bind first: the voice endpoints call the twin API at our own address and port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.listen[0] or "0.0.0.0", self.listen[1]))
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        self.app = self._make_app()
        await self._mount_voice(self.app)
        self.bridge.reported_hooks.append(self._report_portal)
        self.bridge.push()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        if self.advertise:
            from controller.discovery import Advertiser, lan_addresses, service_info

            addresses = [self.listen[0]] if self.listen[0] not in ("", "0.0.0.0") else lan_addresses()
            info = service_info(device_id, self.port, addresses, cfg.identity.model, __version__)
            self._advertiser = Advertiser(info, interfaces=addresses or None)
            try:
                await self._advertiser.start()
            except OSError as exc:
                log.warning("mDNS advertising unavailable: %s", exc)
                self._advertiser = None
        log.info("mq200 %s up: board on %s, API on %s", __version__, self.serial_path, self.url)

    async def _make_device_link(self, device_id: str, db_path: Path) -> DeviceLink:
        cfg = self.config
        assert self.tokens is not None
        if cfg.twin.mode == "remote":
            link = RemoteDeviceLink(cfg.twin.remote_url, self.tokens.device_token, self.clock)
            await link.start()
            return link
        store = TwinStore(db_path)
        self.service = TwinService(store, device_id, self.clock, time_zone=ZoneInfo(cfg.station.time_zone))
        return EmbeddedDeviceLink(self.service)

    def _make_app(self) -> web.Application:
        assert self.registry is not None
        if self.service is not None:
            app = create_app(self.service, self.registry)
        else:
            app = web.Application()
        if self.pty is not None:
            sim_routes(app, self.pty, self.registry)
        app.router.add_get("/healthz", self._health)
        mount_portal(app, self)
        return app

    @property
    def local_url(self) -> str:
        """Our own API as seen from this machine."""
        host = self.listen[0] if self.listen[0] not in ("", "0.0.0.0") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def twin_url(self) -> str:
        """Where apps reach the twin: ourselves, or the standalone twin we report to."""
        remote = self.config.twin.remote_url
        if self.config.twin.mode != "remote" or not remote:
            return self.local_url
        base = remote.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        return base.split("/api/v1")[0].rstrip("/")

    async def _mount_voice(self, app: web.Application) -> None:
        """Alexa, Google, Shortcuts (and the fauxmo LAN switch) steering this charger's twin."""
        vc = self.config.voice
        assert self.tokens is not None
        token = self.tokens.client_token
        link = HomeLink.with_credential(
            "home", self.twin_url, token, self.config.station.time_zone, token,
            alexa_user_ids=[u for u in vc.alexa_user_ids if u],
        )
        homes = VoiceHomes(HomeLinks([link]), self.clock)
        alexa: AlexaSettings | None = None
        if vc.alexa_skill_id:
            from voice.alexa.endpoint import AlexaSettings, load_trust_anchors, make_verifier

            if not vc.alexa_trust_anchors:
                raise ValueError("voice.alexa_trust_anchors: a PEM file of Alexa's root CAs is needed")
            self._http = aiohttp.ClientSession()
            verifier = make_verifier(self.clock, self._http, load_trust_anchors(vc.alexa_trust_anchors))
            alexa = AlexaSettings(vc.alexa_skill_id, verifier)
        fauxmo = None
        if vc.fauxmo_port:
            fauxmo = FauxmoSettings("home", host=vc.fauxmo_host, port=vc.fauxmo_port,
                                    name=vc.fauxmo_name, advertise=vc.fauxmo_advertise)
        add_voice_routes(app, homes, alexa=alexa, google=vc.google, shortcuts=vc.shortcuts,
                         fauxmo=fauxmo)

    async def _health(self, _request: web.Request) -> web.Response:
        station = self.station
        body: dict[str, Any] = {"ok": station is not None and station.board_ready}
        if station is not None:
            body["status"] = station.snapshot().status.value
        if self.link is not None:
            body["link"] = self.link.counters.__dict__
        return web.json_response(body)

    def _start_ocpp(self, db_path: Path, device_id: str) -> None:
        """The OCPP 1.6J charge point, when a central system is configured."""
        oc = self.config.ocpp
        if not oc.central_system_url or self.station is None:
            return
        settings = OcppSettings(
            charge_point_id=oc.charge_point_id or device_id,
            central_system_url=oc.central_system_url,
            basic_auth_password=oc.basic_auth_password or None,
            ca_file=oc.ca_file or None,
            remote_service_type=oc.remote_service_type,
            vendor=self.config.identity.vendor,
            model=self.config.identity.model,
            serial_number=device_id,
            firmware_version=__version__,
            station_max_amps=float(self.station.dip.max_a if self.station.dip else 50),
        )
        port = CorePort(self.station, self.request_reboot)
        if self.scheduling is not None:
            port.on_central_hours = self.scheduling.hours.set_central_hours
        self.ocpp_cp = OcppChargePoint(settings, self.clock, port, open_database(db_path))
        port.events = self.ocpp_cp
        self.station.authorizer = port  # tags now go through OCPP's authorization rules
        self.ocpp_cp.on_connection.append(lambda _accepted: self._push_reported())
        self.ocpp_link = CentralSystemLink(self.ocpp_cp)
        self._ocpp_task = asyncio.create_task(self.ocpp_link.run())

    def _report_ocpp(self, reported: dict[str, Any]) -> None:
        cp = self.ocpp_cp
        reported["ocpp"] = {
            "enabled": cp is not None,
            "connected": bool(cp is not None and cp.accepted),
            "central_system_url": self.config.ocpp.central_system_url or None,
            "charge_point_id": cp.settings.charge_point_id if cp is not None else None,
        }

    def _ev_soc(self) -> float | None:
        """The EV's state of charge in %, where the charger can know it (the simulated EV)."""
        ev = self.pty.board.ev if self.pty is not None else None
        return ev.soc * 100.0 if ev is not None else None

    def _report_portal(self, reported: dict[str, Any]) -> None:
        """Whether a portal user still has the initial password from the label (a repair in HA)."""
        service = self.app.get(PORTAL_SERVICE_KEY) if self.app is not None else None
        if service is None:
            return
        users = [service.accounts.get(name) for name in ("admin", "maintain")]
        reported["portal"] = {"initial_password": any(u is not None and u.must_change for u in users)}

    def _report_ev(self, reported: dict[str, Any]) -> None:
        ev = self.pty.board.ev if self.pty is not None else None
        reported["ev"] = (
            None if ev is None
            else {"soc_pct": round(ev.soc * 100, 1), "battery_kwh": ev.spec.battery_kwh}
        )

    def _push_reported(self) -> None:
        if self.bridge is not None:
            self.bridge.push()

    def _report_load_management(self, reported: dict[str, Any]) -> None:
        """The LLM status table (`llm`) and the summary Home Assistant shows (`load_management`)."""
        if self.llm is None:
            return
        status = self.llm.status()
        reported["llm"] = status.as_dict()
        lim = self.station.arbiter.limit("load_management") if self.station else None
        reported["load_management"] = {
            "role": status.network_mode,
            "policy": _POLICY_NAMES.get(str(status.policy), status.policy),
            "allocation_a": lim.amps if lim is not None else None,
            "group_id": status.group_id,
            "connected": status.connected,
            "total": status.total,
            "members": [
                {"serial": row.serial, "ip": row.lan_ip, "requested_a": row.requested_a,
                 "allowed_a": row.allowed_a, "online": row.online}
                for row in status.rows
            ],
        }

    def _llm_policy_command(self, _key: str, value: Any) -> str | None:
        gateway = self.llm.gateway if self.llm is not None else None
        if gateway is None:
            return "the load-management policy is set on the group's gateway"
        code = {v: k for k, v in _POLICY_NAMES.items()}.get(str(value), str(value))
        try:
            new = dataclasses.replace(gateway.settings, policy=Policy(code))
        except ValueError:
            return f"unknown policy {value!r}: uniform_distribution or first_in_first_serve"
        gateway.apply_settings(new)
        self._push_reported()
        return None

    def _on_station_event(self, event: StationEvent) -> None:
        if event.kind == "reboot_requested":
            self.request_reboot(str(event.data.get("reason", "reboot period")))

    def _reboot_command(self, _key: str, _value: Any) -> str | None:
        self.request_reboot("requested from the app")
        return None

    def request_reboot(self, reason: str) -> None:
        """Stop now; `mq200 run` then starts itself afresh (same arguments, same port)."""
        log.warning("reboot: %s", reason)
        self.reboot_requested = True
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        if self.scheduling is not None:
            await self.scheduling.stop_ven()
            self.scheduling.close()
            self.scheduling = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.ocpp_link is not None:
            await self.ocpp_link.stop()
            self.ocpp_link = None
        if self._ocpp_task is not None:
            self._ocpp_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ocpp_task
            self._ocpp_task = None
        if self.llm is not None:
            await self.llm.stop()
            self.llm = None
        if self._advertiser is not None:
            await self._advertiser.stop()
            self._advertiser = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.link is not None:
            self.link.close()
        if self.pty is not None:
            self.pty.stop()
        close = getattr(self.device_link, "close", None)
        if callable(close):
            result = close()
            if asyncio.iscoroutine(result):
                await result
        if self.station is not None:
            self.station.storage.close()
