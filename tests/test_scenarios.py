"""`mq200 simulate`: the real controller logic against the physics model on a virtual clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from twin.scenario.model import ScenarioError, load_scenario, parse_scenario
from twin.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SAMPLE_KEYS = {"t_s", "charger", "status", "pilot", "duty_pct", "offered_a", "current_a",
               "energy_wh", "contactor", "limit_reason"}


def base(**over: Any) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "start": "2026-01-05T18:00:00-08:00", "duration_s": 7200, "seed": 1, "sample_s": 60,
        "chargers": [{"id": "cp1", "dip_a": 32, "local_list": ["ABCD1234"]}],
        "evs": [{"id": "ev1", "charger": "cp1", "battery_kwh": 75, "soc": 0.2, "max_a": 48,
                 "arrive_s": 0, "leave_s": 7200, "tag": "ABCD1234"}],
        "events": [],
    }
    scenario.update(over)
    return scenario


def test_issue_example_runs_and_has_the_timeline_contract() -> None:
    timeline = run_scenario(load_scenario(EXAMPLES / "evening.json"))
    assert set(timeline) >= {"samples", "events", "summary"}
    for sample in timeline["samples"]:
        assert SAMPLE_KEYS <= set(sample)
    statuses = [s["status"] for s in timeline["samples"]]
    assert "Charging" in statuses and "Faulted" in statuses
    kinds = [e["type"] for e in timeline["events"]]
    assert "session_started" in kinds and "power_loss" in kinds
    energies = [s["energy_wh"] for s in timeline["samples"]]
    assert energies == sorted(energies), "the register never goes backwards"
    ev = timeline["summary"]["evs"]["ev1"]
    assert ev["final_soc"] > 0.2 and ev["energy_wh"] > 5000
    # 32 A for ~50 min before the power cut: about 6.4 kWh at the meter (±1 %)
    assert 5500 < timeline["summary"]["chargers"]["cp1"]["energy_wh"] < 7500


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    a = run_scenario(parse_scenario(base(events=[{"at_s": 100, "type": "power_loss", "restore_at_s": 200}])))
    b = run_scenario(parse_scenario(base(events=[{"at_s": 100, "type": "power_loss", "restore_at_s": 200}])))
    assert a == b
    c = run_scenario(parse_scenario(base(seed=2, events=[{"at_s": 100, "type": "power_loss", "restore_at_s": 200}])))
    assert a["samples"] != c["samples"]


def test_yaml_resume_after_power_loss_waits_cold_load_then_charges() -> None:
    timeline = run_scenario(load_scenario(EXAMPLES / "evening.yaml"))
    after = [s for s in timeline["samples"] if s["t_s"] > 3060]
    waiting = [s for s in after if s["status"] == "SuspendedEVSE"]
    assert waiting and "cold load" in waiting[0]["limit_reason"]
    resumed = [s for s in after if s["status"] == "Charging"]
    assert resumed
    delay = resumed[0]["t_s"] - 3060
    assert 120 <= delay <= 300 + 5
    assert timeline["summary"]["chargers"]["cp1"]["sessions"] == 1


def test_full_battery_stops_drawing_and_ev_departure_ends_session() -> None:
    timeline = run_scenario(parse_scenario(base(
        duration_s=6 * 3600,
        evs=[{"id": "ev1", "charger": "cp1", "battery_kwh": 20, "soc": 0.5, "max_a": 32,
              "arrive_s": 0, "leave_s": 5 * 3600, "tag": "ABCD1234"}])))
    statuses = [s["status"] for s in timeline["samples"]]
    assert "SuspendedEV" in statuses  # full: the EV stops asking
    assert timeline["summary"]["evs"]["ev1"]["final_soc"] == pytest.approx(1.0, abs=0.01)
    assert statuses[-1] == "Available"
    stopped = [e for e in timeline["events"] if e["type"] == "session_stopped"]
    assert stopped and stopped[0]["reason"] == "EVDisconnected"


def test_unknown_tag_never_charges_plug_and_charge_does() -> None:
    rejected = run_scenario(parse_scenario(base(evs=[{"id": "ev1", "charger": "cp1", "arrive_s": 0, "tag": "WRONG123"}])))
    assert all(not s["contactor"] for s in rejected["samples"])
    assert any(e["type"] == "auth_rejected" for e in rejected["events"])
    pnc = run_scenario(parse_scenario(base(
        chargers=[{"id": "cp1", "dip_a": 16, "plug_and_charge_id": "PNC00001"}],
        evs=[{"id": "ev1", "charger": "cp1", "arrive_s": 10}])))
    assert any(s["contactor"] and s["offered_a"] == 16 for s in pnc["samples"])


@pytest.mark.parametrize(
    ("fault", "must_see"),
    [("over_voltage", "over voltage"), ("under_voltage", "under voltage"),
     ("over_temperature", "over temperature"), ("ground_fault", "ground fault"),
     ("no_ground", "no ground"), ("stuck_relay", "stuck relay")],
)
def test_every_fault_name_faults_the_charger(fault: str, must_see: str) -> None:
    # a welded contactor shows when the controller next opens it: here when the EV leaves
    evs = [{"id": "ev1", "charger": "cp1", "soc": 0.2, "arrive_s": 0, "leave_s": 3000, "tag": "ABCD1234"}]
    timeline = run_scenario(parse_scenario(base(
        evs=evs,
        events=[{"at_s": 600, "type": "fault", "charger": "cp1", "fault": fault, "clear_at_s": 5000}])))
    reasons = " ".join(s["limit_reason"] for s in timeline["samples"])
    assert must_see in reasons
    assert timeline["summary"]["chargers"]["cp1"]["faults"]


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"duration_s": -5}, "duration_s: Input should be greater than 0 (got -5)"),
        ({"chargers": [{"id": "cp1", "dip_a": 33}]}, "chargers[0].dip_a: must be one of"),
        ({"chargers": [{"id": "cp1", "colour": "red"}]}, "chargers[0].colour: unknown key"),
        ({"chargers": [{"id": "cp1", "settings": {"cold_load_pickup_max_delay_s": 5}}]},
         "chargers[0].settings.cold_load_pickup_max_delay_s"),
        ({"evs": [{"id": "ev1", "charger": "nope"}]}, "evs[0].charger: no charger 'nope'"),
        ({"events": [{"at_s": 1, "type": "fault", "charger": "cp1", "fault": "gremlins"}]}, "events[0].fault"),
        ({"events": [{"at_s": 1, "type": "meteor"}]}, "events[0]"),
        ({"start": "2026-01-05T18:00:00"}, "start: Value error, needs a UTC offset"),
    ],
)
def test_bad_scenarios_name_the_key_and_value(patch: dict[str, Any], needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(base(**patch))
    assert needle.replace("Value error, ", "") in str(err.value)


def test_cli_simulate_writes_timeline_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "t.json", tmp_path / "t.png"
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "simulate", str(EXAMPLES / "evening.json"),
         "--out", str(out), "--plot", str(png)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    timeline = json.loads(out.read_text())
    assert timeline["samples"] and "cp1" in timeline["summary"]["chargers"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(base(duration_s="long")))
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "simulate", str(bad), "--out", str(tmp_path / "x.json")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert result.returncode == 2
    assert "duration_s" in result.stderr and "'long'" in result.stderr


def test_weekly_self_reboot_restarts_the_controller_and_charging_goes_on() -> None:
    evs = [{"id": f"ev{d}", "charger": "cp1", "battery_kwh": 40, "soc": 0.5, "max_a": 32,
            "arrive_s": d * 86400 + 3600, "leave_s": d * 86400 + 5 * 3600, "tag": "ABCD1234"}
           for d in range(9)]
    timeline = run_scenario(parse_scenario(base(duration_s=9 * 86400, sample_s=3600, evs=evs)))
    kinds = [(e["type"], e.get("boot_reason")) for e in timeline["events"]]
    first = kinds.index(("reboot_requested", None))
    assert ("board_hello", "status") in kinds[first:]  # the new instance caught up with the board
    assert timeline["summary"]["chargers"]["cp1"]["sessions"] == 9
