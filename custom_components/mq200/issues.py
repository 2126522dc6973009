"""Repair issues for problems the homeowner can act on, raised and cleared as state changes."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .coordinator import Mq200ConfigEntry, Mq200Coordinator


def _issue_id(entry: Mq200ConfigEntry, kind: str) -> str:
    return f"{kind}_{entry.entry_id}"


@callback
def async_track_issues(
    hass: HomeAssistant, entry: Mq200ConfigEntry, coordinator: Mq200Coordinator
) -> Callable[[], None]:
    """Create or delete the issues after every update; returns the unsubscribe callback."""
    shown: dict[str, bool] = {}

    def show(kind: str, active: bool, placeholders: dict[str, str]) -> None:
        if shown.get(kind) == active:
            return
        shown[kind] = active
        issue_id = _issue_id(entry, kind)
        if active:
            ir.async_create_issue(
                hass, DOMAIN, issue_id, is_fixable=False, is_persistent=False,
                severity=ir.IssueSeverity.WARNING, translation_key=kind,
                translation_placeholders=placeholders,
            )
        else:
            ir.async_delete_issue(hass, DOMAIN, issue_id)

    @callback
    def check() -> None:
        state = coordinator.state
        name = state.serial
        show("initial_password", state.portal_initial_password,
             {"serial": name, "url": f"http://{coordinator.client.host}"})
        stale = sorted(
            m.serial for m in state.group_members
            if m.firmware is not None and state.firmware is not None
            and m.firmware != state.firmware
        )
        show("firmware_mismatch", bool(stale),
             {"serial": name, "firmware": state.firmware or "?", "members": ", ".join(stale)})

    check()
    remove_listener = coordinator.async_add_listener(check)

    def remove() -> None:
        remove_listener()
        for kind in shown:
            ir.async_delete_issue(hass, DOMAIN, _issue_id(entry, kind))

    return remove
