"""Session pricing (SPEC default pricing): usage, parking, grace periods, cap, tax, fee."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.clock import VirtualClock
from controller.pricing import PricingError, SessionUsage, parse_pricing, session_cost
from controller.scheduling.wiring import attach
from controller.settings import StationSettings
from controller.storage import Storage
from controller.twin_bridge import TwinBridge
from tests.station_harness import Harness
from twin.device_link import EmbeddedDeviceLink
from twin.service import TwinService
from twin.store import TwinStore

LA = ZoneInfo("America/Los_Angeles")
H = 3600.0


def la(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=LA).timestamp()


MON_18 = la(2026, 1, 5, 18)


def usage(start: float, stop: float, energy_wh: float, charging: tuple[tuple[float, float], ...] | None = None,
          tag: str = "T1") -> SessionUsage:
    """Energy drawn evenly over the charging time (the whole session if not given)."""
    spans = charging if charging is not None else ((start, stop),)
    a, b = spans[0][0], spans[-1][1]
    return SessionUsage(tag, start, stop, ((start, 0.0), (a, 0.0), (b, energy_wh)), spans)


def priced(settings: dict[str, Any], u: SessionUsage, member: bool = False) -> float:
    return session_cost(u, parse_pricing(settings), LA, member).total


def scheme(**rules: Any) -> dict[str, Any]:
    return {"non_member_scheme_id": "public", "member_scheme_id": "public",
            "schemes": [{"id": "public", **rules}]}


def test_without_pricing_a_session_is_free() -> None:
    assert priced({}, usage(MON_18, MON_18 + H, 7000)) == 0.0


def test_kwh_usage_service_fee_and_tax() -> None:
    settings = scheme(usage=[{"type": "kWh", "interval_rate": 0.25}]) | {
        "service_fee": 1.0, "tax_rate_pct": 10}
    cost = session_cost(usage(MON_18, MON_18 + 2 * H, 10000), parse_pricing(settings), LA, False)
    assert cost.total == pytest.approx((10 * 0.25 + 1.0) * 1.1)
    assert [line.item for line in cost.lines][-2:] == ["service fee", "tax 10 %"]


def test_time_usage_rounds_up_to_unit_intervals_after_the_grace_period() -> None:
    rule = {"type": "Time", "unit_interval_s": 3600, "interval_rate": 2.0}
    u = usage(MON_18, MON_18 + 1.5 * H, 9000)
    assert priced(scheme(usage=[rule]), u) == 4.0  # 1.5 h → 2 started hours
    assert priced(scheme(usage=[rule | {"grace_period_s": 1800}]), u) == 2.0  # 1 h billable


def test_session_fee_only_when_the_session_starts_in_its_window() -> None:
    rule = {"type": "Session", "days": ["mon"], "start": "1700", "end": "2359", "interval_rate": 5.0}
    assert priced(scheme(usage=[rule]), usage(MON_18, MON_18 + H, 1000)) == 5.0
    tue_noon = la(2026, 1, 6, 12)
    assert priced(scheme(usage=[rule]), usage(tue_noon, tue_noon + H, 1000)) == 0.0


def test_kwh_rates_by_time_of_day_split_the_energy_at_the_boundary() -> None:
    rules = [
        {"type": "kWh", "start": "1700", "end": "2100", "interval_rate": 0.50},
        {"type": "kWh", "start": "2100", "end": "2359", "interval_rate": 0.20},
    ]
    start = la(2026, 1, 5, 20)
    assert priced(scheme(usage=rules), usage(start, start + 2 * H, 10000)) == pytest.approx(
        5 * 0.50 + 5 * 0.20)


def test_window_across_midnight_and_end_2359() -> None:
    rule = {"type": "kWh", "days": ["mon"], "start": "2200", "end": "0600", "interval_rate": 0.10}
    start = la(2026, 1, 5, 23)
    # Mon 23:00 → Tue 03:00, all inside the Monday night window
    assert priced(scheme(usage=[rule]), usage(start, start + 4 * H, 8000)) == pytest.approx(0.8)


def test_parking_after_charging_with_grace_and_cap() -> None:
    park = {"unit_interval_s": 1800, "interval_rate": 1.0, "grace_period_s": 1800}
    u = usage(MON_18, MON_18 + 4 * H, 7000, charging=((MON_18, MON_18 + H),))
    # idle from 19:00 to 22:00 = 3 h; first 30 min free; 2.5 h = 5 half hours
    assert priced(scheme(parking=[park]), u) == 5.0
    assert priced(scheme(parking=[park]) | {"parking_rate_cap": 3.0}, u) == 3.0


def test_initial_grace_period_makes_a_short_session_free() -> None:
    settings = scheme(usage=[{"type": "Session", "interval_rate": 5.0}]) | {
        "initial_grace_period_s": 300, "service_fee": 1.0}
    assert priced(settings, usage(MON_18, MON_18 + 120, 10)) == 0.0
    assert priced(settings, usage(MON_18, MON_18 + 600, 10)) == 6.0


def test_member_and_non_member_schemes() -> None:
    settings = {
        "member_scheme_id": "members", "non_member_scheme_id": "public",
        "schemes": [
            {"id": "members", "usage": [{"type": "kWh", "interval_rate": 0.10}]},
            {"id": "public", "usage": [{"type": "kWh", "interval_rate": 0.40}]},
        ],
    }
    u = usage(MON_18, MON_18 + H, 5000)
    assert priced(settings, u, member=True) == 0.5
    assert priced(settings, u, member=False) == 2.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"member_scheme_id": "gold"}, "member_scheme_id: no scheme 'gold'"),
        (scheme(usage=[{"type": "kWh", "start": "2460"}]), r"pricing.schemes.0.usage.0.start"),
        (scheme(usage=[{"type": "kWh", "interval_rate": -1}]), r"pricing.schemes.0.usage.0.interval_rate"),
        (scheme(usage=[{"type": "Minutes"}]), r"pricing.schemes.0.usage.0.type"),
        ({"tax_rate_pct": 250}, "pricing.tax_rate_pct"),
        ({"surprise": 1}, "pricing.surprise"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(PricingError, match=message):
        parse_pricing(settings)


def test_session_cost_is_stored_and_shown_in_the_twin(tmp_path: Path) -> None:
    clock = VirtualClock(MON_18)
    h = Harness(storage=Storage(tmp_path / "mq.db"), clock=clock,
                settings=StationSettings(local_list=["ABCD1234"]))
    h.boot()
    service = TwinService(TwinStore(tmp_path / "twin.db"), "MQ200-P", clock)
    bridge = TwinBridge(h.station, EmbeddedDeviceLink(service), {"serial": "MQ200-P"})
    parts = attach(h.station, bridge)
    bridge.start()
    parts.pricing.apply(scheme(usage=[{"type": "kWh", "interval_rate": 0.30}]) | {"service_fee": 0.5})
    with pytest.raises(PricingError):
        parts.pricing.apply({"member_scheme_id": "nope"})
    assert parts.pricing.settings.service_fee == 0.5  # the refused change left all as it was
    h.start_charging()
    for _ in range(4):
        clock.advance(900)
        h.meter(240.0, 32.0, add_wh=1920)
    running = service.state().reported["session"]
    assert isinstance(running, dict) and running["cost"] == pytest.approx(7.68 * 0.30 + 0.5, abs=0.01)
    clock.advance(60)
    h.pilot("A")  # unplugged: the session stops and is priced
    clock.advance(0)
    record = h.storage.sessions(1)[0]
    assert record.cost == pytest.approx(round(7.68 * 0.30 + 0.5, 2))
    twin_session = service.sessions()[0]
    assert twin_session.cost == record.cost
    parts.close()
