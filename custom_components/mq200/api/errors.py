"""Errors raised by the twin API client; the integration maps them to HA's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Mq200Error(Exception):
    """Any failure talking to the charger's twin API."""


class Mq200ConnectionError(Mq200Error):
    """The twin could not be reached, or the connection dropped."""


class Mq200AuthenticationError(Mq200Error):
    """The token is missing, unknown (401) or of the wrong role (403)."""


@dataclass(frozen=True)
class FieldIssue:
    """One bad key named by the twin (``details`` of an error answer)."""

    key: str
    value: Any
    message: str


class Mq200RequestError(Mq200Error):
    """The twin refused a request (4xx other than 401/403); nothing was changed."""

    def __init__(
        self, status: int, code: str, message: str, details: list[FieldIssue] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: list[FieldIssue] = details or []


def parse_error_body(status: int, body: object, fallback: str) -> Mq200RequestError:
    """Build a request error from a twin error answer (``{"error": {...}}``) or a WS error."""
    err = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return Mq200RequestError(status, "unknown", fallback)
    details: list[FieldIssue] = []
    for item in err.get("details") or []:
        if isinstance(item, dict):
            details.append(
                FieldIssue(str(item.get("key", "")), item.get("value"), str(item.get("message", "")))
            )
    return Mq200RequestError(
        status, str(err.get("code", "unknown")), str(err.get("message", fallback)), details
    )


class Mq200PortalLoginError(Mq200AuthenticationError):
    """The portal would not give the token for these credentials; ``code`` says why.

    Codes (docs/home-assistant.md, "Controller contract"): ``invalid_credentials``,
    ``not_admin``, ``initial_password``, ``locked``, ``rate_limited``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
