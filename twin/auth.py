"""Per-device bearer tokens and their roles (``device`` writes reported, ``client`` desired).

Tokens are kept only as SHA-256 digests and compared in constant time, so a tokens file can
hold digests instead of secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["device", "client"]
ROLES: tuple[Role, ...] = ("device", "client")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


@dataclass(frozen=True)
class TwinConfig:
    """What a standalone twin needs besides its database: identity, zone, tokens."""

    device_id: str
    time_zone: str
    tokens: TokenRegistry


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenRegistry:
    def __init__(self) -> None:
        self._entries: list[tuple[bytes, Principal]] = []

    def add(self, token: str, role: Role, name: str) -> None:
        if len(token) < 16:
            raise ValueError(f"token for {name!r} is too short (need at least 16 characters)")
        self.add_digest(_digest(token).hex(), role, name)

    def add_digest(self, sha256_hex: str, role: Role, name: str) -> None:
        if role not in ROLES:
            raise ValueError(f"token {name!r}: role {role!r} is not one of {ROLES}")
        if not _HEX64.match(sha256_hex):
            raise ValueError(f"token {name!r}: sha256 must be 64 lowercase hex digits")
        self._entries.append((bytes.fromhex(sha256_hex), Principal(name, role)))

    def authenticate(self, authorization: str | None) -> Principal | None:
        """Principal for an ``Authorization: Bearer <token>`` header value, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = _digest(token.strip())
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):  # check all, constant work per entry
                found = principal
        return found

    def __len__(self) -> int:
        return len(self._entries)


def load_config(path: str | Path) -> TwinConfig:
    """Read a tokens file (JSON, see docs/twin-api.md §1); errors name the bad field."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"tokens file {p}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"tokens file {p}: must be a JSON object")
    device_id = raw.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise ValueError(f"tokens file {p}: device_id must be a non-empty string")
    tz = raw.get("time_zone", "UTC")
    if not isinstance(tz, str):
        raise ValueError(f"tokens file {p}: time_zone must be a string")
    entries = raw.get("tokens")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"tokens file {p}: tokens must be a non-empty list")
    registry = TokenRegistry()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"tokens file {p}: tokens[{i}] must be an object")
        name = entry.get("name", f"token{i}")
        role = entry.get("role")
        if not isinstance(name, str) or role not in ROLES:
            raise ValueError(f"tokens file {p}: tokens[{i}].role must be one of {ROLES}")
        token, digest = entry.get("token"), entry.get("sha256")
        try:
            if isinstance(token, str):
                registry.add(token, role, name)
            elif isinstance(digest, str):
                registry.add_digest(digest, role, name)
            else:
                raise ValueError("needs token or sha256")
        except ValueError as exc:
            raise ValueError(f"tokens file {p}: tokens[{i}]: {exc}") from exc
    return TwinConfig(device_id, tz, registry)
