"""The daemon's TOML configuration file (docs/configuration.md).

Sections: [daemon], [twin], [identity], [load_management] (controller/loadmgmt/settings.py),
[station] (initial station settings by snake_case name; values changed later in the portal
or the twin are kept in the database and win).
Unknown sections and keys are refused by name, so a typo never passes silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from controller.loadmgmt.settings import LlmSettingsError, LoadManagementSettings
from controller.settings import SettingsError, StationSettings


class ConfigError(ValueError):
    pass


@dataclass
class DaemonSection:
    serial: str = ""
    database: str = "/var/lib/mq200/mq200.db"
    log_level: str = "info"
    log_format: str = "json"  # json | text


@dataclass
class TwinSection:
    mode: str = "embedded"  # embedded | remote
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    remote_url: str = ""
    tokens_file: str = "/var/lib/mq200/tokens.json"
    advertise: bool = True  # mDNS `_mq200._tcp.local.` for Home Assistant's discovery


@dataclass
class OcppSection:
    """The central system (SPEC §OCPP settings); no URL: no OCPP connection (Remote Service APP)."""

    central_system_url: str = ""
    charge_point_id: str = ""  # default: the serial number
    basic_auth_password: str = ""  # security profile 1 (ws) or 2 (wss)
    ca_file: str = ""  # trust anchor for wss (default: the system store)
    remote_service_type: str = "OCPP"  # OCPP or APP


@dataclass
class VoiceSection:
    """Voice assistants (docs/voice.md). Google and Shortcuts need only the client token."""

    google: bool = True
    shortcuts: bool = True
    alexa_skill_id: str = ""  # amzn1.ask.skill.…; empty: no Alexa endpoint
    alexa_trust_anchors: str = ""  # PEM file with the roots Alexa's certificate chain ends at
    alexa_user_ids: list[str] = field(default_factory=list)
    fauxmo_port: int = 0  # 0: no local Echo switch
    fauxmo_host: str = "0.0.0.0"
    fauxmo_name: str = "car charger"
    fauxmo_advertise: bool = False  # SSDP answers for Echo discovery on the LAN


@dataclass
class DemandResponseSection:
    """OpenADR 2.0b (docs/scheduling.md); no VTN URL: demand response only through the twin."""

    vtn_url: str = ""
    ven_name: str = ""  # default: the serial number
    cert: str = ""
    key: str = ""
    ca_file: str = ""
    vtn_fingerprint: str = ""


@dataclass
class IdentitySection:
    serial_number: str = "MQ200-00000001"
    model: str = "MQ 200"
    vendor: str = "MQ"


@dataclass
class Config:
    daemon: DaemonSection = field(default_factory=DaemonSection)
    twin: TwinSection = field(default_factory=TwinSection)
    identity: IdentitySection = field(default_factory=IdentitySection)
    ocpp: OcppSection = field(default_factory=OcppSection)
    voice: VoiceSection = field(default_factory=VoiceSection)
    demand_response: DemandResponseSection = field(default_factory=DemandResponseSection)
    station: StationSettings = field(default_factory=StationSettings)
    load_management: LoadManagementSettings = field(default_factory=LoadManagementSettings)


_SECTIONS: dict[str, type] = {
    "daemon": DaemonSection,
    "twin": TwinSection,
    "identity": IdentitySection,
    "ocpp": OcppSection,
    "voice": VoiceSection,
    "demand_response": DemandResponseSection,
}


def load_config(path: str | Path | None) -> Config:
    if path is None:
        return Config()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p}: not valid TOML: {exc}") from None
    return parse_config(raw, source=str(p))


def parse_config(raw: dict[str, Any], source: str = "config") -> Config:
    config = Config()
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        if name == "station":
            try:
                config.station = StationSettings().apply(body)
            except SettingsError as exc:
                bad = "; ".join(f"station.{k}: {v}" for k, v in exc.errors.items())
                raise ConfigError(f"{source}: {bad}") from None
            continue
        if name == "load_management":
            try:
                config.load_management = LoadManagementSettings.from_dict(body)
            except LlmSettingsError as exc:
                raise ConfigError(f"{source}: {exc}") from None
            continue
        cls = _SECTIONS.get(name)
        if cls is None:
            known = ", ".join(sorted([*_SECTIONS, "station", "load_management"]))
            raise ConfigError(f"{source}: unknown section [{name}] (known: {known})")
        setattr(config, name, _section(cls, name, body, source))
    if config.twin.mode not in ("embedded", "remote"):
        raise ConfigError(f"{source}: twin.mode must be 'embedded' or 'remote', got {config.twin.mode!r}")
    if config.twin.mode == "remote" and not config.twin.remote_url:
        raise ConfigError(f"{source}: twin.remote_url is required when twin.mode = 'remote'")
    if config.ocpp.remote_service_type not in ("OCPP", "APP"):
        raise ConfigError(f"{source}: ocpp.remote_service_type must be 'OCPP' or 'APP'")
    url = config.ocpp.central_system_url
    if url and not url.startswith(("ws://", "wss://")):
        raise ConfigError(f"{source}: ocpp.central_system_url must start with ws:// or wss://, got {url!r}")
    if config.daemon.log_format not in ("json", "text"):
        raise ConfigError(f"{source}: daemon.log_format must be 'json' or 'text'")
    if not 1 <= config.twin.listen_port <= 65535:
        raise ConfigError(f"{source}: twin.listen_port {config.twin.listen_port} is not a port")
    return config


def _section(cls: type, name: str, body: dict[str, Any], source: str) -> Any:
    allowed = {f.name: f for f in fields(cls)}
    defaults = cls()
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key not in allowed:
            raise ConfigError(f"{source}: unknown key {name}.{key} (known: {', '.join(allowed)})")
        expected = type(getattr(defaults, key))
        if expected is bool and not isinstance(value, bool):
            raise ConfigError(f"{source}: {name}.{key} must be true or false, got {value!r}")
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{source}: {name}.{key} must be a whole number, got {value!r}")
        if expected is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{source}: {name}.{key} must be a list of strings, got {value!r}")
        if expected is str and not isinstance(value, str):
            raise ConfigError(f"{source}: {name}.{key} must be text, got {value!r}")
        values[key] = value
    return cls(**values)
