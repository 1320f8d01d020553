"""The `schedules` section: rotations of users, as layers, with restrictions and overrides.

A schedule answers "who is on call at instant T". These models hold what the configuration
says and parse its compact spellings (`handoff: "monday 09:00"`, `every: 1w`, `24:00`)
into values the schedule engine can compute with; the engine itself lives elsewhere. The
rules stated here are the ones that need no other section: a rotation is a whole number of
hours, an override ends after it starts.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, model_validator

from pager.config.durations import (
    WEEKDAY_NAMES,
    EndTimeOfDay,
    PositiveDuration,
    TimeOfDay,
    TimeZoneName,
    Weekday,
    format_time_of_day,
    parse_time_of_day,
    parse_weekday,
)
from pager.config.fields import ConfigModel, Identifier, NonEmptyStr, Reference, error
from pager.config.models_people import fill_name_from_id

__all__ = [
    "ALL_DAYS",
    "Handoff",
    "Layer",
    "Override",
    "Restriction",
    "Rotation",
    "Schedule",
    "Weekdays",
    "parse_handoff",
]

ALL_DAYS: tuple[int, ...] = tuple(range(7))


def parse_handoff(text: str) -> tuple[int | None, dt.time]:
    """`"09:00"` -> (None, 09:00); `"monday 09:00"` or `"Mon 09:00"` -> (0, 09:00)."""
    parts = text.split()
    if len(parts) == 1:
        return None, parse_time_of_day(parts[0])
    if len(parts) == 2:
        return parse_weekday(parts[0]), parse_time_of_day(parts[1])
    raise ValueError(f'{text!r} is not a handoff: use "HH:MM" or "<weekday> HH:MM"')


def _normalize_handoff(value: Any) -> str:
    if not isinstance(value, str):
        raise error("handoff", 'must be a handoff in quotes, like "monday 09:00" or "09:00"')
    try:
        weekday, time = parse_handoff(value)
    except ValueError as exc:
        raise error("handoff", str(exc)) from None
    clock = format_time_of_day(time)
    return clock if weekday is None else f"{WEEKDAY_NAMES[weekday]} {clock}"


Handoff = Annotated[str, BeforeValidator(_normalize_handoff)]
"""`"HH:MM"` or `"<weekday> HH:MM"`, stored normalized (`"monday 09:00"`)."""


def _unique_days(days: tuple[int, ...]) -> tuple[int, ...]:
    if not days:
        raise error("days", "must list at least one day")
    return tuple(sorted(set(days)))


Weekdays = Annotated[tuple[Weekday, ...], AfterValidator(_unique_days)]
"""A set of weekdays written as a list (`[mon, tue]`), held sorted, Monday first."""


def _whole_hours(every: dt.timedelta) -> dt.timedelta:
    if every % dt.timedelta(hours=1):
        raise error("whole_hours", "must be a whole number of hours, like 12h, 1d or 1w")
    return every


class Rotation(ConfigModel):
    """How a layer's users take turns.

    The first turn starts at the first handoff: on `start` at the handoff time or, when the
    handoff names a weekday, on the first such weekday on or after `start`. Each turn lasts
    `every` (a whole number of hours, so handoffs stay on the clock), and the users take
    turns in the order the layer lists them. Times are in the schedule's time zone.
    """

    every: Annotated[PositiveDuration, AfterValidator(_whole_hours)]
    handoff: Handoff
    start: dt.date

    @property
    def handoff_weekday(self) -> int | None:
        """The weekday of the handoff (0 is Monday), or None when it names no weekday."""
        return parse_handoff(self.handoff)[0]

    @property
    def handoff_time(self) -> dt.time:
        """The wall-clock time of each handoff, in the schedule's time zone."""
        return parse_handoff(self.handoff)[1]

    @property
    def first_handoff(self) -> dt.datetime:
        """The local (naive) date and time at which the first turn starts."""
        weekday = self.handoff_weekday
        day = self.start
        if weekday is not None:
            day += dt.timedelta(days=(weekday - day.weekday()) % 7)
        return dt.datetime.combine(day, self.handoff_time)


class Restriction(ConfigModel):
    """A daily window in which a layer is on call; outside all its windows, it is not.

    A window starts on each listed day (default: all seven) at `start` and ends at `end`
    on the same day, or on the next day when `end` is not after `start` (`22:00`-`06:00`
    runs past midnight; `00:00`-`24:00` and `09:00`-`09:00` are whole days).
    """

    days: Weekdays = ALL_DAYS
    start: TimeOfDay
    end: EndTimeOfDay

    @property
    def start_offset(self) -> dt.timedelta:
        """How long after midnight of a listed day the window opens."""
        return dt.timedelta(hours=self.start.hour, minutes=self.start.minute)

    @property
    def length(self) -> dt.timedelta:
        """How long the window stays open (more than 0, at most 24 hours)."""
        end = dt.timedelta(hours=self.end.hour, minutes=self.end.minute)
        if end <= self.start_offset:
            end += dt.timedelta(days=1)
        return end - self.start_offset


class Layer(ConfigModel):
    """One rotation of users; later layers of a schedule override earlier ones where they
    are on call (restrictions leave the earlier layers visible outside their windows)."""

    name: NonEmptyStr
    users: tuple[Reference, ...] = Field(min_length=1)
    rotation: Rotation
    restrictions: tuple[Restriction, ...] = ()


class Override(ConfigModel):
    """`user` is on call for the whole schedule from `start` to `end` (instants with a UTC
    offset), above every layer."""

    user: Reference
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def ends_after_start(self) -> Override:
        if self.end <= self.start:
            raise error("span", "end must be after start")
        return self


class Schedule(ConfigModel):
    """Who is on call when: layers (later ones win) plus overrides, in `timezone`."""

    id: Identifier
    name: NonEmptyStr = ""  # filled in from the id before validation
    timezone: TimeZoneName
    layers: tuple[Layer, ...] = Field(min_length=1)
    overrides: tuple[Override, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def default_name_to_id(cls, data: Any) -> Any:
        return fill_name_from_id(data)
