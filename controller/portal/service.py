"""The portal's state and actions behind the pages: users, sessions, resets, firmware, live data."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller import __version__
from controller.charging.dip import BREAKER_FOR_AMPS
from controller.charging.station import Station, StationEvent, StationSnapshot
from controller.clock import Clock
from controller.config import IdentitySection
from controller.ocpp.config_keys import KEYS, ConfigurationStore
from controller.portal.accounts import Accounts
from controller.portal.extra_settings import ExtraSettings
from controller.portal.firmware import (
    FirmwareSlot,
    InstallResult,
    generate_key_pair,
    load_public_key,
)
from controller.portal.live import LiveHub
from controller.portal.llm_status import LlmStatus, from_group, llm_status
from controller.portal.network_report import NetworkReport, simulated_report
from controller.portal.power_history import PowerHistory
from controller.portal.sessions import SessionStore
from controller.twin_bridge import TwinBridge
from twin.service import TwinService

log = logging.getLogger(__name__)

SERIAL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{3,31}$")
RUNNING_FIRMWARE_KEY = "firmware.running_version"
PENDING_SERIAL_KEY = "identity.serial_number_pending"
LABEL_FILE = "initial-passwords.txt"
PUBLIC_KEY_FILE = "firmware-signing.pub"
DEV_PRIVATE_KEY_FILE = "firmware-dev-signing.key"


@dataclass
class PortalHost:
    """What the portal needs from the daemon (so tests can build one without a daemon)."""

    station: Station
    service: TwinService | None
    clock: Clock
    identity: IdentitySection
    data_dir: Path
    simulated: bool
    bridge: TwinBridge | None
    restart: Callable[[], None]  # real reboot: the service manager starts us again
    ocpp_config: ConfigurationStore | None = None
    llm_status: Callable[[], Any] | None = None  # the daemon's load-management status
    apply_pricing: Callable[[dict[str, Any]], Any] | None = None  # the session pricer's settings
    client_token: str | None = None  # the twin's client token, for POST /portal/api/token


def stored_serial_number(station: Station) -> str | None:
    """A serial number set in the portal, to be used from the next start on."""
    value = station.storage.get_json(PENDING_SERIAL_KEY)
    return value if isinstance(value, str) else None


class PortalService:
    def __init__(self, host: PortalHost) -> None:
        self.host = host
        self.station = host.station
        self.clock = host.clock
        engine = host.station.storage.engine
        self.accounts = Accounts(engine, host.clock, host.data_dir / LABEL_FILE)
        self.sessions = SessionStore(engine, host.clock)
        self.extra = ExtraSettings(host.station.storage, host.identity.serial_number)
        self.ocpp_config = host.ocpp_config or ConfigurationStore(engine)
        running = host.station.storage.get_json(RUNNING_FIRMWARE_KEY)
        self.firmware = FirmwareSlot(host.data_dir / "firmware",
                                     running if isinstance(running, str) else __version__)
        self.public_key = self._signing_key()
        self.history = PowerHistory()
        self.hub = LiveHub()
        self.board_fw = ""
        self.boots = 0
        self.last_reboot: str | None = None
        self.flash: dict[str, list[tuple[str, str]]] = {}

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        made = self.accounts.ensure_initial()
        if made is not None:
            self._announce_passwords(made, "first boot")
        self.station.on_change(self._on_change)
        self.station.on_event(self._on_event)
        self._report_firmware()

    def _announce_passwords(self, passwords: dict[str, str], why: str) -> None:
        shown = ", ".join(f"{user}={pw}" for user, pw in passwords.items())
        log.warning("web portal initial passwords (%s; also on the label %s): %s",
                    why, self.accounts.label_path, shown)

    def _signing_key(self) -> Any:
        public = self.host.data_dir / PUBLIC_KEY_FILE
        if not public.exists():
            private = self.host.data_dir / DEV_PRIVATE_KEY_FILE
            log.warning("no firmware signing key at %s: made a development key pair (%s); "
                        "install the vendor's public key there for production", public, private)
            return generate_key_pair(private, public)
        return load_public_key(public)

    # ------------------------------------------------------------------ live data
    def _on_change(self, snap: StationSnapshot) -> None:
        sample = self.history.add(self.clock.now(), snap)
        if self.hub.listeners:
            self.hub.publish("status", self.status_payload(snap, sample_only=sample))
            self.hub.publish("llm", self.llm().as_dict())

    def _on_event(self, event: StationEvent) -> None:
        if event.kind == "board_hello":
            self.board_fw = str(event.data.get("board_fw", ""))
        elif event.kind in ("session_started", "session_stopped"):
            self.hub.publish("sessions", self.recent_sessions())
        elif event.kind == "factory_reset":
            self._after_factory_reset()

    def status_payload(self, snap: StationSnapshot | None = None, *,
                       sample_only: Any = None) -> dict[str, Any]:
        snap = snap or self.station.snapshot()
        body = snap.as_dict()
        body["firmware"] = self.firmware.running_version
        if sample_only is not None:
            body["sample"] = sample_only.as_dict()
        return body

    def chart_samples(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.history.samples()]

    def recent_sessions(self, limit: int = 10) -> list[dict[str, Any]]:
        return [
            {"id": r.id, "started_at": r.started_at, "stopped_at": r.stopped_at,
             "id_tag": r.id_tag, "energy_wh": r.energy_wh if r.stopped_at else None,
             "stop_reason": r.stop_reason, "cost": r.cost}
            for r in self.station.storage.sessions(limit)
        ]

    def llm(self) -> LlmStatus:
        if self.host.llm_status is not None:
            return from_group(self.host.llm_status(), self.station.settings.network)
        return llm_status(self.extra.get("communication"), self.station.snapshot(),
                          self.serial_number, self.station.settings.network)

    def network(self) -> NetworkReport:
        return simulated_report(self.serial_number, self.station.settings.network)

    # ------------------------------------------------------------------ identity
    @property
    def serial_number(self) -> str:
        return self.host.identity.serial_number

    def factory_facts(self) -> list[tuple[str, Any]]:
        dip = self.station.dip
        pending = stored_serial_number(self.station)
        serial = self.serial_number
        if pending and pending != serial:
            serial = f"{serial} (→ {pending} after reboot)"
        max_a = "unknown (board not ready)" if dip is None else (
            "0 A — DIP switch at factory-reset position" if dip.factory_reset
            else f"{dip.max_a} A (breaker {BREAKER_FOR_AMPS.get(dip.max_a)} A)")
        return [
            ("Vendor", self.host.identity.vendor),
            ("Model", self.host.identity.model),
            ("Serial number", serial),
            ("Hardware version", "MQ200 rev A" + (" (simulated)" if self.host.simulated else "")),
            ("Power board firmware", self.board_fw or "—"),
            ("Firmware version", self.firmware.running_version),
            ("Production date", "—"),
            ("Number of connectors", 1),
            ("Connector type", "SAE J1772 (Type 1)"),
            ("Max amperage", max_a),
        ]

    def set_serial(self, value: str) -> None:
        if not SERIAL_PATTERN.match(value):
            raise ValueError("4–32 letters, digits or '-', starting with a letter or digit")
        self.station.storage.put_json(PENDING_SERIAL_KEY, value)

    # ------------------------------------------------------------------ maintenance
    def reboot(self, reason: str) -> str:
        if self.host.simulated:
            self.boots += 1
            self._report_firmware()
            version = self.firmware.running_version
            self.last_reboot = f"{reason}: rebooted into firmware {version} (simulated, in-process)"
            log.warning("simulated reboot (%s): running firmware %s", reason, version)
            return f"Rebooted into firmware {version} (simulated reboot: the daemon kept running)."
        self.clock.call_later(1.0, self.host.restart)
        return "Rebooting now; the portal is back in about a minute."

    def factory_reset(self, actor: str) -> None:
        """Every setting and password back to factory state; sessions and energy stay."""
        log.warning("reset to MFG default by %s", actor)
        self.station.factory_reset()  # emits factory_reset → _after_factory_reset

    def _after_factory_reset(self) -> None:
        service = self.host.service
        if service is not None:
            desired = service.state().desired
            if desired.get("settings"):
                # Otherwise the twin would hand the old values back at the next start.
                service.set_desired({"settings": None}, actor="portal:factory-reset")
        self.extra.reset()
        for name, definition in KEYS.items():
            if not definition.readonly and self.ocpp_config.get(name) != definition.default:
                self.ocpp_config.set(name, definition.default)
        self._announce_passwords(self.accounts.reset_all(), "reset to factory default")
        self.sessions.end_all()

    def reset_passwords(self) -> dict[str, str]:
        passwords = self.accounts.reset_all()
        self._announce_passwords(passwords, "reset of all users' passwords")
        self.sessions.end_all()
        return passwords

    def install_firmware(self, data: bytes, allow_downgrade: bool) -> tuple[InstallResult, str]:
        """Check and keep the image, then reboot into it; FirmwareError leaves all as it was."""
        result = self.firmware.install(data, self.public_key, allow_downgrade=allow_downgrade)
        self.station.storage.put_json(RUNNING_FIRMWARE_KEY, result.version)
        message = self.reboot(f"firmware upgrade {result.previous} → {result.version}")
        return result, message

    def _report_firmware(self) -> None:
        bridge = self.host.bridge
        version = self.firmware.running_version
        if bridge is not None and bridge.identity.get("firmware") != version:
            bridge.identity["firmware"] = version
            bridge.push()

    # ------------------------------------------------------------------ flash messages
    def add_flash(self, token_hash: str, kind: str, html_message: str) -> None:
        self.flash.setdefault(token_hash, []).append((kind, html_message))

    def take_flash(self, token_hash: str) -> list[tuple[str, str]]:
        return self.flash.pop(token_hash, [])
