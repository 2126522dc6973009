"""The LLM status page (SPEC §Local load management, "LLM status page") as data.

The gateway and the client each describe themselves with :class:`LlmStatus`; the twin reports
it under the ``llm`` key and the portal's LLM Status page renders the same rows.  Rows are in
connection order; currents are amps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from controller.loadmgmt.settings import LoadManagementSettings, NetworkMode


@dataclass(frozen=True)
class LlmRow:
    index: int  # connection order, from 1 (the gateway itself is 1)
    serial: str
    lan_ip: str
    wire_type: str
    requested_a: float  # what the station asks for now (0 without a session)
    allowed_a: int  # the PWM (allowed) current the gateway gave it
    phase_a: dict[str, float]  # measured current on L1, L2, L3
    online: bool
    status: str  # the station's OCPP status text, or "Offline"
    reason: str  # why allowed < requested, or why it is offline
    reserved_a: int = 0  # fallback held back for it while offline


@dataclass(frozen=True)
class LlmStatus:
    network_mode: str  # direct | gateway | client
    enabled: bool  # LLM on (gateway or client)
    network_status: str  # e.g. "serving 3 members", "joined", "gateway lost: fallback current"
    gateway_status: str  # the gateway's address and whether it is reachable
    group_id: str
    connected: int
    total: int
    policy: str | None = None
    grid_max_a: float | None = None
    fallback_a: int | None = None
    limit_a: int | None = None  # this station's current load-management limit
    rows: tuple[LlmRow, ...] = ()
    rejections: tuple[str, ...] = ()  # the latest refused joins, with their reasons
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"] = [asdict(row) for row in self.rows]
        out["rejections"] = list(self.rejections)
        return out


class ReportsStatus(Protocol):
    def status(self) -> LlmStatus: ...


def direct_status(settings: LoadManagementSettings) -> LlmStatus:
    return LlmStatus(
        network_mode=NetworkMode.DIRECT.value, enabled=False, network_status="standalone",
        gateway_status="none (direct)", group_id=settings.group_id, connected=0, total=0,
    )


def llm_status(settings: LoadManagementSettings, controller: ReportsStatus | None) -> LlmStatus:
    """What the twin (``llm`` key) and the portal show for this station."""
    if controller is None or settings.network_mode is NetworkMode.DIRECT:
        return direct_status(settings)
    return controller.status()
