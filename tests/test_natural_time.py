"""The shared spoken-time parser: phrases, Alexa slots, am/pm rule, past times, DST days."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice.natural_time import (
    Clarification,
    ClarificationReason,
    MeridiemPolicy,
    ResolvedTime,
    TimeParseError,
    describe,
    parse_iso_duration,
    parse_spoken_time,
    resolve_alexa_slots,
)

LA = ZoneInfo("America/Los_Angeles")
# Thursday 26 November 2026, 10:15 in the home's zone.
NOW = datetime(2026, 11, 26, 10, 15, tzinfo=LA)


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA)


def resolve(text: str, now: datetime = NOW, **kwargs: object) -> ResolvedTime:
    result = parse_spoken_time(text, now, LA, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, ResolvedTime), f"{text!r} gave {result!r}"
    assert result.when.tzinfo is LA
    return result


def clarify(text: str, now: datetime = NOW) -> Clarification:
    result = parse_spoken_time(text, now, LA)
    assert isinstance(result, Clarification), f"{text!r} gave {result!r}"
    return result


def same_instant(a: datetime, b: datetime) -> bool:
    return a.astimezone(timezone.utc) == b.astimezone(timezone.utc)


# --------------------------------------------------------------------------- clock phrases


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eleven pm", at(11, 26, 23)),
        ("11 pm", at(11, 26, 23)),
        ("11pm", at(11, 26, 23)),
        ("11 p.m.", at(11, 26, 23)),
        ("11 P.M.", at(11, 26, 23)),
        ("eleven p m", at(11, 26, 23)),
        ("at 23:30", at(11, 26, 23, 30)),
        ("23:30", at(11, 26, 23, 30)),
        ("2330", at(11, 26, 23, 30)),
        ("twenty three thirty", at(11, 26, 23, 30)),
        ("twenty-three thirty", at(11, 26, 23, 30)),
        ("11:30 pm", at(11, 26, 23, 30)),
        ("eleven thirty pm", at(11, 26, 23, 30)),
        ("half past ten pm", at(11, 26, 22, 30)),
        ("half past ten at night", at(11, 26, 22, 30)),
        ("seven oh five pm", at(11, 26, 19, 5)),
        ("seven o five pm", at(11, 26, 19, 5)),
        ("7:05 pm", at(11, 26, 19, 5)),
        ("seven fifteen pm", at(11, 26, 19, 15)),
        ("seven forty-five pm", at(11, 26, 19, 45)),
        ("quarter past seven pm", at(11, 26, 19, 15)),
        ("a quarter to eight pm", at(11, 26, 19, 45)),
        ("quarter to eight pm", at(11, 26, 19, 45)),
        ("twenty past nine pm", at(11, 26, 21, 20)),
        ("twenty five past nine tonight", at(11, 26, 21, 25)),
        ("ten to seven am", at(11, 27, 6, 50)),
        ("ten minutes to seven am", at(11, 27, 6, 50)),
        ("ten of seven pm", at(11, 26, 18, 50)),
        ("ten to one pm", at(11, 26, 12, 50)),
        ("ten to midnight", at(11, 26, 23, 50)),
        ("ten past midnight", at(11, 27, 0, 10)),
        ("quarter to noon", at(11, 26, 11, 45)),
        ("nineteen hundred", at(11, 26, 19)),
        ("nineteen hundred hours", at(11, 26, 19)),
        ("oh seven hundred", at(11, 27, 7)),
        ("seven hundred hours", at(11, 27, 7)),
        ("07:00", at(11, 27, 7)),
        ("19:00", at(11, 26, 19)),
        ("0:30", at(11, 27, 0, 30)),
        ("seven o'clock pm", at(11, 26, 19)),
        ("7 oclock in the evening", at(11, 26, 19)),
        ("twelve pm", at(11, 26, 12)),
        ("twelve am", at(11, 27, 0)),
        ("12:30 am", at(11, 27, 0, 30)),
        ("noon", at(11, 26, 12)),
        ("12 noon", at(11, 26, 12)),
        ("midday", at(11, 26, 12)),
        ("midnight", at(11, 27, 0)),
        ("12 midnight", at(11, 27, 0)),
        ("midnight tonight", at(11, 27, 0)),
        ("by 10:16 am", at(11, 26, 10, 16)),
        ("until 9 pm", at(11, 26, 21)),
        ("before 9 pm", at(11, 26, 21)),
        ("around 9 pm", at(11, 26, 21)),
        ("Eleven PM.", at(11, 26, 23)),
    ],
)
def test_clock_phrases(text: str, expected: datetime) -> None:
    result = resolve(text)
    assert result.when == expected
    assert result.note is None


def test_past_clock_time_without_day_means_tomorrow() -> None:
    assert resolve("7 am").when == at(11, 27, 7)
    assert resolve("10:15 am").when == at(11, 27, 10, 15)  # exactly now counts as passed
    assert resolve("noon", now=at(11, 26, 13)).when == at(11, 27, 12)


# --------------------------------------------------------------------------- relative phrases


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("in two hours", timedelta(hours=2)),
        ("in 2 hours", timedelta(hours=2)),
        ("in 2h", timedelta(hours=2)),
        ("in 90 minutes", timedelta(minutes=90)),
        ("in ninety minutes", timedelta(minutes=90)),
        ("in 45 mins", timedelta(minutes=45)),
        ("in an hour", timedelta(hours=1)),
        ("in a minute", timedelta(minutes=1)),
        ("in half an hour", timedelta(minutes=30)),
        ("in a quarter of an hour", timedelta(minutes=15)),
        ("in an hour and a half", timedelta(minutes=90)),
        ("in two and a half hours", timedelta(minutes=150)),
        ("in 1.5 hours", timedelta(minutes=90)),
        ("in 2 hours and 30 minutes", timedelta(minutes=150)),
        ("in two hours thirty minutes", timedelta(minutes=150)),
        ("in one hour and fifteen minutes", timedelta(minutes=75)),
        ("90 minutes from now", timedelta(minutes=90)),
        ("two hours later", timedelta(hours=2)),
        ("in 2 days", timedelta(days=2)),
    ],
)
def test_relative_phrases(text: str, delta: timedelta) -> None:
    assert same_instant(resolve(text).when, NOW + delta)


def test_now() -> None:
    assert resolve("now").when == NOW
    assert resolve("right now").when == NOW


# --------------------------------------------------------------------------- days and periods


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seven am tomorrow", at(11, 27, 7)),
        ("7am tomorrow", at(11, 27, 7)),
        ("tomorrow at 7 am", at(11, 27, 7)),
        ("tomorrow morning", at(11, 27, 7)),
        ("tomorrow in the morning", at(11, 27, 7)),
        ("tomorrow afternoon", at(11, 27, 14)),
        ("tomorrow evening", at(11, 27, 18)),
        ("tomorrow night", at(11, 27, 22)),
        ("in the morning", at(11, 27, 7)),
        ("morning", at(11, 27, 7)),
        ("this afternoon", at(11, 26, 14)),
        ("this evening", at(11, 26, 18)),
        ("tonight", at(11, 26, 22)),
        ("seven in the morning", at(11, 27, 7)),
        ("seven in the evening", at(11, 26, 19)),
        ("three in the afternoon", at(11, 26, 15)),
        ("ten at night", at(11, 26, 22)),
        ("eleven thirty tonight", at(11, 26, 23, 30)),
        ("one tonight", at(11, 27, 1)),
        ("twelve tonight", at(11, 27, 0)),
        ("11 pm tonight", at(11, 26, 23)),
        ("tomorrow at midnight", at(11, 28, 0)),
        ("today at 7", at(11, 26, 19)),  # 7 am today has passed: only 7 pm is left
        ("today at 9 pm", at(11, 26, 21)),
        ("friday at 7 pm", at(11, 27, 19)),
        ("on monday at 8 am", at(11, 30, 8)),
        ("monday morning", at(11, 30, 7)),
        ("thursday at 9 pm", at(11, 26, 21)),  # today is Thursday and 9 pm is ahead
        ("thursday at 9 am", at(12, 3, 9)),  # today's 9 am has passed: next Thursday
        ("this thursday at 9 pm", at(11, 26, 21)),
        ("next thursday at 9 pm", at(12, 3, 21)),
        ("the day after tomorrow at 6 in the evening", at(11, 28, 18)),
        ("2026-11-27 08:00", at(11, 27, 8)),
        ("on 2026-11-27 at 8 pm", at(11, 27, 20)),
        ("2026-12-01 morning", at(12, 1, 7)),
    ],
)
def test_days_and_periods(text: str, expected: datetime) -> None:
    assert resolve(text).when == expected


def test_tonight_rule_after_ten_pm_asks() -> None:
    late = at(11, 26, 22, 30)
    result = clarify("tonight", now=late)
    assert result.reason is ClarificationReason.IN_PAST
    assert "10 PM today" in result.question
    assert resolve("one tonight", now=late).when == at(11, 27, 1)
    assert resolve("eleven tonight", now=late).when == at(11, 26, 23)


def test_tonight_just_after_midnight_means_the_coming_night() -> None:
    small_hours = at(11, 27, 0, 30)
    assert resolve("tonight", now=small_hours).when == at(11, 27, 22)


# --------------------------------------------------------------------------- am/pm ambiguity


def test_bare_hour_asks_am_or_pm() -> None:
    result = clarify("seven")
    assert result.reason is ClarificationReason.AMBIGUOUS_MERIDIEM
    assert result.candidates == (at(11, 26, 19), at(11, 27, 7))
    assert result.question == "Did you mean 7 PM today or 7 AM tomorrow?"


def test_ready_by_seven_tomorrow_asks() -> None:
    result = clarify("by seven tomorrow")
    assert result.reason is ClarificationReason.AMBIGUOUS_MERIDIEM
    assert result.candidates == (at(11, 27, 7), at(11, 27, 19))
    assert result.question == "Did you mean 7 AM or 7 PM tomorrow?"


@pytest.mark.parametrize(
    "text", ["at seven", "7", "7 o'clock", "half past ten", "seven thirty", "ten to seven", "730"]
)
def test_other_bare_times_ask(text: str) -> None:
    result = clarify(text)
    assert result.reason is ClarificationReason.AMBIGUOUS_MERIDIEM
    assert len(result.candidates) == 2
    assert all(c > NOW for c in result.candidates)
    assert all(c - NOW < timedelta(hours=24) for c in result.candidates)


def test_twelve_asks_noon_or_midnight() -> None:
    result = clarify("twelve")
    assert result.candidates == (at(11, 26, 12), at(11, 27, 0))
    assert result.question == "Did you mean noon today or midnight tonight?"


def test_nearest_policy_takes_the_sooner_reading() -> None:
    assert resolve("seven", meridiem_policy=MeridiemPolicy.NEAREST).when == at(11, 26, 19)
    assert resolve("by seven tomorrow", meridiem_policy=MeridiemPolicy.NEAREST).when == at(
        11, 27, 7
    )


def test_answering_the_question_resolves() -> None:
    assert isinstance(parse_spoken_time("seven", NOW, LA), Clarification)
    assert resolve("7 am tomorrow").when == at(11, 27, 7)
    assert resolve("7 pm").when == at(11, 26, 19)


# --------------------------------------------------------------------------- past and missing parts


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("yesterday at 5", "5 AM yesterday and 5 PM yesterday are already in the past"),
        ("yesterday at 5 pm", "5 PM yesterday is already in the past"),
        ("today at 9 am", "9 AM today is already in the past"),
        ("this morning", "7 AM today is already in the past"),
        ("2026-11-25 08:00", "8 AM yesterday is already in the past"),
        ("2026-01-02 at 8 am", "8 AM on Friday, January 2 is already in the past"),
    ],
)
def test_past_times_ask_again(text: str, fragment: str) -> None:
    result = clarify(text)
    assert result.reason is ClarificationReason.IN_PAST
    assert fragment in result.question
    assert all(c < NOW for c in result.candidates)


def test_day_without_time_asks_for_the_time() -> None:
    result = clarify("tomorrow")
    assert result.reason is ClarificationReason.NEEDS_TIME
    assert result.question == "What time tomorrow?"
    assert clarify("2026-12-01").question == "What time on Tuesday?"
    assert clarify("2026-12-10").question == "What time on Thursday, December 10?"
    assert clarify("on saturday").question == "What time on Saturday?"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("at", "couldn't find a time"),
        ("banana", "couldn't understand the time 'banana'"),
        ("tomorrow at banana", "banana"),
        ("13 pm", "13 pm is not a time"),
        ("0 am", "0 am is not a time"),
        ("25:00", "not a valid time"),
        ("7:75", "not a valid time"),
        ("seven five pm", "couldn't understand"),
        ("7 am pm", "both am and pm"),
        ("7 am tonight", "conflicts"),
        ("23:00 in the morning", "not in the morning"),
        ("midnight in the morning", "midnight"),
        ("tomorrow today at 7 pm", "more than one day"),
        ("tonight tomorrow", "two different days"),
        ("morning evening", "more than one part"),
        ("in two", "needs a unit"),
        ("in two bananas", "needs a unit"),
        ("in banana hours", "couldn't understand the duration"),
        ("in 2 hours tomorrow", "couldn't understand the duration"),
        ("2026-02-30 08:00", "not a real date"),
        ("2026-11-27 2026-11-28", "more than one date"),
        ("am", "no hour"),
        ("sixty past seven", "1 to 59"),
    ],
)
def test_parse_errors_are_clear(text: str, fragment: str) -> None:
    with pytest.raises(TimeParseError, match=fragment):
        parse_spoken_time(text, NOW, LA)


def test_bad_arguments() -> None:
    with pytest.raises(TimeParseError, match="must be text"):
        parse_spoken_time(7, NOW, LA)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_spoken_time("7 pm", datetime(2026, 11, 26, 10, 15), LA)
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_spoken_time("7 pm", NOW, "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="time zone"):
        parse_spoken_time("7 pm", NOW, "")


def test_zone_by_name_and_now_in_another_zone() -> None:
    now_utc = NOW.astimezone(timezone.utc)
    result = parse_spoken_time("11 pm", now_utc, "America/Los_Angeles")
    assert isinstance(result, ResolvedTime)
    assert result.when == at(11, 26, 23)
    assert str(result.when.tzinfo) == "America/Los_Angeles"


def test_other_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 11, 26, 10, 15, tzinfo=berlin)
    result = parse_spoken_time("in the evening", now, berlin)
    assert isinstance(result, ResolvedTime)
    assert result.when == datetime(2026, 11, 26, 18, 0, tzinfo=berlin)


# --------------------------------------------------------------------------- DST days (Los Angeles)

SPRING_EVE = at(3, 7, 20)  # clocks jump 02:00 -> 03:00 on Sunday 8 March 2026
FALL_EVE = at(10, 31, 20)  # clocks go 02:00 -> 01:00 on Sunday 1 November 2026


def test_spring_forward_gap_shifts_forward_with_a_note() -> None:
    result = resolve("2:30 am tomorrow", now=SPRING_EVE)
    assert result.when == at(3, 8, 3, 30)
    assert result.when.utcoffset() == timedelta(hours=-7)
    assert result.when.astimezone(timezone.utc) == datetime(2026, 3, 8, 10, 30, tzinfo=timezone.utc)
    assert result.note is not None
    assert "2:30 AM doesn't exist on Sunday, March 8" in result.note
    assert "using 3:30 AM" in result.note


def test_spring_forward_two_am_is_three_am() -> None:
    result = resolve("2 am tomorrow", now=SPRING_EVE)
    assert result.when == at(3, 8, 3)
    assert result.note is not None


def test_spring_forward_times_around_the_gap_are_untouched() -> None:
    before = resolve("1:59 am tomorrow", now=SPRING_EVE)
    assert before.when.utcoffset() == timedelta(hours=-8) and before.note is None
    after = resolve("3 am tomorrow", now=SPRING_EVE)
    assert after.when.utcoffset() == timedelta(hours=-7) and after.note is None


def test_spring_forward_question_uses_the_time_the_user_said() -> None:
    result = clarify("at 2:30", now=SPRING_EVE)
    assert result.question == "Did you mean 2:30 AM or 2:30 PM tomorrow?"
    assert result.candidates[0] == at(3, 8, 3, 30)


def test_spring_forward_relative_durations_are_real_hours() -> None:
    assert resolve("in 8 hours", now=SPRING_EVE).when == at(3, 8, 5)  # 8 h elapsed, not wall
    assert resolve("in 24 hours", now=SPRING_EVE).when == at(3, 8, 21)


def test_fall_back_ambiguous_time_takes_the_first_occurrence() -> None:
    result = resolve("1:30 am tomorrow", now=FALL_EVE)
    assert result.when.utcoffset() == timedelta(hours=-7)  # PDT, the first 1:30
    assert result.when.astimezone(timezone.utc) == datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc)
    assert result.note is not None and "happens twice" in result.note and "first" in result.note


def test_fall_back_second_occurrence_when_first_has_passed() -> None:
    # 01:10 PST, i.e. already in the repeated hour.
    now = datetime(2026, 11, 1, 9, 10, tzinfo=timezone.utc).astimezone(LA)
    assert now.fold == 1
    result = resolve("1:30 am", now=now)
    assert result.when.astimezone(timezone.utc) == datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    assert result.note is not None and "second" in result.note


def test_fall_back_relative_durations_are_real_hours() -> None:
    five = resolve("in 5 hours", now=FALL_EVE).when  # 01:00 PDT
    six = resolve("in 6 hours", now=FALL_EVE).when  # 01:00 PST
    assert (five.hour, six.hour) == (1, 1)
    assert six - five == timedelta(0) or six.astimezone(timezone.utc) - five.astimezone(
        timezone.utc
    ) == timedelta(hours=1)
    assert six.utcoffset() == timedelta(hours=-8)


def test_fall_back_times_after_the_fold_are_plain() -> None:
    result = resolve("2 am tomorrow", now=FALL_EVE)
    assert result.when.utcoffset() == timedelta(hours=-8) and result.note is None


def test_alexa_slots_on_dst_day() -> None:
    result = resolve_alexa_slots(SPRING_EVE, LA, time="02:30", date_value="2026-03-08")
    assert isinstance(result, ResolvedTime)
    assert result.when == at(3, 8, 3, 30) and result.note is not None


# --------------------------------------------------------------------------- Alexa slot values


@pytest.mark.parametrize(
    ("time", "date_value", "expected"),
    [
        ("23:00", None, at(11, 26, 23)),
        ("T23", None, at(11, 26, 23)),
        ("07:00", None, at(11, 27, 7)),
        ("7:30", None, at(11, 27, 7, 30)),
        ("00:00", None, at(11, 27, 0)),
        ("24:00", None, at(11, 27, 0)),
        ("MO", None, at(11, 27, 7)),
        ("AF", None, at(11, 26, 14)),
        ("EV", None, at(11, 26, 18)),
        ("NI", None, at(11, 26, 22)),
        ("ni", None, at(11, 26, 22)),
        ("08:00", "2026-11-27", at(11, 27, 8)),
        ("NI", "2026-11-27", at(11, 27, 22)),
        ("MO", "2026-11-28", at(11, 28, 7)),
        ("09:00", "XXXX-12-25", at(12, 25, 9)),
        ("09:00", "XXXX-11-26", at(11, 26, 9, year=2027)),  # today's 9 am passed: next year
        ("23:00", "PRESENT_REF", at(11, 26, 23)),
    ],
)
def test_alexa_time_and_date(time: str, date_value: str | None, expected: datetime) -> None:
    result = resolve_alexa_slots(NOW, LA, time=time, date_value=date_value)
    assert isinstance(result, ResolvedTime)
    assert result.when == expected


@pytest.mark.parametrize(
    ("duration", "delta"),
    [
        ("PT2H30M", timedelta(hours=2, minutes=30)),
        ("PT90M", timedelta(minutes=90)),
        ("PT2H", timedelta(hours=2)),
        ("PT45S", timedelta(seconds=45)),
        ("PT1.5H", timedelta(minutes=90)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P1W", timedelta(weeks=1)),
        ("pt10m", timedelta(minutes=10)),
    ],
)
def test_alexa_duration(duration: str, delta: timedelta) -> None:
    assert parse_iso_duration(duration) == delta
    result = resolve_alexa_slots(NOW, LA, duration=duration)
    assert isinstance(result, ResolvedTime)
    assert same_instant(result.when, NOW + delta)


def test_alexa_present_ref_alone_is_now() -> None:
    result = resolve_alexa_slots(NOW, LA, date_value="PRESENT_REF")
    assert isinstance(result, ResolvedTime) and result.when == NOW


def test_alexa_date_without_time_asks_for_time() -> None:
    result = resolve_alexa_slots(NOW, LA, date_value="2026-11-27")
    assert isinstance(result, Clarification)
    assert result.reason is ClarificationReason.NEEDS_TIME
    assert result.question == "What time tomorrow?"


@pytest.mark.parametrize("vague", ["2026-W48", "2026-W48-WE", "2026-11", "2026", "202X", "2026-WI"])
def test_alexa_vague_dates_ask_for_a_day(vague: str) -> None:
    result = resolve_alexa_slots(NOW, LA, time="08:00", date_value=vague)
    assert isinstance(result, Clarification)
    assert result.reason is ClarificationReason.NEEDS_DAY


def test_alexa_past_date_asks_again() -> None:
    result = resolve_alexa_slots(NOW, LA, time="08:00", date_value="2026-11-25")
    assert isinstance(result, Clarification)
    assert result.reason is ClarificationReason.IN_PAST


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "no time, date or duration"),
        ({"time": "  "}, "no time, date or duration"),
        ({"time": "25:00"}, "not a valid time"),
        ({"time": "7pm"}, "not HH:MM"),
        ({"time": "XX"}, "not HH:MM"),
        ({"date_value": "2026-02-30", "time": "08:00"}, "not a real date"),
        ({"date_value": "next tuesday", "time": "08:00"}, "not a date Alexa sends"),
        ({"duration": "P1M"}, "years or months"),
        ({"duration": "P1Y"}, "years or months"),
        ({"duration": "PT"}, "not an ISO-8601 duration"),
        ({"duration": "P"}, "not an ISO-8601 duration"),
        ({"duration": "2H"}, "not an ISO-8601 duration"),
        ({"duration": "PT2H", "time": "08:00"}, "not both"),
        ({"time": 8}, "must be text"),
    ],
)
def test_alexa_slot_errors(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(TimeParseError, match=fragment):
        resolve_alexa_slots(NOW, LA, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (at(11, 26, 19), "7 PM today"),
        (at(11, 27, 7, 30), "7:30 AM tomorrow"),
        (at(11, 27, 0), "midnight tonight"),
        (at(11, 26, 12), "noon today"),
        (at(11, 29, 9), "9 AM on Sunday"),
        (at(12, 25, 9), "9 AM on Friday, December 25"),
        (at(1, 4, 9, year=2027), "9 AM on Monday, January 4, 2027"),
    ],
)
def test_describe(when: datetime, text: str) -> None:
    assert describe(when, NOW) == text


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(LA)
    ),
    hour=st.integers(1, 12),
    minute=st.integers(0, 59),
    meridiem=st.sampled_from(["am", "pm"]),
)
def test_explicit_times_are_the_next_occurrence(
    now: datetime, hour: int, minute: int, meridiem: str
) -> None:
    result = parse_spoken_time(f"{hour}:{minute:02d} {meridiem}", now, LA)
    assert isinstance(result, ResolvedTime)
    when = result.when
    delta = when.astimezone(timezone.utc) - now.astimezone(timezone.utc)
    assert timedelta(0) < delta <= timedelta(hours=25)  # 25: a fall-back day is 25 h long
    expected_hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if result.note is None:
        assert (when.hour, when.minute) == (expected_hour, minute)
    else:
        assert "clocks" in result.note


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(LA)
    ),
    hour=st.integers(1, 12),
)
def test_bare_hours_always_ask_with_two_future_candidates(now: datetime, hour: int) -> None:
    result = parse_spoken_time(f"at {hour}", now, LA)
    assert isinstance(result, Clarification)
    assert result.reason is ClarificationReason.AMBIGUOUS_MERIDIEM
    first, second = result.candidates
    assert now < first < second
    assert abs((second - first).total_seconds() - 12 * 3600) <= 3600


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_gives_a_result_or_a_parse_error(text: str) -> None:
    try:
        result = parse_spoken_time(text, NOW, LA)
    except TimeParseError as exc:
        assert str(exc)
    else:
        assert isinstance(result, ResolvedTime | Clarification)
