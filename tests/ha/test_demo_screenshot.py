"""``make demo-ha`` end to end: HA with its frontend on the simulated charger, and a headless
Chromium screenshot of the charger's device page (saved to artifacts/ha-device-page.png).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .twin_harness import REPO, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO / "artifacts" / "ha-device-page.png"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@pytest.fixture
def demo(socket_enabled: None, tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {**os.environ, "HA_PORT": str(free_port()), "CONTROLLER_PORT": str(free_port()),
           "MQ200_DEMO_HA_DIR": str(tmp_path / "demo")}
    proc = subprocess.Popen([str(REPO / "scripts" / "demo_ha.sh")], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 180)
        line = proc.stdout.readline() if ready else ""
        if not line:
            raise AssertionError(f"demo_ha.sh did not get ready; see {tmp_path}/demo/ha.log")
        info: dict[str, Any] = json.loads(line)
        yield info
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


async def test_device_page_screenshot(demo: dict[str, Any]) -> None:
    from playwright.async_api import async_playwright

    auth = Path(demo["auth_file"]).read_text(encoding="utf-8")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.add_init_script(
                f"window.localStorage.setItem('hassTokens', {json.dumps(auth)});"
            )
            await page.goto(demo["device_page"])
            await page.get_by_text("Charging enabled").first.wait_for(timeout=60_000)
            await page.get_by_text("Limit reason").first.wait_for(timeout=30_000)
            # The device name is the page title; the status comes from the simulated charger.
            await page.get_by_text("MQ 200 MQ200-00DE0001").first.wait_for(timeout=10_000)
            await page.get_by_text("DIP switch max 40 A").first.wait_for(timeout=10_000)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()
    assert SCREENSHOT.stat().st_size > 20_000
