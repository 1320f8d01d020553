"""Wall-clock arithmetic for schedules: local times of day in an IANA zone, as UTC instants.

Schedules are written in local wall time ("Monday 09:00 in New York"), but the rest of pager
works in UTC instants. This module is the one place that converts between the two, so the
daylight-saving rules live here and nowhere else (`pager.core.schedule` builds on it):

- A wall time that does not exist (the spring-forward gap) is taken to mean the first instant
  after the gap: 02:30 on the US spring-forward day is 03:00 EDT (07:00 UTC).
- A wall time that occurs twice (fall back) is taken at its first occurrence (fold=0).

With these two rules the map from wall time to UTC never goes backwards: it is strictly
increasing except that every wall time inside one gap lands on the same instant (the gap's
end). Rotations step on the local calendar (handoff k is at wall time `first + k * every`),
so a daily 09:00 handoff stays at 09:00 local whatever the offset.

Pure: no clock, no I/O. ZoneInfo objects are cached by `zone()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Handoffs",
    "daily_windows",
    "first_handoff",
    "local_to_utc",
    "wall_time",
    "zone",
]

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT = time(0)


@lru_cache(maxsize=128)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA zone name (cached); ValueError when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown timezone {name!r}: expected an IANA name such as 'Europe/Berlin'"
        ) from exc


def wall_time(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall time that the aware `instant` shows in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall time `local` in `tz`.

    Equivalently: the first instant whose wall time is `local` or later. So a time in a
    spring-forward gap gives the instant the gap ends, and a time that a fall-back repeats
    gives its first occurrence.
    """
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if wall_time(first, tz) == local:
        return first
    return _end_of_gap(local, tz)


def _end_of_gap(local: datetime, tz: ZoneInfo) -> datetime:
    """The transition instant that skips over the non-existent wall time `local`.

    zoneinfo reads a gap time with the offset before (fold=0) or after (fold=1) the
    transition; the transition lies between the two readings. Transitions fall on whole
    seconds, so a bisection over integer seconds finds it exactly.
    """
    readings = (
        local.replace(tzinfo=tz, fold=0).astimezone(UTC),
        local.replace(tzinfo=tz, fold=1).astimezone(UTC),
    )
    lo = (min(readings) - _EPOCH) // _SECOND  # wall time here is before `local`
    hi = -((_EPOCH - max(readings)) // _SECOND)  # ceiling; wall time here is after it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if wall_time(_EPOCH + mid * _SECOND, tz) >= local:
            hi = mid
        else:
            lo = mid
    return _EPOCH + hi * _SECOND


def first_handoff(start: date, handoff: time, weekday: int | None) -> datetime:
    """The wall time of a rotation's first handoff (its anchor).

    The first `handoff` time of day on or after `start`, on `weekday` (0 = Monday) when one
    is given. Returned as naive wall time; `local_to_utc` places it in time.
    """
    days = 0 if weekday is None else (weekday - start.weekday()) % 7
    return datetime.combine(start + days * _DAY, handoff)


@dataclass(frozen=True, slots=True)
class Handoffs:
    """The handoff instants of one rotation in one zone.

    Handoff k is at wall time `first + k * every` (k >= 0), placed in UTC by
    `local_to_utc`. Shift k runs from handoff k to handoff k + 1. Handoffs never decrease;
    two of them can coincide when both fall in one gap (hourly rotations on a
    spring-forward night), which makes the earlier shift empty.
    """

    first: datetime  # naive wall time of handoff 0
    every: timedelta
    tz: ZoneInfo

    def instant(self, k: int) -> datetime:
        """The UTC instant of handoff k."""
        return local_to_utc(self.first + k * self.every, self.tz)

    def index_at(self, at: datetime) -> int | None:
        """The shift running at `at`: the largest k with handoff k <= `at`; None before handoff 0.

        O(1) whatever the distance from the anchor. k is estimated from the wall time
        elapsed since handoff 0 (better than elapsed UTC time: it already counts the
        offset changes). The estimate never overshoots, because a handoff whose wall time
        is not after `at`'s cannot be later than `at` (the wall-to-UTC map is monotone);
        it falls short only while `at` is in a repeated fall-back hour (its wall time
        reads early) or just after handoffs that collapsed into a gap. So a step or two
        forward to the neighbouring handoffs finishes the job; the backward loop only
        detects "before handoff 0" and guards the argument.
        """
        estimate = (wall_time(at, self.tz) - self.first) // self.every
        k = max(0, estimate)
        while self.instant(k) > at:
            if k == 0:
                return None
            k -= 1
        while self.instant(k + 1) <= at:
            k += 1
        return k


def daily_windows(
    days: frozenset[int],
    start: time,
    end: time | None,
    tz: ZoneInfo,
    first_day: date,
    last_day: date,
) -> list[tuple[datetime, datetime]]:
    """The UTC windows of a daily restriction that start on `first_day`..`last_day`.

    A window opens at `start` on each day whose weekday is in `days` and closes at `end`
    the same day, or the next day when `end` is None (24:00) or not after `start`. Both
    ends are wall times, placed by `local_to_utc`; a window that the placing leaves empty
    (it lies inside a gap) is left out. Sorted by start.
    """
    windows: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        if day.weekday() in days:
            opens = datetime.combine(day, start)
            if end is None:
                closes = datetime.combine(day + _DAY, _MIDNIGHT)
            elif end > start:
                closes = datetime.combine(day, end)
            else:
                closes = datetime.combine(day + _DAY, end)
            window = (local_to_utc(opens, tz), local_to_utc(closes, tz))
            if window[0] < window[1]:
                windows.append(window)
        day += _DAY
    return windows
