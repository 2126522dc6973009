"""Settings the portal edits that no other part of the controller owns yet.

Default pricing, the OCPP service settings and the communication settings of SPEC §Station
settings / §OCPP settings / §Communication settings. They are kept in the station database under
one key per group, checked field by field, and go back to their defaults on a factory reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.portal.fields import FieldSpec, FormErrors, parse_value
from controller.storage import Storage

DAYS = ("Everyday", "Weekdays", "Weekends", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

PRICING: tuple[FieldSpec, ...] = (
    FieldSpec("member_price_scheme_id", "Member price scheme id", "text", "pricing", max_len=40),
    FieldSpec("non_member_price_scheme_id", "Non-member price scheme id", "text", "pricing", max_len=40),
    FieldSpec("parking_billing_type", "Parking billing type", "choice", "pricing", choices=("Time",)),
    FieldSpec("parking_day_of_week", "Parking day of week", "choice", "pricing", choices=DAYS),
    FieldSpec("parking_start", "Parking start (HHMM)", "hhmm", "pricing"),
    FieldSpec("parking_end", "Parking end (HHMM)", "hhmm", "pricing"),
    FieldSpec("parking_unit_interval_min", "Parking unit interval", "int", "pricing", lo=1, hi=1440, unit="min"),
    FieldSpec("parking_interval_rate_usd", "Parking interval rate", "float", "pricing", lo=0, hi=1000, unit="USD"),
    FieldSpec("parking_grace_period_s", "Parking grace period", "int", "pricing", lo=0, hi=86400, unit="s"),
    FieldSpec("usage_billing_type", "Usage billing type", "choice", "pricing", choices=("Session", "Time", "kWh")),
    FieldSpec("usage_day_of_week", "Usage day of week", "choice", "pricing", choices=DAYS),
    FieldSpec("usage_start", "Usage start (HHMM)", "hhmm", "pricing"),
    FieldSpec("usage_end", "Usage end (HHMM)", "hhmm", "pricing"),
    FieldSpec("usage_unit_interval", "Usage unit interval", "int", "pricing", lo=1, hi=1440),
    FieldSpec("usage_interval_rate_usd", "Usage interval rate", "float", "pricing", lo=0, hi=1000, unit="USD"),
    FieldSpec("usage_grace_period_s", "Usage grace period", "int", "pricing", lo=0, hi=86400, unit="s"),
    FieldSpec("initial_grace_period_s", "Initial grace period", "int", "pricing", lo=0, hi=86400, unit="s"),
    FieldSpec("parking_rate_cap_usd", "Parking rate cap", "float", "pricing", lo=0, hi=10000, unit="USD"),
    FieldSpec("tax_rate_pct", "Tax rate", "float", "pricing", lo=0, hi=100, unit="%"),
    FieldSpec("service_fee_usd", "Service fee", "float", "pricing", lo=0, hi=1000, unit="USD"),
)

OCPP_SERVICE: tuple[FieldSpec, ...] = (
    FieldSpec("remote_service_type", "Remote service type", "choice", "ocpp", choices=("APP", "OCPP"), reboot=True),
    FieldSpec("charge_point_id", "Charge Point ID", "text", "ocpp", max_len=48, optional=False),
    FieldSpec("protocol_name", "Protocol name", "text", "ocpp", readonly=True),
    FieldSpec("central_system_url", "Central System URL", "url", "ocpp", schemes=("ws", "wss"), reboot=True, max_len=300),
    FieldSpec("basic_auth_id", "Basic Auth ID", "text", "ocpp", max_len=48, reboot=True),
    FieldSpec("basic_auth_password", "Basic Auth password", "secret", "ocpp", max_len=64, reboot=True),
    FieldSpec("ftp_user", "FTP user", "text", "ocpp", max_len=64),
    FieldSpec("ftp_password", "FTP password", "secret", "ocpp", max_len=64),
    FieldSpec("transport", "Transport", "choice", "ocpp", choices=("WS", "WSS")),
    FieldSpec("boot_notification_interval_s", "BootNotification interval", "int", "ocpp", lo=1, hi=86400, unit="s"),
    FieldSpec("boot_notification_retries", "BootNotification retries (-1 unlimited)", "int", "ocpp", lo=-1, hi=1000),
    FieldSpec("pdu_timeout_s", "PDU timeout", "int", "ocpp", lo=1, hi=600, unit="s"),
    FieldSpec("firmware_download_interval_s", "Firmware download interval", "int", "ocpp", lo=1, hi=86400, unit="s"),
    FieldSpec("firmware_download_retries", "Firmware download retries", "int", "ocpp", lo=0, hi=100),
    FieldSpec("diagnostics_upload_interval_s", "Diagnostics upload interval", "int", "ocpp", lo=1, hi=86400, unit="s"),
    FieldSpec("diagnostics_upload_retries", "Diagnostics upload retries", "int", "ocpp", lo=0, hi=100),
    FieldSpec("meter_sampling_type", "Meter sampling type", "choice", "ocpp", choices=("Sampled", "Clock-aligned", "Both")),
)

COMMUNICATION: tuple[FieldSpec, ...] = (
    FieldSpec("network_mode", "Network mode", "choice", "network", choices=("Direct", "Gateway", "Client"), reboot=True),
    FieldSpec("connectivity", "Connectivity", "choice", "network", choices=("None", "Auto", "Wi-Fi", "Cellular", "Ethernet")),
    FieldSpec("group_use_external_gateway", "Group use external gateway", "bool", "network"),
    FieldSpec("ethernet_dhcp", "Ethernet DHCP", "bool", "ethernet"),
    FieldSpec("ethernet_ip", "Static IP", "ipv4", "ethernet"),
    FieldSpec("ethernet_netmask", "Netmask", "ipv4", "ethernet"),
    FieldSpec("ethernet_gateway", "Gateway", "ipv4", "ethernet"),
    FieldSpec("ethernet_dns", "DNS", "ipv4", "ethernet"),
    FieldSpec("ping_url", "Ping URL", "text", "ethernet", max_len=200),
    FieldSpec("wifi_ssid", "Wi-Fi SSID", "text", "wifi", max_len=32),
    FieldSpec("wifi_security", "Wi-Fi security", "choice", "wifi", choices=("None", "WEP", "WPA", "WPA2", "Auto")),
    FieldSpec("wifi_password", "Wi-Fi password", "secret", "wifi", max_len=63),
    FieldSpec("cellular_apn", "Cellular APN", "text", "cellular", max_len=64),
    FieldSpec("cellular_pin", "SIM PIN", "secret", "cellular", max_len=8),
    FieldSpec("cellular_reconnect_interval_s", "Reconnect interval", "int", "cellular", lo=10, hi=86400, unit="s"),
    FieldSpec("llm_policy", "Load-management policy", "choice", "llm", choices=("UD", "FIFS")),
    FieldSpec("llm_group_id", "Group ID", "text", "llm", max_len=32),
    FieldSpec("llm_group_size", "Group size (fixed)", "int", "llm", readonly=True),
    FieldSpec("llm_grid_max_a", "Max amperage grid connection (per phase)", "int", "llm", lo=6, hi=2000, unit="A"),
    FieldSpec("llm_fallback_a", "Fallback current", "int", "llm", lo=0, hi=80, unit="A"),
    FieldSpec("llm_wire_type", "Wire type of this station", "choice", "llm", choices=("L1-L2", "L1-L3", "L2-L3")),
)

DEFAULTS: dict[str, dict[str, Any]] = {
    "pricing": {
        "member_price_scheme_id": "", "non_member_price_scheme_id": "",
        "parking_billing_type": "Time", "parking_day_of_week": "Everyday",
        "parking_start": "0000", "parking_end": "2359", "parking_unit_interval_min": 60,
        "parking_interval_rate_usd": 0.0, "parking_grace_period_s": 0,
        "usage_billing_type": "kWh", "usage_day_of_week": "Everyday",
        "usage_start": "0000", "usage_end": "2359", "usage_unit_interval": 1,
        "usage_interval_rate_usd": 0.0, "usage_grace_period_s": 0,
        "initial_grace_period_s": 0, "parking_rate_cap_usd": 0.0, "tax_rate_pct": 0.0,
        "service_fee_usd": 0.0,
    },
    "ocpp": {
        "remote_service_type": "OCPP", "charge_point_id": "", "protocol_name": "ocpp1.6",
        "central_system_url": "", "basic_auth_id": "", "basic_auth_password": "",
        "ftp_user": "", "ftp_password": "", "transport": "WS",
        "boot_notification_interval_s": 600, "boot_notification_retries": -1, "pdu_timeout_s": 60,
        "firmware_download_interval_s": 300, "firmware_download_retries": 3,
        "diagnostics_upload_interval_s": 300, "diagnostics_upload_retries": 3,
        "meter_sampling_type": "Sampled",
    },
    "communication": {
        "network_mode": "Direct", "connectivity": "Auto", "group_use_external_gateway": False,
        "ethernet_dhcp": True, "ethernet_ip": "", "ethernet_netmask": "", "ethernet_gateway": "",
        "ethernet_dns": "", "ping_url": "", "wifi_ssid": "", "wifi_security": "Auto",
        "wifi_password": "", "cellular_apn": "", "cellular_pin": "",
        "cellular_reconnect_interval_s": 300, "llm_policy": "UD", "llm_group_id": "",
        "llm_group_size": 20, "llm_grid_max_a": 60, "llm_fallback_a": 10,
        "llm_wire_type": "L1-L2",
    },
}

GROUPS: dict[str, tuple[FieldSpec, ...]] = {
    "pricing": PRICING,
    "ocpp": OCPP_SERVICE,
    "communication": COMMUNICATION,
}


class ExtraSettings:
    """One JSON object per group in the station's key/value table."""

    def __init__(self, storage: Storage, charge_point_id: str) -> None:
        self.storage = storage
        self._defaults = {g: dict(v) for g, v in DEFAULTS.items()}
        self._defaults["ocpp"]["charge_point_id"] = charge_point_id

    def _key(self, group: str) -> str:
        if group not in GROUPS:
            raise KeyError(f"unknown settings group {group!r}")
        return f"portal.settings.{group}"

    def get(self, group: str) -> dict[str, Any]:
        stored = self.storage.get_json(self._key(group)) or {}
        values = dict(self._defaults[group])
        values.update({k: v for k, v in stored.items() if k in values})
        return values

    def update(self, group: str, changes: Mapping[str, Any]) -> list[str]:
        """Check every change again, persist them all or none; returns names that need a reboot."""
        specs = {s.name: s for s in GROUPS[group]}
        errors: dict[str, str] = {}
        for name, value in changes.items():
            spec = specs.get(name)
            if spec is None or spec.readonly:
                errors[name] = "unknown or read-only setting"
            elif spec.kind in ("bool",) and not isinstance(value, bool):
                errors[name] = "expected true or false"
            elif spec.kind != "bool":
                try:
                    parse_value(spec, str(value))
                except ValueError as exc:
                    errors[name] = str(exc)
        if errors:
            raise FormErrors(errors)
        current = self.get(group)
        changed = {k: v for k, v in changes.items() if current.get(k) != v}
        if changed:
            current.update(changed)
            self.storage.put_json(self._key(group), current)
        return [k for k in changed if specs[k].reboot]

    def reset(self) -> None:
        for group in GROUPS:
            self.storage.delete(self._key(group))
