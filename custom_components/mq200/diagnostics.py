"""Diagnostics: the entry and the twin document, with secrets and identities redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .const import CONF_TOKEN
from .coordinator import Mq200ConfigEntry

TO_REDACT = {
    CONF_TOKEN,
    CONF_HOST,
    "password",
    "basic_auth_password",
    "ftp_password",
    "serial",
    "device_id",
    "id_tag",
    "plug_and_charge_id",
    "wifi_ssid",
    "ip",
    "iccid",
    "imsi",
    "imei",
    "latitude",
    "longitude",
    "unique_id",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: Mq200ConfigEntry
) -> dict[str, Any]:
    coordinator = entry.runtime_data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "connected": coordinator.last_update_success,
        "state": async_redact_data(coordinator.state.as_json(), TO_REDACT),
        "estimated_full": None if coordinator.data.full_at is None
        else coordinator.data.full_at.isoformat(),
    }
