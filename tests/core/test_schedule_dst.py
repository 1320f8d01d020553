"""Schedules across daylight saving: concrete tables in three zones, both transitions of 2026.

The zones are America/New_York (1 h shifts in March and November), Europe/Berlin (1 h, last
Sundays of March and October) and Australia/Lord_Howe (a 30-minute shift, in April and
October, southern hemisphere). The transition dates are not taken on trust: the first test
finds them with zoneinfo. Every expected instant below is written out in UTC by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from pager.core.schedule import (
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    gaps,
    layer_shifts,
    oncall_at,
    shifts,
)

H = timedelta(hours=1)
USERS = ("ann", "ben", "cat")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def one_layer(
    tz: str,
    every: timedelta,
    handoff: time,
    start: date,
    *,
    weekday: int | None = None,
    restrictions: tuple[Restriction, ...] = (),
) -> Schedule:
    rotation = Rotation(every, handoff, weekday, start)
    return Schedule("s", tz, (Layer("main", USERS, rotation, restrictions),))


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """The starts of the layer's shifts inside (start, end)."""
    return [s.start for s in layer_shifts(schedule, 0, start, end) if s.start > start]


def transitions(tz: str, year: int) -> list[tuple[datetime, timedelta]]:
    """(UTC instant, offset change) of every transition in `year`, found by bisection."""
    zone = ZoneInfo(tz)
    found = []
    t = utc(year, 1, 1)
    while t.year == year:
        nxt = t + H
        if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            before = lo.astimezone(zone).utcoffset()
            after = hi.astimezone(zone).utcoffset()
            assert before is not None and after is not None
            found.append((hi, after - before))
        t = nxt
    return found


@dataclass(frozen=True)
class Zone:
    name: str
    spring: date  # local date clocks go forward
    fall: date  # local date clocks go back
    shift: timedelta


ZONES = [
    Zone("America/New_York", date(2026, 3, 8), date(2026, 11, 1), H),
    Zone("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25), H),
    Zone("Australia/Lord_Howe", date(2026, 10, 4), date(2026, 4, 5), H / 2),
]


@pytest.mark.parametrize("z", ZONES, ids=lambda z: z.name)
def test_transition_dates_are_what_the_tables_assume(z: Zone) -> None:
    found = transitions(z.name, 2026)
    local = ZoneInfo(z.name)
    assert sorted((t.astimezone(local).date(), d) for t, d in found) == sorted(
        [(z.spring, z.shift), (z.fall, -z.shift)]
    )


# --- handoff tables: every expected handoff instant, in UTC -------------------------------

WEEKLY_MONDAY_0900 = [
    # zone, the two Mondays' handoffs around each transition
    ("America/New_York", [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13)]),  # EST -> EDT
    ("America/New_York", [utc(2026, 10, 26, 13), utc(2026, 11, 2, 14)]),  # EDT -> EST
    ("Europe/Berlin", [utc(2026, 3, 23, 8), utc(2026, 3, 30, 7)]),
    ("Europe/Berlin", [utc(2026, 10, 19, 7), utc(2026, 10, 26, 8)]),
    ("Australia/Lord_Howe", [utc(2026, 3, 29, 22), utc(2026, 4, 5, 22, 30)]),  # +11 -> +10:30
    ("Australia/Lord_Howe", [utc(2026, 9, 27, 22, 30), utc(2026, 10, 4, 22)]),  # +10:30 -> +11
]


@pytest.mark.parametrize(("tz", "expected"), WEEKLY_MONDAY_0900)
def test_weekly_monday_0900_handoff_stays_at_0900_local(tz: str, expected: list[datetime]) -> None:
    schedule = one_layer(tz, 7 * 24 * H, time(9), date(2026, 1, 1), weekday=0)
    found = handoffs(schedule, expected[0] - 24 * H, expected[1] + 24 * H)
    assert found == expected
    for instant in found:
        local = instant.astimezone(ZoneInfo(tz))
        assert (local.weekday(), local.time()) == (0, time(9))
    # The UTC gap between the two handoffs is a week minus / plus the offset change.
    before, after = (e.astimezone(ZoneInfo(tz)).utcoffset() for e in expected)
    assert before is not None and after is not None
    offset_change = after - before
    assert expected[1] - expected[0] == 7 * 24 * H - offset_change
    assert offset_change in (H, -H, H / 2, -H / 2)


DAILY = [
    # The handoff falls in the spring-forward gap: it happens when the gap ends.
    (
        "America/New_York",
        time(2, 30),
        [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)],
    ),
    (
        "Europe/Berlin",
        time(2, 30),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)],
    ),
    (
        "Australia/Lord_Howe",
        time(2, 15),
        [utc(2026, 10, 2, 15, 45), utc(2026, 10, 3, 15, 30), utc(2026, 10, 4, 15, 15)],
    ),
    # 02:30 on Lord Howe's spring day is exactly the end of its 30-minute gap: it exists.
    (
        "Australia/Lord_Howe",
        time(2, 30),
        [utc(2026, 10, 2, 16), utc(2026, 10, 3, 15, 30), utc(2026, 10, 4, 15, 30)],
    ),
    # The handoff falls in the repeated hour: it happens once, at its first occurrence.
    (
        "America/New_York",
        time(1, 30),
        [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
    ),
    (
        "Europe/Berlin",
        time(2, 30),
        [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
    ),
    (
        "Australia/Lord_Howe",
        time(1, 45),
        [utc(2026, 4, 3, 14, 45), utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15)],
    ),
]


@pytest.mark.parametrize(("tz", "at", "expected"), DAILY)
def test_daily_handoff_on_transition_day(tz: str, at: time, expected: list[datetime]) -> None:
    schedule = one_layer(tz, 24 * H, at, date(2026, 1, 1))
    window = (expected[0] - 2 * H, expected[-1] + 2 * H)
    assert handoffs(schedule, *window) == expected
    # Users keep their turn order: nobody is skipped, nobody goes twice.
    found = layer_shifts(schedule, 0, *window)
    users = [s.user for s in found]
    assert all(USERS.index(b) == (USERS.index(a) + 1) % 3 for a, b in pairwise(users))


TWELVE_HOURS = [
    ("America/New_York", [utc(2026, 3, 8, 2), utc(2026, 3, 8, 13), utc(2026, 3, 9, 1)]),
    ("America/New_York", [utc(2026, 11, 1, 1), utc(2026, 11, 1, 14), utc(2026, 11, 2, 2)]),
    ("Europe/Berlin", [utc(2026, 3, 28, 20), utc(2026, 3, 29, 7), utc(2026, 3, 29, 19)]),
    ("Europe/Berlin", [utc(2026, 10, 24, 19), utc(2026, 10, 25, 8), utc(2026, 10, 25, 20)]),
    ("Australia/Lord_Howe", [utc(2026, 10, 3, 10, 30), utc(2026, 10, 3, 22), utc(2026, 10, 4, 10)]),
    (
        "Australia/Lord_Howe",
        [utc(2026, 4, 4, 10), utc(2026, 4, 4, 22, 30), utc(2026, 4, 5, 10, 30)],
    ),
]


@pytest.mark.parametrize(("tz", "expected"), TWELVE_HOURS)
def test_twelve_hour_rotation_hands_off_at_0900_and_2100_local(
    tz: str, expected: list[datetime]
) -> None:
    schedule = one_layer(tz, 12 * H, time(9), date(2026, 1, 1))
    assert handoffs(schedule, expected[0] - H, expected[-1] + H) == expected
    assert [e.astimezone(ZoneInfo(tz)).time() for e in expected] == [time(21), time(9), time(21)]


HOURLY = [
    # spring forward: the 02:00 shift would be empty, so its person is skipped
    (
        "America/New_York",
        time(0),
        utc(2026, 3, 8, 5),
        [(utc(2026, 3, 8, 5), "ann"), (utc(2026, 3, 8, 6), "ben"), (utc(2026, 3, 8, 7), "ann")],
    ),
    (
        "Europe/Berlin",
        time(0),
        utc(2026, 3, 28, 23),
        [(utc(2026, 3, 28, 23), "ann"), (utc(2026, 3, 29, 0), "ben"), (utc(2026, 3, 29, 1), "ann")],
    ),
    # Lord Howe's gap is 30 minutes: 02:00 becomes 02:30 and nobody is skipped
    (
        "Australia/Lord_Howe",
        time(0),
        utc(2026, 10, 3, 13, 30),
        [
            (utc(2026, 10, 3, 13, 30), "ann"),
            (utc(2026, 10, 3, 14, 30), "ben"),
            (utc(2026, 10, 3, 15, 30), "cat"),
            (utc(2026, 10, 3, 16), "ann"),
        ],
    ),
    # fall back: the shift that starts in the repeated hour runs through both of its
    # occurrences (2 h; 1.5 h on Lord Howe, whose clocks go back 30 minutes)
    (
        "America/New_York",
        time(0),
        utc(2026, 11, 1, 4),
        [(utc(2026, 11, 1, 4), "ann"), (utc(2026, 11, 1, 5), "ben"), (utc(2026, 11, 1, 7), "cat")],
    ),
    (
        "Europe/Berlin",
        time(0),
        utc(2026, 10, 24, 22),
        [
            (utc(2026, 10, 24, 22), "ann"),
            (utc(2026, 10, 24, 23), "ben"),
            (utc(2026, 10, 25, 0), "cat"),
            (utc(2026, 10, 25, 2), "ann"),
        ],
    ),
    (
        "Australia/Lord_Howe",
        time(0),
        utc(2026, 4, 4, 13),
        [
            (utc(2026, 4, 4, 13), "ann"),
            (utc(2026, 4, 4, 14), "ben"),
            (utc(2026, 4, 4, 15, 30), "cat"),
        ],
    ),
]


@pytest.mark.parametrize(("tz", "at", "first", "expected"), HOURLY)
def test_hourly_rotation_on_transition_night(
    tz: str, at: time, first: datetime, expected: list[tuple[datetime, str]]
) -> None:
    # Starting on the local day of `first`, so that the first handoff there is "ann"'s.
    day = first.astimezone(ZoneInfo(tz)).date()
    schedule = one_layer(tz, H, at, day)
    assert first.astimezone(ZoneInfo(tz)).time() == at
    found = layer_shifts(schedule, 0, first, expected[-1][0] + timedelta(minutes=1))
    assert [(s.start, s.user) for s in found] == expected


# --- the transition night is covered by exactly one person per layer ----------------------

NIGHT_ROTATIONS = [
    pytest.param((24 * H, time(2, 30)), id="daily-0230"),
    pytest.param((24 * H, time(1, 30)), id="daily-0130"),
    pytest.param((24 * H, time(2, 15)), id="daily-0215"),
    pytest.param((12 * H, time(2, 45)), id="12h-0245"),
    pytest.param((H, time(0)), id="hourly"),
    pytest.param((H, time(0, 20)), id="hourly-20"),
    pytest.param((2 * H, time(1)), id="2h"),
    pytest.param((7 * 24 * H, time(2, 30)), id="weekly-sunday-0230"),
]


@pytest.mark.parametrize("z", ZONES, ids=lambda z: z.name)
@pytest.mark.parametrize("every_at", NIGHT_ROTATIONS)
@pytest.mark.parametrize("which", ["spring", "fall"])
def test_transition_night_has_exactly_one_person_every_minute(
    z: Zone, every_at: tuple[timedelta, time], which: str
) -> None:
    every, at = every_at
    day = z.spring if which == "spring" else z.fall
    schedule = one_layer(z.name, every, at, day - timedelta(days=20), weekday=6)
    zone = ZoneInfo(z.name)
    start = datetime.combine(day - timedelta(days=1), time(22), zone).astimezone(UTC)
    end = datetime.combine(day, time(6), zone).astimezone(UTC)
    pieces = layer_shifts(schedule, 0, start, end)
    assert pieces[0].start == start and pieces[-1].end == end
    t = start
    while t < end:
        holding = [p for p in pieces if p.start <= t < p.end]
        assert len(holding) == 1, t
        assert oncall_at(schedule, t) == holding[0].user, t
        t += timedelta(minutes=1)
    assert gaps(schedule, start, end) == []


# --- restrictions -------------------------------------------------------------------------

WEEKDAYS = frozenset(range(5))
ALL_WEEK = frozenset(range(7))


def two_layers(tz: str, upper: tuple[Restriction, ...]) -> Schedule:
    base = Layer("base", ("ann",), Rotation(7 * 24 * H, time(9), 0, date(2026, 1, 1)))
    top = Layer("top", ("zoe",), Rotation(7 * 24 * H, time(9), 0, date(2026, 1, 1)), upper)
    return Schedule("s", tz, (base, top))


def test_business_hours_layer_follows_local_time_across_dst() -> None:
    schedule = two_layers("America/New_York", (Restriction(WEEKDAYS, time(9), time(17)),))
    found = shifts(schedule, utc(2026, 3, 6), utc(2026, 3, 10))
    assert [(s.user, s.start, s.end) for s in found] == [
        ("ann", utc(2026, 3, 6), utc(2026, 3, 6, 14)),
        ("zoe", utc(2026, 3, 6, 14), utc(2026, 3, 6, 22)),  # Friday, EST
        ("ann", utc(2026, 3, 6, 22), utc(2026, 3, 9, 13)),  # the weekend
        ("zoe", utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),  # Monday, EDT
        ("ann", utc(2026, 3, 9, 21), utc(2026, 3, 10)),
    ]
    assert {s.source for s in found if s.user == "zoe"} == {"top"}
    assert gaps(schedule, utc(2026, 3, 6), utc(2026, 3, 10)) == []


@pytest.mark.parametrize(
    ("tz", "night", "window"),
    [
        # 22:00-06:00 over the spring-forward night is 7 hours, over the fall-back night 9
        ("America/New_York", date(2026, 3, 7), (utc(2026, 3, 8, 3), utc(2026, 3, 8, 10))),
        ("America/New_York", date(2026, 10, 31), (utc(2026, 11, 1, 2), utc(2026, 11, 1, 11))),
        ("Europe/Berlin", date(2026, 3, 28), (utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))),
        ("Europe/Berlin", date(2026, 10, 24), (utc(2026, 10, 24, 20), utc(2026, 10, 25, 5))),
        (
            "Australia/Lord_Howe",
            date(2026, 10, 3),
            (utc(2026, 10, 3, 11, 30), utc(2026, 10, 3, 19)),
        ),
        ("Australia/Lord_Howe", date(2026, 4, 4), (utc(2026, 4, 4, 11), utc(2026, 4, 4, 19, 30))),
    ],
)
def test_overnight_window_across_transition(
    tz: str, night: date, window: tuple[datetime, datetime]
) -> None:
    schedule = two_layers(tz, (Restriction(frozenset({night.weekday()}), time(22), time(6)),))
    around = (window[0] - 3 * H, window[1] + 3 * H)
    assert [(s.user, s.start, s.end) for s in layer_shifts(schedule, 1, *around)] == [
        ("zoe", *window)
    ]
    assert [s.user for s in shifts(schedule, *around)] == ["ann", "zoe", "ann"]
    # The window belongs to the day it starts on: the next night is not covered.
    assert oncall_at(schedule, window[0] + 24 * H) == "ann"


def test_window_inside_a_gap_is_empty() -> None:
    # 02:00-02:30 does not exist on the US spring-forward day; it exists the day after.
    schedule = two_layers("America/New_York", (Restriction(ALL_WEEK, time(2), time(2, 30)),))
    found = layer_shifts(schedule, 1, utc(2026, 3, 7), utc(2026, 3, 10))
    assert [(s.start, s.end) for s in found] == [
        (utc(2026, 3, 7, 7), utc(2026, 3, 7, 7, 30)),
        (utc(2026, 3, 9, 6), utc(2026, 3, 9, 6, 30)),
    ]


# --- overrides across a transition --------------------------------------------------------


def test_override_across_spring_forward() -> None:
    base = two_layers("America/New_York", ())
    night = Override(
        "dan",
        datetime(2026, 3, 7, 20, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 3, 8, 8, tzinfo=ZoneInfo("America/New_York")),
    )
    schedule = Schedule("s", base.timezone, base.layers[:1], (night,))
    found = shifts(schedule, utc(2026, 3, 7), utc(2026, 3, 9))
    assert found == [
        Shift("ann", utc(2026, 3, 7), utc(2026, 3, 8, 1), "base"),
        Shift("dan", utc(2026, 3, 8, 1), utc(2026, 3, 8, 12), "override"),  # 11 real hours
        Shift("ann", utc(2026, 3, 8, 12), utc(2026, 3, 9), "base"),
    ]
    t = utc(2026, 3, 8, 1)
    while t < utc(2026, 3, 8, 12):
        assert oncall_at(schedule, t) == "dan"
        t += timedelta(minutes=1)
