"""The Station Settings form and the one door it writes through: the twin's desired state.

A submitted section is parsed, then dry-run against the station's settings (the same checks the
station makes, plus the DIP rule); only when every field passes are the changes written as
``desired.settings`` with the portal user as actor. The embedded twin hands them to the bridge,
which applies them to the station and acks each key, so the portal, the twin and the station
cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.charging.station import Station
from controller.portal.fields import FieldSpec, FormErrors, parse_form
from controller.settings import REBOOT_REQUIRED, WEEKDAYS, SettingsError, validate_changes
from twin.documents import DocumentError, JsonValue
from twin.service import TwinService

GENERAL: tuple[FieldSpec, ...] = (
    FieldSpec("max_amperage_fw_a", "Max amperage FW setting", "int", "general", lo=6, hi=80, unit="A"),
    FieldSpec("cold_load_pickup_max_delay_s", "Cold load pickup max delay", "int", "general", lo=120, hi=86400, unit="s"),
    FieldSpec("ev_connect_timeout_s", "EV connect timeout", "int", "general", lo=10, hi=86400, unit="s"),
    FieldSpec("plug_and_charge_id", "Plug and Charge ID", "text", "general", max_len=20),
    FieldSpec("offline_authorize", "Offline authorize", "bool", "general"),
    FieldSpec("authorize_timeout_s", "Authorize timeout", "int", "general", lo=1, hi=600, unit="s"),
    FieldSpec("reboot_period_min", "Reboot period", "int", "general", lo=0, hi=525600, unit="min"),
    FieldSpec("local_language", "Local language", "choice", "general", choices=("en", "fr", "es"),
              reboot="local_language" in REBOOT_REQUIRED),
    FieldSpec("reservation_supported", "Reservation supported", "bool", "general"),
    FieldSpec("resume_charge_after_reboot", "Resume charge after reboot", "bool", "general"),
    FieldSpec("display_dim", "Display dim", "bool", "general"),
    FieldSpec("display_intensity_pct", "Display intensity", "int", "general", lo=0, hi=100, unit="%"),
    FieldSpec("odometer_screen", "Odometer screen", "bool", "general"),
    FieldSpec("daylight_saving", "Daylight saving", "bool", "general"),
    FieldSpec("time_zone", "Time zone", "text", "general", max_len=64, optional=False),
)

WARNINGS: tuple[FieldSpec, ...] = (
    FieldSpec("temperature_low_warning_c", "Temperature low warning", "float", "warnings", lo=-40, hi=100, unit="°C"),
    FieldSpec("temperature_high_warning_c", "Temperature high warning", "float", "warnings", lo=-40, hi=100, unit="°C"),
    FieldSpec("temperature_trip_c", "Temperature trip", "float", "warnings", lo=40, hi=120, unit="°C"),
    FieldSpec("voltage_low_warning_v", "Voltage low warning", "float", "warnings", lo=180, hi=264, unit="VAC"),
    FieldSpec("voltage_high_warning_v", "Voltage high warning", "float", "warnings", lo=180, hi=264, unit="VAC"),
    FieldSpec("voltage_low_trip_v", "Voltage low trip", "float", "warnings", lo=180, hi=264, unit="VAC"),
    FieldSpec("voltage_high_trip_v", "Voltage high trip", "float", "warnings", lo=180, hi=264, unit="VAC"),
)

GPS: tuple[FieldSpec, ...] = (
    FieldSpec("latitude", "Latitude", "float", "gps", lo=-90, hi=90, unit="°"),
    FieldSpec("longitude", "Longitude", "float", "gps", lo=-180, hi=180, unit="°"),
)

HOURS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(f"hours_{day}_{edge}", f"{day.title()} {edge}", "hhmm", "hours")
    for day in WEEKDAYS
    for edge in ("start", "end")
)

SECTIONS: dict[str, tuple[FieldSpec, ...]] = {
    "general": GENERAL,
    "warnings": WARNINGS,
    "hours": HOURS,
    "gps": GPS,
}


def current_values(station: Station) -> dict[str, Any]:
    values = station.settings.to_dict()
    for day in WEEKDAYS:
        start, end = station.settings.hours_of_operation.get(day, ["0000", "2359"])
        values[f"hours_{day}_start"] = start
        values[f"hours_{day}_end"] = end
    return values


@dataclass
class SubmitResult:
    changed: list[str] = field(default_factory=list)
    reboot_needed: list[str] = field(default_factory=list)


def _to_settings(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    if section != "hours":
        return dict(values)
    return {
        "hours_of_operation": {
            day: [values[f"hours_{day}_start"], values[f"hours_{day}_end"]] for day in WEEKDAYS
        }
    }


def _field_errors(section: str, errors: Mapping[str, str]) -> dict[str, str]:
    """Map settings-level messages back to the form's field names."""
    if section != "hours":
        return dict(errors)
    message = "; ".join(errors.values())
    return {f"hours_{WEEKDAYS[0]}_start": message}


def submit_station_section(
    station: Station,
    service: TwinService | None,
    section: str,
    form: Mapping[str, str],
    user: str,
) -> SubmitResult:
    """Validate one section completely, then write it through the twin; FormErrors otherwise."""
    specs = SECTIONS.get(section)
    if specs is None:
        raise FormErrors({"section": f"unknown section {section!r}"})
    values = parse_form(specs, form)
    wanted = _to_settings(section, values)
    current = station.settings.to_dict()
    changes = {k: v for k, v in wanted.items() if current.get(k) != v}
    if not changes:
        return SubmitResult()
    try:
        validate_changes(changes, current=station.settings)
    except SettingsError as exc:
        raise FormErrors(_field_errors(section, exc.errors)) from None
    dip = station.dip
    fw = changes.get("max_amperage_fw_a")
    if dip is not None and not dip.factory_reset and isinstance(fw, int) and fw > dip.max_a:
        raise FormErrors({"max_amperage_fw_a": f"{fw} A is above the DIP switch max of {dip.max_a} A"})

    if changes:
        if service is None:
            _apply_direct(station, changes, section)
        else:
            _through_twin(station, service, changes, user, section)
    return SubmitResult(
        changed=sorted(changes),
        reboot_needed=sorted(k for k in changes if k in REBOOT_REQUIRED),
    )


def _apply_direct(station: Station, changes: dict[str, Any], section: str) -> None:
    try:
        station.apply_settings(changes)
    except SettingsError as exc:
        raise FormErrors(_field_errors(section, exc.errors)) from None


def _through_twin(
    station: Station, service: TwinService, changes: dict[str, Any], user: str, section: str
) -> None:
    desired_settings = service.state().desired.get("settings")
    already = desired_settings if isinstance(desired_settings, dict) else {}
    stale: dict[str, JsonValue] = {k: None for k, v in changes.items() if already.get(k) == v}
    try:
        if stale:
            # Desired already holds this value but the station moved away from it (a reset):
            # clear the key first so the bridge sees a change and applies it again.
            service.set_desired({"settings": stale}, actor=f"portal:{user}")
        service.set_desired({"settings": changes}, actor=f"portal:{user}")
    except DocumentError as exc:
        raise FormErrors({p.key.removeprefix("settings."): p.message for p in exc.problems}) from None
    status = service.state().reported.get("desired_status")
    statuses = status if isinstance(status, dict) else {}
    refused: dict[str, str] = {}
    for name in changes:
        verdict = statuses.get(f"settings.{name}")
        if isinstance(verdict, dict) and verdict.get("state") == "rejected":
            refused[name] = str(verdict.get("reason", "rejected by the station"))
    if refused:
        raise FormErrors(refused)
    off = {k for k, v in changes.items() if getattr(station.settings, k) != v}
    if off:
        raise FormErrors({k: "the station did not take this value; see the twin's desired_status" for k in off})
