"""Onboards a fresh Home Assistant and adds the MQ 200 through its real config flow.

Run by scripts/demo_ha.sh with .venv-ha's Python once HA answers on its port. Writes
``auth.json`` (tokens the frontend accepts from localStorage) next to the HA config and prints
one JSON line: the device page URL of the charger.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

USER, PASSWORD = "demo", "mq200-demo-password"


async def setup(ha_url: str, host: str, port: int, token: str, out: Path) -> dict[str, Any]:
    client_id = f"{ha_url}/"
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{ha_url}/api/onboarding/users", json={
            "client_id": client_id, "name": "Demo", "username": USER, "password": PASSWORD,
            "language": "en",
        }) as r:
            if r.status != 200:
                raise SystemExit(f"onboarding failed ({r.status}): {await r.text()}")
            code = (await r.json())["auth_code"]
        async with s.post(f"{ha_url}/auth/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": client_id,
        }) as r:
            tokens = await r.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for step, body in (("core_config", {}), ("analytics", {}),
                           ("integration", {"client_id": client_id, "redirect_uri": client_id})):
            async with s.post(f"{ha_url}/api/onboarding/{step}", json=body, headers=headers) as r:
                await r.read()
        async with s.post(f"{ha_url}/api/config/config_entries/flow",
                          json={"handler": "mq200", "show_advanced_options": False},
                          headers=headers) as r:
            flow = await r.json()
        async with s.post(f"{ha_url}/api/config/config_entries/flow/{flow['flow_id']}",
                          json={"host": host, "port": port, "token": token},
                          headers=headers) as r:
            result = await r.json()
        if result.get("type") != "create_entry":
            raise SystemExit(f"config flow did not create the entry: {result}")
        entry_id = result["result"]["entry_id"]
        device_id = await _device_of(s, ha_url, tokens["access_token"], entry_id)
    auth = {
        "hassUrl": ha_url, "clientId": client_id, "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"], "token_type": "Bearer",
        "expires_in": tokens["expires_in"],
    }
    out.write_text(json.dumps(auth), encoding="utf-8")
    return {"event": "ready", "url": ha_url, "entry_id": entry_id,
            "device_page": f"{ha_url}/config/devices/device/{device_id}",
            "user": USER, "password": PASSWORD, "auth_file": str(out)}


async def _device_of(s: aiohttp.ClientSession, ha_url: str, access: str, entry_id: str) -> str:
    async with s.ws_connect(f"{ha_url.replace('http', 'ws', 1)}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": access})
        await ws.receive_json()
        for attempt in range(50):
            await ws.send_json({"id": attempt + 1, "type": "config/device_registry/list"})
            devices = (await ws.receive_json())["result"]
            ours = [d for d in devices if entry_id in d["config_entries"] and not d["via_device_id"]]
            if ours:
                return str(ours[0]["id"])
            await asyncio.sleep(0.2)
    raise SystemExit("the charger's device never appeared")


def main() -> None:
    ha_url, host, port, token, out = sys.argv[1:6]
    print(json.dumps(asyncio.run(setup(ha_url, host, int(port), token, Path(out)))), flush=True)


if __name__ == "__main__":
    main()
