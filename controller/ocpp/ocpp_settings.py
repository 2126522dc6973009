"""Settings of the OCPP service (SPEC §OCPP settings) that are not OCPP configuration keys."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass(frozen=True)
class OcppSettings:
    charge_point_id: str
    central_system_url: str  # ws://host:port/path or wss://...; the id is appended
    basic_auth_password: str | None = None  # security profile 1 (ws) / 2 (wss)
    ca_file: str | None = None  # trust anchor for wss (None: system store)
    remote_service_type: str = "OCPP"  # APP: no central system connection at all
    boot_retry_interval: float = 600.0
    boot_retries: int = -1  # -1 unlimited, 0 none
    pdu_timeout: float = 60.0
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 300.0
    firmware_download_interval: float = 300.0
    firmware_download_retries: int = 3
    diagnostics_upload_interval: float = 300.0
    diagnostics_upload_retries: int = 3
    ftp_user: str | None = None
    ftp_password: str | None = None
    vendor: str = "MQ"
    model: str = "MQ 200"
    serial_number: str = "MQ200-0000"
    firmware_version: str = "0.1.0"
    station_max_amps: float = 48.0

    def __post_init__(self) -> None:
        scheme = urlparse(self.central_system_url).scheme
        if scheme not in ("ws", "wss"):
            raise ValueError(f"central_system_url must be ws:// or wss://, got {self.central_system_url!r}")
        if not self.charge_point_id or "/" in self.charge_point_id:
            raise ValueError(f"charge_point_id {self.charge_point_id!r} is empty or contains '/'")
        if self.remote_service_type not in ("APP", "OCPP"):
            raise ValueError(f"remote_service_type must be APP or OCPP, got {self.remote_service_type!r}")
        if self.boot_retries < -1:
            raise ValueError(f"boot_retries must be -1 (unlimited) or >= 0, got {self.boot_retries}")
        if self.pdu_timeout <= 0:
            raise ValueError(f"pdu_timeout must be positive, got {self.pdu_timeout}")

    @property
    def endpoint(self) -> str:
        return self.central_system_url.rstrip("/") + "/" + self.charge_point_id
