"""Tariffs: time-of-use by weekday and season, dynamic prices, slot cutting across DST, files."""

from __future__ import annotations

import json
from itertools import pairwise
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.scheduling.tariff import (
    DynamicTariff,
    PriceGapError,
    PriceInterval,
    Season,
    TariffError,
    TimeOfUseTariff,
    TouPeriod,
    average_price,
    load_tariff_file,
    price_at,
    slot_grid,
    slot_prices,
    tariff_from_dict,
)

LA = ZoneInfo("America/Los_Angeles")
LA_NAME = "America/Los_Angeles"


def la(y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LA, fold=fold)


def summer_winter_tariff() -> TimeOfUseTariff:
    """Summer: weekday peak 16–21 at 0.55, nights 0.12; winter: peak 0.40; base 0.30/0.25."""
    summer = Season(
        "summer",
        (6, 1),
        (9, 30),
        (
            TouPeriod.parse(["weekdays"], "16:00", "21:00", 0.55, "peak"),
            TouPeriod.parse(["all"], "23:00", "06:00", 0.12, "night"),
        ),
        base_price_per_kwh=0.30,
    )
    winter = Season(
        "winter",
        (10, 1),
        (5, 31),
        (TouPeriod.parse(["weekdays"], "16:00", "21:00", 0.40, "peak"),),
        base_price_per_kwh=0.25,
    )
    return TimeOfUseTariff(LA_NAME, (summer, winter))


# --------------------------------------------------------------------------- time of use


def test_weekday_peak_applies_only_on_weekdays() -> None:
    t = summer_winter_tariff()
    assert price_at(t, la(2024, 7, 8, 17)) == 0.55  # Monday
    assert price_at(t, la(2024, 7, 12, 20, 59)) == 0.55  # Friday
    assert price_at(t, la(2024, 7, 12, 21, 0)) == 0.30  # peak end is exclusive
    assert price_at(t, la(2024, 7, 13, 17)) == 0.30  # Saturday


def test_season_is_chosen_by_local_date_and_wraps_new_year() -> None:
    t = summer_winter_tariff()
    assert price_at(t, la(2024, 9, 30, 17)) == 0.55  # Monday, last summer day
    assert price_at(t, la(2024, 10, 1, 17)) == 0.40  # Tuesday, first winter day
    assert price_at(t, la(2025, 1, 2, 12)) == 0.25  # winter wraps over New Year
    assert price_at(t, la(2024, 2, 29, 12)) == 0.25


def test_night_window_runs_across_midnight() -> None:
    t = summer_winter_tariff()
    assert price_at(t, la(2024, 7, 8, 23, 30)) == 0.12
    assert price_at(t, la(2024, 7, 9, 0, 0)) == 0.12
    assert price_at(t, la(2024, 7, 9, 5, 59)) == 0.12
    assert price_at(t, la(2024, 7, 9, 6, 0)) == 0.30


def test_cross_midnight_period_belongs_to_its_start_day() -> None:
    only_monday_night = TouPeriod.parse(["mon"], "22:00", "06:00", 0.05, "mon-night")
    t = TimeOfUseTariff(LA_NAME, (Season("year", (1, 1), (12, 31), (only_monday_night,), 0.20),))
    assert price_at(t, la(2024, 7, 9, 3)) == 0.05  # Tuesday 03:00, after Monday 22:00
    assert price_at(t, la(2024, 7, 8, 3)) == 0.20  # Monday 03:00 follows Sunday: base


def test_slot_straddling_a_price_change_gets_time_weighted_price() -> None:
    t = TimeOfUseTariff(
        LA_NAME,
        (Season("y", (1, 1), (12, 31), (TouPeriod.parse(["all"], "07:15", "24:00", 0.40),), 0.20),),
    )
    slots = slot_prices(t, la(2024, 7, 8, 7), la(2024, 7, 8, 8), 60)
    assert len(slots) == 1
    assert slots[0].price_per_kwh == pytest.approx(0.25 * 0.20 + 0.75 * 0.40)


def test_overlapping_periods_are_rejected_with_their_names() -> None:
    with pytest.raises(TariffError, match=r"'a' and 'b' overlap at tue 01:00"):
        Season(
            "s",
            (1, 1),
            (12, 31),
            (
                TouPeriod.parse(["mon"], "23:00", "02:00", 0.1, "a"),
                TouPeriod.parse(["tue"], "01:00", "03:00", 0.2, "b"),
            ),
            0.3,
        ).weekly_prices()


def test_uncovered_time_without_base_price_is_rejected() -> None:
    season = Season("s", (1, 1), (12, 31), (TouPeriod.parse(["weekdays"], "00:00", "24:00", 0.1),))
    with pytest.raises(TariffError, match=r"no period covers sat 00:00"):
        TimeOfUseTariff(LA_NAME, (season,))


def test_seasons_must_cover_the_year_exactly_once() -> None:
    base = (TouPeriod.parse(["all"], "00:00", "24:00", 0.1),)
    with pytest.raises(TariffError, match=r"no season covers 10-01"):
        TimeOfUseTariff(LA_NAME, (Season("s", (1, 1), (9, 30), base),))
    with pytest.raises(TariffError, match=r"overlap on 06-01"):
        TimeOfUseTariff(
            LA_NAME, (Season("a", (1, 1), (6, 1), base), Season("b", (6, 1), (12, 31), base))
        )


@pytest.mark.parametrize(
    ("days", "start", "end", "message"),
    [
        (["mon", "funday"], "01:00", "02:00", r"days\[1\]: unknown weekday 'funday'"),
        ([], "01:00", "02:00", r"non-empty list"),
        (["mon"], "25:00", "02:00", r"start: '25:00' is not a valid time"),
        (["mon"], "1:00", "02:00", r"start must look like 'HH:MM'"),
        (["mon"], "24:00", "02:00", r"start: '24:00' is not a valid time"),
        (["mon"], "02:00", "02:00", r"start and end are equal"),
    ],
)
def test_bad_periods_are_rejected(days: list[str], start: str, end: str, message: str) -> None:
    with pytest.raises(TariffError, match=message):
        TouPeriod.parse(days, start, end, 0.1)


def test_weekday_names_and_groups() -> None:
    assert TouPeriod.parse(["Monday", "sun"], "00:00", "01:00", 0.1).days == frozenset({0, 6})
    assert TouPeriod.parse(["weekend"], "00:00", "01:00", 0.1).days == frozenset({5, 6})
    with pytest.raises(TariffError, match="unknown weekday 7"):
        TouPeriod(frozenset({7}), 0, 60, 0.1)


def test_unknown_time_zone_is_rejected() -> None:
    season = Season("s", (1, 1), (12, 31), (), 0.1)
    with pytest.raises(TariffError, match="unknown time zone 'Mars/Olympus'"):
        TimeOfUseTariff("Mars/Olympus", (season,))


def test_negative_prices_are_allowed() -> None:
    t = TimeOfUseTariff(
        LA_NAME,
        (Season("s", (1, 1), (12, 31), (TouPeriod.parse(["all"], "11:00", "14:00", -0.05),), 0.2),),
    )
    assert price_at(t, la(2024, 4, 1, 12)) == -0.05


# --------------------------------------------------------------------------- slots and DST


@pytest.mark.parametrize(("minutes", "count"), [(15, 92), (30, 46), (60, 23)])
def test_spring_forward_day_has_23_hours_of_slots(minutes: int, count: int) -> None:
    grid = slot_grid(la(2024, 3, 10), la(2024, 3, 11), minutes, LA_NAME)
    assert len(grid) == count
    assert all(b - a == timedelta(minutes=minutes) for a, b in grid)
    assert all(b == c for (_, b), (c, _) in pairwise(grid))


@pytest.mark.parametrize(("minutes", "count"), [(15, 100), (30, 50), (60, 25)])
def test_fall_back_day_has_25_hours_of_slots(minutes: int, count: int) -> None:
    grid = slot_grid(la(2024, 11, 3), la(2024, 11, 4), minutes, LA_NAME)
    assert len(grid) == count
    assert all(b - a == timedelta(minutes=minutes) for a, b in grid)


def _hourly_tariff() -> TimeOfUseTariff:
    """Every local hour h costs h cents, so a slot's price names the wall-clock hour it ran in."""
    periods = tuple(
        TouPeriod.parse(["all"], f"{h:02d}:00", f"{h + 1:02d}:00" if h < 23 else "24:00", h / 100)
        for h in range(24)
    )
    return TimeOfUseTariff(LA_NAME, (Season("y", (1, 1), (12, 31), periods),))


def test_spring_forward_prices_skip_the_missing_hour() -> None:
    slots = slot_prices(_hourly_tariff(), la(2024, 3, 10), la(2024, 3, 11), 60)
    assert [round(s.price_per_kwh * 100) for s in slots] == [0, 1] + list(range(3, 24))


def test_fall_back_prices_repeat_the_doubled_hour() -> None:
    slots = slot_prices(_hourly_tariff(), la(2024, 11, 3), la(2024, 11, 4), 60)
    assert [round(s.price_per_kwh * 100) for s in slots] == [0, 1, 1] + list(range(2, 24))
    quarter = slot_prices(_hourly_tariff(), la(2024, 11, 3), la(2024, 11, 4), 15)
    assert sum(1 for s in quarter if round(s.price_per_kwh * 100) == 1) == 8


def test_slot_spanning_the_dst_jump_is_priced_per_local_hour() -> None:
    # 01:30 PST → 03:30 PDT is one real hour: half in local hour 1, half in local hour 3
    price = average_price(_hourly_tariff(), la(2024, 3, 10, 1, 30), la(2024, 3, 10, 3, 30))
    assert price == pytest.approx(0.02)


def test_first_and_last_slots_are_cut_at_the_instants() -> None:
    grid = slot_grid(la(2024, 7, 8, 7, 5), la(2024, 7, 8, 8, 10), 30, LA_NAME)
    assert [
        (a.astimezone(LA).strftime("%H:%M"), b.astimezone(LA).strftime("%H:%M")) for a, b in grid
    ] == [
        ("07:05", "07:30"),
        ("07:30", "08:00"),
        ("08:00", "08:10"),
    ]


def test_slots_align_to_the_local_clock_in_half_hour_zones() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    grid = slot_grid(
        datetime(2024, 7, 8, 7, 20, tzinfo=kolkata),
        datetime(2024, 7, 8, 10, 0, tzinfo=kolkata),
        60,
        "Asia/Kolkata",
    )
    assert [a.astimezone(kolkata).minute for a, _ in grid[1:]] == [0, 0]


@pytest.mark.parametrize("minutes", [0, 20, 45, 120, -15])
def test_bad_slot_size_is_rejected(minutes: int) -> None:
    with pytest.raises(TariffError, match=r"slot_minutes must be one of \(15, 30, 60\)"):
        slot_grid(la(2024, 1, 1), la(2024, 1, 2), minutes, LA_NAME)


def test_negative_duration_and_naive_instants_are_rejected() -> None:
    with pytest.raises(TariffError, match="negative duration"):
        slot_grid(la(2024, 1, 2), la(2024, 1, 1), 15, LA_NAME)
    with pytest.raises(TariffError, match="start must be timezone-aware"):
        slot_grid(datetime(2024, 1, 1), la(2024, 1, 2), 15, LA_NAME)
    assert slot_grid(la(2024, 1, 1), la(2024, 1, 1), 15, LA_NAME) == []


@settings(max_examples=200, deadline=None)
@given(
    start_s=st.integers(min_value=0, max_value=366 * 86400),
    length_s=st.integers(min_value=1, max_value=3 * 86400),
    minutes=st.sampled_from([15, 30, 60]),
)
def test_slot_grid_tiles_any_interval(start_s: int, length_s: int, minutes: int) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    grid = slot_grid(start, end, minutes, LA_NAME)
    assert grid[0][0] == start and grid[-1][1] == end
    assert all(b == c for (_, b), (c, _) in pairwise(grid))
    assert all(timedelta(0) < b - a <= timedelta(minutes=minutes) for a, b in grid)
    for a, b in grid[1:-1]:
        assert b - a == timedelta(minutes=minutes)
        assert a.astimezone(LA).minute % minutes == 0


# --------------------------------------------------------------------------- dynamic prices


def _hours(prices: list[float], start: datetime) -> tuple[PriceInterval, ...]:
    return tuple(
        PriceInterval(start + timedelta(hours=i), start + timedelta(hours=i + 1), p)
        for i, p in enumerate(prices)
    )


def test_dynamic_prices_average_over_slots_and_accept_negatives() -> None:
    start = datetime(2024, 7, 8, tzinfo=UTC)
    t = DynamicTariff(_hours([0.1, -0.2, 0.3], start), timezone="UTC")
    slots = slot_prices(
        t, start + timedelta(minutes=30), start + timedelta(hours=2, minutes=30), 60
    )
    assert [s.price_per_kwh for s in slots] == [0.1, -0.2, 0.3]
    assert average_price(t, start, start + timedelta(hours=2)) == pytest.approx(-0.05)


def test_dynamic_intervals_may_come_unsorted() -> None:
    start = datetime(2024, 7, 8, tzinfo=UTC)
    iv = _hours([0.1, 0.2, 0.3], start)
    t = DynamicTariff((iv[2], iv[0], iv[1]))
    assert t.horizon_start == start and t.horizon_end == start + timedelta(hours=3)


def test_overlapping_and_gapped_dynamic_intervals_are_rejected() -> None:
    start = datetime(2024, 7, 8, tzinfo=UTC)
    a = PriceInterval(start, start + timedelta(hours=1), 0.1)
    overlapping = PriceInterval(start + timedelta(minutes=30), start + timedelta(hours=2), 0.2)
    gapped = PriceInterval(start + timedelta(hours=2), start + timedelta(hours=3), 0.2)
    with pytest.raises(TariffError, match="price intervals overlap"):
        DynamicTariff((a, overlapping))
    with pytest.raises(TariffError, match=r"gap in price intervals: nothing from 2024-07-08T01:00"):
        DynamicTariff((a, gapped))
    with pytest.raises(TariffError, match=r"intervals\[0\]: end .* is not after start"):
        DynamicTariff((PriceInterval(start, start, 0.1),))
    with pytest.raises(TariffError, match=r"intervals\[0\].price_per_kwh must be finite"):
        DynamicTariff((PriceInterval(start, start + timedelta(hours=1), float("nan")),))
    with pytest.raises(TariffError, match=r"intervals\[0\].start must be timezone-aware"):
        DynamicTariff((PriceInterval(datetime(2024, 1, 1), start, 0.1),))


def test_asking_beyond_the_known_prices_is_a_price_gap() -> None:
    start = datetime(2024, 7, 8, tzinfo=UTC)
    t = DynamicTariff(_hours([0.1, 0.2], start))
    with pytest.raises(PriceGapError, match="prices are known from"):
        slot_prices(t, start, start + timedelta(hours=3), 15)


# --------------------------------------------------------------------------- files


def test_load_time_of_use_json(tmp_path: Path) -> None:
    doc = {
        "type": "time_of_use",
        "timezone": LA_NAME,
        "currency": "USD",
        "seasons": [
            {
                "name": "summer",
                "from": "06-01",
                "to": "09-30",
                "base_price_per_kwh": 0.30,
                "periods": [
                    {
                        "name": "peak",
                        "days": ["weekdays"],
                        "start": "16:00",
                        "end": "21:00",
                        "price_per_kwh": 0.55,
                    },
                    {
                        "name": "night",
                        "days": ["all"],
                        "start": "23:00",
                        "end": "06:00",
                        "price_per_kwh": 0.12,
                    },
                ],
            },
            {"name": "winter", "from": "10-01", "to": "05-31", "base_price_per_kwh": 0.25},
        ],
    }
    path = tmp_path / "tou.json"
    path.write_text(json.dumps(doc))
    t = load_tariff_file(path)
    assert isinstance(t, TimeOfUseTariff)
    assert price_at(t, la(2024, 7, 8, 17)) == 0.55
    assert price_at(t, la(2024, 7, 9, 2)) == 0.12
    assert price_at(t, la(2024, 12, 9, 17)) == 0.25


def test_load_dynamic_json_and_csv(tmp_path: Path) -> None:
    rows = [
        {
            "start": "2024-07-08T00:00:00+02:00",
            "end": "2024-07-08T01:00:00+02:00",
            "price_per_kwh": 0.21,
        },
        {
            "start": "2024-07-08T01:00:00+02:00",
            "end": "2024-07-08T02:00:00+02:00",
            "price_per_kwh": -0.01,
        },
    ]
    jpath = tmp_path / "prices.json"
    jpath.write_text(
        json.dumps({"type": "dynamic", "timezone": "Europe/Amsterdam", "prices": rows})
    )
    tj = load_tariff_file(jpath)
    assert isinstance(tj, DynamicTariff) and tj.timezone == "Europe/Amsterdam"
    cpath = tmp_path / "prices.csv"
    cpath.write_text(
        "# day-ahead prices\nstart,end,price_per_kwh\n"
        "2024-07-08T00:00,2024-07-08T01:00,0.21\n"
        "2024-07-08T01:00,2024-07-08T02:00,-0.01\n"
    )
    tc = load_tariff_file(cpath, timezone="Europe/Amsterdam", currency="EUR")
    assert isinstance(tc, DynamicTariff) and tc.currency == "EUR"
    assert tc.intervals == tj.intervals


def test_tariff_from_pushed_data() -> None:
    t = tariff_from_dict(
        {
            "type": "dynamic",
            "prices": [
                {
                    "start": "2024-07-08T00:00:00Z",
                    "end": "2024-07-08T00:15:00Z",
                    "price_per_kwh": 0.3,
                }
            ],
        }
    )
    assert price_at(t, datetime(2024, 7, 8, 0, 5, tzinfo=UTC)) == 0.3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.json", "{not json", r"a.json: invalid JSON at line 1"),
        ("b.json", json.dumps({"type": "flat"}), r"b.json: type: unknown tariff type 'flat'"),
        ("c.json", json.dumps({"type": "dynamic", "prices": []}), r"prices: the list is empty"),
        (
            "d.json",
            json.dumps(
                {
                    "type": "dynamic",
                    "prices": [{"start": "2024-07-08T00:00:00Z", "price_per_kwh": 1}],
                }
            ),
            r"prices\[0\]: missing field 'end'",
        ),
        (
            "e.json",
            json.dumps(
                {
                    "type": "dynamic",
                    "prices": [
                        {
                            "start": "2024-07-08T00:00:00Z",
                            "end": "2024-07-08T01:00:00Z",
                            "price_per_kwh": "cheap",
                        }
                    ],
                }
            ),
            r"prices\[0\].price_per_kwh must be a number, got 'cheap'",
        ),
        (
            "f.json",
            json.dumps(
                {
                    "type": "dynamic",
                    "prices": [
                        {
                            "start": "2024-07-08T00:00:00",
                            "end": "2024-07-08T01:00:00Z",
                            "price_per_kwh": 1,
                        }
                    ],
                }
            ),
            r"prices\[0\].start: .* has no UTC offset and no timezone is given",
        ),
        ("g.csv", "when,price\n1,2\n", r"g.csv: CSV header must contain"),
        (
            "h.csv",
            "start,end,price_per_kwh\n2024-07-08T00:00Z,2024-07-08T01:00Z,abc\n",
            r"CSV line 2: price_per_kwh 'abc' is not a number",
        ),
        (
            "i.csv",
            "start,end,price_per_kwh\n2024-07-08T00:00Z,2024-07-08T01:00Z,1\n"
            "2024-07-08T02:00Z,2024-07-08T03:00Z,1\n",
            r"gap in price intervals",
        ),
        ("j.txt", "whatever", r"unsupported price file type '.txt'"),
        (
            "k.json",
            json.dumps(
                {
                    "type": "time_of_use",
                    "timezone": LA_NAME,
                    "seasons": [
                        {
                            "from": "01-01",
                            "to": "12-31",
                            "periods": [
                                {
                                    "days": ["mon", "xyz"],
                                    "start": "00:00",
                                    "end": "24:00",
                                    "price_per_kwh": 1,
                                }
                            ],
                        }
                    ],
                }
            ),
            r"seasons\[0\].periods\[0\].days\[1\]: unknown weekday 'xyz'",
        ),
        (
            "l.json",
            json.dumps(
                {
                    "type": "time_of_use",
                    "timezone": LA_NAME,
                    "seasons": [{"from": "02-30", "to": "12-31", "base_price_per_kwh": 1}],
                }
            ),
            r"seasons\[0\].from: '02-30' is not a calendar day",
        ),
    ],
)
def test_bad_price_files_are_rejected_with_the_field(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TariffError, match=message):
        load_tariff_file(path)


def test_missing_price_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TariffError, match="cannot read price file"):
        load_tariff_file(tmp_path / "nope.json")


@settings(max_examples=60, deadline=None)
@given(
    start_min=st.sampled_from([0, 66 * 1440, 305 * 1440, 150 * 1440]).flatmap(
        lambda base: st.integers(min_value=base, max_value=base + 3 * 1440)
    ),
    length_min=st.integers(min_value=1, max_value=600),
)
def test_segment_walk_matches_minute_by_minute_lookup(start_min: int, length_min: int) -> None:
    # windows around the 2024 DST changes (day 66 = Mar 7, day 305 = Nov 1) and ordinary days
    tariff = summer_winter_tariff()
    start = datetime(2024, 1, 1, 8, tzinfo=UTC) + timedelta(minutes=start_min)
    end = start + timedelta(minutes=length_min)
    brute = [price_at(tariff, start + timedelta(minutes=k)) for k in range(length_min)]
    assert average_price(tariff, start, end) == pytest.approx(sum(brute) / length_min)
    pieces = list(tariff.price_segments(start, end))
    assert pieces[0][0] == start and pieces[-1][1] == end
    assert all(b == c for (_, b, _), (c, _, _) in pairwise(pieces))
