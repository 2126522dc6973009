"""The charger's web portal (docs/portal.md), mounted on the daemon's web server at /portal/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from controller.portal.service import PortalHost, PortalService
from controller.portal.views import build_portal_app

if TYPE_CHECKING:
    from controller.daemon import Daemon

__all__ = ["mount_portal", "PortalService", "PortalHost", "PORTAL_SERVICE_KEY"]

PORTAL_SERVICE_KEY = web.AppKey("portal", PortalService)


def mount_portal(app: web.Application, daemon: Daemon) -> None:
    """Add the portal under /portal/ and send / there."""
    station = daemon.station
    if station is None:
        raise RuntimeError("mount_portal needs a started station")

    def restart() -> None:
        daemon.reboot_requested = True
        daemon.request_stop()

    host = PortalHost(
        station=station,
        service=daemon.service,
        clock=daemon.clock,
        identity=daemon.config.identity,
        data_dir=Path(daemon.config.daemon.database).parent,
        simulated=daemon.sim is not None,
        bridge=daemon.bridge,
        restart=restart,
        ocpp_config=daemon.ocpp_cp.config if daemon.ocpp_cp is not None else None,
        llm_status=daemon.llm.status if daemon.llm is not None else None,
        apply_pricing=daemon.scheduling.pricing.apply if daemon.scheduling is not None else None,
        client_token=daemon.tokens.client_token if daemon.tokens is not None else None,
    )
    service = PortalService(host)
    service.start()
    app[PORTAL_SERVICE_KEY] = service
    app.add_subapp("/portal", build_portal_app(service))

    async def to_portal(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/portal/")

    app.router.add_get("/", to_portal)
