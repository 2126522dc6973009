"""End-to-end: the real daemon (`mq200 run --sim`) driven in headless Chromium.

Debian's chromium driven by Playwright (``executable_path``, no downloaded browser). Screenshots
of every page go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NEW_PASSWORD = "Blue-Garage-Volt-42"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} missing: `apt-get install -y chromium` (make test does it)"),
    pytest.mark.timeout(240),
]


class RunningDaemon:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        mq200 = Path(sys.executable).parent / "mq200"
        self.proc = subprocess.Popen(
            [str(mq200), "run", "--sim", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0",
             "--log-format", "text"],
            stdout=subprocess.PIPE, stderr=open(data_dir / "daemon.log", "wb"), text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        stdout = self.proc.stdout

        def pump() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        ready: dict[str, Any] = {}
        try:
            while ready.get("event") != "ready":  # log lines may come first
                line = lines.get(timeout=30)
                if line.startswith("{"):
                    ready = json.loads(line)
        except BaseException:
            self.stop()
            raise
        self.url: str = ready["url"]
        self.token: str = ready["client_token"]

    def sim(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.url}/sim/{action}", method="POST" if action != "state" else "GET",
            data=None if action == "state" else json.dumps(body or {}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def label(self, user: str) -> str:
        for line in (self.data_dir / "initial-passwords.txt").read_text().splitlines():
            if line.startswith(f"{user}: "):
                return line.split(": ", 1)[1]
        raise KeyError(user)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    running = RunningDaemon(tmp_path_factory.mktemp("portal-e2e"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(daemon: RunningDaemon) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_1_login_and_forced_password_change(daemon: RunningDaemon, page: Any) -> None:
    page.goto(daemon.url + "/")
    assert page.url.endswith("/portal/login?next=/portal/")
    shot(page, "01-login")
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("#login")
    assert "Wrong user name or password" in page.inner_text("#login-error")
    page.fill("#username", "admin")
    page.fill("#password", daemon.label("admin"))
    page.click("#login")
    page.wait_for_url("**/portal/password")
    assert page.is_visible("#forced-change")
    page.goto(daemon.url + "/portal/station")  # every page leads back to the change
    page.wait_for_url("**/portal/password")
    page.fill("#f-current", daemon.label("admin"))
    page.fill("#f-new", "short")
    page.fill("#f-confirm", "short")
    page.click("#change-password")
    assert "at least 10" in page.inner_text("#err-new")
    shot(page, "02-forced-password-change")
    page.fill("#f-current", daemon.label("admin"))
    page.fill("#f-new", NEW_PASSWORD)
    page.fill("#f-confirm", NEW_PASSWORD)
    page.click("#change-password")
    page.wait_for_url("**/portal/status")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["mq200_portal"]["httpOnly"] and cookies["mq200_portal"]["sameSite"] == "Strict"


def test_2_station_setting_takes_effect(daemon: RunningDaemon, page: Any) -> None:
    page.goto(daemon.url + "/portal/station")
    page.fill("#f-max_amperage_fw_a", "abc")
    page.fill("#f-display_intensity_pct", "180")
    page.click("#s-general button[type=submit]")
    assert "whole number" in page.inner_text("#err-max_amperage_fw_a")
    assert "0…100" in page.inner_text("#err-display_intensity_pct")
    shot(page, "03-station-settings-invalid")
    page.fill("#f-max_amperage_fw_a", "16")
    page.fill("#f-display_intensity_pct", "80")
    page.fill("#f-plug_and_charge_id", "PNC-E2E-0001")
    page.click("#s-general button[type=submit]")
    assert "Saved" in page.inner_text(".flash.ok")
    assert page.input_value("#f-max_amperage_fw_a") == "16"
    shot(page, "04-station-settings")


def test_3_session_from_simulator_updates_status_page(daemon: RunningDaemon, page: Any) -> None:
    page.goto(daemon.url + "/portal/status")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("[data-k=status]")).to_have_text("Available")
    daemon.sim("plug", {"soc": 0.3, "battery_kwh": 60, "max_a": 48})
    expect(page.locator("[data-k=status]")).to_have_text("Charging", timeout=30_000)
    # the portal's 16 A cap reached the simulated board's pilot
    assert daemon.sim("state")["offered_a"] == pytest.approx(16, abs=0.5)
    expect(page.locator("[data-k=offered_a]")).to_have_text("16.0 A")
    page.wait_for_selector("#power-line[data-enough=yes]", state="attached", timeout=30_000)
    assert "PNC-E2E-0001" in page.inner_text("#session-info")
    shot(page, "05-evse-status-charging")
    daemon.sim("unplug")
    expect(page.locator("[data-k=status]")).to_have_text("Available", timeout=30_000)
    page.wait_for_selector("#energy-chart rect", state="attached")
    shot(page, "06-evse-status-after-session")


def _sign(daemon: RunningDaemon, version: str, out: Path) -> bytes:
    payload = out.with_suffix(".bin")
    payload.write_bytes(os.urandom(300_000))
    subprocess.run(
        [sys.executable, "-m", "controller.firmware_cli", "firmware", "sign", str(payload),
         "--key", str(daemon.data_dir / "firmware-dev-signing.key"), "--version", version,
         "--out", str(out)], check=True, capture_output=True)
    return out.read_bytes()


def test_4_firmware_upload_good_and_tampered(daemon: RunningDaemon, page: Any,
                                              tmp_path: Path) -> None:
    good = tmp_path / "good.img"
    data = _sign(daemon, "2.0.0", good)
    bad = tmp_path / "tampered.img"
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    bad.write_bytes(bytes(flipped))

    page.goto(daemon.url + "/portal/maintenance")
    page.set_input_files("#firmware-file", str(bad))
    page.click("#firmware-upload")
    page.wait_for_selector("#firmware-result[data-done]")
    assert "signature check failed" in page.inner_text("#firmware-result")
    assert page.inner_text("#running-firmware") == "0.1.0"
    shot(page, "07-firmware-tampered")
    page.reload()
    page.set_input_files("#firmware-file", str(good))
    page.click("#firmware-upload")
    page.wait_for_selector("#firmware-result[data-done=ok]")
    assert "Firmware 2.0.0 accepted" in page.inner_text("#firmware-result")
    assert page.locator("#firmware-progress").get_attribute("data-pct") == "100"
    shot(page, "08-firmware-accepted")
    page.goto(daemon.url + "/portal/factory")
    assert page.inner_text("#fact-firmware-version") == "2.0.0"


def test_5_every_page_renders(daemon: RunningDaemon, page: Any) -> None:
    for slug in ("factory", "ocpp", "communication", "llm", "security", "maintenance"):
        page.goto(f"{daemon.url}/portal/{slug}")
        assert page.title().endswith("MQ 200")
        if slug == "llm":
            expect(page.locator("#live-state")).to_have_text("live")
        shot(page, f"page-{slug}")
    page.click("#logout")
    page.wait_for_url("**/portal/login")
    page.goto(daemon.url + "/portal/status")
    assert "/portal/login" in page.url
