"""A home for voice tests: real twin server + real charge logic + simulated board, one clock.

The station (controller.charging.station.Station) runs on a VirtualClock against the physics
board (twin.physics.board.SimBoard), reports through the real TwinBridge into a real
TwinService on a SQLite file, served by twin.server.create_app on 127.0.0.1 — the same app
the voice routes are mounted on, as the daemon does.  Voice code only sees HTTP.

Alexa requests are signed with a test CA built here (cryptography), and the verifier's
fetcher serves that chain, so signature checking stays on in every test.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from controller.charging.dip import dip_for_amps
from controller.charging.station import Station
from controller.clock import VirtualClock
from controller.settings import StationSettings
from controller.storage import Storage
from controller.scheduling.wiring import attach as attach_scheduling
from controller.twin_bridge import TwinBridge
from twin.auth import TokenRegistry
from twin.client import TwinClient
from twin.device_link import EmbeddedDeviceLink
from twin.inprocess_link import InProcessLink
from twin.physics.board import BoardConfig, SimBoard
from twin.physics.ev import EV, EVSpec
from twin.server import create_app
from twin.service import TwinService
from twin.store import TwinStore
from voice.alexa.endpoint import AlexaSettings
from voice.alexa.verification import AlexaRequestVerifier
from voice.home_links import HomeLink, HomeLinks, VoiceHomes
from voice.web import FauxmoSettings, add_voice_routes

ZONE = "America/Los_Angeles"
# Thursday 2026-11-26 20:00 in Los Angeles (04:00 UTC on the 27th)
START = datetime(2026, 11, 26, 20, 0, tzinfo=ZoneInfo(ZONE)).timestamp()
DEVICE_ID = "MQ200-00VOICE"
CLIENT_TOKEN = "client-token-for-voice-tests-0001"
VOICE_CREDENTIAL = "voice-credential-home-0001"
OTHER_CREDENTIAL = "voice-credential-neighbour-0002"
ALEXA_USER = "amzn1.ask.account.HOMEOWNER"
SKILL_ID = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555"
CHAIN_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-test.pem"
TAG = "ABCD1234"


# --------------------------------------------------------------------------- test PKI


class TestPki:
    """A root CA and an echo-api.amazon.com leaf it signed, valid around START."""

    __test__ = False

    def __init__(self) -> None:
        now = datetime.fromtimestamp(START, tz=timezone.utc)
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Voice Test Root CA")])
        self.root = (
            x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )
        self.leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "echo-api.amazon.com")]))
            .issuer_name(root_name)
            .public_key(self.leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=200))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("echo-api.amazon.com")]),
                           critical=False)
            .sign(self.root_key, hashes.SHA256())
        )
        self.chain_pem = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.leaf, self.root)
        )

    async def fetch(self, url: str) -> bytes:
        if url != CHAIN_URL:
            raise OSError(f"no such chain {url}")
        return self.chain_pem

    def sign(self, body: bytes) -> dict[str, str]:
        signature = self.leaf_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return {
            "Signature-256": base64.b64encode(signature).decode(),
            "SignatureCertChainUrl": CHAIN_URL,
            "Content-Type": "application/json",
        }


_PKI: TestPki | None = None


def pki() -> TestPki:
    global _PKI
    if _PKI is None:
        _PKI = TestPki()
    return _PKI


# --------------------------------------------------------------------------- the home


class VoiceHome:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` serves twin + voice."""

    def __init__(self, tmp: Path, *, dip_a: int = 32, fauxmo: bool = False) -> None:
        self.clock = VirtualClock(START)
        self.zone = ZoneInfo(ZONE)
        self.link_io = InProcessLink(self.clock)
        self.board = SimBoard(
            self.clock, self.link_io.deliver, random.Random(7), dip=dip_for_amps(dip_a),
            config=BoardConfig(meter_interval_s=10.0, watchdog_s=None, meter_error=0.0),
        )
        self.storage = Storage(":memory:")
        settings = StationSettings(local_list=[TAG], time_zone=ZONE)
        self.station = Station(self.clock, self.link_io_port(), self.storage, settings,
                               random.Random(3))
        self.link_io.attach(self.station.handle_board_event)
        self.store = TwinStore(tmp / "twin.db")
        self.service = TwinService(self.store, DEVICE_ID, self.clock, time_zone=self.zone)
        self.device_link = EmbeddedDeviceLink(self.service)
        self.bridge = TwinBridge(self.station, self.device_link,
                                 {"serial": DEVICE_ID, "firmware": "0.1.0-test"},
                                 extra_reported=self._ev_facts)
        # the real schedules, goals, hours and DR handlers, as the daemon wires them
        self.scheduling = attach_scheduling(
            self.station, self.bridge, self.clock,
            soc_provider=lambda: self.ev.soc * 100.0 if self.ev is not None else None,
        )
        self.tokens = TokenRegistry()
        self.tokens.add(CLIENT_TOKEN, "client", "voice-tests")
        self.fauxmo = fauxmo
        self.ev: EV | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.app: web.Application | None = None
        self.http: aiohttp.ClientSession | None = None

    def link_io_port(self) -> Any:
        board = self.board

        class _Port:
            def send(self, command: Any) -> None:
                board.handle(command)

        return _Port()

    def _ev_facts(self) -> dict[str, Any]:
        """What an ISO 15118 car would tell the controller: its SoC and battery size."""
        ev = self.board.ev
        if ev is None:
            return {"ev": {}}
        return {"ev": {"soc_pct": round(ev.soc * 100, 1), "battery_kwh": ev.spec.battery_kwh}}

    def links(self) -> HomeLinks:
        return HomeLinks([
            HomeLink.with_credential("home", self.url, CLIENT_TOKEN, ZONE, VOICE_CREDENTIAL,
                                     alexa_user_ids=[ALEXA_USER]),
        ])

    async def start(self) -> None:
        self.board.start()
        self.clock.advance(5.0)  # boot handshake
        self.bridge.start()
        self.app = create_app(self.service, self.tokens)
        self.runner = web.AppRunner(self.app)
        verifier = AlexaRequestVerifier(clock=self.clock, fetcher=pki().fetch,
                                        trust_anchors=[pki().root])
        self._settings = AlexaSettings(SKILL_ID, verifier)
        port = _free_port()  # the links need the twin's URL before the app starts
        self.url = f"http://127.0.0.1:{port}"
        self.homes = VoiceHomes(self.links(), self.clock, ack_timeout_s=5.0)
        add_voice_routes(
            self.app, self.homes, alexa=self._settings,
            fauxmo=FauxmoSettings("home", host="127.0.0.1", port=0, advertise=False)
            if self.fauxmo else None,
        )
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.http = aiohttp.ClientSession()
        self.advance(1.0)  # lets the fauxmo switch start following the (now listening) twin

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()
        self.store.close()
        self.storage.close()

    # ----- the world --------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def plug(self, soc: float = 0.62, battery_kwh: float = 75.0, tag: bool = True) -> None:
        self.ev = EV(self.clock, EVSpec(battery_kwh=battery_kwh, max_current_a=48.0), soc=soc)
        self.board.plug(self.ev)
        self.advance(2.0)
        if tag:
            self.board.present_tag(TAG)
        self.advance(30.0)

    def unplug(self) -> None:
        self.board.unplug()
        self.advance(5.0)

    @property
    def contactor(self) -> bool:
        return self.board.contactor_closed

    def client(self) -> TwinClient:
        assert self.http is not None
        return TwinClient(self.url, CLIENT_TOKEN, session=self.http)

    def desired(self) -> dict[str, Any]:
        return dict(self.service.state().desired)

    def reported(self) -> dict[str, Any]:
        return dict(self.service.state().reported)

    async def post_alexa(self, envelope: dict[str, Any], *, sign: bool = True,
                         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        body = json.dumps(envelope).encode()
        hdrs = pki().sign(body) if sign else {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        async with self.http.post(f"{self.url}/voice/alexa", data=body, headers=hdrs) as resp:
            return resp.status, await resp.json()

    async def call(self, method: str, path: str, *, token: str | None = VOICE_CREDENTIAL,
                   body: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, f"{self.url}{path}", json=body,
                                     headers=headers) as resp:
            return resp.status, await resp.json()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- Alexa envelopes


def alexa_envelope(
    request_type: str,
    clock: VirtualClock,
    *,
    intent: str | None = None,
    slots: dict[str, str | None] | None = None,
    new_session: bool = True,
    user_id: str = ALEXA_USER,
    access_token: str | None = None,
    skill_id: str = SKILL_ID,
    dialog_state: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A request envelope shaped like the ones Alexa posts (fields as in Amazon's docs)."""
    stamp = (timestamp or datetime.fromtimestamp(clock.now(), tz=timezone.utc))
    user: dict[str, Any] = {"userId": user_id}
    if access_token is not None:
        user["accessToken"] = access_token
    application = {"applicationId": skill_id}
    request: dict[str, Any] = {
        "type": request_type,
        "requestId": f"amzn1.echo-api.request.{uuid.uuid4()}",
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "locale": "en-US",
    }
    if request_type == "IntentRequest":
        assert intent is not None
        intent_obj: dict[str, Any] = {"name": intent, "confirmationStatus": "NONE"}
        if slots is not None:
            intent_obj["slots"] = {
                name: ({"name": name, "value": value, "confirmationStatus": "NONE"}
                       if value is not None else {"name": name, "confirmationStatus": "NONE"})
                for name, value in slots.items()
            }
        request["intent"] = intent_obj
        if dialog_state is not None:
            request["dialogState"] = dialog_state
    elif request_type == "SessionEndedRequest":
        request["reason"] = "USER_INITIATED"
    return {
        "version": "1.0",
        "session": {
            "new": new_session,
            "sessionId": f"amzn1.echo-api.session.{uuid.uuid4()}",
            "application": application,
            "attributes": {},
            "user": user,
        },
        "context": {
            "System": {
                "application": application,
                "user": user,
                "device": {"deviceId": "amzn1.ask.device.TEST", "supportedInterfaces": {}},
                "apiEndpoint": "https://api.amazonalexa.com",
                "apiAccessToken": "test-api-access-token",
            }
        },
        "request": request,
    }
