"""Bench: idle RSS of the real daemon (`mq200 run --sim`) and what its imports cost.

Prints, for a direct (standalone) charger on the simulated board,
(1) the idle RSS (and PSS, anonymous and file-backed parts) once startup has settled, without a
    central system and with one (the independent ocpp-rpc central system, after the boot and
    the StatusNotifications), against the 60 MB target;
(2) the top contributors to import time (`python -X importtime`, self time summed per
    top-level package) during the daemon's startup;
(3) the resident memory each top-level package adds when imported in the daemon's order.

Bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, so the project's own modules would be
compiled from source at every start; the figures are taken with a warmed bytecode cache in a
temporary PYTHONPYCACHEPREFIX, as on a device whose image ships .pyc files.

usage: python bench/daemon_rss.py [settle-seconds]
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ocpp_cs_driver import CentralSystem  # noqa: E402

TARGET_MB = 60.0
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    pss_mb: float
    anon_mb: float
    file_mb: float


def read_memory(pid: int) -> Memory:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = {key: rest.split()[0] for key, _, rest in (line.partition(":") for line in
              status.splitlines()) if rest.split()}
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return Memory(int(fields["VmRSS"]) / 1024, pss / 1024, int(fields["RssAnon"]) / 1024,
                  int(fields["RssFile"]) / 1024)


def daemon_env(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=str(pycache), PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    return env


async def start(data_dir: Path, config: str, pycache: Path,
                python_flags: tuple[str, ...] = ()) -> asyncio.subprocess.Process:
    """`mq200 run --sim` as on a charger (direct mode); returns once it printed its ready line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg = data_dir / "mq200.toml"
    cfg.write_text(config)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *python_flags, "-m", "controller.cli", "run", "--sim",
        "--data-dir", str(data_dir), "--listen", "127.0.0.1:0", "--config", str(cfg),
        "--log-format", "text",
        cwd=ROOT, env=daemon_env(pycache), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if python_flags else asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the daemon exited before it was ready")
        if line.startswith(b"{") and b'"ready"' in line:
            return proc


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


async def settled_memory(proc: asyncio.subprocess.Process, settle: float) -> Memory:
    """The RSS once it has stopped changing (sampled every 0.5 s for ``settle`` seconds)."""
    samples: list[Memory] = []
    loop = asyncio.get_running_loop()
    for _ in range(max(1, int(settle / 0.5))):
        tick = loop.create_future()
        loop.call_later(0.5, tick.set_result, None)
        await tick
        samples.append(read_memory(proc.pid))
    return samples[-1]


async def idle_without_cs(tmp: Path, pycache: Path, settle: float) -> Memory:
    config = '[identity]\nserial_number = "MQ200-RSS00001"\n'
    warm = await start(tmp / "warm", config, pycache)  # fills the bytecode cache, first boot
    await stop(warm)
    proc = await start(tmp / "no-cs", config, pycache)
    try:
        return await settled_memory(proc, settle)
    finally:
        await stop(proc)


async def idle_with_cs(tmp: Path, pycache: Path, settle: float) -> Memory:
    cs = await CentralSystem.start()
    config = ('[identity]\nserial_number = "MQ200-RSS00002"\n\n[ocpp]\n'
              f'central_system_url = "{cs.url}"\ncharge_point_id = "CP-RSS-1"\n')
    try:
        proc = await start(tmp / "cs", config, pycache)
        try:
            await cs.wait_call("StatusNotification", timeout=60,
                               where=lambda e: e["params"]["connectorId"] == 1)
            return await settled_memory(proc, settle)
        finally:
            await stop(proc)
    finally:
        await cs.stop()
        if cs.validation_failures():
            raise RuntimeError(f"strict validation failures: {cs.validation_failures()}")


async def import_profile(tmp: Path, pycache: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """Self import time per top-level package during a real startup, and the modules in the
    order their imports completed (dependencies first)."""
    proc = await start(tmp / "importtime", '[identity]\nserial_number = "MQ200-RSS00003"\n',
                       pycache, ("-X", "importtime"))
    await stop(proc)
    assert proc.stderr is not None
    text = (await proc.stderr.read()).decode()
    per_package: dict[str, int] = defaultdict(int)
    order: list[str] = []
    for line in text.splitlines():
        match = IMPORT_LINE.match(line)
        if match is None:
            continue
        module = match.group(4)
        per_package[module.split(".")[0]] += int(match.group(1))
        order.append(module)
    return sorted(per_package.items(), key=lambda kv: -kv[1]), order


async def import_rss(order: list[str], pycache: Path) -> list[tuple[str, float]]:
    """Resident memory added per top-level package: each module is imported in the order the
    daemon completed them (dependencies first), so each mostly brings only itself."""
    probe = (
        "import importlib, json, sys\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "out = {}\n"
        "before = rss()\n"
        "for name in json.loads(sys.stdin.read()):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        continue\n"
        "    now = rss(); top = name.split('.')[0]\n"
        "    out[top] = out.get(top, 0.0) + now - before; before = now\n"
        "print(json.dumps(out))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, cwd=ROOT, env=daemon_env(pycache),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate(json.dumps(order).encode())
    return [(str(name), float(mb)) for name, mb in json.loads(out).items()]


def show(label: str, memory: Memory) -> None:
    verdict = "meets" if memory.rss_mb <= TARGET_MB else "above"
    print(f"{label}: RSS {memory.rss_mb:.1f} MB (PSS {memory.pss_mb:.1f}, anon "
          f"{memory.anon_mb:.1f}, file {memory.file_mb:.1f}) - {verdict} the "
          f"{TARGET_MB:.0f} MB target")


async def main(settle: float) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        pycache = tmp / "pycache"
        without = await idle_without_cs(tmp, pycache, settle)
        with_cs = await idle_with_cs(tmp, pycache, settle)
        times, order = await import_profile(tmp, pycache)
        rss = await import_rss(order, pycache)
    print(f"idle daemon, `mq200 run --sim`, direct mode, settled {settle:.0f} s after ready:")
    show("  without a central system", without)
    show("  with a central system   ", with_cs)
    total = sum(us for _, us in times)
    print(f"import time at startup: {total / 1000:.0f} ms in all; top packages (self time):")
    for package, us in times[:15]:
        print(f"  {package:28s} {us / 1000:7.1f} ms")
    print(f"resident memory of the daemon's imports: {sum(mb for _, mb in rss):.1f} MB on top of "
          "the bare interpreter; per top-level package:")
    for package, mb in sorted(rss, key=lambda kv: -kv[1])[:15]:
        print(f"  {package:28s} {mb:7.1f} MB")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
