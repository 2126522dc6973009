"""Advertise the charger on the LAN (mDNS, `_mq200._tcp.local.`) so Home Assistant finds it."""

from __future__ import annotations

import logging
import socket

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_mq200._tcp.local."


def service_info(serial: str, port: int, addresses: list[str], model: str, firmware: str) -> AsyncServiceInfo:
    name = f"MQ200 {serial}.{SERVICE_TYPE}"
    return AsyncServiceInfo(
        SERVICE_TYPE,
        name,
        port=port,
        addresses=[socket.inet_aton(a) for a in addresses],
        properties={"serial": serial, "api": "/api/v1", "model": model, "firmware": firmware},
        server=f"mq200-{serial.lower()}.local.",
    )


class Advertiser:
    def __init__(self, info: AsyncServiceInfo, interfaces: list[str] | None = None) -> None:
        self._info = info
        self._interfaces = interfaces
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> None:
        self._zc = AsyncZeroconf(
            interfaces=self._interfaces or "All",  # type: ignore[arg-type]
            ip_version=IPVersion.V4Only,
        )
        await self._zc.async_register_service(self._info)
        log.info("advertising %s on port %s", self._info.name, self._info.port)

    async def stop(self) -> None:
        if self._zc is not None:
            await self._zc.async_unregister_service(self._info)
            await self._zc.async_close()
            self._zc = None


def lan_addresses() -> list[str]:
    """The host's IPv4 addresses other than loopback (best effort)."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if not addr.startswith("127."):
                found.add(addr)
    except OSError:
        pass
    return sorted(found)
