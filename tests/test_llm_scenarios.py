"""SPEC §LLM worked examples (UD 1-3, FIFS A-B) through `mq200 simulate`.

Each example runs a real gateway and real clients talking their LAN protocol over 127.0.0.1,
with real stations and the EV physics on the virtual clock.  Limits are asserted at each step
twice: the gateway's decision (``llm_limits`` events) and what each station's pilot offers
(the samples).  Fallback 10 A in all; "offline" members joined once and then lost their network.
"""

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
EXAMPLES = ROOT / "examples" / "llm"

# example -> [(time s, {charger: offered amps})]; vehicles plug in at 60, 240 and 420 s
STEPS: dict[str, list[tuple[float, dict[str, float]]]] = {
    "ud1": [(30, {"cp1": 0, "cp2": 0, "cp3": 0}),
            (200, {"cp1": 0, "cp2": 32, "cp3": 0}),
            (400, {"cp1": 0, "cp2": 30, "cp3": 30}),
            (600, {"cp1": 20, "cp2": 20, "cp3": 20})],
    "ud2": [(200, {"cp1": 32, "cp2": 0, "cp3": 0}),
            (400, {"cp1": 30, "cp2": 30, "cp3": 0}),
            (600, {"cp1": 24, "cp2": 24, "cp3": 12})],
    "ud3": [(200, {"cp1": 32, "cp2": 0, "cp3": 0}),
            (400, {"cp1": 30, "cp2": 30, "cp3": 0}),
            (600, {"cp1": 20, "cp2": 20, "cp3": 20})],
    "fifs_a": [(200, {"cp2": 32, "cp3": 0, "cp1": 0}),
               (400, {"cp2": 32, "cp3": 28, "cp1": 0}),
               (500, {"cp2": 32, "cp3": 28, "cp1": 0}),
               (800, {"cp2": 0, "cp3": 32, "cp1": 28})],
    "fifs_b": [(200, {"cp1": 32, "cp2": 0, "cp3": 0}),
               (400, {"cp1": 32, "cp2": 32, "cp3": 0}),
               (600, {"cp1": 32, "cp2": 32, "cp3": 16})],
}
RESERVED = {"ud1": {}, "ud2": {}, "ud3": {"cp4": 10, "cp5": 10}, "fifs_a": {},
            "fifs_b": {"cp4": 10, "cp5": 10}}


def simulate(name: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "simulate", str(EXAMPLES / f"{name}.json"),
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    timeline: dict[str, Any] = json.loads(out.read_text())
    return timeline


def offered_at(timeline: dict[str, Any], charger: str, t: float) -> float:
    rows = [s for s in timeline["samples"] if s["charger"] == charger and s["t_s"] <= t]
    assert rows, f"no sample of {charger} by {t} s"
    return float(rows[-1]["offered_a"])


def gateway_limits_at(timeline: dict[str, Any], t: float) -> dict[str, int]:
    events = [e for e in timeline["events"] if e["type"] == "llm_limits" and e["t_s"] <= t]
    assert events, f"no llm_limits by {t} s"
    last: dict[str, int] = events[-1]["limits"]
    return last


@pytest.mark.parametrize("name", sorted(STEPS))
def test_spec_example_limits_at_every_step(name: str, tmp_path: Path) -> None:
    timeline = simulate(name, tmp_path)
    for t, expected in STEPS[name]:
        decided = gateway_limits_at(timeline, t)
        offered = {c: offered_at(timeline, c, t) for c in expected}
        assert {c: decided[c] for c in expected} == expected, f"{name} at {t} s (gateway)"
        assert offered == expected, f"{name} at {t} s (pilot offers)"
    reserved = [e for e in timeline["events"] if e["type"] == "llm_limits"][-1]["reserved"]
    assert reserved == RESERVED[name]
    llm = timeline["summary"]["llm"]
    members = len(load_scenario(EXAMPLES / f"{name}.json").chargers)
    assert llm["total"] == members and llm["connected"] == members - len(RESERVED[name])
    assert [r["index"] for r in llm["rows"]] == list(range(1, members + 1))
    for row in llm["rows"]:
        load = row["phase_a"]["L1"]
        assert row["phase_a"]["L2"] == load and row["phase_a"]["L3"] == 0.0  # split phase
        assert load <= row["allowed_a"] + 1.0  # each EV follows its limit


def test_ud3_three_vehicles_get_20_a_while_20_a_stay_reserved(tmp_path: Path) -> None:
    timeline = simulate("ud3", tmp_path)
    at = gateway_limits_at(timeline, 600)
    assert sum(at.values()) + 20 == 80  # the grid: 60 A granted + 2 x 10 A reserved


def test_fifs_a_third_waits_with_the_reason_shown(tmp_path: Path) -> None:
    timeline = simulate("fifs_a", tmp_path)
    waiting = [s for s in timeline["samples"] if s["charger"] == "cp1" and 430 <= s["t_s"] < 600]
    assert waiting and all(s["status"] == "SuspendedEVSE" for s in waiting)
    assert all(s["limit_reason"] == "load management: waiting: FIFS queue" for s in waiting)


def test_networked_runs_are_deterministic_for_a_seed() -> None:
    scenario = load_scenario(EXAMPLES / "fifs_a.json")
    first = run_scenario(scenario)
    second = run_scenario(scenario)
    assert first["samples"] == second["samples"]
    assert first["events"] == second["events"]


def test_bad_group_scenarios_are_refused_by_name() -> None:
    base = json.loads((EXAMPLES / "ud1.json").read_text())
    two = json.loads(json.dumps(base))
    two["chargers"][1]["role"] = "gateway"
    with pytest.raises(ScenarioError, match=r"chargers\[1\].role: a second gateway"):
        parse_scenario(two)
    orphan = json.loads(json.dumps(base))
    orphan["chargers"][0]["role"] = "direct"
    with pytest.raises(ScenarioError, match="a client needs a charger with role 'gateway'"):
        parse_scenario(orphan)
    wire = json.loads(json.dumps(base))
    wire["chargers"][2]["wire"] = "L2-L3"
    with pytest.raises(ScenarioError, match=r"chargers\[2\].wire: 'L2-L3' is not possible"):
        parse_scenario(wire)
