"""Diagnostics hide secrets; repair issues appear and clear with the charger's report."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mq200.const import DOMAIN
from custom_components.mq200.diagnostics import async_get_config_entry_diagnostics

from .conftest import wait_for
from .twin_harness import SERIAL, TwinServer


async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    await reported_twin.report({"session": {"id": "s-1", "id_tag": "04A1B2C3"},
                                "settings": {"basic_auth_password": "hunter22"}})
    await wait_for(hass, lambda: entry.runtime_data.state.reported.get("session") is not None)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diag)
    for secret in (reported_twin.client_token, SERIAL, "04A1B2C3", "hunter22", "127.0.0.1",
                   '"home"'):
        assert secret not in text, secret
    assert diag["state"]["reported"]["status"] == "Available"
    assert diag["connected"] is True


async def test_initial_password_issue(
    hass: HomeAssistant, entry: MockConfigEntry, reported_twin: TwinServer
) -> None:
    issues = ir.async_get(hass)
    issue_id = f"initial_password_{entry.entry_id}"
    await reported_twin.report({"portal": {"initial_password": True}})
    await wait_for(hass, lambda: issues.async_get_issue(DOMAIN, issue_id) is not None)
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue.translation_key == "initial_password" and not issue.is_fixable
    await reported_twin.report({"portal": {"initial_password": False}})
    await wait_for(hass, lambda: issues.async_get_issue(DOMAIN, issue_id) is None)
