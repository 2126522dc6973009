"""What the LLM Status page shows (SPEC §Local load management, status page).

With the daemon's load-management service (:func:`from_group`) the table is the group's, as the
gateway or client knows it; :func:`llm_status` is the fallback from the portal's own
communication settings when no service is given (tests that build a portal without a daemon).
The page asks each time the station changes, so it stays live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from controller.charging.station import StationSnapshot

PORTAL_ADDRESS = {"Direct": "10.10.0.1", "Gateway": "10.10.0.1", "Client": "10.10.0.2"}
_LEG_INDEX = {"L1": 0, "L2": 1, "L3": 2}
_ACTIVE_DEVICE = {"W": "Wi-Fi", "L": "Cellular", "E": "Ethernet", "A": "Wi-Fi (access point)"}


@dataclass(frozen=True)
class LlmRow:
    index: int
    serial_number: str
    lan_ip: str
    wire_type: str
    requested_a: float
    pwm_a: float
    phase_a: tuple[float, float, float]


@dataclass(frozen=True)
class LlmStatus:
    network_mode: str
    llm_enabled: bool
    network_status: str
    gateway_status: str
    active_device: str
    connected_evses: int
    total_evses: int
    group_id: str
    rows: list[LlmRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def llm_status(
    communication: dict[str, Any], snap: StationSnapshot, serial: str, network_letter: str
) -> LlmStatus:
    mode = str(communication.get("network_mode", "Direct"))
    active = _ACTIVE_DEVICE.get(network_letter, "offline")
    group_id = str(communication.get("llm_group_id", ""))
    if mode == "Direct":
        return LlmStatus(mode, False, "standalone", "n/a", active, 0, 0, group_id, [])
    if mode == "Client":
        return LlmStatus(mode, True, "searching for gateway", "not connected", active, 0, 0,
                         group_id, [])
    wire = str(communication.get("llm_wire_type", "L1-L2"))
    phases = [0.0, 0.0, 0.0]
    for leg in wire.split("-"):
        phases[_LEG_INDEX[leg]] = snap.current_a
    requested = float(snap.dip_max_a or 0)
    row = LlmRow(1, serial, PORTAL_ADDRESS["Gateway"], wire, requested, snap.offered_a,
                 (phases[0], phases[1], phases[2]))
    return LlmStatus(mode, True, "online", "running", active, 1, 1, group_id, [row])


def from_group(status: Any, network_letter: str) -> LlmStatus:
    """The portal's view of :class:`controller.loadmgmt.status.LlmStatus`."""
    mode = {"direct": "Direct", "gateway": "Gateway", "client": "Client"}.get(
        str(status.network_mode), str(status.network_mode)
    )
    rows = [
        LlmRow(
            row.index, row.serial, row.lan_ip, row.wire_type, float(row.requested_a),
            float(row.allowed_a),
            (float(row.phase_a.get("L1", 0.0)), float(row.phase_a.get("L2", 0.0)),
             float(row.phase_a.get("L3", 0.0))),
        )
        for row in status.rows
    ]
    return LlmStatus(
        mode, bool(status.enabled), str(status.network_status), str(status.gateway_status),
        _ACTIVE_DEVICE.get(network_letter, "offline"), int(status.connected), int(status.total),
        str(status.group_id), rows,
    )
