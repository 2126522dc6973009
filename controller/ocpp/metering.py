"""MeterValues content: a MeterSnapshot turned into OCPP sampled values (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller.ocpp.id_tag_info import format_ocpp_time
from controller.ocpp.station_port import MeterSnapshot

_UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Voltage": "V",
    "Temperature": "Celsius",
}


def _reading(snapshot: MeterSnapshot, measurand: str) -> float:
    if measurand == "Energy.Active.Import.Register":
        return snapshot.energy_wh
    if measurand == "Current.Import":
        return snapshot.current_a
    if measurand == "Current.Offered":
        return snapshot.offered_a
    if measurand == "Voltage":
        return snapshot.voltage_v
    if measurand == "Temperature":
        return snapshot.temperature_c
    raise ValueError(f"unsupported measurand {measurand!r}")


def _format(value: float) -> str:
    return f"{value:.1f}" if value != int(value) else str(int(value))


def sampled_values(
    snapshot: MeterSnapshot, measurands: Iterable[str], context: str
) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = []
    for measurand in measurands:
        reading = _reading(snapshot, measurand)
        # The register goes out in whole Wh, truncated like meterStart/meterStop, so all
        # energy figures a central system sees are one monotonic series.
        text = str(int(reading)) if measurand.startswith("Energy") else _format(reading)
        item: dict[str, Any] = {
            "value": text,
            "context": context,
            "format": "Raw",
            "measurand": measurand,
            "location": "Body" if measurand == "Temperature" else "Outlet",
            "unit": _UNITS[measurand],
        }
        values.append(item)
    return values


def meter_value(
    snapshot: MeterSnapshot, measurands: Iterable[str], context: str, timestamp: float
) -> dict[str, Any]:
    """One MeterValue element (timestamp + sampled values)."""
    return {
        "timestamp": format_ocpp_time(timestamp),
        "sampledValue": sampled_values(snapshot, measurands, context),
    }


def next_aligned(now: float, interval: float) -> float:
    """The next wall-clock instant that is a multiple of ``interval`` after midnight UTC."""
    if interval <= 0:
        raise ValueError(f"clock-aligned interval must be positive, got {interval}")
    day_start = now - (now % 86400)
    elapsed = now - day_start
    steps = int(elapsed // interval) + 1
    candidate = day_start + steps * interval
    return min(candidate, day_start + 86400)
