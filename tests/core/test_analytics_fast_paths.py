"""The report's fast paths answer what the plain ways of working the same thing out answer.

- `incidents_csv(ledger, query)` writes its cells straight from the ledger's columns; it must
  write what `to_csv` writes of `incident_rows` (each value through `cell`, instants through
  datetime), for any incidents: sub-second instants (up to .999999), names that look like
  spreadsheet formulas or hold commas, quotes and line breaks, a service asked, and a log
  whose clock stepped back (rows not in time order).
- `Hours.of` places an instant in a person's day from a cached UTC offset per day; it must
  say what zoneinfo says of that very instant, across daylight-saving changes in zones with
  odd offsets (Lord Howe moves by 30 minutes, Kathmandu is +05:45). `Hours.parts` places
  many instants at once (numpy); it must say what zoneinfo says of each, those of a day of a
  change included.
- A report reads the columns through copies (`vector`): the ledger it read goes on growing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pager.core.analytics import Directory, Ledger, Query, incident_rows, report
from pager.core.analytics.stats import Hours
from pager.core.analytics.tables import INCIDENT_HEADER, incidents_csv, to_csv

from .analytics_log import Log

T0 = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # Europe's change to summer time is 03-29 01:00
NAMES = ("web", "=cmd|' /C calc'!A0", "-1", "a, b", 'say "hi"', "two\nlines", "Ngā", "@x", "+1")
COLUMNS = (
    "id", "number", "service", "title", "opened", "acknowledged", "resolved", "seconds_to_ack",
    "seconds_to_resolve", "acknowledged_by", "acknowledged_via", "escalations", "resolved_by",
    "resolution",
)  # fmt: skip


def _plain(rows: list[dict[str, object]]) -> str:
    return to_csv(INCIDENT_HEADER, ([r[k] for k in COLUMNS] for r in rows))


micros = st.integers(0, 3 * 86400 * 1_000_000).map(lambda us: timedelta(microseconds=us))
nearly_whole = st.integers(0, 3 * 86400).map(lambda s: timedelta(seconds=s, microseconds=999_999))


@st.composite
def incident_logs(draw: st.DrawFn) -> Log:
    log = Log()
    for n in range(1, draw(st.integers(1, 12)) + 1):
        iid = draw(st.sampled_from([f"inc-{n}", f"=inc-{n}"]))
        opened = T0 + draw(st.one_of(micros, nearly_whole))
        log.open(iid, opened, service=draw(st.sampled_from(NAMES)),
                 title=draw(st.sampled_from(NAMES)))  # fmt: skip
        if draw(st.booleans()):
            acked = opened + draw(st.one_of(micros, nearly_whole))
            log.ack(iid, acked, draw(st.sampled_from([*NAMES, None])), draw(st.sampled_from(NAMES)))
        if draw(st.booleans()):
            how = draw(st.sampled_from(["person", "source", "auto-resolved"]))
            log.resolve(iid, opened + draw(st.one_of(micros, nearly_whole)),
                        by="ned" if how == "person" else None, via="api",
                        reason=how if how != "person" else None)  # fmt: skip
    return log


@settings(max_examples=200, deadline=None)
@given(log=incident_logs(), service=st.sampled_from([None, *NAMES]), data=st.data())
def test_the_incidents_csv_is_what_the_plain_rows_make(
    log: Log, service: str | None, data: st.DataObject
) -> None:
    start = T0 + data.draw(micros)
    q = Query(start, start + timedelta(days=data.draw(st.integers(1, 4))), service=service)
    led = log.ledger()
    want = _plain(incident_rows(led, q))
    assert incidents_csv(led, q) == want
    led.in_order = False  # (as after the clock stepped back: every row is checked)
    assert incidents_csv(led, q) == want


ZONES = ("Australia/Lord_Howe", "Asia/Kathmandu", "America/New_York", "Pacific/Auckland",
         "Europe/Berlin", "UTC", "America/St_Johns", "Pacific/Chatham")  # fmt: skip


def _local_part(tz: ZoneInfo, t: float) -> int:
    local = datetime.fromtimestamp(t, tz)
    return Hours.of_local(local.weekday(), local.hour)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    at=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
)
def test_hours_say_what_zoneinfo_says(zone: str, at: datetime) -> None:
    hours = Hours(zone)
    want = _local_part(ZoneInfo(zone), at.timestamp())
    assert hours.of(at.timestamp()) == want
    assert hours.of(at.timestamp()) == want  # and again, from what it cached


def _changes_of_2026(tz: ZoneInfo) -> list[float]:
    """The UTC midnights of 2026 before which `tz`'s offset changed in the day that follows."""
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    days = [start + 86400 * d for d in range(366)]
    return [
        t for t, u in pairwise(days)
        if datetime.fromtimestamp(t, tz).utcoffset() != datetime.fromtimestamp(u, tz).utcoffset()
    ]  # fmt: skip


def test_hours_across_every_change_of_offset_in_2026() -> None:
    """Every quarter of an hour (its first and last instant) of the days around each
    change of offset of 2026, in each zone."""
    for zone in ZONES:
        tz, hours = ZoneInfo(zone), Hours(zone)
        changes = _changes_of_2026(tz)
        assert changes or zone in ("Asia/Kathmandu", "UTC"), zone
        for day in changes:
            for slot in range(-96, 2 * 96):
                for t in (day + slot * 900, day + slot * 900 + 899.999999):
                    assert hours.of(t) == _local_part(tz, t), (zone, t)


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    ats=st.lists(
        st.datetimes(
            min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
        ),
        max_size=50,
    ),
)
def test_hours_parts_say_what_zoneinfo_says(zone: str, ats: list[datetime]) -> None:
    tz = ZoneInfo(zone)
    # and every quarter of an hour of the days around the year's changes of offset
    times = [a.timestamp() for a in ats] + [
        day + slot * 900 + edge
        for day in _changes_of_2026(tz)
        for slot in range(-4, 100)
        for edge in (0, 899.5)
    ]
    got = Hours(zone).parts(np.array(times, np.float64)).tolist()
    assert got == [_local_part(tz, t) for t in times]


def test_a_report_leaves_the_ledger_free_to_grow() -> None:
    log = Log()
    for n in range(1, 5):
        log.open(f"inc-{n}", T0 + timedelta(minutes=n))
        log.ack(f"inc-{n}", T0 + timedelta(minutes=n + 1), "ned", "slack")
    led = Ledger()
    for seq, (ev, at) in enumerate(log.records[:4], 1):
        led.apply(ev, seq, at)
    q = Query(T0, T0 + timedelta(days=1))
    assert report(led, q, Directory())["incidents"]["opened"] == 2
    for seq, (ev, at) in enumerate(log.records[4:], 5):  # (rows appended to the columns read)
        led.apply(ev, seq, at)
    after = report(led, q, Directory())
    assert after["incidents"]["opened"] == after["incidents"]["acknowledged"] == 4
