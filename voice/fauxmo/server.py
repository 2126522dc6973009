"""Serve the charger switch with fauxmo's WeMo protocol on the controller's own loop.

``fauxmo.main()`` owns its loop and cannot be embedded, so we bind fauxmo's TCP protocol
ourselves.  Echo discovery needs SSDP on UDP multicast 239.255.255.250:1900; that responder
is optional (``advertise=True``) because tests and locked-down hosts must not multicast.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fauxmo.protocols import Fauxmo, SSDPServer
from fauxmo.utils import make_udp_sock

from voice.charger_voice import ChargerVoice
from voice.fauxmo.plugin import DEFAULT_NAME, ChargerSwitchPlugin
from voice.twin_mirror import TwinMirror

log = logging.getLogger(__name__)


@dataclass
class ChargerSwitch:
    """A running switch: its TCP server, plugin, mirror and (optional) SSDP transport."""

    server: asyncio.Server
    plugin: ChargerSwitchPlugin
    mirror: TwinMirror
    host: str
    port: int
    ssdp: asyncio.DatagramTransport | None = None

    @property
    def setup_url(self) -> str:
        return f"http://{self.host}:{self.port}/setup.xml"

    async def close(self) -> None:
        if self.ssdp is not None:
            self.ssdp.close()
        self.server.close()
        await self.server.wait_closed()
        self.plugin.close()
        await self.mirror.stop()


async def serve_charger_switch(
    voice: ChargerVoice,
    *,
    host: str,
    port: int = 0,
    name: str = DEFAULT_NAME,
    advertise: bool = False,
    advertise_ip: str | None = None,
    follow_after_s: float = 0.0,
) -> ChargerSwitch:
    """Bind the switch on ``host:port`` (0 = any free port) and follow the twin, starting
    ``follow_after_s`` later on the clock (when the twin is served by the same app that is
    still starting up)."""
    if not name.strip():
        raise ValueError("name: the switch needs a name Alexa can say")
    loop = asyncio.get_running_loop()
    mirror = TwinMirror(voice.twin, voice.clock)
    holder: list[ChargerSwitchPlugin] = []
    server = await loop.create_server(lambda: Fauxmo(name, holder[0]), host, port)
    bound = int(server.sockets[0].getsockname()[1])
    plugin = ChargerSwitchPlugin(name=name, port=bound, voice=voice, mirror=mirror)
    holder.append(plugin)
    mirror.start(follow_after_s)
    switch = ChargerSwitch(server, plugin, mirror, host, bound)
    if advertise:
        ip = advertise_ip or host
        if ip in ("0.0.0.0", ""):
            raise ValueError("advertise_ip: give the LAN address the Echo should connect to")
        responder = SSDPServer()
        responder.add_device(name, ip, bound)
        transport, _ = await loop.create_datagram_endpoint(lambda: responder, sock=make_udp_sock())
        switch.ssdp = transport
    log.info("fauxmo switch %r on %s:%d", name, host, bound)
    return switch
