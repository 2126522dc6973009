"""`mq200`: the command line (docs/cli.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from controller import __version__
from controller.config import ConfigError, TwinSection, load_config
from controller.firmware_cli import add_firmware_parser, run_firmware
from controller.log_format import setup_logging


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} out of range")
    return host or "127.0.0.1", number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mq200", description="MQ 200 charger controller and digital twin")
    parser.add_argument("--version", action="version", version=f"mq200 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the controller daemon")
    run.add_argument("--config", help="TOML config file (docs/configuration.md)")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--serial", help="power board serial device, e.g. /dev/ttyAMA0")
    source.add_argument("--sim", action="store_true", help="simulated power board on a pseudo-terminal")
    run.add_argument("--data-dir", help="keep database and tokens here (overrides the config paths)")
    run.add_argument("--listen", type=_listen, help="HOST:PORT for the API (default from config)")
    run.add_argument("--dip", type=int, default=32, help="simulated DIP switch amps (with --sim)")
    run.add_argument("--seed", type=int, default=0, help="simulator seed (with --sim)")
    run.add_argument("--log-format", choices=["json", "text"])
    run.add_argument("--advertise", action=argparse.BooleanOptionalAction, default=None,
                     help="mDNS advertising for Home Assistant (default: on, off with --sim)")

    demo = sub.add_parser("demo", help="the system on the simulated charger, an EV arrives and charges")
    demo.add_argument("--listen", type=_listen, default=("127.0.0.1", 8080))
    demo.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    demo.add_argument("--data-dir", help="where to keep the demo's database (default: a temp dir)")

    simulate = sub.add_parser("simulate", help="run a scenario fast-forwarded and write a timeline")
    simulate.add_argument("scenario", help="scenario file (JSON or YAML, docs/scenarios.md)")
    simulate.add_argument("--out", required=True, help="timeline JSON to write")
    simulate.add_argument("--plot", help="also draw power, offered current and SoC to this PNG")

    twin = sub.add_parser("twin", help="the digital twin as its own process")
    twin_sub = twin.add_subparsers(dest="twin_command", required=True)
    serve = twin_sub.add_parser("serve", help="serve the twin API (for a charger behind cellular)")
    serve.add_argument("--listen", type=_listen, default=("0.0.0.0", 8081))
    serve.add_argument("--db", required=True, help="SQLite file")
    serve.add_argument("--tokens", required=True, help="tokens file (docs/twin-api.md §1)")

    add_firmware_parser(sub)

    sim = sub.add_parser("sim", help="act on the simulated charger of `mq200 run --sim`")
    sim.add_argument("--url", default="http://127.0.0.1:8080")
    sim.add_argument("--token", required=True, help="a client token (printed at start, in tokens.json)")
    sim.add_argument("action", choices=["state", "plug", "unplug", "tag", "fault", "clear", "power-cut",
                                        "power-restore", "ambient", "voltage"])
    sim.add_argument("value", nargs="?", help="tag uid, fault name, °C or volts")
    sim.add_argument("--soc", type=float, default=0.3)
    sim.add_argument("--battery-kwh", type=float, default=75.0)
    sim.add_argument("--max-a", type=float, default=48.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "demo":
            from controller.demo import run_demo

            return run_demo(args.listen, args.duration, args.data_dir)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "twin":
            from twin.standalone import run_standalone

            run_standalone(args.listen[0], args.listen[1], args.db, args.tokens)
            return 0
        if args.command == "sim":
            return _sim(args)
        if args.command == "firmware":
            return run_firmware(args)
    except (ConfigError, ValueError) as exc:
        print(f"mq200: {exc}", file=sys.stderr)
        return 2
    return 2


def _run(args: argparse.Namespace) -> int:
    from controller.daemon import Daemon, SimOptions

    config = load_config(args.config)
    if args.data_dir:  # the database, and the tokens unless the config file names them
        data = Path(args.data_dir)
        config.daemon.database = str(data / "mq200.db")
        if config.twin.tokens_file == TwinSection().tokens_file:
            config.twin.tokens_file = str(data / "tokens.json")
    if args.log_format:
        config.daemon.log_format = args.log_format
    setup_logging(config.daemon.log_level, config.daemon.log_format)
    sim = SimOptions(dip_a=args.dip, seed=args.seed) if args.sim else None
    daemon = Daemon(config, serial=args.serial, sim=sim, listen=args.listen, advertise=args.advertise)

    async def main() -> None:
        await daemon.start()
        assert daemon.tokens is not None
        print(json.dumps({"event": "ready", "url": daemon.url, "serial_port": daemon.serial_path,
                          "client_token": daemon.tokens.client_token}), flush=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, daemon.request_stop)
        try:
            await daemon.wait()
        finally:
            await daemon.stop()

    asyncio.run(main())
    if daemon.reboot_requested:
        _reexec(daemon)
    return 0


def _reexec(daemon: Any) -> None:
    """A reboot: the same command again, on the same port, in place of this process."""
    argv = [a for a in sys.argv[1:]]
    if "--listen" in argv:
        i = argv.index("--listen")
        del argv[i : i + 2]
    argv += ["--listen", f"{daemon.listen[0]}:{daemon.port}"]
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "controller.cli", *argv])


def _simulate(args: argparse.Namespace) -> int:
    from twin.scenario.model import ScenarioError, load_scenario
    from twin.scenario.runner import run_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"mq200 simulate: {exc}", file=sys.stderr)
        return 2
    timeline = run_scenario(scenario)
    out = Path(args.out)
    out.write_text(json.dumps(timeline, indent=1), encoding="utf-8")
    summary = timeline["summary"]
    for cid, c in summary["chargers"].items():
        print(f"{cid}: {c['energy_wh'] / 1000:.2f} kWh, {c['charging_s'] / 3600:.2f} h charging, "
              f"{c['sessions']} sessions, {c['fault_count']} faults")
    print(f"timeline: {out} ({len(timeline['samples'])} samples, {len(timeline['events'])} events)")
    if args.plot:
        from twin.scenario.plot import plot_timeline

        plot_timeline(timeline, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


def _sim(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    body: dict[str, Any] = {}
    path = {"power-cut": "power", "power-restore": "power"}.get(args.action, args.action)
    if args.action == "plug":
        body = {"soc": args.soc, "battery_kwh": args.battery_kwh, "max_a": args.max_a}
    elif args.action == "tag":
        body = {"uid": args.value}
    elif args.action in ("fault", "clear"):
        body = {"fault": args.value}
    elif args.action in ("power-cut", "power-restore"):
        body = {"on": args.action == "power-restore"}
    elif args.action == "ambient":
        body = {"celsius": float(args.value or 25)}
    elif args.action == "voltage":
        body = {"volts": float(args.value or 240)}
    method = "GET" if args.action == "state" else "POST"
    req = urllib.request.Request(
        f"{args.url.rstrip('/')}/sim/{path}",
        data=None if method == "GET" else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"mq200 sim: {exc.code}: {exc.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"mq200 sim: cannot reach {args.url}: {exc.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
