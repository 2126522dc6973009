"""Runs a write against the twin and turns its failures into translated HA errors."""

from __future__ import annotations

from collections.abc import Awaitable

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .api import Mq200AuthenticationError, Mq200Error, Mq200RequestError
from .const import DOMAIN


async def run_write(write: Awaitable[int]) -> int:
    """Await a client write; the new document version on success."""
    try:
        return await write
    except Mq200RequestError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="request_rejected",
            translation_placeholders={"message": err.message},
        ) from err
    except Mq200AuthenticationError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except Mq200Error as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
