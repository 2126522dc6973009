"""Every config-flow path against a real twin process."""

from __future__ import annotations

from ipaddress import ip_address

from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mq200.const import CONF_TOKEN, DOMAIN

from .conftest import make_entry
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
