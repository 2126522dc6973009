"""UI setup: host/port + client token (or the portal's admin credentials, which fetch it),
zeroconf discovery, reauthentication, reconfiguration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.data_entry_flow import section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .api import (
    DEFAULT_PORT,
    ChargerState,
    Mq200AuthenticationError,
    Mq200Client,
    Mq200Error,
    Mq200PortalLoginError,
    fetch_client_token,
)
from .const import CONF_PORTAL, CONF_TOKEN, DEFAULT_PORTAL_USER, DOMAIN, LOGGER, ZEROCONF_SERIAL_KEY

_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_PORT = vol.All(vol.Coerce(int), vol.Range(min=1, max=65535))


def _user_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): str,
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): _PORT,
            vol.Required(CONF_TOKEN): _TOKEN_SELECTOR,
        }
    )


# Setup takes the token, or (folded away below it) the portal's admin credentials to fetch it.
# One form rather than a menu, so a setup that posts host/port/token keeps working.
_SETUP_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): str,
        vol.Required(CONF_PORT, default=DEFAULT_PORT): _PORT,
        vol.Optional(CONF_TOKEN): _TOKEN_SELECTOR,
        vol.Optional(CONF_PORTAL): section(
            vol.Schema(
                {
                    vol.Optional(CONF_USERNAME, default=DEFAULT_PORTAL_USER): str,
                    vol.Optional(CONF_PASSWORD): _TOKEN_SELECTOR,
                }
            ),
            {"collapsed": True},
        ),
    }
)

#: Portal refusals (``Mq200PortalLoginError.code``) → the setup form's error keys.
_PORTAL_ERRORS = {
    "invalid_credentials": "invalid_credentials",
    "initial_password": "initial_password",
    "not_admin": "not_admin",
    "locked": "too_many_attempts",
    "rate_limited": "too_many_attempts",
}


class Mq200ConfigFlow(ConfigFlow, domain=DOMAIN):
    VERSION = 1

    def __init__(self) -> None:
        self._host: str | None = None
        self._port: int = DEFAULT_PORT
        self._serial: str | None = None

    async def _validate(
        self, host: str, port: int, token: str
    ) -> tuple[ChargerState | None, dict[str, str]]:
        """Read the state and prove the token may write ``desired``; errors for the form."""
        client = Mq200Client(host, port, token, async_get_clientsession(self.hass))
        try:
            state = await client.get_state()
            await client.check_write_access()
        except Mq200AuthenticationError:
            return None, {"base": "invalid_auth"}
        except Mq200Error as err:
            LOGGER.debug("cannot connect to %s:%s: %s", host, port, err)
            return None, {"base": "cannot_connect"}
        return state, {}

    async def _token_from(
        self, host: str, port: int, user_input: Mapping[str, Any]
    ) -> tuple[str | None, dict[str, str]]:
        """The token typed in, or the one the portal gives for the credentials."""
        token: str = user_input.get(CONF_TOKEN, "").strip()
        portal: Mapping[str, Any] = user_input.get(CONF_PORTAL) or {}
        password: str = portal.get(CONF_PASSWORD, "")
        if bool(token) == bool(password):
            return None, {"base": "token_or_credentials"}
        if token:
            return token, {}
        username = str(portal.get(CONF_USERNAME) or DEFAULT_PORTAL_USER).strip()
        try:
            fetched = await fetch_client_token(
                async_get_clientsession(self.hass), host, port, username, password
            )
        except Mq200PortalLoginError as err:
            LOGGER.debug("the portal at %s:%s refused %r: %s", host, port, username, err.message)
            return None, {"base": _PORTAL_ERRORS.get(err.code, "invalid_credentials")}
        except Mq200Error as err:
            LOGGER.debug("cannot fetch the token from %s:%s: %s", host, port, err)
            return None, {"base": "cannot_connect"}
        return fetched, {}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST], user_input[CONF_PORT]
            token, errors = await self._token_from(host, port, user_input)
            if token is not None:
                state, errors = await self._validate(host, port, token)
                if state is not None:
                    await self.async_set_unique_id(state.serial)
                    self._abort_if_unique_id_configured(
                        updates={CONF_HOST: host, CONF_PORT: port}
                    )
                    return self.async_create_entry(
                        title=f"MQ 200 {state.serial}",
                        data={CONF_HOST: host, CONF_PORT: port, CONF_TOKEN: token},
                    )
        suggested = dict(user_input or {})
        suggested.pop(CONF_PORTAL, None)  # never hand a password back to the form
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_SETUP_SCHEMA, suggested),
            errors=errors,
        )

    async def async_step_zeroconf(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        serial = discovery_info.properties.get(ZEROCONF_SERIAL_KEY)
        if not serial:
            return self.async_abort(reason="not_mq200")
        self._host = discovery_info.host
        self._port = discovery_info.port or DEFAULT_PORT
        self._serial = serial
        await self.async_set_unique_id(serial)
        self._abort_if_unique_id_configured(
            updates={CONF_HOST: self._host, CONF_PORT: self._port}
        )
        self.context["title_placeholders"] = {"serial": serial}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        assert self._host is not None and self._serial is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            state, errors = await self._validate(self._host, self._port, user_input[CONF_TOKEN])
            if state is not None:
                if state.serial != self._serial:
                    return self.async_abort(reason="unique_id_mismatch")
                return self.async_create_entry(
                    title=f"MQ 200 {state.serial}",
                    data={CONF_HOST: self._host, CONF_PORT: self._port,
                          CONF_TOKEN: user_input[CONF_TOKEN]},
                )
        return self.async_show_form(
            step_id="zeroconf_confirm",
            data_schema=vol.Schema({vol.Required(CONF_TOKEN): _TOKEN_SELECTOR}),
            description_placeholders={"serial": self._serial, "host": self._host},
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            state, errors = await self._validate(
                entry.data[CONF_HOST], entry.data[CONF_PORT], user_input[CONF_TOKEN]
            )
            if state is not None:
                await self.async_set_unique_id(state.serial)
                self._abort_if_unique_id_mismatch(reason="unique_id_mismatch")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_TOKEN): _TOKEN_SELECTOR}),
            description_placeholders={"host": entry.data[CONF_HOST]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            state, errors = await self._validate(
                user_input[CONF_HOST], user_input[CONF_PORT], user_input[CONF_TOKEN]
            )
            if state is not None:
                await self.async_set_unique_id(state.serial)
                self._abort_if_unique_id_mismatch(reason="unique_id_mismatch")
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _user_schema(entry.data), user_input or {CONF_TOKEN: entry.data[CONF_TOKEN]}
            ),
            errors=errors,
        )
