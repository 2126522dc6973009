"""Hours of operation: weekly table, midnight crossing, 2359, time zones and DST days."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from controller.charging.status import ChargerStatus
from controller.scheduling.hours import HoursOfOperation
from controller.scheduling.local_windows import (
    DailyWindow,
    WindowError,
    covers,
    parse_hhmm,
    weekly_table,
    window_intervals,
    window_state,
)
from controller.settings import SettingsError, StationSettings
from tests.station_harness import Harness

LA = ZoneInfo("America/Los_Angeles")
CLOSED = ["0000", "0000"]


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def la(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=LA)


def table(**days: list[str]) -> dict[str, list[str]]:
    base = {d: CLOSED for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    base.update(days)
    return base


# --------------------------------------------------------------------------- pure windows


def test_2359_is_end_of_day_and_joins_the_next_day() -> None:
    windows = weekly_table(table(mon=["1000", "2359"], tue=["0000", "0800"]))
    spans = window_intervals(windows, LA, la(2026, 1, 5, 0), la(2026, 1, 7, 0))
    # Monday 10:00 to Tuesday 08:00 in one piece: no one-minute gap at 23:59
    assert spans == [(la(2026, 1, 5, 10).astimezone(UTC), la(2026, 1, 6, 8).astimezone(UTC))]
    assert parse_hhmm("2359", "end", end=True) == 1440
    assert parse_hhmm("2359", "start") == 23 * 60 + 59


def test_window_crossing_midnight_belongs_to_its_start_day() -> None:
    windows = weekly_table(table(fri=["2200", "0600"]))
    state = window_state(windows, LA, la(2026, 1, 10, 3))  # Saturday 03:00
    assert state.inside and state.next_change == la(2026, 1, 10, 6).astimezone(UTC)
    state = window_state(windows, LA, la(2026, 1, 10, 23))  # Saturday 23:00: closed
    assert not state.inside
    assert state.next_change == la(2026, 1, 16, 22).astimezone(UTC)  # next Friday


def test_equal_start_and_end_is_a_closed_day() -> None:
    windows = weekly_table(table())
    assert window_state(windows, LA, la(2026, 1, 5, 12)) .inside is False
    assert window_state(windows, LA, la(2026, 1, 5, 12)).next_change is None


def test_spring_forward_day_window_in_the_missing_hour() -> None:
    # 2026-03-08: 02:00 PST jumps to 03:00 PDT; 02:30 does not exist and reads as 03:30 PDT
    windows = weekly_table(table(sun=["0230", "0500"]))
    spans = window_intervals(windows, LA, utc(2026, 3, 8, 0), utc(2026, 3, 9, 0))
    assert spans == [(utc(2026, 3, 8, 10, 30), utc(2026, 3, 8, 12, 0))]


def test_spring_forward_night_across_midnight_is_seven_hours() -> None:
    windows = weekly_table(table(sat=["2200", "0600"]))
    (a, b), = window_intervals(windows, LA, utc(2026, 3, 7, 12), utc(2026, 3, 8, 20))
    assert a == utc(2026, 3, 8, 6) and b == utc(2026, 3, 8, 13)
    assert (b - a).total_seconds() == 7 * 3600


def test_fall_back_night_counts_the_repeated_hour() -> None:
    # 2026-11-01: 02:00 PDT falls back to 01:00 PST; a 01:00-03:00 window lasts 3 real hours
    windows = weekly_table(table(sun=["0100", "0300"]))
    (a, b), = window_intervals(windows, LA, utc(2026, 11, 1, 0), utc(2026, 11, 2, 0))
    assert a == utc(2026, 11, 1, 8) and b == utc(2026, 11, 1, 11)
    # start in the repeated hour means its first occurrence (PDT)
    windows = weekly_table(table(sun=["0130", "0400"]))
    (a, _), = window_intervals(windows, LA, utc(2026, 11, 1, 0), utc(2026, 11, 2, 0))
    assert a == utc(2026, 11, 1, 8, 30)


def test_covers_needs_the_whole_interval() -> None:
    windows = [DailyWindow(frozenset({0}), 600, 720)]
    assert covers(windows, LA, la(2026, 1, 5, 10), la(2026, 1, 5, 12))
    assert not covers(windows, LA, la(2026, 1, 5, 11), la(2026, 1, 5, 12, 1))


def test_bad_tables_name_the_field() -> None:
    with pytest.raises(WindowError, match=r"hours_of_operation.mon\[1\]"):
        weekly_table({"mon": ["1000", "2400"]})
    with pytest.raises(WindowError, match="unknown weekday 'xyz'"):
        weekly_table({"xyz": ["1000", "1200"]})


# --------------------------------------------------------------------------- the limit source


def make(hours: dict[str, list[str]], start: float | None = None) -> tuple[Harness, HoursOfOperation]:
    settings = StationSettings(local_list=["ABCD1234"], hours_of_operation=hours)
    h = Harness(settings=settings, start=start or la(2026, 1, 5, 18).timestamp())
    h.boot()
    return h, HoursOfOperation(h.station)


def test_outside_hours_suspends_with_reason_and_resumes_inside() -> None:
    # Monday 18:00 PST; open 20:00-23:59 every day
    h, _hours = make({d: ["2000", "2359"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    h.start_charging()
    snap = h.station.snapshot()
    assert snap.status is ChargerStatus.SUSPENDED_EVSE
    assert snap.limit_source == "hours"
    assert "outside hours of operation" in snap.limit_reason and "opens Mon 20:00" in snap.limit_reason
    assert not h.port.contactor
    h.clock.run_until(la(2026, 1, 5, 20).timestamp())
    h.meter(240.0, 32.0)
    snap = h.station.snapshot()
    assert snap.status is ChargerStatus.CHARGING and h.port.contactor
    assert snap.limit_a == 32.0
    hours_limit = h.station.arbiter.limit("hours")
    assert hours_limit is not None and "until Tue 00:00" in hours_limit.reason
    # midnight: closed again (Tuesday opens at 20:00)
    h.clock.run_until(la(2026, 1, 6, 0, 0, 1).timestamp())
    assert h.station.snapshot().status is ChargerStatus.SUSPENDED_EVSE
    assert not h.port.contactor


def test_dst_transition_fires_at_the_right_instant() -> None:
    # Saturday 2026-03-07 noon PST; open Sat 22:00 -> Sun 06:00 (across the spring-forward)
    h, hours = make(table(sat=["2200", "0600"]), start=la(2026, 3, 7, 12).timestamp())
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]
    h.clock.run_until(utc(2026, 3, 8, 6).timestamp() - 1)
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]
    h.clock.run_until(utc(2026, 3, 8, 6).timestamp())
    assert h.station.arbiter.limit("hours").amps is None  # type: ignore[union-attr]
    h.clock.run_until(utc(2026, 3, 8, 13).timestamp() - 1)
    assert hours.state().inside
    h.clock.run_until(utc(2026, 3, 8, 13).timestamp())  # 06:00 PDT
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]


def test_fall_back_day_stays_open_through_the_repeated_hour() -> None:
    h, hours = make(table(sun=["0100", "0300"]), start=la(2026, 10, 31, 12).timestamp())
    h.clock.run_until(utc(2026, 11, 1, 8).timestamp())
    assert hours.state().inside
    h.clock.run_until(utc(2026, 11, 1, 9, 30).timestamp())  # 01:30 PST, second time round
    assert hours.state().inside
    h.clock.run_until(utc(2026, 11, 1, 11).timestamp())
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]


def test_settings_change_re_arms_and_time_zone_moves_the_window() -> None:
    h, hours = make(table(mon=["2000", "2359"]))
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]
    h.station.apply_settings({"hours_of_operation": table(mon=["1700", "2359"])})
    assert h.station.arbiter.limit("hours").amps is None  # type: ignore[union-attr]
    # New York is 3 h ahead: Monday 18:00 PST is 21:00 EST, still inside 17:00-23:59
    h.station.apply_settings({"time_zone": "America/New_York", "hours_of_operation": table(mon=["1700", "2000"])})
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]
    assert hours.zone == ZoneInfo("America/New_York")


def test_central_system_hours_supersede_the_defaults_and_persist() -> None:
    h, hours = make(table(mon=["2000", "2359"]))
    hours.set_central_hours(table(mon=["1200", "2359"]))
    limit = h.station.arbiter.limit("hours")
    assert limit is not None and limit.amps is None
    assert hours.origin == "central system"
    again = HoursOfOperation(h.station)  # after a restart: read back from the database
    assert again.table["mon"] == ["1200", "2359"]
    hours.set_central_hours(None)
    limit = h.station.arbiter.limit("hours")
    assert limit is not None and limit.amps == 0 and "station settings" in limit.reason


def test_bad_central_hours_are_refused_and_nothing_changes() -> None:
    h, hours = make(table(mon=["2000", "2359"]))
    with pytest.raises(SettingsError, match="mon"):
        hours.set_central_hours({"mon": ["25:00", "2359"]})
    assert hours.origin == "station settings"
    assert h.station.arbiter.limit("hours").amps == 0  # type: ignore[union-attr]


def test_daylight_saving_off_uses_standard_time_all_year() -> None:
    h, hours = make(table(mon=["1000", "1100"]), start=la(2026, 7, 6, 9, 30).timestamp())
    # with DST the window opens at 10:00 PDT = 17:00 UTC
    assert hours.state().next_change == utc(2026, 7, 6, 17)
    h.station.apply_settings({"daylight_saving": False})
    # standard time (UTC-8) all year: 10:00 is 18:00 UTC
    assert hours.state().next_change == utc(2026, 7, 6, 18)
