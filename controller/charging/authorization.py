"""The single door for authorization.

Every way a session can be authorized (RFID tag, Plug and Charge ID, remote start, OCPP
online/offline rules) answers through an :class:`AuthProvider`.  Providers answer through a
callback so an online round trip (OCPP Authorize) and a local list look the same to the
charge logic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol


class AuthStatus(str, enum.Enum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    source: str  # who decided: local_list, plug_and_charge, ocpp, cache, remote, ...
    parent_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is AuthStatus.ACCEPTED


AuthCallback = Callable[[AuthResult], None]


class AuthProvider(Protocol):
    def authorize(self, id_tag: str, done: AuthCallback) -> None:
        """Answer once through ``done`` (now or later)."""
        ...


class LocalListAuthorizer:
    """Tags accepted without a central system (the station's local list setting)."""

    def __init__(self, tags: Iterable[str] = ()) -> None:
        self._tags = set(tags)

    def replace(self, tags: Iterable[str]) -> None:
        self._tags = set(tags)

    def authorize(self, id_tag: str, done: AuthCallback) -> None:
        status = AuthStatus.ACCEPTED if id_tag in self._tags else AuthStatus.INVALID
        done(AuthResult(status, "local_list"))


def valid_id_tag(id_tag: object) -> str:
    """An OCPP IdToken: 1–20 printable characters."""
    if not isinstance(id_tag, str) or not 1 <= len(id_tag) <= 20 or not id_tag.isprintable():
        raise ValueError(f"an id tag is 1–20 printable characters, got {id_tag!r}")
    return id_tag
