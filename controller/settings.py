"""Station settings (SPEC §Station settings) with their defaults, types and ranges.

Settings arrive from the config file, the portal, the twin's desired state and OCPP; all of
them go through :func:`validate_changes`, so a bad value is refused with a message naming the
setting and nothing is half-applied.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")


class SettingsError(ValueError):
    """A setting value was refused; ``errors`` maps each bad name to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _default_hours() -> dict[str, list[str]]:
    return {day: ["0000", "2359"] for day in WEEKDAYS}


@dataclass
class StationSettings:
    # General
    max_amperage_fw_a: int = 50
    cold_load_pickup_max_delay_s: int = 720
    ev_connect_timeout_s: int = 900
    plug_and_charge_id: str = ""
    offline_authorize: bool = True
    authorize_timeout_s: int = 60
    reboot_period_min: int = 10080
    local_language: str = "en"
    reservation_supported: bool = True
    resume_charge_after_reboot: bool = False
    display_dim: bool = False
    display_intensity_pct: int = 100
    odometer_screen: bool = False
    daylight_saving: bool = True
    time_zone: str = "America/Los_Angeles"
    latitude: float = 0.0
    longitude: float = 0.0
    # Warning and trip thresholds
    temperature_low_warning_c: float = -30.0
    temperature_high_warning_c: float = 50.0
    temperature_trip_c: float = 70.0  # internal temperature; derating starts at 45 °C ambient
    voltage_low_warning_v: float = 190.0
    voltage_high_warning_v: float = 254.0
    voltage_low_trip_v: float = 180.0
    voltage_high_trip_v: float = 264.0
    # Hours of operation: weekday -> [start HHMM, end HHMM]
    hours_of_operation: dict[str, list[str]] = field(default_factory=_default_hours)
    # Local tags accepted without a central system
    local_list: list[str] = field(default_factory=list)
    # Network (reported by the network layer; the letter on the OLED)
    network: str = "W"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def apply(self, changes: dict[str, Any]) -> "StationSettings":
        """A new settings object with ``changes`` applied, or SettingsError (nothing applied)."""
        clean = validate_changes(changes, current=self)
        return dataclasses.replace(self, **clean)


REBOOT_REQUIRED = frozenset({"local_language"})
_FIELDS = {f.name: f for f in fields(StationSettings)}
_RANGES: dict[str, tuple[float, float]] = {
    "max_amperage_fw_a": (6, 80),
    "cold_load_pickup_max_delay_s": (120, 86400),
    "ev_connect_timeout_s": (10, 86400),
    "authorize_timeout_s": (1, 600),
    "reboot_period_min": (0, 525600),
    "display_intensity_pct": (0, 100),
    "latitude": (-90, 90),
    "longitude": (-180, 180),
    "temperature_low_warning_c": (-40, 100),
    "temperature_high_warning_c": (-40, 100),
    "temperature_trip_c": (40, 120),
    "voltage_low_warning_v": (180, 264),
    "voltage_high_warning_v": (180, 264),
    "voltage_low_trip_v": (180, 264),
    "voltage_high_trip_v": (180, 264),
}


def validate_changes(changes: dict[str, Any], current: StationSettings) -> dict[str, Any]:
    """Type- and range-check ``changes``; raise SettingsError listing every bad one."""
    if not isinstance(changes, dict):
        raise SettingsError({"settings": f"expected an object of settings, got {changes!r}"})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in _FIELDS:
            errors[name] = "unknown setting"
            continue
        try:
            clean[name] = _coerce(name, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if not errors:
        merged = dataclasses.replace(current, **clean)
        errors.update(_cross_checks(merged))
    if errors:
        raise SettingsError(errors)
    return clean


def _coerce(name: str, value: Any) -> Any:
    default = getattr(StationSettings(), name)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        _check_range(name, value)
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError(f"expected a number, got {value!r}")
        _check_range(name, float(value))
        return float(value)
    if name == "hours_of_operation":
        return _coerce_hours(value)
    if name == "local_list":
        if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
            raise ValueError("expected a list of non-empty tag ids")
        if any(len(t) > 20 for t in value):
            raise ValueError("tag ids are at most 20 characters")
        return list(value)
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    if name == "plug_and_charge_id" and value and len(value) < 8:
        raise ValueError("a Plug and Charge ID has at least 8 characters (or is empty)")
    if name == "time_zone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
    if name == "network" and value not in ("E", "W", "L", "A", "-"):
        raise ValueError("network letter is one of E, W, L, A, -")
    return value


def _check_range(name: str, value: float) -> None:
    lo, hi = _RANGES.get(name, (float("-inf"), float("inf")))
    if not lo <= value <= hi:
        raise ValueError(f"{value} is outside {lo:g}…{hi:g}")


def _coerce_hours(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ValueError("expected an object weekday -> [start HHMM, end HHMM]")
    hours = _default_hours()
    for day, window in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        if (
            not isinstance(window, (list, tuple))
            or len(window) != 2
            or not all(isinstance(t, str) and _HHMM.match(t) for t in window)
        ):
            raise ValueError(f"{day}: expected [start, end] as HHMM strings, got {window!r}")
        hours[day] = [window[0], window[1]]
    return hours


def _cross_checks(s: StationSettings) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not s.voltage_low_trip_v < s.voltage_low_warning_v < s.voltage_high_warning_v:
        errors["voltage_low_warning_v"] = "needs low trip < low warning < high warning"
    if not s.voltage_high_warning_v < s.voltage_high_trip_v:
        errors["voltage_high_warning_v"] = "needs high warning < high trip"
    if not s.temperature_low_warning_c < s.temperature_high_warning_c < s.temperature_trip_c:
        errors["temperature_high_warning_c"] = "needs low warning < high warning < trip"
    return errors
