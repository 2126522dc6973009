"""Sensors: what the charger is doing, measured and reported through its twin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .api import ConnectorStatus
from .coordinator import Mq200ConfigEntry, Mq200Coordinator, Mq200Data
from .entity import Mq200Entity

PARALLEL_UPDATES = 0

STATUS_OPTIONS = [
    "initializing", "available", "preparing", "charging", "suspended_ev", "suspended_evse",
    "finishing", "reserved", "unavailable", "faulted",
]
_STATUS_KEYS = dict(zip(ConnectorStatus, STATUS_OPTIONS, strict=True))
PILOT_OPTIONS = ["a", "b", "c", "d", "e", "f"]


@dataclass(frozen=True, kw_only=True)
class Mq200SensorDescription(SensorEntityDescription):
    value_fn: Callable[[Mq200Data], StateType | datetime]


def _status(data: Mq200Data) -> str | None:
    status = data.state.status
    return None if status is None else _STATUS_KEYS[status]


def _pilot(data: Mq200Data) -> str | None:
    pilot = data.state.pilot
    return None if pilot is None else pilot.lower()


SENSORS: tuple[Mq200SensorDescription, ...] = (
    Mq200SensorDescription(
        key="status", translation_key="status", device_class=SensorDeviceClass.ENUM,
        options=STATUS_OPTIONS, value_fn=_status,
    ),
    Mq200SensorDescription(
        key="pilot", translation_key="pilot", device_class=SensorDeviceClass.ENUM,
        options=PILOT_OPTIONS, entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False, value_fn=_pilot,
    ),
    Mq200SensorDescription(
        key="offered_current", translation_key="offered_current",
        device_class=SensorDeviceClass.CURRENT, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        value_fn=lambda d: d.state.offered_a,
    ),
    Mq200SensorDescription(
        key="current", translation_key="current",
        device_class=SensorDeviceClass.CURRENT, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE, suggested_display_precision=1,
        value_fn=lambda d: d.state.current_a,
    ),
    Mq200SensorDescription(
        key="voltage", translation_key="voltage",
        device_class=SensorDeviceClass.VOLTAGE, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT, suggested_display_precision=0,
        entity_registry_enabled_default=False, value_fn=lambda d: d.state.voltage_v,
    ),
    Mq200SensorDescription(
        key="power", translation_key="power",
        device_class=SensorDeviceClass.POWER, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT, suggested_display_precision=0,
        value_fn=lambda d: d.state.power_w,
    ),
    Mq200SensorDescription(
        key="session_energy", translation_key="session_energy",
        device_class=SensorDeviceClass.ENERGY, state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR, suggested_display_precision=2,
        value_fn=lambda d: d.state.session_energy_wh,
    ),
    Mq200SensorDescription(
        key="total_energy", translation_key="total_energy",
        device_class=SensorDeviceClass.ENERGY, state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR, suggested_display_precision=1,
        value_fn=lambda d: d.state.energy_wh,
    ),
    Mq200SensorDescription(
        key="temperature", translation_key="temperature",
        device_class=SensorDeviceClass.TEMPERATURE, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        entity_category=EntityCategory.DIAGNOSTIC, value_fn=lambda d: d.state.temperature_c,
    ),
    Mq200SensorDescription(
        key="session_cost", translation_key="session_cost",
        device_class=SensorDeviceClass.MONETARY, state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2, value_fn=lambda d: d.state.session_cost,
    ),
    Mq200SensorDescription(
        key="limit_reason", translation_key="limit_reason",
        value_fn=lambda d: d.state.limit_reason,
    ),
    Mq200SensorDescription(
        key="next_start", translation_key="next_start",
        device_class=SensorDeviceClass.TIMESTAMP, value_fn=lambda d: d.state.next_start,
    ),
    Mq200SensorDescription(
        key="estimated_full", translation_key="estimated_full",
        device_class=SensorDeviceClass.TIMESTAMP, value_fn=lambda d: d.full_at,
    ),
    Mq200SensorDescription(
        key="load_management_allocation", translation_key="load_management_allocation",
        device_class=SensorDeviceClass.CURRENT, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        entity_registry_enabled_default=False,
        value_fn=lambda d: d.state.load_management_allocation_a,
    ),
    Mq200SensorDescription(
        key="signal_strength", translation_key="signal_strength",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH, state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        entity_category=EntityCategory.DIAGNOSTIC, entity_registry_enabled_default=False,
        value_fn=lambda d: d.state.signal_dbm,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: Mq200ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        Mq200Sensor(coordinator, description, hass.config.currency)
        for description in SENSORS
    )


class Mq200Sensor(Mq200Entity, SensorEntity):
    entity_description: Mq200SensorDescription

    def __init__(
        self, coordinator: Mq200Coordinator, description: Mq200SensorDescription,
        currency: str,
    ) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description
        if description.device_class is SensorDeviceClass.MONETARY:
            self._attr_native_unit_of_measurement = currency

    @property
    def native_value(self) -> StateType | datetime:
        return self.entity_description.value_fn(self.coordinator.data)
