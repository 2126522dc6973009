"""`mq200 demo`: the daemon on the simulated charger, an EV that arrives and charges."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.text import Text

from controller.charging.station import StationSnapshot
from controller.config import Config
from controller.daemon import Daemon, SimOptions
from controller.log_format import setup_logging
from controller.settings import StationSettings
from twin.physics.ev import EVSpec

DEMO_TAG = "DEMO0001"


def status_line(snap: StationSnapshot, soc: float | None) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{snap.status.value:<13}", style="bold cyan")
    text.append(f" {snap.current_a:5.1f} A of {snap.offered_a:4.1f} A")
    text.append(f"  {snap.power_w / 1000:5.2f} kW", style="bold")
    text.append(f"  {snap.session_energy_wh / 1000:6.3f} kWh")
    if soc is not None:
        text.append(f"  SoC {soc * 100:5.1f} %")
    text.append(f"  [{snap.limit_reason}]", style="dim")
    return text


def run_demo(listen: tuple[str, int], duration: float, data_dir: str | None) -> int:
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="mq200-demo-"))
    config = Config()
    config.daemon.database = str(data / "mq200.db")
    config.twin.tokens_file = str(data / "tokens.json")
    config.station = StationSettings(local_list=[DEMO_TAG])
    setup_logging("warning", "text")
    console = Console()

    async def main() -> None:
        daemon = Daemon(config, sim=SimOptions(dip_a=48, seed=1), listen=listen)
        try:
            await daemon.start()
        except OSError:
            await daemon.stop()
            daemon = Daemon(config, sim=SimOptions(dip_a=48, seed=1), listen=(listen[0], 0))
            await daemon.start()
        assert daemon.station is not None and daemon.pty is not None and daemon.tokens is not None
        station, pty = daemon.station, daemon.pty
        console.print(f"[bold]MQ 200 demo[/] — simulated charger on {daemon.serial_path}, API on {daemon.url}")
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.call_later(1.0, lambda: pty.plug(EVSpec(battery_kwh=75, max_current_a=48), soc=0.3))
        loop.call_later(2.5, lambda: pty.present_tag(DEMO_TAG))

        def soc() -> float | None:
            ev = pty.board.ev
            return ev.soc if ev is not None else None

        with Live(status_line(station.snapshot(), soc()), console=console, auto_refresh=False) as live:
            station.on_change(lambda snap: live.update(status_line(snap, soc()), refresh=True))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration or None)
        token = daemon.tokens.client_token
        await daemon.stop()
        console.print(
            "\n[bold]Where to look next[/]\n"
            f"  state:     curl -H 'Authorization: Bearer {token}' {daemon.url}/api/v1/state\n"
            f"  simulator: mq200 sim --url {daemon.url} --token {token} state   (plug, unplug, tag, fault, power-cut …)\n"
            f"  run it:    mq200 run --sim --data-dir {data} --listen 127.0.0.1:8080\n"
            f"  data:      {data}\n"
            "  docs:      README.md, docs/twin-api.md, docs/scenarios.md, docs/simulator.md",
            soft_wrap=True,
        )

    asyncio.run(main())
    return 0
