"""Randomized schedules checked against a slow, independent reference.

The reference below shares no code with pager.core.schedule*: it finds the anchor by
walking days, converts wall time to UTC by trying every offset the zone uses nearby and,
inside a gap, by stepping the clock forward minute by minute, then second by second; it
finds the shift running at an instant by walking the handoffs one by one from the anchor.
(It reads times of day to the minute: the strategies draw no seconds.)
Schedules are drawn around the 2026 transitions of zones with 1-hour, 30-minute and no
daylight saving, and with non-whole-hour offsets (Kolkata +5:30, St John's -3:30/-2:30).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from random import Random
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.core.oncall_lookup import OncallLookup
from pager.core.schedule import (
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    gaps,
    layer_shifts,
    next_change,
    oncall_at,
    shifts,
)

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "UTC",
    "Asia/Kolkata",
    "America/St_Johns",
]
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
TICK = timedelta(microseconds=1)
USERS = [f"u{i}" for i in range(8)]
EXAMPLES = 400


# --- the reference ------------------------------------------------------------------------


def ref_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def ref_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose wall time is `local` or later."""
    offsets = set()
    for days in (-1, 0, 1):
        probe = (local + timedelta(days=days)).replace(tzinfo=UTC)
        offsets.add(probe.astimezone(zone).utcoffset())
    candidates = sorted((local - off).replace(tzinfo=UTC) for off in offsets if off is not None)
    exact = [u for u in candidates if ref_wall(u, zone) == local]
    if exact:
        return exact[0]
    u = candidates[0]
    assert ref_wall(u, zone) < local
    while ref_wall(u + MINUTE, zone) < local:
        u += MINUTE
    while ref_wall(u, zone) < local:
        u += SECOND
    return u


def ref_handoffs(rotation: Rotation, zone: ZoneInfo) -> Iterator[datetime]:
    day = rotation.start
    while rotation.handoff_weekday is not None and day.weekday() != rotation.handoff_weekday:
        day += timedelta(days=1)
    local = datetime(
        day.year, day.month, day.day, rotation.handoff_time.hour, rotation.handoff_time.minute
    )
    while True:
        yield ref_to_utc(local, zone)
        local += rotation.every


def ref_in_window(restriction: Restriction, zone: ZoneInfo, at: datetime) -> bool:
    today = ref_wall(at, zone).date()
    for back in range(-2, 3):
        day = today + timedelta(days=back)
        if day.weekday() not in restriction.days:
            continue
        opens = datetime(
            day.year, day.month, day.day, restriction.start.hour, restriction.start.minute
        )
        if restriction.end is None:
            length = timedelta(days=1) - (opens - datetime(day.year, day.month, day.day))
        else:
            minutes = (restriction.end.hour * 60 + restriction.end.minute) - (
                restriction.start.hour * 60 + restriction.start.minute
            )
            length = timedelta(minutes=minutes if minutes > 0 else minutes + 24 * 60)
        if ref_to_utc(opens, zone) <= at < ref_to_utc(opens + length, zone):
            return True
    return False


def ref_oncall(schedule: Schedule, instants: list[datetime]) -> dict[datetime, str | None]:
    """Who is on call at each instant, walking every layer's handoffs from its anchor."""
    zone = ZoneInfo(schedule.timezone)
    ordered = sorted(set(instants))
    per_layer: list[dict[datetime, str | None]] = []
    for layer in schedule.layers:
        answers: dict[datetime, str | None] = {}
        walk = ref_handoffs(layer.rotation, zone)
        k, current, following = -1, None, next(walk)
        for at in ordered:
            while following <= at:
                k, current, following = k + 1, following, next(walk)
            if current is None or (
                layer.restrictions
                and not any(ref_in_window(r, zone, at) for r in layer.restrictions)
            ):
                answers[at] = None
            else:
                answers[at] = layer.users[k % len(layer.users)]
        per_layer.append(answers)
    result: dict[datetime, str | None] = {}
    for at in ordered:
        covering = [o for o in schedule.overrides if o.start <= at < o.end]
        if covering:
            result[at] = covering[-1].user  # the last override wins
            continue
        below = [answers[at] for answers in per_layer if answers[at] is not None]
        result[at] = below[-1] if below else None  # the last covering layer wins
    return result


def ref_transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    found = []
    t = start
    while t < end:
        if (t + timedelta(hours=1)).astimezone(zone).utcoffset() != t.astimezone(zone).utcoffset():
            lo, hi = t, t + timedelta(hours=1)
            while hi - lo > SECOND:
                mid = lo + (hi - lo) / 2
                same = mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset()
                lo, hi = (mid, hi) if same else (lo, mid)
            found.append(hi)
        t += timedelta(hours=1)
    return found


# --- strategies ---------------------------------------------------------------------------

# Local dates of the 2026 transitions of the zones above, and some ordinary days.
FOCUS_DAYS = [
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 1, 15),
    date(2026, 7, 1),
]

hours = st.one_of(st.sampled_from([1, 2, 3, 8, 12, 24, 48, 168, 336]), st.integers(1, 336))
times_of_day = st.builds(
    time,
    hour=st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 23)),
    minute=st.one_of(st.sampled_from([0, 15, 30, 45]), st.integers(0, 59)),
)
restrictions = st.builds(
    Restriction,
    days=st.frozensets(st.integers(0, 6), min_size=1),
    start=times_of_day,
    end=st.one_of(st.none(), times_of_day),
)


@dataclass(frozen=True)
class Case:
    schedule: Schedule
    start: datetime  # the window asked about, UTC
    end: datetime
    samples: list[datetime]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    tz = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(tz)
    focus = datetime.combine(draw(st.sampled_from(FOCUS_DAYS)), time(0), zone).astimezone(UTC)
    start = focus - draw(st.integers(0, 4 * 24 * 60)) * MINUTE
    end = start + draw(st.integers(0, 12 * 24 * 60)) * MINUTE
    layers = []
    for i in range(draw(st.integers(1, 3))):
        rotation = Rotation(
            every=timedelta(hours=draw(hours)),
            handoff_time=draw(times_of_day),
            handoff_weekday=draw(st.one_of(st.none(), st.integers(0, 6))),
            start=(start - timedelta(days=draw(st.integers(-3, 25)))).date(),
        )
        users = tuple(draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=6)))
        restricted = draw(st.lists(restrictions, max_size=2)) if i > 0 else []
        if i == 0 and draw(st.booleans()):
            restricted = draw(st.lists(restrictions, max_size=2))
        layers.append(Layer(f"layer{i}", users, rotation, tuple(restricted)))
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        begins = start + draw(st.integers(-24 * 60, 12 * 24 * 60)) * MINUTE
        length = draw(st.integers(1, 5 * 24 * 60)) * MINUTE
        overrides.append(Override(draw(st.sampled_from(USERS)), begins, begins + length))
    schedule = Schedule("s", tz, tuple(layers), tuple(overrides))
    # Sample instants: random ones, and the transitions, override edges and their neighbours.
    span = end - start + timedelta(days=2)
    samples = [
        start - timedelta(days=1) + span * f for f in draw(st.lists(st.floats(0, 1), max_size=20))
    ]
    for t in ref_transitions(zone, start - timedelta(days=1), end + timedelta(days=1)):
        samples += [t + k * 10 * MINUTE for k in range(-12, 13)] + [t - TICK, t - SECOND]
    for o in overrides:
        samples += [o.start - TICK, o.start, o.end - TICK, o.end]
    return Case(schedule, start, end, samples)


def covers_exactly(pieces: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> None:
    cursor = start
    for begin, finish in sorted(pieces):
        assert begin == cursor, (begin, cursor)
        assert begin < finish
        cursor = finish
    assert cursor == end


SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- the properties -----------------------------------------------------------------------


@SETTINGS
@given(cases())
def test_oncall_at_matches_the_reference(case: Case) -> None:
    timeline = shifts(case.schedule, case.start, case.end)
    samples = list(case.samples)
    for s in timeline:  # the fast timeline's edges are good places to look too
        samples += [s.start - TICK, s.start, s.end - TICK]
    expected = ref_oncall(case.schedule, samples)
    for at in samples:
        assert oncall_at(case.schedule, at) == expected[at], at


@SETTINGS
@given(cases())
def test_unrestricted_layer_tiles_from_its_anchor(case: Case) -> None:
    zone = ZoneInfo(case.schedule.timezone)
    for index, layer in enumerate(case.schedule.layers):
        if layer.restrictions:
            continue
        anchor = next(ref_handoffs(layer.rotation, zone))
        pieces = layer_shifts(case.schedule, index, case.start, case.end)
        begin = max(anchor, case.start)
        if begin >= case.end:
            assert pieces == []
            continue
        covers_exactly([(p.start, p.end) for p in pieces], begin, case.end)
        assert all(p.source == layer.name for p in pieces)


@SETTINGS
@given(cases())
def test_shifts_never_overlap_and_agree_with_oncall_at(case: Case) -> None:
    timeline = shifts(case.schedule, case.start, case.end)
    for s in timeline:
        assert case.start <= s.start < s.end <= case.end
        for at in (s.start, s.start + (s.end - s.start) / 2, s.end - TICK):
            assert oncall_at(case.schedule, at) == s.user, (at, s)
    for a, b in pairwise(timeline):
        assert a.end <= b.start
        assert not (a.end == b.start and (a.user, a.source) == (b.user, b.source)), "unmerged"


@SETTINGS
@given(cases())
def test_gaps_and_shifts_cover_the_window_exactly(case: Case) -> None:
    timeline = shifts(case.schedule, case.start, case.end)
    holes = gaps(case.schedule, case.start, case.end)
    covers_exactly([(s.start, s.end) for s in timeline] + holes, case.start, case.end)
    for begin, finish in holes:
        assert oncall_at(case.schedule, begin) is None
        assert oncall_at(case.schedule, begin + (finish - begin) / 2) is None


@SETTINGS
@given(cases())
def test_nothing_changes_before_next_change(case: Case) -> None:
    timeline = shifts(case.schedule, case.start, case.end)
    # Where the rendered timeline changes hands (or turns into a gap), inside the window.
    edges = {s.start for s in timeline} | {s.end for s in timeline}
    changes = sorted(edges - {case.start, case.end})
    for at in [case.start, *case.samples[:10]]:
        after = next_change(case.schedule, at)
        if after is None:
            assert not case.schedule.layers
            continue
        assert after > at
        who = oncall_at(case.schedule, at)
        for probe in (at + (after - at) / 2, after - TICK):
            assert oncall_at(case.schedule, probe) == who
        upcoming = [c for c in changes if c > at]
        if upcoming:
            assert after <= upcoming[0]


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_the_remembering_lookup_answers_as_oncall_at(case: Case, rnd: Random) -> None:
    """`OncallLookup` keeps each answer over [asked at, next change): asked in time order
    (a storm), out of order (dry runs) or at the same instant again, it says what
    `oncall_at` says."""
    samples = sorted(case.samples)
    for order in (samples, rnd.sample(samples, len(samples)), [s for s in samples for _ in (0, 1)]):
        lookup = OncallLookup({"s": case.schedule})
        for at in order:
            assert lookup("s", at) == oncall_at(case.schedule, at), at
        assert lookup("missing", case.start) is None
