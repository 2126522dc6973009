"""Fetch the twin's client token from the charger's portal with the admin's credentials.

The portal answers ``POST /portal/api/token`` on the same host and port as the twin API
(docs/portal.md); setup uses it so a homeowner can type the portal password instead of
copying the token from the charger's files. The password is sent once and kept nowhere.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from yarl import URL

from .errors import Mq200ConnectionError, Mq200PortalLoginError

TOKEN_PATH = "/portal/api/token"
#: Answers whose ``error.code`` is a reason to show the user (anything else: cannot connect).
_REFUSALS = frozenset({401, 403, 429})


async def fetch_client_token(
    session: aiohttp.ClientSession,
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    request_timeout: float = 10.0,
) -> str:
    """The client token, or :class:`Mq200PortalLoginError` (refused, with the portal's reason)
    or :class:`Mq200ConnectionError` (unreachable, or not an MQ 200 portal)."""
    url = URL.build(scheme="http", host=host, port=port, path=TOKEN_PATH)
    try:
        async with asyncio.timeout(request_timeout):
            async with session.post(
                url, json={"username": username, "password": password}
            ) as resp:
                status, text = resp.status, await resp.text()
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        raise Mq200ConnectionError(
            f"cannot reach the charger's portal at {host}:{port}: {err or type(err).__name__}"
        ) from err
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise Mq200ConnectionError(f"{TOKEN_PATH} answered HTTP {status} without a JSON object")
    error = data.get("error")
    if status in _REFUSALS and isinstance(error, dict):
        raise Mq200PortalLoginError(
            str(error.get("code", "unknown")), str(error.get("message", f"HTTP {status}"))
        )
    token = data.get("token")
    if status != 200 or not isinstance(token, str) or not token:
        message = error.get("message") if isinstance(error, dict) else None
        raise Mq200ConnectionError(
            f"{TOKEN_PATH} gave no token (HTTP {status}{': ' + str(message) if message else ''})"
        )
    return token
