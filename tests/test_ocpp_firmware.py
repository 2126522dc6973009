"""FirmwareManagement: UpdateFirmware and GetDiagnostics over HTTP served on 127.0.0.1."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from controller.ocpp.firmware import FirmwareService
from controller.ocpp.id_tag_info import format_ocpp_time
from tests.ocpp_cs_driver import CentralSystem, free_port
from tests.ocpp_rig import START, ObservedClock, Rig, make_rig, settings_for

IMAGE = b"MQ200-FIRMWARE-" + bytes(range(256)) * 64


class FileServer:
    def __init__(self) -> None:
        self.uploads: dict[str, bytes] = {}
        self.requests = 0
        self.fail_first = 0
        self.port = free_port()
        app = web.Application()
        app.router.add_get("/fw.bin", self.download)
        app.router.add_post("/diag/", self.upload)
        self.runner = web.AppRunner(app)

    async def download(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        return web.Response(body=IMAGE)

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        field = form["file"]
        assert isinstance(field, web.FileField)
        self.uploads[field.filename] = field.file.read()
        return web.Response(text="ok")

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    server = FileServer()
    await server.start()
    yield server
    await server.runner.cleanup()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, list[bytes]]]:
    installed: list[bytes] = []

    def install(image: bytes) -> bool:
        installed.append(image)
        return True

    cs = await CentralSystem.start()
    clock = ObservedClock(START)
    firmware = FirmwareService(settings_for(cs), clock,
                               installer=install)
    rig = await make_rig(tmp_path, cs=cs, clock=clock, firmware=firmware)
    await rig.booted()
    yield rig, installed
    await rig.stop()
    await cs.stop()
    rig.assert_strict_clean()


def statuses(rig: Rig, method: str) -> list[str]:
    return [c["params"]["status"] for c in rig.cs.calls(method)]


async def test_update_firmware_download_install_reboot(rig: tuple[Rig, list[bytes]],
                                                      files: FileServer) -> None:
    cp_rig, installed = rig
    answer = await cp_rig.cs.call("UpdateFirmware", {
        "location": files.url("/fw.bin"), "retrieveDate": format_ocpp_time(START + 60)})
    assert answer["result"] == {}
    await cp_rig.clock.advance_to_timer(60)
    await cp_rig.cs.wait_for(lambda e: "Installed" in statuses(cp_rig, "FirmwareStatusNotification"))
    assert statuses(cp_rig, "FirmwareStatusNotification") == [
        "Downloading", "Downloaded", "Installing", "Installed"]
    assert installed == [IMAGE]
    await cp_rig.cs.wait_for(lambda e: e.get("event") == "disconnected")  # reboot
    assert cp_rig.station.resets == [True]


async def test_update_firmware_retries_then_fails(rig: tuple[Rig, list[bytes]],
                                                 files: FileServer) -> None:
    cp_rig, installed = rig
    files.fail_first = 10
    await cp_rig.cs.call("UpdateFirmware", {"location": files.url("/fw.bin"),
                                            "retrieveDate": format_ocpp_time(START),
                                            "retries": 2, "retryInterval": 30})
    await cp_rig.clock.advance_to_timer(0)
    for _ in range(2):
        await cp_rig.clock.advance_to_timer(30)
    await cp_rig.cs.wait_for(lambda e: "DownloadFailed" in statuses(cp_rig, "FirmwareStatusNotification"))
    assert files.requests == 3 and installed == []


async def test_update_firmware_rejects_unknown_scheme(rig: tuple[Rig, list[bytes]]) -> None:
    cp_rig, _ = rig
    answer = await cp_rig.cs.call("UpdateFirmware", {"location": "gopher://x/fw",
                                                     "retrieveDate": format_ocpp_time(START)})
    assert answer["error"]["code"] == "PropertyConstraintViolation"


async def test_get_diagnostics_uploads_real_archive(rig: tuple[Rig, list[bytes]],
                                                   files: FileServer) -> None:
    cp_rig, _ = rig
    answer = await cp_rig.cs.call("GetDiagnostics", {"location": files.url("/diag/")})
    name = answer["result"]["fileName"]
    await cp_rig.cs.wait_for(lambda e: "Uploaded" in statuses(cp_rig, "DiagnosticsStatusNotification"))
    assert statuses(cp_rig, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    with zipfile.ZipFile(io.BytesIO(files.uploads[name])) as archive:
        snapshot = json.loads(archive.read("diagnostics.json"))
    assert snapshot["charge_point_id"] == "MQ200-TEST"
    assert snapshot["configuration"]["HeartbeatInterval"] == "300"


async def test_get_diagnostics_upload_failure(rig: tuple[Rig, list[bytes]]) -> None:
    cp_rig, _ = rig
    dead = f"http://127.0.0.1:{free_port()}/diag/"
    await cp_rig.cs.call("GetDiagnostics", {"location": dead, "retries": 1, "retryInterval": 5})
    await cp_rig.clock.advance_to_timer(5)
    await cp_rig.cs.wait_for(lambda e: "UploadFailed" in statuses(cp_rig, "DiagnosticsStatusNotification"))
