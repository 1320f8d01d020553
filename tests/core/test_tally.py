"""`Tally`: something that comes in bursts (a standby refusing every request during a
takeover) is reported at once, then at most once per interval with how many came since
(pure: time is passed in)."""

from __future__ import annotations

from pager.core.ratelimit import Tally


def test_the_first_is_reported_at_once_then_one_report_per_interval_with_the_count() -> None:
    t = Tally(10.0)
    assert t.add(100.0) == 1
    assert [t.add(100.0 + i) for i in range(1, 10)] == [0] * 9  # 9 more within 10 s
    assert t.add(110.0) == 10  # those 9 and this one
    assert t.add(115.0) == 0
    assert t.add(200.0) == 2  # a quiet while later: the one held back and this one


def test_nothing_is_lost_between_reports() -> None:
    t = Tally(10.0)
    reported = sum(t.add(i * 0.5) for i in range(1000))
    assert reported + t.count == 1000
