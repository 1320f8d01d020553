"""Business hours: when the next one opens, across a change of clocks."""

from __future__ import annotations

from datetime import UTC, datetime, time

from pager.core.rules import BusinessHours

EVERY_DAY = frozenset(range(7))


def test_next_start_on_a_weekday_morning_and_over_the_weekend() -> None:
    hours = BusinessHours("America/New_York", frozenset(range(5)), time(9), time(17))
    # Friday 2026-03-06 18:00 EST: next Monday 09:00 EST
    at = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    assert hours.next_start(at) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # EDT since Sunday
    inside = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert hours.next_start(inside) == inside


def test_a_start_the_clocks_skip_opens_when_the_gap_ends() -> None:
    # New York, Sunday 2026-03-08: 02:00 EST becomes 03:00 EDT, so 02:30 never happens
    hours = BusinessHours("America/New_York", EVERY_DAY, time(2, 30), time(12))
    at = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    assert hours.next_start(at) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert hours.contains(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
