"""When a scheduled report goes out, and what it covers: pure functions of the report's
`at` ("monday 09:00" weekly, "09:00" daily), its time zone and an instant, so the reporting
actor can be tested on a mock clock and across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..schedule_rotation import local_to_utc

__all__ = ["covered", "last_send", "next_send"]


def next_send(weekday: int | None, at: time, zone: str, after: datetime) -> datetime:
    """The first instant strictly after `after` at which the report is due: `at` on the
    local clock of `zone`, on `weekday` (0 is Monday) or every day. A time that a
    spring-forward skips is due when the gap ends."""
    tz = ZoneInfo(zone)
    day = after.astimezone(tz).date()
    for _ in range(9):
        if weekday is None or day.weekday() == weekday:
            due = local_to_utc(datetime.combine(day, at), tz)
            if due > after:
                return due
        day += timedelta(days=1)
    raise AssertionError("a weekly report is due within 8 days")  # pragma: no cover


def last_send(weekday: int | None, at: time, zone: str, now: datetime) -> datetime:
    """The last instant at or before `now` at which the report was due (`next_send`'s
    counterpart)."""
    due = next_send(weekday, at, zone, now - timedelta(days=8 if weekday is not None else 2))
    while True:
        after = next_send(weekday, at, zone, due)
        if after > now:
            return due
        due = after


def covered(weekday: int | None, sent_at: datetime) -> tuple[datetime, datetime]:
    """The range a report sent at `sent_at` covers: the 7 days before it (weekly) or the
    24 hours before it (daily)."""
    end = sent_at.astimezone(UTC)
    return end - timedelta(days=1 if weekday is None else 7), end
