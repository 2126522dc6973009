"""OCPP 1.6 configuration keys: definitions (SPEC §OCPP settings), checks and persistence.

Values are stored as their OCPP string form; a change is validated completely and committed
before the caller acts on it, so a rejected or interrupted change leaves the old value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from controller.ocpp.database import create_tables

MEASURANDS = (
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Import.Register",
    "Temperature",
    "Voltage",
)
FEATURE_PROFILES = (
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)
PHASE_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")


class KeyType(str, enum.Enum):
    BOOL = "boolean"
    INT = "integer"
    CSL = "comma-separated list"
    STRING = "string"


class ChangeResult(str, enum.Enum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
_HHMM = r"([01]\d|2[0-3])[0-5]\d"
HOURS_PATTERN = rf"({_DAY}={_HHMM}-{_HHMM}(;{_DAY}={_HHMM}-{_HHMM})*)?"


def parse_hours(value: str) -> dict[str, list[str]] | None:
    """``mon=0700-2200;sat=0000-2359`` as the station's hours table; empty: none."""
    if not value:
        return None
    table: dict[str, list[str]] = {}
    for part in value.split(";"):
        day, _, window = part.partition("=")
        start, _, end = window.partition("-")
        table[day] = [start, end]
    return table


@dataclass(frozen=True)
class KeyDefinition:
    name: str
    default: str
    key_type: KeyType
    readonly: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()  # allowed items of a CSL (or allowed strings)
    max_items_key: str | None = None  # key holding the CSL's maximum length
    reboot_required: bool = False
    pattern: str | None = None  # a STRING's whole value must match this regular expression
    pattern_hint: str = ""

    def check(self, value: str, max_items: int | None) -> str:
        """Return the normalised value or raise ValueError naming the problem."""
        if self.key_type is KeyType.BOOL:
            lowered = value.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(f"{self.name}: {value!r} is not true/false")
            return lowered
        if self.key_type is KeyType.INT:
            try:
                number = int(value.strip())
            except ValueError:
                raise ValueError(f"{self.name}: {value!r} is not an integer") from None
            if self.minimum is not None and number < self.minimum:
                raise ValueError(f"{self.name}: {number} is below {self.minimum}")
            if self.maximum is not None and number > self.maximum:
                raise ValueError(f"{self.name}: {number} is above {self.maximum}")
            return str(number)
        if self.key_type is KeyType.CSL:
            items = [item.strip() for item in value.split(",") if item.strip()]
            for item in items:
                if self.choices and item not in self.choices:
                    raise ValueError(f"{self.name}: {item!r} is not one of {', '.join(self.choices)}")
            if max_items is not None and len(items) > max_items:
                raise ValueError(f"{self.name}: {len(items)} items, at most {max_items} allowed")
            return ",".join(items)
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if len(value) > 500:
            raise ValueError(f"{self.name}: value longer than 500 characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"{self.name}: {value!r} is not {self.pattern_hint or 'well formed'}")
        return value


def _b(name: str, default: bool, readonly: bool = False) -> KeyDefinition:
    return KeyDefinition(name, "true" if default else "false", KeyType.BOOL, readonly)


def _i(
    name: str, default: int, lo: int | None = 0, hi: int | None = None, readonly: bool = False
) -> KeyDefinition:
    return KeyDefinition(name, str(default), KeyType.INT, readonly, lo, hi)


def _csl(name: str, default: str, choices: tuple[str, ...], max_key: str | None,
         readonly: bool = False) -> KeyDefinition:
    return KeyDefinition(name, default, KeyType.CSL, readonly, choices=choices, max_items_key=max_key)


_STOP_TXN_DEFAULT = "Current.Import,Energy.Active.Import.Register,Temperature,Voltage"

KEYS: dict[str, KeyDefinition] = {
    k.name: k
    for k in (
        _b("AllowOfflineTxForUnknownId", True),
        _b("AuthorizationCacheEnabled", True),
        _b("AuthorizeRemoteTxRequests", True),
        _i("BlinkRepeat", 0, 0, 1000),
        _i("ClockAlignedDataInterval", 0, 0, 86400),
        _i("ConnectionTimeOut", 900, 10, 86400),  # the core's EV connect timeout range
        _i("GetConfigurationMaxKeys", 60, readonly=True),
        _i("HeartbeatInterval", 0, 0, 86400),
        _i("LightIntensity", 100, 0, 100),
        _b("LocalAuthorizeOffline", True),
        _b("LocalPreAuthorize", True),
        _i("MaxEnergyOnInvalidId", 7360, 0, 1_000_000),
        _csl("MeterValuesAlignedData", "Energy.Active.Import.Register", MEASURANDS,
             "MeterValuesAlignedDataMaxLength"),
        _i("MeterValuesAlignedDataMaxLength", 10, readonly=True),
        _csl("MeterValuesSampledData", "Energy.Active.Import.Register", MEASURANDS,
             "MeterValuesSampledDataMaxLength"),
        _i("MeterValuesSampledDataMaxLength", 10, readonly=True),
        _i("MeterValueSampleInterval", 0, 0, 86400),
        _i("MinimumStatusDuration", 10, 0, 3600),
        _i("NumberOfConnectors", 1, readonly=True),
        _i("ResetRetries", 0, 0, 10),
        _csl("ConnectorPhaseRotation", "NotApplicable",
             tuple(f"{c}.{r}" for c in ("0", "1") for r in PHASE_ROTATIONS) + PHASE_ROTATIONS,
             "ConnectorPhaseRotationMaxLength"),
        _i("ConnectorPhaseRotationMaxLength", 1, readonly=True),
        _b("StopTransactionOnEVSideDisconnect", True),
        _b("StopTransactionOnInvalidId", True),
        _csl("StopTxnAlignedData", _STOP_TXN_DEFAULT, MEASURANDS, "StopTxnAlignedDataMaxLength"),
        _i("StopTxnAlignedDataMaxLength", 10, readonly=True),
        _csl("StopTxnSampledData", _STOP_TXN_DEFAULT, MEASURANDS, "StopTxnSampledDataMaxLength"),
        _i("StopTxnSampledDataMaxLength", 10, readonly=True),
        _csl("SupportedFeatureProfiles", ",".join(FEATURE_PROFILES), FEATURE_PROFILES,
             "SupportedFeatureProfilesMaxLength", readonly=True),
        _i("SupportedFeatureProfilesMaxLength", 6, readonly=True),
        _i("TransactionMessageAttempts", 10, 1, 100),
        _i("TransactionMessageRetryInterval", 10, 0, 86400),
        _b("UnlockConnectorOnEVSideDisconnect", True),
        _i("WebSocketPingInterval", 120, 0, 86400),
        _b("LocalAuthListEnabled", True),
        _i("LocalAuthListMaxLength", 100, readonly=True),
        _i("SendLocalListMaxLength", 100, readonly=True),
        _b("ReserveConnectorZeroSupported", True, readonly=True),
        _i("ChargeProfileMaxStackLevel", 99, readonly=True),
        _csl("ChargingScheduleAllowedChargingRateUnit", "Current", ("Current", "Power"), None,
             readonly=True),
        _i("ChargingScheduleMaxPeriods", 32, readonly=True),
        _b("ConnectorSwitch3to1PhaseSupported", False, readonly=True),
        _i("MaxChargingProfilesInstalled", 10, readonly=True),
        _csl("SupportedFileTransferProtocols", "HTTP,HTTPS,FTP", ("HTTP", "HTTPS", "FTP"), None,
             readonly=True),
        KeyDefinition("MQ200RemoteServiceType", "OCPP", KeyType.STRING, choices=("APP", "OCPP"),
                      reboot_required=True),
        # Hours of operation from the central system; they supersede the station's defaults.
        KeyDefinition("MQ200HoursOfOperation", "", KeyType.STRING, pattern=HOURS_PATTERN,
                      pattern_hint="empty or day=HHMM-HHMM;... (e.g. mon=0700-2200;sat=0000-2359)"),
    )
}


class ConfigValue(SQLModel, table=True):
    __tablename__ = "ocpp_config_value"
    key: str = Field(primary_key=True)
    value: str


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    readonly: bool


Listener = Callable[[str, str], None]


class ConfigurationStore:
    """The charge point's configuration keys, persisted; listeners hear about accepted changes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine)
        self._values = {name: d.default for name, d in KEYS.items()}
        with Session(engine) as session:
            for row in session.exec(select(ConfigValue)).all():
                if row.key in KEYS:
                    self._values[row.key] = row.value
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def get(self, key: str) -> str:
        return self._values[key]

    def get_bool(self, key: str) -> bool:
        return self._values[key] == "true"

    def get_int(self, key: str) -> int:
        return int(self._values[key])

    def get_list(self, key: str) -> list[str]:
        return [item for item in self._values[key].split(",") if item]

    def read(self, keys: Iterable[str] | None) -> tuple[list[KeyValue], list[str]]:
        """GetConfiguration: (known keys with values, unknown keys)."""
        wanted = list(KEYS) if not keys else list(keys)
        known = [KeyValue(k, self._values[k], KEYS[k].readonly) for k in wanted if k in KEYS]
        unknown = [k for k in wanted if k not in KEYS]
        return known, unknown

    def change(self, key: str, value: str) -> ChangeResult:
        """ChangeConfiguration from the central system (read-only keys are Rejected)."""
        definition = KEYS.get(key)
        if definition is None:
            return ChangeResult.NOT_SUPPORTED
        if definition.readonly:
            return ChangeResult.REJECTED
        try:
            self.set(key, value)
        except ValueError:
            return ChangeResult.REJECTED
        return ChangeResult.REBOOT_REQUIRED if definition.reboot_required else ChangeResult.ACCEPTED

    def set(self, key: str, value: str) -> None:
        """Validate, persist, then notify; raises KeyError/ValueError with the reason."""
        definition = KEYS.get(key)
        if definition is None:
            raise KeyError(f"unknown configuration key {key!r}")
        max_items = (
            int(self._values[definition.max_items_key]) if definition.max_items_key else None
        )
        normalised = definition.check(value, max_items)
        with Session(self._engine) as session:
            session.merge(ConfigValue(key=key, value=normalised))
            session.commit()
        self._values[key] = normalised
        for listener in list(self._listeners):
            listener(key, normalised)
