"""Load-management settings (SPEC §Communication settings, §Local load management).

One validated dataclass for the network mode, the group and the LAN link, used by the config
file's ``[load_management]`` section, the portal and the scenario runner.  A bad value is
refused with :class:`LlmSettingsError`, which names every bad field; nothing is half-applied.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from controller.loadmgmt.allocation import (
    DEFAULT_MAX_GROUP_SIZE,
    MAX_STATION_CURRENT_A,
    MIN_CHARGING_CURRENT_A,
    Policy,
)
from controller.loadmgmt.errors import LoadManagementError
from controller.loadmgmt.wiring import (
    DEFAULT_DELTA_HIGH_LEG,
    SiteWiring,
    WireType,
    check_wire_type,
)

GROUP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_SECRET_LENGTH = 16
DEFAULT_LAN_PORT = 8765


class NetworkMode(StrEnum):
    DIRECT = "direct"
    GATEWAY = "gateway"
    CLIENT = "client"


class LlmSettingsError(LoadManagementError):
    """Refused load-management settings; ``errors`` maps each bad field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"load_management.{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class LoadManagementSettings:
    """Settings of one station's load management.

    Gateway-only fields (policy, grid, group size, wiring) are ignored by a client; a client
    adopts the gateway's fallback current when it joins.  ``ping_interval_s`` and
    ``gateway_timeout_s`` bound how fast a lost peer is noticed: a client falls back within
    ``gateway_timeout_s`` of the gateway's last message.
    """

    network_mode: NetworkMode = NetworkMode.DIRECT
    group_id: str = "group-1"
    group_size: int = DEFAULT_MAX_GROUP_SIZE
    max_group_size: int = DEFAULT_MAX_GROUP_SIZE
    grid_max_a: float = 60.0
    fallback_current_a: int = 10
    policy: Policy = Policy.UNIFORM_DISTRIBUTION
    site_wiring: SiteWiring = SiteWiring.SPLIT_PHASE_240
    wire_type: WireType = WireType.L1_L2
    gateway_host: str = "10.10.0.1"
    listen_host: str = "0.0.0.0"
    port: int = DEFAULT_LAN_PORT
    group_secret: str = field(default="", repr=False)  # never in logs
    ping_interval_s: float = 1.0
    gateway_timeout_s: float = 3.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        errors = _validate(self)
        if errors:
            raise LlmSettingsError(errors)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LoadManagementSettings:
        return cls().apply(values)

    def apply(self, changes: dict[str, Any]) -> LoadManagementSettings:
        """New settings with ``changes`` applied, or LlmSettingsError listing every bad one."""
        if not isinstance(changes, dict):
            raise LlmSettingsError({"(section)": f"expected a table of settings, got {changes!r}"})
        known = {f.name for f in fields(self)}
        errors = {k: f"unknown setting (known: {', '.join(sorted(known))})"
                  for k in changes if k not in known}
        if errors:
            raise LlmSettingsError(errors)
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        problems = _coerce_all(values)
        if problems:
            raise LlmSettingsError(problems)
        return dataclasses.replace(self, **values)

    def to_dict(self, include_secret: bool = False) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if not include_secret:
            out["group_secret"] = "***" if self.group_secret else ""
        for key, value in out.items():
            if isinstance(value, StrEnum):
                out[key] = value.value
        return out


_ENUMS: dict[str, type[StrEnum]] = {
    "network_mode": NetworkMode,
    "policy": Policy,
    "site_wiring": SiteWiring,
    "wire_type": WireType,
}


def _coerce_all(values: dict[str, Any]) -> dict[str, str]:
    """Turn enum text into members in place; errors for values of the wrong kind."""
    errors: dict[str, str] = {}
    for name, kind in _ENUMS.items():
        value = values[name]
        if isinstance(value, kind):
            continue
        try:
            values[name] = kind(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in kind)
            errors[name] = f"{value!r} is not one of {choices}"
    for name in ("group_size", "max_group_size", "fallback_current_a", "port"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = f"expected a whole number, got {value!r}"
    for name in ("grid_max_a", "ping_interval_s", "gateway_timeout_s", "reconnect_min_s",
                 "reconnect_max_s"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors[name] = f"expected a number, got {value!r}"
        else:
            values[name] = float(value)
    for name in ("group_id", "gateway_host", "listen_host", "group_secret"):
        if not isinstance(values[name], str):
            errors[name] = f"expected text, got {values[name]!r}"
    return errors


def _validate(s: LoadManagementSettings) -> dict[str, str]:
    values = {f.name: getattr(s, f.name) for f in fields(s)}
    errors = _coerce_all(values)
    if errors:
        return errors
    for name in _ENUMS:
        object.__setattr__(s, name, values[name])
    for name in ("grid_max_a", "ping_interval_s", "gateway_timeout_s", "reconnect_min_s",
                 "reconnect_max_s"):
        object.__setattr__(s, name, values[name])
    if not GROUP_ID_PATTERN.match(s.group_id):
        errors["group_id"] = (f"{s.group_id!r}: 1-32 letters, digits, '.', '_' or '-'")
    if s.max_group_size < 1:
        errors["max_group_size"] = f"{s.max_group_size} must be at least 1"
    elif not 1 <= s.group_size <= s.max_group_size:
        errors["group_size"] = f"{s.group_size} is outside 1..{s.max_group_size} (max_group_size)"
    if not math.isfinite(s.grid_max_a) or not 0 < s.grid_max_a <= 4000:
        errors["grid_max_a"] = f"{s.grid_max_a} is outside 0 (excluded)..4000 A"
    if not (s.fallback_current_a == 0
            or MIN_CHARGING_CURRENT_A <= s.fallback_current_a <= MAX_STATION_CURRENT_A):
        errors["fallback_current_a"] = (
            f"{s.fallback_current_a} A: use 0 (stop without the gateway) or "
            f"{MIN_CHARGING_CURRENT_A}..{MAX_STATION_CURRENT_A} A"
        )
    if not 0 <= s.port <= 65535:
        errors["port"] = f"{s.port} is not a TCP port"
    elif s.port == 0 and s.network_mode is NetworkMode.CLIENT:
        errors["port"] = "a client needs the gateway's port (0 only lets a gateway pick one)"
    if not 0.05 <= s.ping_interval_s <= 60:
        errors["ping_interval_s"] = f"{s.ping_interval_s} is outside 0.05..60 s"
    if not s.ping_interval_s < s.gateway_timeout_s <= 300:
        errors["gateway_timeout_s"] = (
            f"{s.gateway_timeout_s} must be above ping_interval_s ({s.ping_interval_s}) and <= 300 s"
        )
    if not 0.01 <= s.reconnect_min_s <= s.reconnect_max_s <= 3600:
        errors["reconnect_min_s"] = "needs 0.01 <= reconnect_min_s <= reconnect_max_s <= 3600"
    try:
        high_leg = DEFAULT_DELTA_HIGH_LEG if s.site_wiring is SiteWiring.DELTA_240 else None
        check_wire_type(s.site_wiring, high_leg, s.wire_type, "this station")
    except LoadManagementError as exc:
        errors["wire_type"] = str(exc)
    if s.network_mode is not NetworkMode.DIRECT and len(s.group_secret) < MIN_SECRET_LENGTH:
        errors["group_secret"] = (
            f"a {s.network_mode.value} needs a group secret of at least {MIN_SECRET_LENGTH} "
            "characters, the same on every member"
        )
    if s.network_mode is NetworkMode.CLIENT and not s.gateway_host:
        errors["gateway_host"] = "a client needs the gateway's address"
    return errors
