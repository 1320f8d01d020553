"""Schedules: the API on plain examples, precedence, validation, and the cost of a lookup.

Daylight-saving tables live in test_schedule_dst.py, randomized checks against a slow
reference in test_schedule_properties.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pager.core import schedule_rotation
from pager.core.schedule import (
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    gaps,
    layer_shifts,
    next_change,
    oncall_at,
    shifts,
    whole_shifts,
)

H = timedelta(hours=1)
D = timedelta(days=1)
W = 7 * D
NY = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(name: str, users: tuple[str, ...], *restrictions: Restriction) -> Layer:
    # 2026-01-01 is a Thursday: the first handoff is Monday 2026-01-05 09:00.
    return Layer(name, users, Rotation(W, time(9), 0, date(2026, 1, 1)), restrictions)


def in_utc(layers: tuple[Layer, ...], overrides: tuple[Override, ...] = ()) -> Schedule:
    return Schedule("primary", "UTC", layers, overrides)


# --- one layer ----------------------------------------------------------------------------


def test_weekly_rotation_takes_turns_from_the_anchor() -> None:
    schedule = in_utc((weekly("weekly", ("alice", "bob", "carol")),))
    assert oncall_at(schedule, utc(2026, 1, 5, 8, 59)) is None  # before the anchor
    assert oncall_at(schedule, utc(2026, 1, 5, 9)) == "alice"
    assert oncall_at(schedule, utc(2026, 1, 12, 8, 59)) == "alice"
    assert oncall_at(schedule, utc(2026, 1, 12, 9)) == "bob"
    assert oncall_at(schedule, utc(2026, 1, 19, 9)) == "carol"
    assert oncall_at(schedule, utc(2026, 1, 26, 9)) == "alice"
    assert layer_shifts(schedule, 0, utc(2026, 1, 1), utc(2026, 1, 20)) == [
        Shift("alice", utc(2026, 1, 5, 9), utc(2026, 1, 12, 9), "weekly"),
        Shift("bob", utc(2026, 1, 12, 9), utc(2026, 1, 19, 9), "weekly"),
        Shift("carol", utc(2026, 1, 19, 9), utc(2026, 1, 20), "weekly"),
    ]
    assert gaps(schedule, utc(2026, 1, 1), utc(2026, 1, 20)) == [
        (utc(2026, 1, 1), utc(2026, 1, 5, 9))
    ]


def test_anchor_without_weekday_is_the_start_day() -> None:
    rotation = Rotation(D, time(17, 30), None, date(2026, 1, 1))
    schedule = in_utc((Layer("daily", ("a", "b"), rotation),))
    assert oncall_at(schedule, utc(2026, 1, 1, 17, 29)) is None
    assert oncall_at(schedule, utc(2026, 1, 1, 17, 30)) == "a"
    assert oncall_at(schedule, utc(2026, 1, 2, 17, 30)) == "b"


def test_lookups_accept_any_aware_datetime() -> None:
    schedule = in_utc((weekly("weekly", ("alice", "bob")),))
    plus_two = timezone(timedelta(hours=2))
    assert oncall_at(schedule, datetime(2026, 1, 12, 11, tzinfo=plus_two)) == "bob"
    assert oncall_at(schedule, datetime(2026, 1, 12, 10, 59, tzinfo=plus_two)) == "alice"
    # Results are in UTC whatever the arguments were in.
    found = shifts(schedule, datetime(2026, 1, 12, 11, tzinfo=plus_two), utc(2026, 1, 13))
    assert found == [Shift("bob", utc(2026, 1, 12, 9), utc(2026, 1, 13), "weekly")]
    assert found[0].start.tzinfo is UTC


def test_single_user_shifts_merge_in_the_timeline_but_not_in_the_layer() -> None:
    schedule = in_utc((weekly("weekly", ("solo",)),))
    window = (utc(2026, 1, 5, 9), utc(2026, 1, 26, 9))
    assert len(layer_shifts(schedule, 0, *window)) == 3
    assert shifts(schedule, *window) == [Shift("solo", *window, "weekly")]


def test_empty_interval() -> None:
    schedule = in_utc((weekly("weekly", ("a",)),))
    assert shifts(schedule, utc(2026, 2, 1), utc(2026, 2, 1)) == []
    assert gaps(schedule, utc(2026, 2, 1), utc(2026, 2, 1)) == []


# --- layers and restrictions --------------------------------------------------------------


def test_higher_layer_wins_only_inside_its_restrictions() -> None:
    business = Restriction(frozenset(range(5)), time(9), time(17))
    schedule = in_utc((weekly("base", ("alice",)), weekly("day", ("bob",), business)))
    assert oncall_at(schedule, utc(2026, 1, 7, 12)) == "bob"  # Wednesday noon
    assert oncall_at(schedule, utc(2026, 1, 7, 17)) == "alice"
    assert oncall_at(schedule, utc(2026, 1, 10, 12)) == "alice"  # Saturday
    assert shifts(schedule, utc(2026, 1, 9), utc(2026, 1, 13)) == [
        Shift("alice", utc(2026, 1, 9), utc(2026, 1, 9, 9), "base"),
        Shift("bob", utc(2026, 1, 9, 9), utc(2026, 1, 9, 17), "day"),
        Shift("alice", utc(2026, 1, 9, 17), utc(2026, 1, 12, 9), "base"),
        Shift("bob", utc(2026, 1, 12, 9), utc(2026, 1, 12, 17), "day"),
        Shift("alice", utc(2026, 1, 12, 17), utc(2026, 1, 13), "base"),
    ]


def test_restricted_layer_alone_leaves_gaps() -> None:
    nights = Restriction(frozenset({4}), time(22), time(6))  # Friday night to Saturday
    schedule = in_utc((weekly("nights", ("nora", "nick"), nights),))
    assert layer_shifts(schedule, 0, utc(2026, 1, 5), utc(2026, 1, 19)) == [
        Shift("nora", utc(2026, 1, 9, 22), utc(2026, 1, 10, 6), "nights"),
        Shift("nick", utc(2026, 1, 16, 22), utc(2026, 1, 17, 6), "nights"),
    ]
    assert gaps(schedule, utc(2026, 1, 9), utc(2026, 1, 11)) == [
        (utc(2026, 1, 9), utc(2026, 1, 9, 22)),
        (utc(2026, 1, 10, 6), utc(2026, 1, 11)),
    ]


def test_rotation_shift_is_cut_by_the_window_and_handoff_inside_it() -> None:
    # A daily 12:00 handoff inside a 09:00-17:00 window splits the window between two users.
    rotation = Rotation(D, time(12), None, date(2026, 1, 5))
    window = Restriction(frozenset(range(7)), time(9), time(17))
    schedule = in_utc((Layer("l", ("a", "b"), rotation, (window,)),))
    assert layer_shifts(schedule, 0, utc(2026, 1, 6), utc(2026, 1, 7)) == [
        Shift("a", utc(2026, 1, 6, 9), utc(2026, 1, 6, 12), "l"),
        Shift("b", utc(2026, 1, 6, 12), utc(2026, 1, 6, 17), "l"),
    ]


def test_touching_windows_are_one_window() -> None:
    day = Restriction(frozenset(range(7)), time(8), time(20))
    night = Restriction(frozenset(range(7)), time(20), time(8))
    schedule = in_utc((weekly("l", ("a",), day, night),))
    assert shifts(schedule, utc(2026, 1, 6), utc(2026, 1, 9)) == [
        Shift("a", utc(2026, 1, 6), utc(2026, 1, 9), "l")
    ]


def test_restriction_end_none_means_midnight_and_equal_ends_mean_a_whole_day() -> None:
    until_midnight = Restriction(frozenset({2}), time(18), None)  # Wednesday 18:00-24:00
    whole_day = Restriction(frozenset({4}), time(7), time(7))  # Friday 07:00-Saturday 07:00
    schedule = in_utc((weekly("l", ("a",), until_midnight, whole_day),))
    assert [
        (s.start, s.end) for s in layer_shifts(schedule, 0, utc(2026, 1, 5), utc(2026, 1, 12))
    ] == [
        (utc(2026, 1, 7, 18), utc(2026, 1, 8)),
        (utc(2026, 1, 9, 7), utc(2026, 1, 10, 7)),
    ]


# --- overrides ----------------------------------------------------------------------------


def test_override_wins_over_every_layer() -> None:
    business = Restriction(frozenset(range(5)), time(9), time(17))
    cover = Override("carol", utc(2026, 1, 7, 12), utc(2026, 1, 7, 20))
    schedule = in_utc((weekly("base", ("alice",)), weekly("day", ("bob",), business)), (cover,))
    assert shifts(schedule, utc(2026, 1, 7), utc(2026, 1, 8)) == [
        Shift("alice", utc(2026, 1, 7), utc(2026, 1, 7, 9), "base"),
        Shift("bob", utc(2026, 1, 7, 9), utc(2026, 1, 7, 12), "day"),
        Shift("carol", utc(2026, 1, 7, 12), utc(2026, 1, 7, 20), "override"),
        Shift("alice", utc(2026, 1, 7, 20), utc(2026, 1, 8), "base"),
    ]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # the later override wins where they overlap
        (
            Override("ann", utc(2026, 2, 2, 10), utc(2026, 2, 2, 14)),
            Override("ben", utc(2026, 2, 2, 12), utc(2026, 2, 2, 16)),
            [("ann", 10, 12), ("ben", 12, 16)],
        ),
        (
            Override("ben", utc(2026, 2, 2, 12), utc(2026, 2, 2, 16)),
            Override("ann", utc(2026, 2, 2, 10), utc(2026, 2, 2, 14)),
            [("ann", 10, 14), ("ben", 14, 16)],
        ),
        # a later override inside an earlier one splits it
        (
            Override("ann", utc(2026, 2, 2, 10), utc(2026, 2, 2, 16)),
            Override("ben", utc(2026, 2, 2, 12), utc(2026, 2, 2, 14)),
            [("ann", 10, 12), ("ben", 12, 14), ("ann", 14, 16)],
        ),
        # two overrides of the same person are one piece
        (
            Override("ann", utc(2026, 2, 2, 10), utc(2026, 2, 2, 13)),
            Override("ann", utc(2026, 2, 2, 12), utc(2026, 2, 2, 16)),
            [("ann", 10, 16)],
        ),
    ],
)
def test_overlapping_overrides(
    first: Override, second: Override, expected: list[tuple[str, int, int]]
) -> None:
    schedule = in_utc((weekly("base", ("zed",)),), (first, second))
    found = shifts(schedule, utc(2026, 2, 2, 9), utc(2026, 2, 2, 17))
    assert [(s.user, s.start.hour, s.end.hour) for s in found] == [
        ("zed", 9, expected[0][1]),
        *expected,
        ("zed", expected[-1][2], 17),
    ]
    assert {s.source for s in found[1:-1]} == {"override"}


def test_override_fills_a_gap_before_the_anchor() -> None:
    cover = Override("carol", utc(2026, 1, 4), utc(2026, 1, 5, 12))
    schedule = in_utc((weekly("base", ("alice",)),), (cover,))
    assert gaps(schedule, utc(2026, 1, 1), utc(2026, 1, 6)) == [(utc(2026, 1, 1), utc(2026, 1, 4))]
    assert oncall_at(schedule, utc(2026, 1, 5, 11)) == "carol"
    assert oncall_at(schedule, utc(2026, 1, 5, 12)) == "alice"


def test_schedule_with_only_overrides() -> None:
    schedule = in_utc((), (Override("carol", utc(2026, 1, 4), utc(2026, 1, 5)),))
    assert oncall_at(schedule, utc(2026, 1, 4, 12)) == "carol"
    assert oncall_at(schedule, utc(2026, 1, 5)) is None
    assert next_change(schedule, utc(2026, 1, 1)) == utc(2026, 1, 4)
    assert next_change(schedule, utc(2026, 1, 4)) == utc(2026, 1, 5)
    assert next_change(schedule, utc(2026, 1, 5)) is None


# --- next_change --------------------------------------------------------------------------


def test_next_change_is_the_next_handoff_window_edge_or_override_edge() -> None:
    business = Restriction(frozenset(range(5)), time(9), time(17))
    cover = Override("carol", utc(2026, 1, 14, 3), utc(2026, 1, 14, 4))
    schedule = in_utc(
        (weekly("base", ("alice", "bob")), weekly("day", ("dan",), business)), (cover,)
    )
    assert next_change(schedule, utc(2026, 1, 1)) == utc(2026, 1, 1, 9)  # a window opens
    assert next_change(schedule, utc(2026, 1, 5, 8)) == utc(2026, 1, 5, 9)  # anchor + window
    assert next_change(schedule, utc(2026, 1, 9, 17)) == utc(2026, 1, 12, 9)  # over the weekend
    assert next_change(schedule, utc(2026, 1, 14)) == utc(2026, 1, 14, 3)
    assert next_change(schedule, utc(2026, 1, 14, 3)) == utc(2026, 1, 14, 4)
    assert next_change(schedule, utc(2026, 1, 14, 4)) == utc(2026, 1, 14, 9)


def test_next_change_follows_local_time() -> None:
    schedule = Schedule("s", "America/New_York", (weekly("base", ("a", "b")),))
    assert next_change(schedule, utc(2026, 3, 3)) == utc(2026, 3, 9, 13)  # 09:00 EDT
    assert next_change(schedule, utc(2026, 3, 9, 13)) == utc(2026, 3, 16, 13)


# --- validation ---------------------------------------------------------------------------

ROTATION = Rotation(W, time(9), 0, date(2026, 1, 1))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Layer("l", (), ROTATION), "users must not be empty"),
        (lambda: Layer("l", ("a", ""), ROTATION), "user ids must not be empty"),
        (lambda: Layer("", ("a",), ROTATION), "layer name must not be empty"),
        (lambda: Layer("override", ("a",), ROTATION), "reserved"),
        (lambda: Schedule("s", "Mars/Olympus", ()), "unknown timezone 'Mars/Olympus'"),
        (lambda: Schedule("s", "", ()), "unknown timezone"),
        (lambda: Schedule("s", "America", ()), "unknown timezone"),
        (
            lambda: Schedule(
                "s", "UTC", (Layer("l", ("a",), ROTATION), Layer("l", ("b",), ROTATION))
            ),
            "layer names must be unique",
        ),
        (lambda: Rotation(timedelta(0), time(9), None, date(2026, 1, 1)), "positive whole number"),
        (lambda: Rotation(-H, time(9), None, date(2026, 1, 1)), "positive whole number"),
        (
            lambda: Rotation(timedelta(minutes=90), time(9), None, date(2026, 1, 1)),
            "whole number of hours",
        ),
        (lambda: Rotation(D, time(9), 7, date(2026, 1, 1)), "handoff_weekday must be 0"),
        (lambda: Rotation(D, time(9, tzinfo=UTC), None, date(2026, 1, 1)), "without a zone"),
        (lambda: Rotation(D, time(9), None, datetime(2026, 1, 1)), "must be a date"),
        (lambda: Restriction(frozenset(), time(9), time(17)), "at least one weekday"),
        (lambda: Restriction(frozenset({7}), time(9), time(17)), "restriction days must be 0"),
        (lambda: Restriction(frozenset({1}), time(9, tzinfo=UTC), None), "without a zone"),
        (
            lambda: Override("a", datetime(2026, 1, 1), utc(2026, 1, 2)),
            "override start must be timezone-aware",
        ),
        (
            lambda: Override("a", utc(2026, 1, 1), datetime(2026, 1, 2)),
            "override end must be timezone-aware",
        ),
        (lambda: Override("a", utc(2026, 1, 2), utc(2026, 1, 2)), "must be after start"),
        (lambda: Override("", utc(2026, 1, 1), utc(2026, 1, 2)), "user must not be empty"),
    ],
)
def test_invalid_inputs_are_refused_with_a_clear_message(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()


def test_naive_instants_and_bad_intervals_are_refused() -> None:
    schedule = in_utc((weekly("l", ("a",)),))
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        oncall_at(schedule, naive)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        shifts(schedule, naive, utc(2026, 1, 2))
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        gaps(schedule, utc(2026, 1, 2), naive)
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        next_change(schedule, naive)
    with pytest.raises(ValueError, match="is before start"):
        shifts(schedule, utc(2026, 1, 2), utc(2026, 1, 1))
    with pytest.raises(ValueError, match="no layer 1"):
        layer_shifts(schedule, 1, utc(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError, match="no layer -1"):
        layer_shifts(schedule, -1, utc(2026, 1, 1), utc(2026, 1, 2))


def test_collections_given_as_lists_are_frozen() -> None:
    layer = Layer("l", ["a", "b"], ROTATION, [Restriction({1, 2}, time(9))])  # type: ignore[arg-type]
    assert layer.users == ("a", "b")
    assert layer.restrictions[0].days == frozenset({1, 2})
    hash(Schedule("s", "UTC", [layer]))  # type: ignore[arg-type]


# --- cost ---------------------------------------------------------------------------------


def test_a_lookup_far_from_the_anchor_does_not_walk_the_handoffs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Count wall-time-to-UTC conversions: the same handful a day or ten years out."""
    users = tuple(f"user{i:02}" for i in range(50))
    start = date(2026, 1, 5)
    saturdays = Restriction(frozenset({5}), time(0), None)
    daytime = Restriction(frozenset(range(7)), time(9), time(17))
    schedule = Schedule(
        "big",
        "America/New_York",
        (
            Layer("weekly", users, Rotation(W, time(9), 0, start)),
            Layer("daily", users, Rotation(D, time(9), None, start), (daytime,)),
            Layer("hourly", users, Rotation(H, time(0), None, start), (saturdays,)),
        ),
    )
    calls = 0
    convert = schedule_rotation.local_to_utc

    def counting(local: datetime, tz: ZoneInfo) -> datetime:
        nonlocal calls
        calls += 1
        return convert(local, tz)

    monkeypatch.setattr(schedule_rotation, "local_to_utc", counting)
    for days_out in (1, 366, 3653):
        # Wednesday evening: outside the hourly layer's Saturdays and the daily layer's
        # daytime window, so all three layers are consulted.
        at = datetime.combine(start + timedelta(days=days_out), time(21, 30), NY)
        at += timedelta(days=(2 - at.weekday()) % 7)
        calls = 0
        weeks = (at.date() - start).days // 7
        assert oncall_at(schedule, at) == users[weeks % 50]
        # per layer: the handoffs around the estimate (2, +1 per correction) and, for a
        # restricted layer, the windows of three days (6)
        assert calls <= 3 * 4 + 2 * 6, (days_out, calls)
        # hourly shift index is pure arithmetic on the wall clock: 8,000+ handoffs later
        hourly = schedule_rotation.Handoffs(datetime.combine(start, time(0)), H, NY)
        k = hourly.index_at(at)
        assert k == (at.replace(tzinfo=None) - datetime.combine(start, time(0))) // H


def test_schedule_modules_import_no_trio_and_no_io() -> None:
    code = (
        "import sys, pager.core.schedule\n"
        "bad = [m for m in ('trio', 'httpx', 'socket', 'pager.store', 'pager.actors')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


# --- whole shifts -------------------------------------------------------------------------


def test_whole_shifts_are_not_cut_at_the_interval() -> None:
    """A page of the next days says when the shift on now began and when the last ends."""
    schedule = in_utc((weekly("weekly", ("alice", "bob")),))
    start, end = utc(2026, 1, 14, 21), utc(2026, 1, 20)  # Wednesday night to Tuesday
    assert shifts(schedule, start, end)[0] == Shift("bob", start, utc(2026, 1, 19, 9), "weekly")
    assert whole_shifts(schedule, start, end) == [
        Shift("bob", utc(2026, 1, 12, 9), utc(2026, 1, 19, 9), "weekly"),
        Shift("alice", utc(2026, 1, 19, 9), utc(2026, 1, 26, 9), "weekly"),
    ]
    # an override across the edge: whole too, and the layer's shift around it
    carol = Override("carol", utc(2026, 1, 13), utc(2026, 1, 15))
    with_override = in_utc(schedule.layers, (carol,))
    assert whole_shifts(with_override, start, end)[0] == Shift(
        "carol", utc(2026, 1, 13), utc(2026, 1, 15), "override"
    )
    # one person alone: looked for as far as `reach`, and cut there
    alone = in_utc((weekly("weekly", ("alice",)),))
    found = whole_shifts(alone, start, end, reach=60 * D)
    assert found == [Shift("alice", utc(2026, 1, 5, 9), end + 60 * D, "weekly")]
    # an empty interval: the shift on at that instant
    assert [p.user for p in whole_shifts(schedule, start, start)] == ["bob"]
