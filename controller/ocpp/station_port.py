"""The seam between the OCPP layer and the charging core.

OCPP never reaches into the charge logic: it sees the station only through :class:`StationPort`
(implemented by the charging core) and the core tells OCPP what happened through
:class:`StationEvents` (implemented by :class:`controller.ocpp.charge_point.OcppChargePoint`).
Both sides stay small so the core and the protocol can change independently.

Authorization has one door: the core asks (``tag_needs_authorization``) and OCPP answers
(``StationPort.deliver_authorization``) — whether the answer came from the central system, the
Local Authorization List, the cache or the offline rules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class ConnectorStatus(str, enum.Enum):
    """OCPP 1.6 ChargePointStatus values (SPEC §Status)."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class StopReason(str, enum.Enum):
    """OCPP 1.6 StopTransaction reasons the core may report."""

    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    DE_AUTHORIZED = "DeAuthorized"
    EMERGENCY_STOP = "EmergencyStop"
    UNLOCK_COMMAND = "UnlockCommand"
    OTHER = "Other"


@dataclass(frozen=True)
class StatusReport:
    """Connector status as OCPP reports it; ``error_code`` uses the OCPP 1.6 vocabulary."""

    status: ConnectorStatus
    error_code: str = "NoError"
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True)
class MeterSnapshot:
    """One reading of the embedded meter; the energy register never goes backwards."""

    energy_wh: float
    current_a: float
    voltage_v: float
    temperature_c: float
    offered_a: float


@dataclass(frozen=True)
class AuthorizationAnswer:
    """What OCPP decided about a presented tag, handed to the core's authorization door."""

    id_tag: str
    accepted: bool
    status: str  # OCPP AuthorizationStatus: Accepted, Blocked, Expired, Invalid, ConcurrentTx
    parent_id_tag: str | None = None
    source: str = "central_system"  # central_system | local_list | cache | offline


class StationPort(Protocol):
    """What OCPP needs from the charging core (the core implements this)."""

    def status(self) -> StatusReport:
        """Current status of connector 1 (connector 0 is derived by OCPP)."""
        ...

    def meter(self) -> MeterSnapshot: ...

    def deliver_authorization(self, answer: AuthorizationAnswer) -> None:
        """Answer to ``StationEvents.tag_needs_authorization``, or to a remote start."""
        ...

    def remote_start(self, id_tag: str) -> bool:
        """Start a session for ``id_tag`` (already authorized); False if the core refuses."""
        ...

    def stop_session(self, reason: StopReason) -> bool:
        """Stop the running session; False if there is none."""
        ...

    def set_available(self, available: bool) -> None:
        """Operative / Inoperative (ChangeAvailability); the core refuses new sessions when off."""
        ...

    def unlock_connector(self) -> bool:
        """Release the cable; False if the connector cannot be unlocked."""
        ...

    def reset(self, hard: bool) -> bool:
        """Reboot the station (any session was stopped by OCPP first); False if it failed."""
        ...

    def apply_setting(self, key: str, value: str) -> None:
        """An OCPP configuration key the core acts on changed (ConnectionTimeOut,
        StopTransactionOnEVSideDisconnect, UnlockConnectorOnEVSideDisconnect, LightIntensity,
        BlinkRepeat); ``value`` is the OCPP string form (e.g. "900", "true")."""
        ...

    def set_reserved(self, reserved: bool) -> None:
        """Show Reserved (pink LED) and refuse tags other than the reserved one."""
        ...

    def set_limit(self, source: str, amps: float | None, reason: str) -> None:
        """Register a limit source in the core's current arbiter (None = no limit, 0 = pause)."""
        ...


class StationEvents(Protocol):
    """What the core tells OCPP (OCPP implements this)."""

    def status_changed(self, report: StatusReport) -> None: ...

    def session_started(self, id_tag: str, meter_start_wh: float, timestamp: float) -> None: ...

    def session_stopped(self, reason: StopReason, meter_stop_wh: float, timestamp: float) -> None:
        ...

    def tag_needs_authorization(self, id_tag: str) -> None:
        """A tag was presented; the answer comes back through ``deliver_authorization``."""
        ...
