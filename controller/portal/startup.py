"""Settings saved in the portal that take effect at the next start (the ones marked *).

The portal keeps the OCPP service settings and the communication settings in the station's
database; at start the daemon lays them over its configuration file, so the portal and the
running charger never tell two stories after the reboot the portal asks for.  A stored value
that cannot be used (e.g. Gateway mode without a group secret in the configuration) is left
out with a logged reason; the charger starts with the file's value instead.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.config import Config
from controller.loadmgmt.errors import LoadManagementError
from controller.storage import Storage

log = logging.getLogger(__name__)

_MODES = {"Direct": "direct", "Gateway": "gateway", "Client": "client"}
_LLM_KEYS = {
    "llm_policy": "policy",
    "llm_group_id": "group_id",
    "llm_group_size": "group_size",
    "llm_grid_max_a": "grid_max_a",
    "llm_fallback_a": "fallback_current_a",
    "llm_wire_type": "wire_type",
}


def stored(storage: Storage, group: str) -> dict[str, Any]:
    value = storage.get_json(f"portal.settings.{group}")
    return value if isinstance(value, dict) else {}


def apply_stored_settings(config: Config, storage: Storage) -> list[str]:
    """Lay the portal's saved values over ``config``; returns what could not be used, and why."""
    problems: list[str] = []
    ocpp = stored(storage, "ocpp")
    for key in ("central_system_url", "charge_point_id", "basic_auth_password", "remote_service_type"):
        value = ocpp.get(key)
        if isinstance(value, str) and (value or key != "charge_point_id"):
            setattr(config.ocpp, key, value)
    comm = stored(storage, "communication")
    changes: dict[str, Any] = {}
    if comm.get("network_mode") in _MODES:
        changes["network_mode"] = _MODES[comm["network_mode"]]
    for portal_key, llm_key in _LLM_KEYS.items():
        if portal_key in comm and comm[portal_key] not in ("", None):
            changes[llm_key] = comm[portal_key]
    if changes:
        try:
            config.load_management = config.load_management.apply(changes)
        except LoadManagementError as exc:
            problems.append(f"load management settings from the portal not used: {exc}")
            log.error("%s", problems[-1])
    return problems


__all__ = ["apply_stored_settings"]
