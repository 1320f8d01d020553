"""When scheduled reports are due (pager.core.analytics.sending): `last_send` is the
counterpart of `next_send` (the last due instant at or before a moment), across a
daylight-saving change; and what the log keeps of the reports sent (`report.sent`): the
latest due instant of each, through a snapshot and back."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import orjson

from pager.core.analytics.sending import last_send, next_send
from pager.core.events import ReportSent, decode, encode
from pager.core.state import SystemState

NINE = time(9, 0)


def test_last_send_is_the_due_instant_at_or_before_now() -> None:
    # Mondays 09:00 Berlin: 08:00 UTC in winter, 07:00 UTC from 29 March 2026 (summer time)
    monday = datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert last_send(0, NINE, "Europe/Berlin", monday) == monday  # due at that very instant
    assert last_send(0, NINE, "Europe/Berlin", monday - timedelta(seconds=1)) == datetime(
        2026, 2, 23, 8, tzinfo=UTC
    )
    assert last_send(0, NINE, "Europe/Berlin", datetime(2026, 3, 31, tzinfo=UTC)) == datetime(
        2026, 3, 30, 7, tzinfo=UTC
    )
    # daily at 09:00 UTC
    assert last_send(None, NINE, "UTC", datetime(2026, 3, 5, 8, 59, tzinfo=UTC)) == datetime(
        2026, 3, 4, 9, tzinfo=UTC
    )
    # every instant over five weeks: the last due is before it, and the next after it
    t = datetime(2026, 3, 1, tzinfo=UTC)
    while t < datetime(2026, 4, 5, tzinfo=UTC):
        for weekday in (0, 4, None):
            last = last_send(weekday, NINE, "Europe/Berlin", t)
            assert last <= t < next_send(weekday, NINE, "Europe/Berlin", last)
        t += timedelta(minutes=97)


def test_the_state_keeps_the_latest_due_instant_of_each_report_sent() -> None:
    s = SystemState()
    due = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in (2, 9)]
    s.apply_event(ReportSent(report="a", due=due[1]), 1, due[1])
    s.apply_event(ReportSent(report="a", due=due[0]), 2, due[1])  # a stale one: kept the later
    s.apply_event(ReportSent(report="b", due=due[0]), 3, due[1])
    assert s.reports_sent == {"a": due[1], "b": due[0]}
    data = orjson.loads(orjson.dumps(s.to_snapshot(), option=orjson.OPT_UTC_Z))
    assert SystemState.from_snapshot(data).reports_sent == s.reports_sent
    del data["reports_sent"]  # a snapshot written before reports were journaled
    assert SystemState.from_snapshot(data).reports_sent == {}
    ev = ReportSent(report="a", due=due[0])
    assert decode("report.sent", orjson.loads(orjson.dumps(encode(ev)))) == ev
