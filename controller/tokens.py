"""The device's API tokens: made once, on first start, and kept in a root-only file."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DeviceTokens:
    device_token: str  # the controller itself (writes `reported`)
    client_token: str  # the homeowner's apps: Home Assistant, voice, Shortcuts


def ensure_tokens_file(path: str | Path, device_id: str, time_zone: str) -> DeviceTokens:
    """Read the tokens file, creating it with fresh random tokens when it does not exist."""
    p = Path(path)
    if p.exists():
        raw = json.loads(p.read_text(encoding="utf-8"))
        by_role = {t.get("role"): t.get("token") for t in raw.get("tokens", []) if isinstance(t, dict)}
        device, client = by_role.get("device"), by_role.get("client")
        if not isinstance(device, str) or not isinstance(client, str):
            raise ValueError(f"tokens file {p}: needs a clear-text device and client token")
        return DeviceTokens(device, client)
    tokens = DeviceTokens(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    body = {
        "device_id": device_id,
        "time_zone": time_zone,
        "tokens": [
            {"name": "controller", "role": "device", "token": tokens.device_token},
            {"name": "owner", "role": "client", "token": tokens.client_token},
        ],
    }
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2)
    os.replace(tmp, p)
    return tokens
