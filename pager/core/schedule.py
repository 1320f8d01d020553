"""On-call schedules: who is on call at an instant, and the shifts between two instants.

Every page starts with "who is on call for this schedule now?", and the API, the dashboard
and the dry run ask the same about other instants. The answer has to be right at 3 a.m. on
the night the clocks change, so it is computed here as pure functions of a frozen
`Schedule` and an instant: no clock, no I/O, and cheap enough to ask at any time.

A schedule has layers and overrides. A layer's rotation hands the pager from one user to
the next: handoff k happens at local wall time `anchor + k * every` in the schedule's zone,
and shift k (handoff k to handoff k + 1) belongs to `users[k % len(users)]`. The anchor is
the first `handoff_time` (on `handoff_weekday`, when given) on or after `start`; before it
the layer covers nothing. A layer with restrictions covers only the parts of its shifts
inside a restriction window. Later layers win over earlier ones wherever they cover;
overrides win over every layer, and a later override over an earlier one.

Daylight saving (the rules are implemented in `pager.core.schedule_rotation`):

- Handoffs and windows are wall times, stepped on the local calendar: a daily or weekly
  09:00 handoff stays at 09:00 local across DST (its UTC instant moves by the offset
  change); a 12-hour rotation hands off at 09:00 and 21:00 local.
- A wall time that does not exist (spring-forward gap) happens at the first instant after
  the gap: a 02:30 handoff on the US spring-forward day happens at 03:00 EDT.
- A wall time that occurs twice (fall back) happens at its first occurrence (fold=0): a
  daily 01:30 handoff happens once that night, and the shift it starts lasts 25 hours.
- So handoffs never go back in UTC. When two fall on the same instant (an hourly rotation
  whose 02:00 and 03:00 handoffs both land on 03:00 EDT), the zero-length shift between
  them is dropped and the next person in turn takes over: the person whose turn it was
  misses it, and everyone else keeps their turn (shift k is still `users[k % len(users)]`).
- Restriction windows follow the same rules at both ends; a window that lies entirely in
  a gap is empty that day.

The night that skips or repeats an hour is therefore covered by exactly one person per
layer: never nobody, never two.

Cost: `oncall_at` computes the shift index arithmetically, so a lookup is O(layers +
overrides) however far the instant is from the anchors. `shifts` and friends are linear in
the number of handoffs and windows inside the asked interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pager.core.schedule_rotation import (
    Handoffs,
    daily_windows,
    first_handoff,
    wall_time,
    zone,
)
from pager.core.schedule_timeline import Interval, Piece, intersect, stack, union

__all__ = [
    "OVERRIDE_SOURCE",
    "Layer",
    "Override",
    "Restriction",
    "Rotation",
    "Schedule",
    "Shift",
    "gaps",
    "layer_shifts",
    "next_change",
    "oncall_at",
    "shifts",
    "whole_shifts",
]

OVERRIDE_SOURCE = "override"
"""The `Shift.source` of time covered by an override (layers are named by their name)."""

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Rotation:
    """How a layer hands over: every `every` (whole hours), from the anchor on.

    `handoff_time` is a naive time of day in the schedule's zone; `handoff_weekday`
    (0 = Monday) pins the first handoff to a weekday, or None for the first day.
    """

    every: timedelta
    handoff_time: time
    handoff_weekday: int | None
    start: date

    def __post_init__(self) -> None:
        if self.every <= timedelta(0) or self.every % _HOUR:
            raise ValueError(
                f"rotation every must be a positive whole number of hours, got {self.every}"
            )
        if self.handoff_time.tzinfo is not None:
            raise ValueError(
                "rotation handoff_time must be a time of day without a zone "
                "(it is read in the schedule's timezone)"
            )
        if self.handoff_weekday is not None and not 0 <= self.handoff_weekday <= 6:
            raise ValueError(
                f"rotation handoff_weekday must be 0 (Monday) to 6 (Sunday), "
                f"got {self.handoff_weekday}"
            )
        if isinstance(self.start, datetime):
            raise ValueError("rotation start must be a date, not a datetime")


@dataclass(frozen=True, slots=True)
class Restriction:
    """A daily window, in the schedule's zone, inside which a layer covers.

    The window opens at `start` on each day in `days` (0 = Monday .. 6 = Sunday) and closes
    at `end`: the same day, or the next day when `end` is None (24:00) or not after `start`
    (an overnight window belongs to the day it starts).
    """

    days: frozenset[int]
    start: time
    end: time | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days:
            raise ValueError("restriction days must name at least one weekday")
        if not self.days <= frozenset(range(7)):
            raise ValueError(
                f"restriction days must be 0 (Monday) to 6 (Sunday), got {sorted(self.days)}"
            )
        if self.start.tzinfo is not None or (self.end is not None and self.end.tzinfo):
            raise ValueError(
                "restriction start and end must be times of day without a zone "
                "(they are read in the schedule's timezone)"
            )


@dataclass(frozen=True, slots=True)
class Layer:
    """Users taking turns on one rotation, optionally only inside restriction windows."""

    name: str
    users: tuple[str, ...]
    rotation: Rotation
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", tuple(self.users))
        object.__setattr__(self, "restrictions", tuple(self.restrictions))
        if not self.name:
            raise ValueError("layer name must not be empty")
        if self.name == OVERRIDE_SOURCE:
            raise ValueError(f"layer name {OVERRIDE_SOURCE!r} is reserved for overrides")
        if not self.users:
            raise ValueError(f"layer {self.name!r}: users must not be empty")
        if not all(self.users):
            raise ValueError(f"layer {self.name!r}: user ids must not be empty")


@dataclass(frozen=True, slots=True)
class Override:
    """`user` is on call over [start, end), whatever the layers say."""

    user: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("override user must not be empty")
        start = _utc(self.start, "override start")
        end = _utc(self.end, "override end")
        if end <= start:
            raise ValueError(
                f"override for {self.user!r}: end {self.end.isoformat()} must be after "
                f"start {self.start.isoformat()}"
            )


@dataclass(frozen=True, slots=True)
class Schedule:
    """Layers (later ones win) and overrides (win over layers), in one IANA zone."""

    id: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        try:
            zone(self.timezone)
        except ValueError as exc:
            raise ValueError(f"schedule {self.id!r}: {exc}") from None
        names = [layer.name for layer in self.layers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"schedule {self.id!r}: layer names must be unique: {duplicates}")


@dataclass(frozen=True, slots=True)
class Shift:
    """`user` is on call over [start, end) (UTC), because of `source`: a layer or "override"."""

    user: str
    start: datetime
    end: datetime
    source: str


def oncall_at(schedule: Schedule, at: datetime) -> str | None:
    """Who is on call at the instant `at` (aware); None when nobody is (a gap).

    O(layers + overrides): each layer's shift index is computed, not walked to.
    """
    at = _utc(at, "at")
    for override in reversed(schedule.overrides):
        if _utc(override.start) <= at < _utc(override.end):
            return override.user
    tz = zone(schedule.timezone)
    for layer in reversed(schedule.layers):
        user = _layer_user_at(layer, tz, at)
        if user is not None:
            return user
    return None


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The on-call timeline over [start, end): what `oncall_at` says, as intervals.

    Clipped to the interval, sorted, never overlapping; consecutive pieces of one user
    from one source are merged; gaps (nobody on call) are left out.
    """
    start, end = _interval(start, end)
    tz = zone(schedule.timezone)
    sources: list[tuple[str, list[Piece]]] = [
        (layer.name, _layer_pieces(layer, tz, start, end)) for layer in schedule.layers
    ]
    for override in schedule.overrides:
        begin, finish = max(_utc(override.start), start), min(_utc(override.end), end)
        if begin < finish:
            sources.append((OVERRIDE_SOURCE, [(begin, finish, override.user)]))
    return [
        Shift(user, begin, finish, source)
        for begin, finish, user, source in stack(sources, start, end)
    ]


def whole_shifts(
    schedule: Schedule, start: datetime, end: datetime, reach: timedelta = timedelta(days=366)
) -> list[Shift]:
    """The shifts of `shifts` that overlap [start, end) (an empty interval: the one on at
    `start`), each whole: from when it began
    until it ends, not cut at the interval's edges (a page of the next 14 days says when
    the shift on now began, not "from the top of this hour"). Looked for as far as `reach`
    before and after; a shift that goes on past that is cut there."""
    start, end = _interval(start, end)
    look = max((layer.rotation.every for layer in schedule.layers), default=_DAY) + _DAY
    while True:
        look = min(look, reach)
        found = [p for p in shifts(schedule, start - look, end + look) if p.end > start]
        found = [p for p in found if p.start < end]
        cut = bool(found) and (found[0].start == start - look or found[-1].end == end + look)
        if not cut or look >= reach:
            return found
        look *= 4


def layer_shifts(
    schedule: Schedule, layer_index: int, start: datetime, end: datetime
) -> list[Shift]:
    """One layer's own coverage over [start, end), ignoring other layers and overrides.

    One piece per rotation shift (cut by the restriction windows, if any), clipped to the
    interval, sorted; empty shifts are left out.
    """
    start, end = _interval(start, end)
    if not 0 <= layer_index < len(schedule.layers):
        raise ValueError(
            f"schedule {schedule.id!r} has {len(schedule.layers)} layers, no layer {layer_index}"
        )
    layer = schedule.layers[layer_index]
    pieces = _layer_pieces(layer, zone(schedule.timezone), start, end)
    return [Shift(user, begin, finish, layer.name) for begin, finish, user in pieces]


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[Interval]:
    """The intervals inside [start, end) with nobody on call, sorted (UTC)."""
    start, end = _interval(start, end)
    holes: list[Interval] = []
    cursor = start
    for shift in shifts(schedule, start, end):
        if cursor < shift.start:
            holes.append((cursor, shift.start))
        cursor = shift.end
    if cursor < end:
        holes.append((cursor, end))
    return holes


def next_change(schedule: Schedule, after: datetime) -> datetime | None:
    """The first instant after `after` at which the on-call person may change (UTC).

    The earliest upcoming handoff, restriction window boundary or override boundary of any
    layer or override; the person may also stay the same there (a timer that fires then
    asks `oncall_at` again). None when nothing can change any more.
    """
    after = _utc(after, "after")
    tz = zone(schedule.timezone)
    candidates: list[datetime] = []
    for override in schedule.overrides:
        candidates.extend(t for t in (_utc(override.start), _utc(override.end)) if t > after)
    for layer in schedule.layers:
        handoffs = _handoffs(layer, tz)
        k = handoffs.index_at(after)
        candidates.append(handoffs.instant(0 if k is None else k + 1))
        if layer.restrictions:
            # Each restriction opens at least once a week: eight days ahead always
            # holds its next boundary.
            day = wall_time(after, tz).date()
            for restriction in layer.restrictions:
                for opens, closes in _windows(restriction, tz, day - _DAY, day + 8 * _DAY):
                    candidates.extend(t for t in (opens, closes) if t > after)
    return min(candidates, default=None)


# --- one layer ------------------------------------------------------------------------


def _handoffs(layer: Layer, tz: ZoneInfo) -> Handoffs:
    rotation = layer.rotation
    first = first_handoff(rotation.start, rotation.handoff_time, rotation.handoff_weekday)
    return Handoffs(first, rotation.every, tz)


def _windows(
    restriction: Restriction, tz: ZoneInfo, first_day: date, last_day: date
) -> list[Interval]:
    return daily_windows(
        restriction.days, restriction.start, restriction.end, tz, first_day, last_day
    )


def _layer_user_at(layer: Layer, tz: ZoneInfo, at: datetime) -> str | None:
    k = _handoffs(layer, tz).index_at(at)
    if k is None:
        return None
    if layer.restrictions:
        # A window lasts at most a day of wall time, so one that holds `at` opened the
        # day before, the same day or (when a fall-back repeats midnight) the next day.
        day = wall_time(at, tz).date()
        if not any(
            opens <= at < closes
            for restriction in layer.restrictions
            for opens, closes in _windows(restriction, tz, day - _DAY, day + _DAY)
        ):
            return None
    return layer.users[k % len(layer.users)]


def _layer_pieces(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> list[Piece]:
    """The layer's coverage inside [start, end): rotation shifts cut by the windows."""
    handoffs = _handoffs(layer, tz)
    k = handoffs.index_at(start)
    k = 0 if k is None else k
    pieces: list[Piece] = []
    begin = handoffs.instant(k)
    while begin < end:
        finish = handoffs.instant(k + 1)
        clipped = (max(begin, start), min(finish, end))
        if clipped[0] < clipped[1]:  # also drops shifts that a gap made empty
            pieces.append((*clipped, layer.users[k % len(layer.users)]))
        begin, k = finish, k + 1
    if not layer.restrictions:
        return pieces
    first_day = wall_time(start, tz).date() - _DAY
    last_day = wall_time(end, tz).date() + _DAY
    windows = union([w for r in layer.restrictions for w in _windows(r, tz, first_day, last_day)])
    return intersect(pieces, windows)


# --- arguments ------------------------------------------------------------------------


def _utc(value: datetime, what: str = "datetime") -> datetime:
    """`value` as a UTC datetime; ValueError when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value.isoformat()} (naive)")
    return value.astimezone(UTC)


def _interval(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    begin, finish = _utc(start, "start"), _utc(end, "end")
    if finish < begin:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return begin, finish
