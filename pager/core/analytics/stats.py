"""The arithmetic of the reports: mean, median and p90 of durations, which part of a person's
day an instant falls in (in their own time zone), and the day or week an instant belongs to.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

__all__ = [
    "BUSINESS",
    "HOURS",
    "OFF_HOURS",
    "SLEEP",
    "Hours",
    "Periods",
    "percentile",
    "summary",
]

HOURS = ("business", "off_hours", "sleep")
BUSINESS, OFF_HOURS, SLEEP = range(3)
SLOT = 900.0  # every UTC offset in use is a multiple of 15 minutes


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated between the two nearest ranks:
    what a spreadsheet's PERCENTILE.INC and MEDIAN say (the median of 60 and 120 is 90)."""
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    pos = (n - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _round(x: float) -> float:
    return round(x, 3)


def summary(values: list[float]) -> dict[str, Any]:
    """{count, mean, p50, p90} of durations in seconds (None for each when there are none);
    `values` is sorted in place."""
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    values.sort()
    return {
        "count": len(values),
        "mean": _round(math.fsum(values) / len(values)),
        "p50": _round(percentile(values, 0.5)),
        "p90": _round(percentile(values, 0.9)),
    }


class Hours:
    """Which part of the day an instant is for a person in `zone`: business hours (08-18
    Monday to Friday), off hours (18-22 Monday to Friday, and 08-22 at weekends) or sleep
    hours (22-08 every day), on their own clock.

    The zone's UTC offset is looked up once per UTC day and cached; within a day whose offset
    does not change, the local hour of the week is plain arithmetic. A day with a change (a
    DST transition) asks the zone per 15-minute slot, inside which the answer cannot change
    (every UTC offset in use, and every transition, is on a 15-minute boundary)."""

    __slots__ = ("_days", "_slots", "zone")

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self._days: dict[int, float] = {}  # UTC day -> its offset (s), NaN: it changes
        self._slots: dict[int, int] = {}  # 15-minute slot -> answer, on days of a change

    def of(self, t: float) -> int:
        day = int(t // DAY)
        off = self._days.get(day)
        if off is None:
            off = self._days[day] = self._offset(day)
        if off == off:  # (not NaN)
            return _WEEK[int((t + off) // 3600) % 168]
        slot = int(t // SLOT)
        found = self._slots.get(slot)
        if found is None:
            local = datetime.fromtimestamp(slot * SLOT, self.zone)
            found = self._slots[slot] = self.of_local(local.weekday(), local.hour)
        return found

    def parts(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """`of` of each instant of `times`, at once: the offset of each distinct UTC day is
        looked up (and cached) as `of` does; instants on a day of a change ask `of`."""
        if not len(times):
            return np.zeros(0, np.intp)
        days, where = np.unique(np.floor_divide(times, DAY), return_inverse=True)
        offsets = []
        for day in days.tolist():
            found = self._days.get(int(day))
            if found is None:
                found = self._days[int(day)] = self._offset(int(day))
            offsets.append(found)
        off = np.asarray(offsets, np.float64)[where]
        changing = np.isnan(off)
        hours = np.floor_divide(np.where(changing, 0.0, times + off), 3600.0) % 168
        out = _WEEK_PARTS[hours.astype(np.intp)]
        for i in np.flatnonzero(changing).tolist():
            out[i] = self.of(float(times[i]))
        return out

    def _offset(self, day: int) -> float:
        """The zone's UTC offset all through UTC day `day` (seconds), NaN if it changes."""
        first = datetime.fromtimestamp(day * DAY, self.zone).utcoffset()
        last = datetime.fromtimestamp(day * DAY + DAY - SLOT, self.zone).utcoffset()
        if first is None or first != last:
            return math.nan
        return first.total_seconds()

    @staticmethod
    def of_local(weekday: int, hour: int) -> int:
        if hour >= 22 or hour < 8:
            return SLEEP
        if weekday < 5 and hour < 18:
            return BUSINESS
        return OFF_HOURS


DAY = 86400.0
# the part of the day of each hour of the week, counted from the epoch's hour 0: a Thursday
_WEEK = tuple(Hours.of_local((h // 24 + 3) % 7, h % 24) for h in range(168))
_WEEK_PARTS = np.array(_WEEK, np.intp)


class Periods:
    """Cuts [start, end) into days or ISO weeks (starting Monday) of `zone`'s calendar."""

    def __init__(self, start: datetime, end: datetime, group_by: str, zone: str) -> None:
        if group_by not in ("day", "week"):
            raise ValueError("group_by: must be day or week")
        self.zone = ZoneInfo(zone)
        self.group_by = group_by
        first = start.astimezone(self.zone).date()
        if group_by == "week":
            first -= timedelta(days=first.weekday())
        step = timedelta(days=7 if group_by == "week" else 1)
        self.labels: list[date] = []
        self.starts: list[float] = []  # the UTC instant each period starts
        d = first
        while True:
            at = datetime.combine(d, datetime.min.time(), self.zone)
            if at >= end and self.labels:
                break
            self.labels.append(d)
            self.starts.append(at.timestamp())
            d += step
        self.end = end.timestamp()

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, t: float) -> int:
        """The period `t` falls in (clamped to the first and last)."""
        i = bisect_right(self.starts, t) - 1
        return i if i > 0 else 0

    def count(self, ordered: Sequence[float] | npt.NDArray[np.float64]) -> list[int]:
        """How many of the sorted instants `ordered` fall in each period (as `index` places
        them: those before the first period in it, those after the last in that)."""
        edges = np.searchsorted(ordered, self.starts[1:], side="left").tolist()
        return [b - a for a, b in zip([0, *edges], [*edges, len(ordered)], strict=True)]

    def bounds(self, i: int) -> tuple[datetime, datetime]:
        start = datetime.fromtimestamp(self.starts[i], UTC)
        end = self.starts[i + 1] if i + 1 < len(self.starts) else self.end
        return start, datetime.fromtimestamp(end, UTC)
