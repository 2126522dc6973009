"""Every config-flow path against a real twin process."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mq200.const import CONF_PORTAL, CONF_TOKEN, DOMAIN

from .conftest import make_entry
from .controller_harness import E2E_SERIAL, SimController
from .twin_harness import DEVICE_TOKEN, SERIAL, TwinServer, free_port


def _zeroconf(port: int, serial: str | None = SERIAL, host: str = "127.0.0.1") -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address(host), ip_addresses=[ip_address(host)], hostname="mq200.local.",
        name=f"MQ 200 {serial}._mq200._tcp.local.", port=port, type="_mq200._tcp.local.",
        properties={} if serial is None else {"serial": serial, "api": "/api/v1"},
    )


async def _user_flow(hass: HomeAssistant, data: dict[str, object]) -> dict[str, object]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(result["flow_id"], data)


async def test_user_success(hass: HomeAssistant, reported_twin: TwinServer) -> None:
    data = {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
            CONF_TOKEN: reported_twin.client_token}
    result = await _user_flow(hass, data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"MQ 200 {SERIAL}"
    assert result["data"] == data
    assert result["result"].unique_id == SERIAL
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_user_cannot_connect_then_recovers(
    hass: HomeAssistant, reported_twin: TwinServer
) -> None:
    result = await _user_flow(hass, {CONF_HOST: "127.0.0.1", CONF_PORT: free_port(),
                                     CONF_TOKEN: reported_twin.client_token})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                            CONF_TOKEN: reported_twin.client_token},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_user_bad_token(hass: HomeAssistant, reported_twin: TwinServer) -> None:
    result = await _user_flow(hass, {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                                     CONF_TOKEN: "not-a-known-token-000000"})
    assert result["errors"] == {"base": "invalid_auth"}


async def test_user_device_token_is_refused(hass: HomeAssistant, reported_twin: TwinServer) -> None:
    """A device token reads the state but may not write desired: not good enough for HA."""
    result = await _user_flow(hass, {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                                     CONF_TOKEN: DEVICE_TOKEN})
    assert result["errors"] == {"base": "invalid_auth"}


async def test_user_already_configured_updates_host(
    hass: HomeAssistant, reported_twin: TwinServer
) -> None:
    existing = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL,
                               data={CONF_HOST: "10.0.0.9", CONF_PORT: 1, CONF_TOKEN: "x"})
    existing.add_to_hass(hass)
    result = await _user_flow(hass, {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                                     CONF_TOKEN: reported_twin.client_token})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert existing.data[CONF_HOST] == "127.0.0.1"


async def test_zeroconf_confirm_creates_entry(
    hass: HomeAssistant, reported_twin: TwinServer
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(reported_twin.port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "bad-token-000000000000"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: reported_twin.client_token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                              CONF_TOKEN: reported_twin.client_token}
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_zeroconf_serial_mismatch_aborts(hass: HomeAssistant, reported_twin: TwinServer) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(reported_twin.port, serial="MQ200-FFFFFF"),
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: reported_twin.client_token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


async def test_zeroconf_without_serial_aborts(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(8080, serial=None)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_mq200"


async def test_zeroconf_updates_address_of_known_charger(hass: HomeAssistant) -> None:
    existing = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL,
                               data={CONF_HOST: "10.0.0.9", CONF_PORT: 8080, CONF_TOKEN: "t"})
    existing.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(8181, host="10.0.0.42")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert existing.data[CONF_HOST] == "10.0.0.42"
    assert existing.data[CONF_PORT] == 8181


async def test_reauth(hass: HomeAssistant, reported_twin: TwinServer) -> None:
    entry = make_entry(reported_twin, token="stale-token-000000000000")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "still-wrong-token-000000"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: reported_twin.client_token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == reported_twin.client_token
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure(hass: HomeAssistant, reported_twin: TwinServer) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL,
                            data={CONF_HOST: "10.0.0.9", CONF_PORT: 1,
                                  CONF_TOKEN: reported_twin.client_token})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: free_port(),
                            CONF_TOKEN: reported_twin.client_token},
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                            CONF_TOKEN: reported_twin.client_token},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_HOST] == "127.0.0.1"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_to_another_charger_aborts(
    hass: HomeAssistant, reported_twin: TwinServer
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="MQ200-OTHER1",
                            data={CONF_HOST: "10.0.0.9", CONF_PORT: 1, CONF_TOKEN: "t"})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: reported_twin.port,
                            CONF_TOKEN: reported_twin.client_token},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


# ---------------------------------------------------------------------- portal credentials
# Against the real controller (``mq200 run --sim``): its portal gives the token for the
# admin's credentials once the label's initial password has been changed.

PORTAL_PASSWORD = "Porch-Light-Volt-73"
FAILURES_BEFORE_LOCK = 5  # the portal's lock-out (controller/portal/accounts.py)


@pytest.fixture
def controller(socket_enabled: None, tmp_path: Path) -> Iterator[SimController]:
    ctl = SimController(tmp_path / "controller")
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.stop()


def _portal(ctl: SimController | None, port: int, password: str | None = None,
            username: str | None = None, token: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {CONF_HOST: "127.0.0.1", CONF_PORT: ctl.port if ctl else port}
    if token is not None:
        data[CONF_TOKEN] = token
    portal: dict[str, str] = {}
    if username is not None:
        portal[CONF_USERNAME] = username
    if password is not None:
        portal[CONF_PASSWORD] = password
    data[CONF_PORTAL] = portal
    return data


async def test_user_with_portal_credentials(
    hass: HomeAssistant, controller: SimController
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    flow_id = result["flow_id"]
    initial = controller.initial_password("admin")

    for data, error in (
        # neither or both: the form asks for one of the two
        (_portal(controller, 0), "token_or_credentials"),
        (_portal(controller, 0, password=initial, token=controller.client_token),
         "token_or_credentials"),
        # the label's password works in the portal only for the forced change
        (_portal(controller, 0, password=initial), "initial_password"),
        (_portal(controller, 0, username="maintain",
                 password=controller.initial_password("maintain")), "not_admin"),
        (_portal(controller, 0, password="Wrong-Password-00"), "invalid_credentials"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, data)
        assert result["type"] is FlowResultType.FORM, result
        assert result["errors"] == {"base": error}, data

    # The homeowner changes the password in the portal; then the credentials set HA up, and
    # the entry is the same as with the token typed in (no password is kept).
    await controller.change_portal_password("admin", PORTAL_PASSWORD)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _portal(controller, 0, username="admin", password=PORTAL_PASSWORD)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: controller.port,
                              CONF_TOKEN: controller.client_token}
    assert result["result"].unique_id == E2E_SERIAL
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_portal_lockout_is_shown(hass: HomeAssistant, controller: SimController) -> None:
    await controller.change_portal_password("admin", PORTAL_PASSWORD)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    for _ in range(FAILURES_BEFORE_LOCK):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _portal(controller, 0, password="Wrong-Password-00"))
        assert result["errors"] == {"base": "invalid_credentials"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _portal(controller, 0, password=PORTAL_PASSWORD))
    assert result["errors"] == {"base": "too_many_attempts"}


async def test_portal_cannot_connect(hass: HomeAssistant, socket_enabled: None) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _portal(None, free_port(), password=PORTAL_PASSWORD))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
