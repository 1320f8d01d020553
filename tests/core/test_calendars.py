"""Calendar feeds in pure code, read back with the `icalendar` library: instants across a
DST change (Europe/Berlin), overrides, a person's feed, escaping and folding, stable UIDs,
the window of whole local days, and the tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import orjson
import pytest

from pager.core import calendars as cal
from pager.core import schedule as sched
from pager.core.events import Attribution, CalendarFeedRevoked, decode, encode
from pager.core.ical import CalendarEvent, fold, render_calendar
from pager.core.state import SystemState

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)  # three days before Berlin springs forward


def berlin_daily(*overrides: sched.Override) -> sched.Schedule:
    layer = sched.Layer(
        "daily",
        ("anna", "ben"),
        sched.Rotation(timedelta(days=1), time(9, 0), None, date(2026, 3, 1)),
    )
    return sched.Schedule("ops", "Europe/Berlin", (layer,), overrides)


def parse(text: str) -> list[Any]:
    calendar = icalendar.Calendar.from_ical(text)
    return list(calendar.walk("VEVENT"))


def instants(event: Any) -> tuple[datetime, datetime]:
    return event.decoded("DTSTART"), event.decoded("DTEND")


def test_shifts_across_spring_forward_have_the_right_instants() -> None:
    s = berlin_daily()
    window = cal.feed_window(NOW, "Europe/Berlin", 1)
    events = cal.schedule_events(
        s, window, schedule_name="Ops", user_names={"anna": "Anna"}, domain="pager.test"
    )
    parsed = parse(render_calendar("On call: Ops", events, NOW))
    assert len(parsed) == len(events) > 7
    starts = [instants(e)[0] for e in parsed]
    # every handoff at 09:00 Berlin wall time: 08:00 UTC in CET, 07:00 UTC from 29 March on
    for start in starts[1:]:
        assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
        assert start.astimezone(BERLIN).time() == time(9, 0)
    assert datetime(2026, 3, 28, 8, 0, tzinfo=UTC) in starts
    assert datetime(2026, 3, 29, 7, 0, tzinfo=UTC) in starts
    by_start = {instants(e)[0]: e for e in parsed}
    short = by_start[datetime(2026, 3, 28, 8, 0, tzinfo=UTC)]
    assert instants(short)[1] - instants(short)[0] == timedelta(hours=23)  # the short night
    assert str(short["SUMMARY"]) in ("Anna on call", "ben on call")
    # the users alternate day by day, and the layer's shifts tile the window
    summaries = [str(e["SUMMARY"]) for e in parsed]
    assert all(a != b for a, b in pairwise(summaries))
    assert instants(parsed[0])[0] == window[0] and instants(parsed[-1])[1] == window[1]


def test_an_override_is_shown_and_cuts_the_shift_it_covers() -> None:
    ov = sched.Override(
        "carl",
        datetime(2026, 3, 29, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 14, 0, tzinfo=UTC),
    )
    plain = cal.schedule_events(
        berlin_daily(), cal.feed_window(NOW, "Europe/Berlin", 1),
        schedule_name="Ops", user_names={}, domain="pager.test",
    )  # fmt: skip
    events = cal.schedule_events(
        berlin_daily(ov), cal.feed_window(NOW, "Europe/Berlin", 1),
        schedule_name="Ops", user_names={"carl": "Carl"}, domain="pager.test",
    )  # fmt: skip
    parsed = parse(render_calendar("Ops", events, NOW))
    (override,) = [e for e in parsed if "override" in str(e["SUMMARY"])]
    assert str(override["SUMMARY"]) == "Carl on call (override)"
    assert instants(override) == (ov.start, ov.end)
    # the shift it cuts keeps its UID (same start), ends at the override; a new piece follows
    cut = next(e for e in parsed if instants(e)[1] == ov.start)
    before = next(e for e in plain if e.start == instants(cut)[0])
    assert str(cut["UID"]) == before.uid and before.end > ov.start
    after = next(e for e in parsed if instants(e)[0] == ov.end)
    assert instants(after)[1] == before.end
    assert str(after["UID"]) not in {e.uid for e in plain}


def test_a_persons_feed_holds_only_their_shifts_from_every_schedule() -> None:
    other = sched.Schedule(
        "db",
        "America/New_York",
        (
            sched.Layer(
                "weekly",
                ("ben", "anna", "cleo"),
                sched.Rotation(timedelta(weeks=1), time(9, 0), 0, date(2026, 1, 5)),
            ),
        ),
    )
    schedules = {"ops": berlin_daily(), "db": other}
    window = cal.feed_window(NOW, "Europe/Berlin", 4)
    events = cal.user_events(
        schedules, "anna", window, schedule_names={"ops": "Ops", "db": "Database"},
        domain="pager.test",
    )  # fmt: skip
    parsed = parse(render_calendar("On call: Anna", events, NOW))
    expected = {
        (sid, s.start, s.end)
        for sid, schedule in schedules.items()
        for s in sched.shifts(schedule, *window)
        if s.user == "anna"
    }
    got = {("ops" if "Ops" in str(e["SUMMARY"]) else "db", *instants(e)) for e in parsed}
    assert got == expected
    assert any(sid == "db" for sid, _, _ in got) and any(sid == "ops" for sid, _, _ in got)
    assert {str(e["SUMMARY"]) for e in parsed} == {"On call: Ops", "On call: Database"}


def test_gaps_are_events_of_a_schedules_feed() -> None:
    layer = sched.Layer(
        "days",
        ("anna",),
        sched.Rotation(timedelta(days=1), time(9, 0), None, date(2026, 3, 1)),
        (sched.Restriction(frozenset(range(7)), time(9, 0), time(17, 0)),),
    )
    s = sched.Schedule("ops", "Europe/Berlin", (layer,))
    window = cal.feed_window(NOW, "Europe/Berlin", 1)
    parsed = parse(render_calendar("Ops", cal.schedule_events(
        s, window, schedule_name="Ops", user_names={}, domain="pager.test"), NOW))  # fmt: skip
    gaps = [e for e in parsed if str(e["SUMMARY"]) == "Nobody on call"]
    assert [(a, b) for a, b in (instants(e) for e in gaps)] == sched.gaps(s, *window)
    night = next(e for e in gaps if instants(e)[0] == datetime(2026, 3, 28, 16, 0, tzinfo=UTC))
    assert instants(night)[1] == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 17:00 CET to 09:00 CEST


def test_uids_are_stable_across_fetches_and_distinct() -> None:
    s = berlin_daily()

    def uids(now: datetime) -> dict[datetime, str]:
        events = cal.schedule_events(
            s, cal.feed_window(now, "Europe/Berlin", 2),
            schedule_name="Ops", user_names={}, domain="pager.test",
        )  # fmt: skip
        return {e.start: e.uid for e in events}

    first, later = uids(NOW), uids(NOW + timedelta(hours=5))
    assert first == later  # same day: same window, same events
    next_day = uids(NOW + timedelta(days=1))
    shared = set(first) & set(next_day) - {min(first)}
    assert shared and all(first[t] == next_day[t] for t in shared)
    assert len(set(first.values())) == len(first)
    assert all(uid.endswith("@pager.test") for uid in first.values())


def test_text_is_escaped_and_long_lines_folded() -> None:
    name = "Ops; Berlin, \\ Zürich\nnight " + "ü" * 60
    event = CalendarEvent(
        "u1@x", NOW, NOW + timedelta(hours=1), name, "line one\nline two; a, b " + "€" * 40
    )
    text = render_calendar(name, [event], NOW)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    calendar = icalendar.Calendar.from_ical(text)
    (parsed,) = calendar.walk("VEVENT")
    assert str(parsed["SUMMARY"]) == name
    assert str(parsed["DESCRIPTION"]) == event.description
    assert parsed.decoded("DTSTAMP") == NOW


def test_fold_never_splits_a_character() -> None:
    for n in range(60, 200):
        line = "SUMMARY:" + "a" * (n % 3) + "é€😀" * (n // 3)
        folded = fold(line)
        pieces = folded[:-2].split("\r\n ")
        assert "".join(pieces) == line
        assert all(len(p.encode()) <= 75 - (i > 0) for i, p in enumerate(pieces))


def test_the_window_is_whole_local_days() -> None:
    start, end = cal.feed_window(NOW, "Europe/Berlin", 1)
    assert start == datetime(2026, 3, 19, 0, 0, tzinfo=BERLIN)
    assert end == datetime(2026, 4, 3, 0, 0, tzinfo=BERLIN)  # CEST by then
    assert end - start == timedelta(days=15) - timedelta(hours=1)
    with pytest.raises(ValueError, match="weeks"):
        cal.feed_window(NOW, "Europe/Berlin", cal.MAX_WEEKS + 1)
    with pytest.raises(ValueError, match="weeks"):
        cal.feed_window(NOW, "Europe/Berlin", 0)


def test_tokens_depend_on_secret_feed_and_generation() -> None:
    token = cal.feed_token("s3cret", "schedules", "ops", 0)
    assert len(token) == 43 and token.replace("-", "").replace("_", "").isalnum()
    assert cal.token_matches("s3cret", "schedules", "ops", 0, token)
    for other in (
        cal.feed_token("s3cret", "schedules", "ops", 1),
        cal.feed_token("other", "schedules", "ops", 0),
        cal.feed_token("s3cret", "users", "ops", 0),
        cal.feed_token("s3cret", "schedules", "db", 0),
    ):
        assert other != token
    assert not cal.token_matches("s3cret", "schedules", "ops", 1, token)  # revoked
    assert not cal.token_matches("s3cret", "schedules", "ops", 0, token[:-1])
    assert not cal.token_matches("s3cret", "schedules", "ops", 0, "ü" * 43)
    with pytest.raises(ValueError):
        cal.feed_token("s3cret", "teams", "ops", 0)


def test_state_folds_revocations_and_a_snapshot_keeps_them() -> None:
    s = SystemState()
    for seq, (feed, generation) in enumerate(
        [("schedules/ops", 1), ("users/anna", 1), ("schedules/ops", 2), ("schedules/ops", 1)], 1
    ):
        s.apply_event(
            CalendarFeedRevoked(feed=feed, generation=generation, attribution=Attribution("ops")),
            seq,
            NOW,
        )
    # generations only go up: a stale record (two revocations at once) revokes nothing back
    assert s.calendar_generations == {"schedules/ops": 2, "users/anna": 1}
    data = orjson.loads(orjson.dumps(s.to_snapshot(), option=orjson.OPT_UTC_Z))
    assert SystemState.from_snapshot(data).calendar_generations == s.calendar_generations
    del data["calendar_generations"]  # a snapshot written before calendar feeds
    assert SystemState.from_snapshot(data).calendar_generations == {}
    ev = CalendarFeedRevoked(feed="users/anna", generation=3)
    assert decode("calendar.feed_revoked", orjson.loads(orjson.dumps(encode(ev)))) == ev
