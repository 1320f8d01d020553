"""The value types of the configuration: durations, times of day, weekdays, zones, sizes.

Each parser is tested directly (tables of spellings) and through a small pydantic model, so
the error text a person sees is checked exactly as the loader reports it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ValidationError

from pager.config.durations import (
    Duration,
    EndTimeOfDay,
    PositiveDuration,
    TimeOfDay,
    TimeZoneName,
    Weekday,
    format_duration,
    parse_duration,
    parse_time_of_day,
    parse_weekday,
    validate_time_zone,
)
from pager.config.models import parse_byte_size

td = dt.timedelta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", td(seconds=30)),
        ("5m", td(minutes=5)),
        ("2h", td(hours=2)),
        ("1d", td(days=1)),
        ("1w", td(weeks=1)),
        ("1h30m", td(hours=1, minutes=30)),
        ("1d12h", td(days=1, hours=12)),
        ("1w2d3h4m5s", td(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("90s", td(seconds=90)),
        ("0", td(0)),
        ("0s", td(0)),
        ("0m", td(0)),
        (" 5m ", td(minutes=5)),
    ],
)
def test_durations_parse(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["5x", "", "m", "5", "1.5h", "-5m", "30m1h", "1h1h", "5 m", "1h 30m", "5M", "five"]
)
def test_durations_reject(text: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_duration(text)
    assert str(excinfo.value) == f"{text!r} is not a duration: use e.g. 30s, 5m, 2h, 1d"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (td(0), "0s"),
        (td(seconds=90), "1m30s"),
        (td(hours=1, minutes=30), "1h30m"),
        (td(weeks=2), "2w"),
        (td(days=8), "1w1d"),
    ],
)
def test_durations_format_round_trip(value: dt.timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


class Durations(BaseModel):
    any: Duration = td(0)
    positive: PositiveDuration = td(seconds=1)


def _error(model: type[BaseModel], **data: object) -> str:
    with pytest.raises(ValidationError) as excinfo:
        model.model_validate(data)
    (error,) = excinfo.value.errors()
    return error["msg"]


def test_duration_type_messages() -> None:
    assert Durations.model_validate({"any": "1h30m"}).any == td(minutes=90)
    assert Durations.model_validate({"any": 0}).any == td(0)
    assert Durations.model_validate({"any": td(minutes=3)}).any == td(minutes=3)
    assert _error(Durations, any="5x") == "'5x' is not a duration: use e.g. 30s, 5m, 2h, 1d"
    assert _error(Durations, any=5) == "'5' is not a duration: add a unit, e.g. 5s or 5m"
    assert _error(Durations, any=True) == "True is not a duration: use e.g. 30s, 5m, 2h, 1d"
    assert _error(Durations, any=[1]) == "must be a duration such as 30s, 5m, 2h, 1d"
    assert _error(Durations, any=td(seconds=-1)) == "must not be negative"
    assert _error(Durations, positive="0s") == "must be longer than 0s"
    assert _error(Durations, positive=0) == "must be longer than 0s"


def test_duration_serializes_to_its_spelling() -> None:
    model = Durations.model_validate({"any": "90m"})
    assert model.model_dump(mode="json") == {"any": "1h30m", "positive": "1s"}
    assert model.model_dump()["any"] == td(minutes=90)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00", dt.time(0, 0)),
        ("09:00", dt.time(9, 0)),
        ("9:05", dt.time(9, 5)),
        ("23:59", dt.time(23, 59)),
    ],
)
def test_time_of_day(text: str, expected: dt.time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00", "23:60", "25:00", "9", "09:0", "9am", "", "-1:00"])
def test_time_of_day_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time of day: use HH:MM, from 00:00 to 23:59"):
        parse_time_of_day(text)


def test_24_00_only_as_an_end() -> None:
    assert parse_time_of_day("24:00", allow_24=True) == dt.time(0, 0)
    with pytest.raises(ValueError, match="from 00:00 to 24:00"):
        parse_time_of_day("24:01", allow_24=True)

    class Span(BaseModel):
        start: TimeOfDay
        end: EndTimeOfDay

    span = Span.model_validate({"start": "22:00", "end": "24:00"})
    assert (span.start, span.end) == (dt.time(22), dt.time(0))
    assert span.model_dump(mode="json") == {"start": "22:00", "end": "00:00"}
    message = _error(Span, start="24:00", end="01:00")
    assert message == "'24:00' is not a time of day: use HH:MM, from 00:00 to 23:59"
    assert _error(Span, start=1020, end="01:00") == (
        "must be a time of day written in quotes, like '09:00'"
    )


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("monday", 0),
        ("Monday", 0),
        ("MON", 0),
        ("tue", 1),
        ("wednesday", 2),
        ("thu", 3),
        ("Friday", 4),
        ("sat", 5),
        ("sunday", 6),
    ],
)
def test_weekdays(text: str, day: int) -> None:
    assert parse_weekday(text) == day


def test_weekday_messages() -> None:
    class Day(BaseModel):
        day: Weekday

    assert _error(Day, day="fry") == (
        "'fry' is not a weekday: use monday..sunday or mon..sun (did you mean 'friday'?)"
    )
    assert _error(Day, day="xyz") == "'xyz' is not a weekday: use monday..sunday or mon..sun"
    assert Day.model_validate({"day": "Sun"}).model_dump(mode="json") == {"day": "sunday"}


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_time_zones(name: str) -> None:
    assert validate_time_zone(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berlinn", "unknown time zone 'Europe/Berlinn' (did you mean 'Europe/Berlin'?)"),
        (
            "america/new_york",
            "unknown time zone 'america/new_york' (did you mean 'America/New_York'?)",
        ),
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus': use an IANA name like Europe/Berlin"),
        ("../etc/passwd", "unknown time zone '../etc/passwd': use an IANA name like Europe/Berlin"),
    ],
)
def test_time_zone_messages(name: str, message: str) -> None:
    class Zone(BaseModel):
        zone: TimeZoneName

    assert _error(Zone, zone=name) == message


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (4096, 4096),
        ("4096", 4096),
        ("64MB", 64_000_000),
        ("64MiB", 64 * 2**20),
        ("1GiB", 2**30),
        ("1gb", 10**9),
        ("512 KiB", 512 * 1024),
        ("10B", 10),
    ],
)
def test_byte_sizes(value: object, size: int) -> None:
    assert parse_byte_size(value) == size


@pytest.mark.parametrize("value", ["64XB", "MB", "1.5GB", True, 0, "0MB", -5])
def test_byte_sizes_reject(value: object) -> None:
    with pytest.raises(ValueError, match=r"is not a size|larger than 0"):
        parse_byte_size(value)
