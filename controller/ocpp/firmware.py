"""UpdateFirmware and GetDiagnostics: transfers over HTTP(S) or FTP, with status notifications.

Firmware: at retrieveDate download (retries x interval), report Downloading → Downloaded →
Installing → Installed (or DownloadFailed / InstallationFailed), then reboot.  The installer
is injected: the daemon hands the image to the board/OS updater; tests check the bytes.
Diagnostics: a zip archive (station snapshot as JSON) uploaded by HTTP POST (multipart field
``file``) or FTP STOR into the given location.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import json
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from controller.clock import Clock
from controller.ocpp.clock_waits import clock_delay
from controller.ocpp.id_tag_info import format_ocpp_time
from controller.ocpp.ocpp_settings import OcppSettings

if TYPE_CHECKING:
    from controller.ocpp.charge_point import OcppChargePoint

LOGGER = logging.getLogger(__name__)
SCHEMES = ("http", "https", "ftp")

Installer = Callable[[bytes], bool]
# aiohttp is imported only when a transfer happens: it would add ~10 MB to the idle daemon.
TRANSFER_ERRORS: tuple[type[BaseException], ...] = (OSError, ftplib.Error, asyncio.TimeoutError)


def _http_errors() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (*TRANSFER_ERRORS, aiohttp.ClientError)


def check_location(location: str) -> str:
    scheme = urlparse(location).scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"location {location!r}: only HTTP, HTTPS and FTP URLs are supported")
    return scheme


def _ftp_parts(url: str, settings: OcppSettings) -> tuple[str, int, str, str, str]:
    parsed = urlparse(url)
    user = unquote(parsed.username) if parsed.username else (settings.ftp_user or "anonymous")
    password = unquote(parsed.password) if parsed.password else (settings.ftp_password or "")
    return parsed.hostname or "", parsed.port or 21, user, password, unquote(parsed.path)


def _ftp_download(url: str, settings: OcppSettings) -> bytes:
    host, port, user, password, path = _ftp_parts(url, settings)
    buffer = io.BytesIO()
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=60)
        ftp.login(user, password)
        ftp.retrbinary(f"RETR {path}", buffer.write)
    return buffer.getvalue()


def _ftp_upload(url: str, name: str, data: bytes, settings: OcppSettings) -> None:
    host, port, user, password, path = _ftp_parts(url, settings)
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=60)
        ftp.login(user, password)
        ftp.storbinary(f"STOR {path.rstrip('/')}/{name}", io.BytesIO(data))


class FirmwareService:
    def __init__(
        self,
        settings: OcppSettings,
        clock: Clock,
        installer: Installer | None = None,
        download_dir: Path | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._installer = installer or (lambda image: len(image) > 0)
        self._download_dir = download_dir
        self._cp: OcppChargePoint | None = None
        self.firmware_status = "Idle"
        self.diagnostics_status = "Idle"
        self._tasks: set[asyncio.Task[Any]] = set()

    def bind(self, charge_point: OcppChargePoint) -> None:
        self._cp = charge_point

    async def after_boot(self) -> None:
        """Nothing pending across reboots: a completed install was reported before it."""

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- firmware

    def schedule_update(
        self, location: str, retrieve_at: float, retries: int | None, retry_interval: int | None
    ) -> None:
        check_location(location)
        attempts = 1 + (retries if retries is not None else self._settings.firmware_download_retries)
        interval = float(
            retry_interval if retry_interval is not None else self._settings.firmware_download_interval
        )
        delay = max(0.0, retrieve_at - self._clock.now())
        self._clock.call_later(delay, lambda: self._spawn(self._update(location, attempts, interval)))

    async def _firmware(self, status: str) -> None:
        self.firmware_status = status
        await self.send_firmware_status()

    async def send_firmware_status(self) -> None:
        if self._cp is not None:
            await self._cp.notify("FirmwareStatusNotification", {"status": self.firmware_status})

    async def _update(self, location: str, attempts: int, interval: float) -> None:
        image: bytes | None = None
        for attempt in range(attempts):
            await self._firmware("Downloading")
            try:
                image = await self._download(location)
                break
            except _http_errors() as error:
                LOGGER.warning("firmware download attempt %d failed: %s", attempt + 1, error)
                if attempt + 1 < attempts:
                    await clock_delay(self._clock, interval)
        if image is None:
            await self._firmware("DownloadFailed")
            return
        if self._download_dir is not None:
            (self._download_dir / "firmware.bin").write_bytes(image)
        await self._firmware("Downloaded")
        await self._firmware("Installing")
        try:
            installed = self._installer(image)
        except (OSError, ValueError) as error:
            LOGGER.error("firmware installation failed: %s", error)
            installed = False
        if not installed:
            await self._firmware("InstallationFailed")
            return
        await self._firmware("Installed")
        if self._cp is not None:
            self._cp.request_reboot()

    async def _download(self, location: str) -> bytes:
        if check_location(location) == "ftp":
            return await asyncio.get_running_loop().run_in_executor(
                None, _ftp_download, location, self._settings
            )
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self._settings.pdu_timeout * 5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(location) as response:
                response.raise_for_status()
                return await response.read()

    # ---------------------------------------------------------------- diagnostics

    def schedule_diagnostics(
        self, location: str, retries: int | None, retry_interval: int | None
    ) -> str:
        check_location(location)
        stamp = format_ocpp_time(self._clock.now()).replace(":", "").replace("-", "")[:15]
        name = f"{self._settings.charge_point_id}-diagnostics-{stamp}.zip"
        attempts = 1 + (retries if retries is not None else self._settings.diagnostics_upload_retries)
        interval = float(
            retry_interval
            if retry_interval is not None
            else self._settings.diagnostics_upload_interval
        )
        self._spawn(self._diagnostics(location, name, attempts, interval))
        return name

    def build_archive(self) -> bytes:
        snapshot = self._cp.snapshot_for_diagnostics() if self._cp is not None else {}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("diagnostics.json", json.dumps(snapshot, indent=2, sort_keys=True))
        return buffer.getvalue()

    async def send_diagnostics_status(self) -> None:
        if self._cp is not None:
            await self._cp.notify("DiagnosticsStatusNotification", {"status": self.diagnostics_status})

    async def _diagnostics_status(self, status: str) -> None:
        self.diagnostics_status = status
        await self.send_diagnostics_status()

    async def _diagnostics(self, location: str, name: str, attempts: int, interval: float) -> None:
        data = self.build_archive()
        await self._diagnostics_status("Uploading")
        for attempt in range(attempts):
            try:
                await self._upload(location, name, data)
            except _http_errors() as error:
                LOGGER.warning("diagnostics upload attempt %d failed: %s", attempt + 1, error)
                if attempt + 1 < attempts:
                    await clock_delay(self._clock, interval)
                continue
            await self._diagnostics_status("Uploaded")
            return
        await self._diagnostics_status("UploadFailed")

    async def _upload(self, location: str, name: str, data: bytes) -> None:
        if check_location(location) == "ftp":
            await asyncio.get_running_loop().run_in_executor(
                None, _ftp_upload, location, name, data, self._settings
            )
            return
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type="application/zip")
        timeout = aiohttp.ClientTimeout(total=self._settings.pdu_timeout * 5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.post(location, data=form) as response:
                response.raise_for_status()
