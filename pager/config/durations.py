"""Time values as people write them in the configuration: durations, times of day, weekdays, zones.

The YAML says `escalate_after: 5m`, `handoff: "monday 09:00"` and `timezone: Europe/Berlin`;
the rest of pager wants `timedelta`, `time`, weekday numbers and names `ZoneInfo` accepts.
This module holds the parsers and the pydantic annotated types built on them, so every
section of the configuration accepts the same spellings and says the same thing when one is
wrong. Each type serializes back to the spelling it reads, so a dumped configuration loads
again unchanged.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import zoneinfo
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from pager.config.fields import error as _error

__all__ = [
    "WEEKDAY_NAMES",
    "Duration",
    "EndTimeOfDay",
    "PositiveDuration",
    "TimeOfDay",
    "TimeZoneName",
    "Weekday",
    "format_duration",
    "format_time_of_day",
    "parse_duration",
    "parse_time_of_day",
    "parse_weekday",
    "validate_time_zone",
]

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# Units in descending order, each at most once: "1h30m", "1d12h", "90s"; not "30m1h".
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})")

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Weekday names, indexed like `datetime.date.weekday()` (Monday is 0)."""

_WEEKDAYS = {name: index for index, name in enumerate(WEEKDAY_NAMES)} | {
    name[:3]: index for index, name in enumerate(WEEKDAY_NAMES)
}


# --- durations ----------------------------------------------------------------------------


def parse_duration(text: str) -> dt.timedelta:
    """Parse `30s`, `5m`, `2h`, `1d`, `1w` or a compound such as `1h30m`; `0` is zero.

    Raises ValueError with the message shown to the person who wrote the value.
    """
    value = text.strip()
    if value == "0":
        return dt.timedelta(0)
    match = _DURATION.fullmatch(value)
    if not value or match is None:
        raise ValueError(f"{text!r} is not a duration: use e.g. 30s, 5m, 2h, 1d")
    seconds = sum(
        int(amount) * _UNIT_SECONDS[unit]
        for amount, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
        if amount is not None
    )
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"{text!r} is longer than pager handles: at most 3650d (ten years)")
    return dt.timedelta(seconds=seconds)


MAX_DURATION_SECONDS = 3650 * 86400


def format_duration(value: dt.timedelta) -> str:
    """The shortest spelling `parse_duration` reads back: `1h30m`, `1w`, `0s`."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + "".join(parts)


def _to_duration(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        if value < dt.timedelta(0):
            raise _error("duration", "must not be negative")
        return value
    if isinstance(value, bool):
        raise _error("duration", f"{value!r} is not a duration: use e.g. 30s, 5m, 2h, 1d")
    if isinstance(value, int) and value == 0:
        return dt.timedelta(0)
    if isinstance(value, int | float):
        raise _error(
            "duration",
            f"'{value}' is not a duration: add a unit, e.g. {value}s or {value}m",
        )
    if not isinstance(value, str):
        raise _error("duration", "must be a duration such as 30s, 5m, 2h, 1d")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _error("duration", str(exc)) from None


def _to_positive_duration(value: Any) -> dt.timedelta:
    duration = _to_duration(value)
    if duration <= dt.timedelta(0):
        raise _error("duration_positive", "must be longer than 0s")
    return duration


_serialize_duration = PlainSerializer(format_duration, return_type=str, when_used="json")

Duration = Annotated[dt.timedelta, BeforeValidator(_to_duration), _serialize_duration]
"""A duration of zero or more, written `30s`, `5m`, `2h`, `1d`, `1w` or `1h30m`."""

PositiveDuration = Annotated[
    dt.timedelta, BeforeValidator(_to_positive_duration), _serialize_duration
]
"""A `Duration` that must be longer than zero (timeouts, escalation delays, rotations)."""


# --- times of day -------------------------------------------------------------------------


def parse_time_of_day(text: str, *, allow_24: bool = False) -> dt.time:
    """Parse `HH:MM` (00:00 to 23:59). With `allow_24`, `24:00` is read as midnight `00:00`.

    `24:00` only makes sense as the end of a span; as an end, midnight and 24:00 are the
    same instant of the next day, which is how the callers read `00:00` too.
    """
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is not None:
        hours, minutes = int(match[1]), int(match[2])
        if hours < 24 and minutes < 60:
            return dt.time(hours, minutes)
        if allow_24 and hours == 24 and minutes == 0:
            return dt.time(0, 0)
    upper = "24:00" if allow_24 else "23:59"
    raise ValueError(f"{text!r} is not a time of day: use HH:MM, from 00:00 to {upper}")


def format_time_of_day(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def _time_of_day_validator(*, allow_24: bool) -> BeforeValidator:
    def validate(value: Any) -> dt.time:
        if isinstance(value, dt.time):
            return value
        if not isinstance(value, str):
            raise _error("time_of_day", "must be a time of day written in quotes, like '09:00'")
        try:
            return parse_time_of_day(value, allow_24=allow_24)
        except ValueError as exc:
            raise _error("time_of_day", str(exc)) from None

    return BeforeValidator(validate)


_serialize_time = PlainSerializer(format_time_of_day, return_type=str, when_used="json")

TimeOfDay = Annotated[dt.time, _time_of_day_validator(allow_24=False), _serialize_time]
"""A wall-clock time `HH:MM`, 00:00 to 23:59, in the time zone of the object holding it."""

EndTimeOfDay = Annotated[dt.time, _time_of_day_validator(allow_24=True), _serialize_time]
"""The end of a daily span: like `TimeOfDay`, and `24:00` is accepted (read as 00:00)."""


# --- weekdays -----------------------------------------------------------------------------


def parse_weekday(text: str) -> int:
    """`monday`..`sunday` or `mon`..`sun`, any case, to 0..6 (Monday is 0)."""
    index = _WEEKDAYS.get(text.strip().lower())
    if index is None:
        hint = _did_you_mean(text.strip().lower(), WEEKDAY_NAMES)
        raise ValueError(f"{text!r} is not a weekday: use monday..sunday or mon..sun{hint}")
    return index


def _to_weekday(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if not isinstance(value, str):
        raise _error("weekday", "must be a weekday such as monday or mon")
    try:
        return parse_weekday(value)
    except ValueError as exc:
        raise _error("weekday", str(exc)) from None


Weekday = Annotated[
    int,
    BeforeValidator(_to_weekday),
    PlainSerializer(lambda day: WEEKDAY_NAMES[day], return_type=str, when_used="json"),
]
"""A day of the week, read from `monday`/`mon` (any case) and held as 0..6, Monday 0."""


# --- time zones ---------------------------------------------------------------------------


@functools.cache
def _zone_names_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_time_zone(name: str) -> str:
    """Return `name` if `zoneinfo.ZoneInfo` knows it; otherwise raise ValueError naming it."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    else:
        return name
    names = _zone_names_by_lower()
    exact = names.get(name.lower())
    if exact is None:
        close = difflib.get_close_matches(name.lower(), names, n=1)
        exact = names[close[0]] if close else None
    if exact is not None:
        raise ValueError(f"unknown time zone {name!r} (did you mean {exact!r}?)")
    raise ValueError(f"unknown time zone {name!r}: use an IANA name like Europe/Berlin")


def _to_time_zone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _error("time_zone", "must be an IANA time zone name like Europe/Berlin")
    try:
        return validate_time_zone(value.strip())
    except ValueError as exc:
        raise _error("time_zone", str(exc)) from None


TimeZoneName = Annotated[str, BeforeValidator(_to_time_zone)]
"""An IANA time zone name that `zoneinfo.ZoneInfo` accepts, e.g. `America/New_York`."""
