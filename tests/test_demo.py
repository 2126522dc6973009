"""`make demo` runs `mq200 demo`: an EV arrives on the simulated charger and charges."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_charges_and_says_where_to_look_next(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "demo", "--duration", "6",
         "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Charging" in out and " kW" in out and "kWh" in out
    assert "Where to look next" in out and "/api/v1/state" in out
    assert (tmp_path / "mq200.db").exists() and (tmp_path / "tokens.json").exists()
