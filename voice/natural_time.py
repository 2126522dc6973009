"""The one place spoken times become instants, shared by every voice assistant.

Alexa, Google Assistant and Siri Shortcuts all hand us a phrase ("half past ten", "in 90
minutes", "seven am tomorrow") or Alexa's normalised slot values ("23:00", "NI",
"2026-11-27", "PT2H30M").  Turning those into a moment in the home's time zone has rules
(am/pm guesses, "tonight" after 10 pm, clocks that jump) that must be the same whichever
assistant heard the user, so they live here and nowhere else.  The rules are written down
in docs/voice-times.md.

Every entry point is pure: the caller passes ``now`` (from the injected clock) and the home's
time zone, and gets back a :class:`ResolvedTime`, a :class:`Clarification` to ask the user,
or a :class:`TimeParseError` whose message can be read out.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Clarification",
    "ClarificationReason",
    "MeridiemPolicy",
    "Period",
    "PERIOD_DEFAULT_HOUR",
    "Resolution",
    "ResolvedTime",
    "TimeParseError",
    "describe",
    "parse_iso_duration",
    "parse_spoken_time",
    "resolve_alexa_slots",
]


class TimeParseError(ValueError):
    """The phrase or slot value is not a time we understand; the message says which part."""


class MeridiemPolicy(enum.Enum):
    """What to do with a bare hour ("at seven") when both am and pm are still ahead."""

    ASK = "ask"  # return a Clarification (default: a wrong guess leaves a car uncharged)
    NEAREST = "nearest"  # take the sooner one (for assistants that cannot ask back)


class ClarificationReason(enum.Enum):
    AMBIGUOUS_MERIDIEM = "ambiguous_meridiem"
    IN_PAST = "in_past"
    NEEDS_TIME = "needs_time"
    NEEDS_DAY = "needs_day"


class Period(enum.Enum):
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"
    NIGHT = "night"


#: The clock time a bare period means ("tomorrow morning" -> 07:00, "tonight" -> 22:00).
PERIOD_DEFAULT_HOUR: dict[Period, int] = {
    Period.MORNING: 7,
    Period.AFTERNOON: 14,
    Period.EVENING: 18,
    Period.NIGHT: 22,
}


@dataclass(frozen=True)
class ResolvedTime:
    """An unambiguous instant, aware, in the home's zone.

    ``note`` is set when a daylight-saving rule changed or chose the wall time, so the
    assistant can say so ("2:30 AM doesn't exist that night; using 3:30 AM").
    """

    when: datetime
    note: str | None = None


@dataclass(frozen=True)
class Clarification:
    """A question to ask back instead of guessing; ``candidates`` are the readings we saw."""

    reason: ClarificationReason
    question: str
    candidates: tuple[datetime, ...] = ()


Resolution = ResolvedTime | Clarification

_UTC = timezone.utc


# --------------------------------------------------------------------------- public API


def parse_spoken_time(
    text: str,
    now: datetime,
    zone: str | ZoneInfo,
    *,
    meridiem_policy: MeridiemPolicy = MeridiemPolicy.ASK,
) -> Resolution:
    """Resolve a spoken/typed time phrase against ``now`` in the home's ``zone``."""
    tz = _zone(zone)
    now_local = _now_local(now, tz)
    if not isinstance(text, str):
        raise TimeParseError(f"time phrase must be text, got {type(text).__name__}")
    tokens, iso_date = _tokenize(text)
    if not tokens and iso_date is None:
        raise TimeParseError("the time phrase is empty")

    while tokens and tokens[0] in _LEADING_FILLERS:
        tokens = tokens[1:]
    if tokens in (["now"], ["right", "now"]):
        return ResolvedTime(now_local)

    delta = _relative_duration(tokens)
    if delta is not None:
        if iso_date is not None:
            raise TimeParseError("give either a date or a duration ('in 2 hours'), not both")
        return ResolvedTime((now_local.astimezone(_UTC) + delta).astimezone(tz))

    tokens = [t for t in tokens if t not in _ANYWHERE_FILLERS]
    day, tokens = _extract_day(tokens, now_local.date(), iso_date)
    period, tokens, period_sets_today = _extract_period(tokens)
    if period_sets_today:
        if day is not None and day.bases != (now_local.date(),):
            raise TimeParseError(f"'{text}' names two different days")
        day = _DaySpec((now_local.date(),), rolls=False)
    meridiem, tokens = _extract_meridiem(tokens)
    while tokens and tokens[0] in _CLOCK_PREFIXES:
        tokens = tokens[1:]
    clock = _parse_clock(tokens, text)

    if clock is None:
        if meridiem is not None:
            raise TimeParseError(f"'{text}' has am/pm but no hour")
        if period is None:
            if day is None:
                raise TimeParseError(f"I couldn't find a time in '{text}'")
            return Clarification(
                ClarificationReason.NEEDS_TIME,
                f"What time {_day_phrase(day.bases[0], now_local.date())}?",
            )
        clock = _Clock(PERIOD_DEFAULT_HOUR[period], 0, twelve_hour=False)

    readings = _readings(clock, meridiem, period, text)
    return _choose(readings, day, now_local, tz, meridiem_policy)


def resolve_alexa_slots(
    now: datetime,
    zone: str | ZoneInfo,
    *,
    time: str | None = None,
    date_value: str | None = None,
    duration: str | None = None,
) -> Resolution:
    """Resolve Alexa's AMAZON.TIME / AMAZON.DATE / AMAZON.DURATION slot values.

    Alexa has already chosen am/pm for a bare hour, so a TIME slot is taken as 24-hour.
    """
    tz = _zone(zone)
    now_local = _now_local(now, tz)
    time = _blank_to_none(time)
    date_value = _blank_to_none(date_value)
    duration = _blank_to_none(duration)

    if duration is not None:
        if time is not None or date_value is not None:
            raise TimeParseError("give either a duration or a time/date, not both")
        delta = parse_iso_duration(duration)
        return ResolvedTime((now_local.astimezone(_UTC) + delta).astimezone(tz))
    if time is None and date_value is None:
        raise TimeParseError("no time, date or duration slot was filled")

    day: _DaySpec | None = None
    if date_value is not None:
        if date_value == "PRESENT_REF":
            if time is None:
                return ResolvedTime(now_local)
            day = _DaySpec((now_local.date(),), rolls=False)
        else:
            parsed = _alexa_date(date_value, now_local.date())
            if isinstance(parsed, Clarification):
                return parsed
            day = parsed

    if time is None:
        assert day is not None
        return Clarification(
            ClarificationReason.NEEDS_TIME,
            f"What time {_day_phrase(day.bases[0], now_local.date())}?",
        )
    clock, period = _alexa_time(time)
    readings = _readings(clock, None, period, time)
    return _choose(readings, day, now_local, tz, MeridiemPolicy.ASK)


def parse_iso_duration(value: str) -> timedelta:
    """ISO-8601 duration as Alexa sends it ("PT2H30M", "PT90M", "P1DT2H", "P1W")."""
    if not isinstance(value, str):
        raise TimeParseError(f"duration must be text, got {type(value).__name__}")
    text = value.strip().upper()
    match = _ISO_DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()) or text.endswith("T"):
        raise TimeParseError(f"duration '{value}' is not an ISO-8601 duration like 'PT2H30M'")
    if match.group("years") or match.group("months"):
        raise TimeParseError(f"duration '{value}' uses years or months, which have no fixed length")
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return timedelta(
        weeks=parts.get("weeks", 0.0),
        days=parts.get("days", 0.0),
        hours=parts.get("hours", 0.0),
        minutes=parts.get("minutes", 0.0),
        seconds=parts.get("seconds", 0.0),
    )


def describe(when: datetime, now: datetime) -> str:
    """Speakable form of ``when`` relative to ``now`` ("7 AM tomorrow", "midnight tonight")."""
    if when.tzinfo is None or now.tzinfo is None:
        raise ValueError("describe() needs timezone-aware datetimes")
    today = now.astimezone(when.tzinfo).date()
    return _wall_phrase(when.date(), when.hour, when.minute, today)


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    twelve_hour: bool  # a 1..12 reading that still needs am/pm
    midnight: bool = False  # the word "midnight": 00:mm at the *end* of its day


@dataclass(frozen=True)
class _DaySpec:
    """Candidate calendar days in order of preference.

    ``rolls`` says each am/pm reading may move to a later base on its own (no day was
    spoken: each reading takes its next occurrence).  Otherwise the first base with any
    reading still ahead wins (a weekday rolls over to next week as a whole).
    """

    bases: tuple[date, ...]
    rolls: bool


@dataclass(frozen=True)
class _Reading:
    hour: int
    minute: int
    extra_days: int  # 1 when the wall time belongs to the night after the base day


_LEADING_FILLERS = frozenset({"at", "by", "on", "for", "until", "till", "til", "before"})
_ANYWHERE_FILLERS = frozenset({"at", "on", "the", "around", "about", "by"})
_CLOCK_PREFIXES = frozenset({"at", "by", "before", "until", "till", "til"})

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_NUMBER_WORDS = {
    "zero": 0,
    **_UNITS,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_NUMBER_WORDS.update(_TENS)
_WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_PERIOD_WORDS = {
    "morning": Period.MORNING,
    "afternoon": Period.AFTERNOON,
    "evening": Period.EVENING,
    "night": Period.NIGHT,
    "tonight": Period.NIGHT,
    "tonite": Period.NIGHT,
}
_DURATION_UNITS = {
    "hour": 3600,
    "hours": 3600,
    "hr": 3600,
    "hrs": 3600,
    "h": 3600,
    "minute": 60,
    "minutes": 60,
    "min": 60,
    "mins": 60,
    "second": 1,
    "seconds": 1,
    "sec": 1,
    "secs": 1,
    "day": 86400,
    "days": 86400,
}
_ISO_DURATION = re.compile(
    r"P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_ALEXA_PERIODS = {
    "MO": Period.MORNING,
    "AF": Period.AFTERNOON,
    "EV": Period.EVENING,
    "NI": Period.NIGHT,
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    if not isinstance(zone, str) or not zone:
        raise ValueError(f"time zone must be an IANA zone name, got {zone!r}")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r}") from exc


def _now_local(now: datetime, tz: ZoneInfo) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (from the injected clock)")
    return now.astimezone(tz)


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TimeParseError(f"slot value must be text, got {type(value).__name__}")
    value = value.strip()
    return value or None


def _tokenize(text: str) -> tuple[list[str], date | None]:
    s = text.lower().replace("\u2019", "'")
    iso_dates = re.findall(r"\b(\d{4})-(\d{2})-(\d{2})\b", s)
    if len(iso_dates) > 1:
        raise TimeParseError(f"'{text}' has more than one date")
    iso: date | None = None
    if iso_dates:
        y, mo, d = (int(x) for x in iso_dates[0])
        try:
            iso = date(y, mo, d)
        except ValueError as exc:
            raise TimeParseError(f"'{'-'.join(iso_dates[0])}' is not a real date") from exc
        s = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", " ", s)
    s = re.sub(r"\bo'?\s?clock\b", " oclock ", s)
    s = re.sub(r"(\d)\s*([ap])\.?\s?m\b\.?", r"\1 \2m ", s)
    s = re.sub(r"\b([ap])\.\s?m\b\.?", r" \1m ", s)
    s = re.sub(r"\b([ap]) m\b", r" \1m ", s)
    s = re.sub(r"(\d)([a-z])", r"\1 \2", s)
    s = re.sub(r"([a-z])(\d)", r"\1 \2", s)
    s = re.sub(r"[^a-z0-9:. ]", " ", s)
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", s)
    raw = [t.strip(":") for t in s.split()]
    raw = [t for t in raw if t]

    out: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if t in _TENS and nxt in _UNITS:
            out.append(str(_TENS[t] + _UNITS[nxt]))
            i += 2
        elif (
            t in ("oh", "o", "zero")
            and nxt is not None
            and (nxt in _UNITS or re.fullmatch(r"\d", nxt))
        ):
            digit = _UNITS[nxt] if nxt in _UNITS else int(nxt)
            out.append(f"0{digit}")
            i += 2
        elif t in _NUMBER_WORDS:
            out.append(str(_NUMBER_WORDS[t]))
            i += 1
        else:
            out.append(t)
            i += 1
    return out, iso


def _quantity(token: str) -> float | None:
    if token in ("a", "an", "one"):
        return 1.0
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    return None


def _relative_duration(tokens: list[str]) -> timedelta | None:
    """``in <duration>`` / ``<duration> from now`` / ``<duration> later``; None if not relative."""
    if len(tokens) >= 2 and tokens[0] == "in" and tokens[1] not in ("the", *_PERIOD_WORDS):
        body = tokens[1:]
    elif len(tokens) >= 3 and tokens[-2:] == ["from", "now"]:
        body = tokens[:-2]
    elif len(tokens) >= 2 and tokens[-1] == "later":
        body = tokens[:-1]
    else:
        return None
    phrase = " ".join(body)
    seconds = 0.0
    i = 0
    seen_unit = False
    last_unit = 0
    while i < len(body):
        t = body[i]
        if t == "and" and seen_unit:
            if body[i + 1 : i + 3] == ["a", "half"]:
                # "an hour and a half": half of the last unit named
                seconds += 0.5 * last_unit
                i += 3
                continue
            i += 1
            continue
        if t == "half" and i + 2 < len(body) and body[i + 1] in ("a", "an"):
            unit = _DURATION_UNITS.get(body[i + 2])
            if unit is None:
                raise TimeParseError(f"I couldn't understand the duration '{phrase}'")
            seconds += 0.5 * unit
            last_unit = unit
            seen_unit = True
            i += 3
            continue
        if t == "quarter" or (t == "a" and i + 1 < len(body) and body[i + 1] == "quarter"):
            j = i + (2 if t == "a" else 1)
            rest = body[j:]
            if rest[:1] == ["of"]:
                rest = rest[1:]
                j += 1
            if rest[:1] in (["a"], ["an"]):
                j += 1
                rest = rest[1:]
            if rest[:1] not in (["hour"], ["hours"]):
                raise TimeParseError(f"I couldn't understand the duration '{phrase}'")
            seconds += 900
            last_unit = 3600
            seen_unit = True
            i = j + 1
            continue
        qty = _quantity(t)
        if qty is None:
            raise TimeParseError(f"I couldn't understand the duration '{phrase}' (at '{t}')")
        i += 1
        if body[i : i + 3] == ["and", "a", "half"]:
            qty += 0.5
            i += 3
        if i >= len(body) or body[i] not in _DURATION_UNITS:
            raise TimeParseError(f"the duration '{phrase}' needs a unit such as hours or minutes")
        last_unit = _DURATION_UNITS[body[i]]
        seconds += qty * last_unit
        seen_unit = True
        i += 1
    if not seen_unit:
        raise TimeParseError(f"I couldn't understand the duration '{phrase}'")
    return timedelta(seconds=seconds)


def _extract_day(
    tokens: list[str], today: date, iso: date | None
) -> tuple[_DaySpec | None, list[str]]:
    found: list[_DaySpec] = []
    if iso is not None:
        found.append(_DaySpec((iso,), rolls=False))
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if tokens[i : i + 3] == ["day", "after", "tomorrow"]:
            found.append(_DaySpec((today + timedelta(days=2),), rolls=False))
            i += 3
        elif t == "tomorrow":
            found.append(_DaySpec((today + timedelta(days=1),), rolls=False))
            i += 1
        elif t == "today":
            found.append(_DaySpec((today,), rolls=False))
            i += 1
        elif t == "yesterday":
            found.append(_DaySpec((today - timedelta(days=1),), rolls=False))
            i += 1
        elif t in ("next", "this") and i + 1 < len(tokens) and tokens[i + 1] in _WEEKDAYS:
            found.append(_weekday_spec(_WEEKDAYS[tokens[i + 1]], today, skip_today=t == "next"))
            i += 2
        elif t in _WEEKDAYS:
            found.append(_weekday_spec(_WEEKDAYS[t], today, skip_today=False))
            i += 1
        else:
            rest.append(t)
            i += 1
    if len(found) > 1:
        raise TimeParseError("the phrase names more than one day")
    return (found[0] if found else None), rest


def _weekday_spec(weekday: int, today: date, *, skip_today: bool) -> _DaySpec:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and skip_today:
        ahead = 7
    first = today + timedelta(days=ahead)
    return _DaySpec((first, first + timedelta(days=7)), rolls=False)


def _extract_period(tokens: list[str]) -> tuple[Period | None, list[str], bool]:
    """Pull out "in the morning", "this evening", "tonight"...; True if it also means today."""
    periods: list[Period] = []
    sets_today = False
    rest: list[str] = []
    for t in tokens:
        if t in _PERIOD_WORDS:
            periods.append(_PERIOD_WORDS[t])
            if t in ("tonight", "tonite"):
                sets_today = True
            if rest and rest[-1] in ("in", "this", "at"):
                if rest.pop() == "this":
                    sets_today = True
        else:
            rest.append(t)
    if len(set(periods)) > 1:
        raise TimeParseError("the phrase names more than one part of the day")
    return (periods[0] if periods else None), rest, sets_today


def _extract_meridiem(tokens: list[str]) -> tuple[str | None, list[str]]:
    marks = [t for t in tokens if t in ("am", "pm")]
    if len(set(marks)) > 1:
        raise TimeParseError("the phrase says both am and pm")
    return (marks[0] if marks else None), [t for t in tokens if t not in ("am", "pm")]


def _hm(hour_text: str, minute_text: str, phrase: str) -> _Clock:
    hour, minute = int(hour_text), int(minute_text)
    if hour == 24 and minute == 0:
        return _Clock(0, 0, twelve_hour=False, midnight=True)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise TimeParseError(f"'{phrase}' is not a valid time of day")
    explicit = hour == 0 or hour >= 13 or (len(hour_text) == 2 and hour_text.startswith("0"))
    return _Clock(hour, minute, twelve_hour=not explicit)


_TARGET = r"(\d{1,2}|noon|midnight|midday)"


def _target_clock(target: str, phrase: str) -> _Clock:
    if target in ("noon", "midday"):
        return _Clock(12, 0, twelve_hour=False)
    if target == "midnight":
        return _Clock(0, 0, twelve_hour=False, midnight=True)
    return _hm(target, "0", phrase)


def _offset_clock(minutes: int, target: str, forward: bool, phrase: str) -> _Clock:
    if not 1 <= minutes <= 59:
        raise TimeParseError(f"'{phrase}': minutes past/to an hour must be 1 to 59")
    base = _target_clock(target, phrase)
    if forward:
        return _Clock(base.hour, minutes, base.twelve_hour, base.midnight)
    if base.twelve_hour:
        total = (base.hour * 60 - minutes) % 720
        return _Clock(total // 60 or 12, total % 60, twelve_hour=True)
    total = (base.hour * 60 - minutes) % 1440
    return _Clock(total // 60, total % 60, twelve_hour=False)


def _parse_clock(tokens: list[str], phrase: str) -> _Clock | None:
    tokens = [t for t in tokens if t != "oclock"]
    if not tokens:
        return None
    s = " ".join(tokens)
    if s in ("noon", "midday", "12 noon", "12 midday"):
        return _Clock(12, 0, twelve_hour=False)
    if s in ("midnight", "12 midnight"):
        return _Clock(0, 0, twelve_hour=False, midnight=True)
    if m := re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", s):
        return _hm(m.group(1), m.group(2), phrase)
    if m := re.fullmatch(r"(\d{1,2}) (\d{2})", s):
        return _hm(m.group(1), m.group(2), phrase)
    if m := re.fullmatch(r"(\d{1,2}) hundred(?: hours)?", s):
        clock = _hm(m.group(1), "0", phrase)
        return _Clock(clock.hour, 0, twelve_hour=False, midnight=clock.midnight)
    if m := re.fullmatch(r"(\d{1,2}):?(\d{2}) hours", s):
        clock = _hm(m.group(1), m.group(2), phrase)
        return _Clock(clock.hour, clock.minute, twelve_hour=False, midnight=clock.midnight)
    if m := re.fullmatch(r"(\d{1,2})(\d{2})", s):
        return _hm(m.group(1), m.group(2), phrase)
    if m := re.fullmatch(r"\d{1,2}", s):
        return _hm(s, "0", phrase)
    if m := re.fullmatch(rf"half (?:past|after) {_TARGET}", s):
        return _offset_clock(30, m.group(1), True, phrase)
    if m := re.fullmatch(rf"(?:a )?quarter (past|after|to|till|til|before|of) {_TARGET}", s):
        return _offset_clock(15, m.group(2), m.group(1) in ("past", "after"), phrase)
    if m := re.fullmatch(
        rf"(\d{{1,2}})(?: minutes?)? (past|after|to|till|til|before|of) {_TARGET}", s
    ):
        return _offset_clock(int(m.group(1)), m.group(3), m.group(2) in ("past", "after"), phrase)
    where = "" if s == phrase.strip().lower() else f" (the part '{s}')"
    raise TimeParseError(f"I couldn't understand the time '{phrase.strip()}'{where}")


def _period_hour(period: Period, hour12: int) -> tuple[int, int]:
    """24-hour value and day offset of a 1..12 hour said with a part of the day."""
    if period is Period.MORNING:
        return hour12 % 12, 0
    if period is Period.AFTERNOON:
        return (12 if hour12 == 12 else hour12 + 12), 0
    if period is Period.EVENING:
        return (0, 1) if hour12 == 12 else (hour12 + 12, 0)
    if hour12 == 12:
        return 0, 1
    if hour12 <= 4:
        return hour12, 1
    return hour12 + 12, 0


def _readings(
    clock: _Clock, meridiem: str | None, period: Period | None, phrase: str
) -> list[_Reading]:
    if clock.midnight:
        if meridiem is not None:
            raise TimeParseError(f"'{phrase}': midnight can't be {meridiem}")
        if period in (Period.MORNING, Period.AFTERNOON):
            raise TimeParseError(f"'{phrase}': midnight isn't in the {period.value}")
        return [_Reading(clock.hour, clock.minute, 1)]
    if meridiem is not None:
        if not 1 <= clock.hour <= 12:
            raise TimeParseError(f"'{phrase}': {clock.hour} {meridiem} is not a time")
        hour = clock.hour % 12 + (12 if meridiem == "pm" else 0)
        extra = 0
        if period is not None:
            expected, extra = _period_hour(period, clock.hour)
            if expected != hour:
                raise TimeParseError(f"'{phrase}': {meridiem} conflicts with '{period.value}'")
        return [_Reading(hour, clock.minute, extra)]
    if not clock.twelve_hour:
        if period is None:
            return [_Reading(clock.hour, clock.minute, 0)]
        expected, extra = _period_hour(period, clock.hour % 12 or 12)
        if expected != clock.hour:
            raise TimeParseError(
                f"'{phrase}': {clock.hour:02d}:{clock.minute:02d} is not in the {period.value}"
            )
        return [_Reading(clock.hour, clock.minute, extra)]
    if period is not None:
        hour, extra = _period_hour(period, clock.hour)
        return [_Reading(hour, clock.minute, extra)]
    base = clock.hour % 12
    return [_Reading(base, clock.minute, 0), _Reading(base + 12, clock.minute, 0)]


def _localize(
    day: date, hour: int, minute: int, tz: ZoneInfo, now_utc: datetime
) -> tuple[datetime, str | None]:
    """Wall time on ``day`` as a UTC instant.

    A time the clocks skip (spring forward) moves forward by the gap; a time that happens
    twice (fall back) is the first occurrence, or the second if the first is already past.
    """
    naive = datetime(day.year, day.month, day.day, hour, minute)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    instant = first.astimezone(_UTC)
    if first.utcoffset() == second.utcoffset():
        return instant, None
    said = _clock_label(hour, minute)
    on_day = f"{_DAY_NAMES[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}"
    back = instant.astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        return instant, (
            f"{said} doesn't exist on {on_day} because the clocks spring forward; "
            f"using {_clock_label(back.hour, back.minute)}."
        )
    later = second.astimezone(_UTC)
    if instant <= now_utc < later:
        return later, (
            f"{said} happens twice on {on_day} because the clocks fall back; "
            f"the first one has passed, so using the second ({later.astimezone(tz).tzname()})."
        )
    return instant, (
        f"{said} happens twice on {on_day} because the clocks fall back; "
        f"using the first one ({back.tzname()})."
    )


def _default_bases(today: date) -> _DaySpec:
    return _DaySpec(tuple(today + timedelta(days=k) for k in (-1, 0, 1, 2)), rolls=True)


@dataclass(frozen=True)
class _Candidate:
    instant: datetime  # UTC
    note: str | None
    day: date  # the wall-clock day and time the user said, for questions
    hour: int
    minute: int


def _candidate(base: date, reading: _Reading, tz: ZoneInfo, now_utc: datetime) -> _Candidate:
    day = base + timedelta(days=reading.extra_days)
    instant, note = _localize(day, reading.hour, reading.minute, tz, now_utc)
    return _Candidate(instant, note, day, reading.hour, reading.minute)


def _choose(
    readings: list[_Reading],
    day: _DaySpec | None,
    now_local: datetime,
    tz: ZoneInfo,
    policy: MeridiemPolicy,
) -> Resolution:
    now_utc = now_local.astimezone(_UTC)
    today = now_local.date()
    spec = day if day is not None else _default_bases(today)
    picked: list[_Candidate] = []
    if spec.rolls:
        for r in readings:
            for base in spec.bases:
                cand = _candidate(base, r, tz, now_utc)
                if cand.instant > now_utc:
                    picked.append(cand)
                    break
    else:
        for base in spec.bases:
            cands = [_candidate(base, r, tz, now_utc) for r in readings]
            picked = [c for c in cands if c.instant > now_utc]
            if picked:
                break
    if not picked:
        past = [_candidate(spec.bases[0], r, tz, now_utc) for r in readings]
        said = " and ".join(_wall_phrase(c.day, c.hour, c.minute, today) for c in past)
        verb = "are" if len(past) > 1 else "is"
        return Clarification(
            ClarificationReason.IN_PAST,
            f"{_capitalize(said)} {verb} already in the past. What time do you want?",
            tuple(c.instant.astimezone(tz) for c in past),
        )
    picked.sort(key=lambda c: c.instant)
    if len(picked) == 1 or policy is MeridiemPolicy.NEAREST:
        return ResolvedTime(picked[0].instant.astimezone(tz), picked[0].note)
    first, second = picked[0], picked[1]
    if first.day == second.day:
        question = (
            f"Did you mean {_clock_label(first.hour, first.minute)} or "
            f"{_clock_label(second.hour, second.minute)} {_day_phrase(first.day, today)}?"
        )
    else:
        question = (
            f"Did you mean {_wall_phrase(first.day, first.hour, first.minute, today)} or "
            f"{_wall_phrase(second.day, second.hour, second.minute, today)}?"
        )
    return Clarification(
        ClarificationReason.AMBIGUOUS_MERIDIEM,
        question,
        tuple(c.instant.astimezone(tz) for c in picked),
    )


def _wall_phrase(day: date, hour: int, minute: int, today: date) -> str:
    if (hour, minute) == (0, 0) and day == today + timedelta(days=1):
        return "midnight tonight"
    return f"{_clock_label(hour, minute)} {_day_phrase(day, today)}"


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clock_label(hour: int, minute: int) -> str:
    if (hour, minute) == (12, 0):
        return "noon"
    suffix = "AM" if hour < 12 else "PM"
    h12 = hour % 12 or 12
    return f"{h12} {suffix}" if minute == 0 else f"{h12}:{minute:02d} {suffix}"


def _day_phrase(day: date, today: date) -> str:
    offset = (day - today).days
    if offset == 0:
        return "today"
    if offset == 1:
        return "tomorrow"
    if offset == -1:
        return "yesterday"
    name = _DAY_NAMES[day.weekday()]
    if 2 <= offset <= 6:
        return f"on {name}"
    text = f"on {name}, {_MONTHS[day.month - 1]} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def _alexa_time(value: str) -> tuple[_Clock, Period | None]:
    code = value.upper()
    if code in _ALEXA_PERIODS:
        period = _ALEXA_PERIODS[code]
        return _Clock(PERIOD_DEFAULT_HOUR[period], 0, twelve_hour=False), period
    m = re.fullmatch(r"T?(\d{1,2})(?::(\d{2}))?(?::\d{2})?", code)
    if m is None:
        raise TimeParseError(f"time slot '{value}' is not HH:MM or a period code (MO/AF/EV/NI)")
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour == 24 and minute == 0:
        return _Clock(0, 0, twelve_hour=False, midnight=True), None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise TimeParseError(f"time slot '{value}' is not a valid time of day")
    return _Clock(hour, minute, twelve_hour=False), None


def _alexa_date(value: str, today: date) -> _DaySpec | Clarification:
    text = value.upper()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        try:
            return _DaySpec((date(int(m[1]), int(m[2]), int(m[3])),), rolls=False)
        except ValueError as exc:
            raise TimeParseError(f"date slot '{value}' is not a real date") from exc
    if m := re.fullmatch(r"XXXX-(\d{2})-(\d{2})", text):
        month, day_of_month = int(m[1]), int(m[2])
        bases: list[date] = []
        for year in range(today.year, today.year + 9):
            try:
                candidate = date(year, month, day_of_month)
            except ValueError:
                continue
            if candidate >= today:
                bases.append(candidate)
            if len(bases) == 2:
                break
        if not bases:
            raise TimeParseError(f"date slot '{value}' is not a real date")
        return _DaySpec(tuple(bases), rolls=False)
    if re.fullmatch(r"[\dX]{4}(?:-W[\dX]{2}(?:-WE)?|-[\dX]{2}|-(?:WI|SP|SU|FA))?|\d{3}X", text):
        return Clarification(ClarificationReason.NEEDS_DAY, "Which day do you mean?")
    raise TimeParseError(f"date slot '{value}' is not a date Alexa sends (e.g. 2026-11-27)")
