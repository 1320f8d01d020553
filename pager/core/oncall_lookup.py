"""Who is on call, asked once per incident that opens: `oncall_at` with a memory of the
stretch over which its answer holds.

An alert storm opens thousands of incidents a second, each asking every schedule of its
escalation level who is on call *now*: a different instant every time, so a cache keyed on
the instant never hits, and working the rotation out again cost about a tenth of the CPU
of opening an incident. The answer cannot change before the schedule's next handoff,
restriction boundary or override boundary (`next_change`), so each schedule keeps its last
answer with the interval [asked at, next change) over which it holds. Pure: the instants
come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from . import schedule as sched

__all__ = ["OncallLookup"]


class OncallLookup:
    """`lookup(schedule_id, at)`: who is on call on that schedule at `at` (None: nobody, or
    no such schedule), as `schedule.oncall_at` says it."""

    __slots__ = ("_known", "_schedules")

    def __init__(self, schedules: Mapping[str, sched.Schedule]) -> None:
        self._schedules = schedules
        # schedule id -> (from, until, who): `who` is on call over [from, until)
        self._known: dict[str, tuple[datetime, datetime | None, str | None]] = {}

    def __call__(self, schedule_id: str, at: datetime) -> str | None:
        known = self._known.get(schedule_id)
        if known is not None:
            start, until, who = known
            if start <= at and (until is None or at < until):
                return who
        s = self._schedules.get(schedule_id)
        if s is None:
            return None
        who = sched.oncall_at(s, at)
        self._known[schedule_id] = (at, sched.next_change(s, at), who)
        return who
