"""The timeline: the fold keeps raw entries and the words are written when read. Every kind
of line in words, as people read it; raw entries through a snapshot and back (the same
incident, the same words); a snapshot from before raw entries (the timeline in words)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pager.core.events import (
    AlertsUpdated,
    Attribution,
    Event,
    IncidentAcknowledged,
    IncidentEdited,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    LinkUsed,
    NoteAdded,
    NotificationCancelled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    PagingDeferred,
    PersonUnreachable,
    UserPaged,
)
from pager.core.evolve import evolve
from pager.core.model import Incident, TimelineEntry
from pager.core.snapshot_codec import incident_from_json
from pager.core.timeline_words import last_via, named, render
from pager.core.vocabulary import NotificationKind
from pager.store.snapshots import json_default

T0 = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=30, microseconds=250)
IID = "inc-1"
ALICE = Attribution("alice", "slack")
TOKEN = Attribution("ci-bot", "api", "deploys")  # a token's request that named someone else


def opened(reason: str | None = None) -> IncidentOpened:
    return IncidentOpened(
        incident_id=IID,
        number=1,
        short_code="K7Q",
        service_id="checkout",
        dedup_key="cpu",
        integration="alertmanager",
        title="CPU",
        severity="critical",
        urgency="high",
        reason=reason,
        alerts=(
            {"key": "cpu", "summary": "CPU high", "severity": "critical"},
            {"key": "disk", "summary": "Disk full", "severity": "error"},
        ),
    )


def fired(*keys: str) -> tuple[dict[str, Any], ...]:
    return tuple({"key": k, "summary": f"{k} is up", "severity": "warning"} for k in keys)


# (the events before, the event, its line in words: text, by, via, token_name; None: none)
CASES: list[
    tuple[tuple[Event, ...], Event, tuple[str, str | None, str | None, str | None] | None]
] = [
    ((), opened(), ("Opened (critical, high urgency)", None, "alertmanager", None)),
    (
        (),
        opened("maintenance window"),
        (
            "Opened (critical, high urgency); not paging now: maintenance window",
            None,
            "alertmanager",
            None,
        ),
    ),
    (
        (),
        AlertsUpdated(incident_id=IID, fired=fired("mem")),
        ("Alert fired: mem is up", None, None, None),
    ),
    (
        (),
        AlertsUpdated(
            incident_id=IID, fired=({"key": "cpu", "summary": "CPU!", "severity": "info"},)
        ),
        ("Alert fired again: CPU!", None, None, None),
    ),
    (
        (),
        AlertsUpdated(incident_id=IID, fired=fired("a", "b"), resolved=("cpu", "disk", "nope")),
        ("2 alerts fired: a is up, ...; 2 alerts resolved: CPU high, ...", None, None, None),
    ),
    (
        (AlertsUpdated(incident_id=IID, resolved=("disk",)),),
        AlertsUpdated(incident_id=IID, resolved=("cpu", "disk")),  # disk is resolved already
        ("Alert resolved: CPU high", None, None, None),
    ),
    ((), AlertsUpdated(incident_id=IID), ("Alerts unchanged", None, None, None)),
    (
        (),
        IncidentAcknowledged(incident_id=IID, attribution=ALICE),
        ("Acknowledged by alice via slack", "alice", "slack", None),
    ),
    (
        (),
        IncidentAcknowledged(incident_id=IID, attribution=TOKEN),
        ("Acknowledged by ci-bot via api (API token deploys)", "ci-bot", "api", "deploys"),
    ),
    ((), IncidentAcknowledged(incident_id=IID), ("Acknowledged", None, None, None)),
    (
        (IncidentAcknowledged(incident_id=IID),),
        IncidentUnacknowledged(incident_id=IID, reason="ack timed out"),
        ("Triggered again: ack timed out", None, None, None),
    ),
    (
        (),
        IncidentSnoozed(incident_id=IID, until=LATER, attribution=ALICE),
        (
            "Acknowledged and snoozed until 2026-03-08T03:30:00.000250+00:00 by alice via slack",
            "alice",
            "slack",
            None,
        ),
    ),
    (
        (IncidentAcknowledged(incident_id=IID),),
        IncidentSnoozed(incident_id=IID, until=LATER, attribution=Attribution(None, "sms")),
        ("Snoozed until 2026-03-08T03:30:00.000250+00:00 via sms", None, "sms", None),
    ),
    (
        (),
        IncidentResolved(incident_id=IID, attribution=ALICE, reason="fixed"),
        ("Resolved by alice via slack (fixed)", "alice", "slack", None),
    ),
    ((), IncidentResolved(incident_id=IID), ("Resolved", None, None, None)),
    (
        (),
        NoteAdded(incident_id=IID, text="root cause: disk", attribution=TOKEN),
        ("root cause: disk", "ci-bot", "api", "deploys"),  # a note: the person's own words
    ),
    (
        (),
        IncidentEdited(incident_id=IID, title="CPU very high", description="d", attribution=ALICE),
        ("Title changed to 'CPU very high'; Description changed", "alice", "slack", None),
    ),
    (
        (),
        IncidentEdited(incident_id=IID, title="x" * 2000),
        (f"Title changed to {'x' * 1024!r}", None, None, None),
    ),
    ((), IncidentEdited(incident_id=IID), None),
    (
        (),
        IncidentEscalated(
            incident_id=IID,
            policy_id="p",
            level=1,
            round=2,
            targets=("bob", "carol"),
            paged=("bob",),
        ),
        ("Escalated to level 2 (round 3): bob, carol; paging bob", None, None, None),
    ),
    (
        (),
        IncidentEscalated(incident_id=IID, policy_id="p", level=0, round=0, attribution=ALICE),
        ("Escalated to level 1: nobody on call by alice via slack", "alice", "slack", None),
    ),
    (
        (),
        PagingDeferred(incident_id=IID, page_at=LATER, reason="low urgency"),
        ("Paging deferred until 2026-03-08T03:30:00.000250+00:00 (low urgency)", None, None, None),
    ),
    (
        (),
        UserPaged(incident_id=IID, user_id="bob", level=0, round=0),
        ("Paging bob (level 1): no notification rules for this urgency", None, None, None),
    ),
    (
        (),
        UserPaged(incident_id=IID, user_id="bob", level=2, round=0, next_at=LATER),
        ("Paging bob (level 3)", None, None, None),
    ),
    ((), UserPaged(incident_id=IID, user_id="bob", level=0, round=0, step=1), None),
    (
        (),
        NotificationRequested(
            incident_id=IID,
            notification_id="n1",
            kind=NotificationKind.PAGE,
            method="sms",
            user_id="bob",
            fallback_from="voice",
        ),
        ("Notifying bob by sms (instead of voice, which failed)", None, "sms", None),
    ),
    (
        (),
        NotificationRequested(
            incident_id=IID,
            notification_id="n2",
            kind=NotificationKind.STATUS,
            method="slack",
            topic="opened",
        ),
        ("Status update (opened) to slack", None, "slack", None),
    ),
    (
        (),
        NotificationSent(incident_id=IID, notification_id="n1", attempt=2, bundle_id="b7"),
        ("Notification n1 sent (attempt 2) in bundle b7", None, None, None),
    ),
    (
        (),
        NotificationFailed(
            incident_id=IID, notification_id="n1", attempt=1, error="503", retry_at=LATER
        ),
        (
            "Notification n1 failed (attempt 1): 503; retrying at 2026-03-08T03:30:00.000250+00:00",
            None,
            None,
            None,
        ),
    ),
    (
        (),
        NotificationFailed(
            incident_id=IID, notification_id="n1", attempt=3, error="bad number", permanent=True
        ),
        ("Notification n1 failed (attempt 3): bad number; giving up", None, None, None),
    ),
    (
        (),
        NotificationDelivered(
            incident_id=IID, notification_id="n1", status="undelivered", error="30003"
        ),
        ("Notification n1: undelivered (30003)", None, None, None),
    ),
    (
        (),
        NotificationCancelled(incident_id=IID, notification_id="n1", reason="acknowledged"),
        ("Notification n1 not sent: acknowledged", None, None, None),
    ),
    (
        (),
        PersonUnreachable(incident_id=IID, user_id="bob", level=0, round=0, tried=("slack", "sms")),
        ("bob could not be reached: slack, sms failed", None, None, None),
    ),
    (
        (),
        PersonUnreachable(incident_id=IID, user_id="bob", level=0, round=0),
        ("bob could not be reached", None, None, None),
    ),
    (
        (),
        LinkUsed(incident_id=IID, link_id="l1", user_id="alice", action="ack", expires_at=LATER),
        None,
    ),
]


def incident_after(before: tuple[Event, ...], event: Event) -> Incident:
    inc = None
    seq = 0
    for seq, e in enumerate(
        (*([] if isinstance(event, IncidentOpened) else [opened()]), *before, event), 1
    ):
        inc = evolve(inc, e, seq, T0 + timedelta(seconds=seq))
    assert inc is not None
    return inc


@pytest.mark.parametrize(("before", "event", "words"), CASES)
def test_each_line_in_words(
    before: tuple[Event, ...], event: Event, words: tuple[Any, ...] | None
) -> None:
    inc = incident_after(before, event)
    last = inc.timeline[-1]
    if words is None:  # the event adds no line
        assert len(inc.history) == len(before) + 1 and last.kind != event.TYPE
        return
    seq = len(before) + (1 if isinstance(event, IncidentOpened) else 2)
    assert last == TimelineEntry(seq, T0 + timedelta(seconds=seq), event.TYPE, *words)
    assert type(inc.history[-1]) is tuple  # kept raw: written in words when read


def through_snapshot(inc: Incident) -> Incident:
    """`inc` written as a snapshot writes it and read back as start-up reads it."""
    raw = orjson.loads(
        orjson.dumps(inc, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS, default=json_default)
    )
    return incident_from_json(raw)


@pytest.mark.parametrize(("before", "event", "words"), CASES)
def test_raw_entries_come_back_from_a_snapshot(
    before: tuple[Event, ...], event: Event, words: tuple[Any, ...] | None
) -> None:
    inc = incident_after(before, event)
    back = through_snapshot(inc)
    assert back == inc  # the raw entries themselves: instants as instants, tuples as tuples
    assert back.timeline == inc.timeline


def test_a_snapshot_from_before_raw_entries_keeps_its_words() -> None:
    inc = incident_after((), NoteAdded(incident_id=IID, text="hello", attribution=ALICE))
    old = orjson.loads(orjson.dumps(inc, option=orjson.OPT_UTC_Z, default=json_default))
    # as pager wrote it before: the timeline in words under `timeline`, 6 or 7 long
    del old["history"]
    old["timeline"] = [
        [
            1,
            "2026-03-08T03:00:01Z",
            "incident.opened",
            "Opened (critical, high urgency)",
            None,
            "alertmanager",
        ],
        [2, "2026-03-08T03:00:02Z", "incident.note_added", "hello", "alice", "slack", None],
    ]
    loaded = incident_from_json(old)
    assert loaded.timeline == inc.timeline
    assert all(type(e) is TimelineEntry for e in loaded.history)
    # what happens after is kept raw beside them, and both read as one timeline
    later = evolve(loaded, IncidentAcknowledged(incident_id=IID, attribution=ALICE), 3, LATER)
    assert [t.text for t in later.timeline] == [
        "Opened (critical, high urgency)",
        "hello",
        "Acknowledged by alice via slack",
    ]
    assert through_snapshot(later) == later
    assert last_via(later.history, "incident.note_added") == "slack"
    assert last_via(later.history, "incident.acknowledged") == "slack"
    assert last_via(later.history, "incident.resolved") is None


def test_render_of_a_line_in_words_is_itself() -> None:
    entry = TimelineEntry(1, T0, "incident.note_added", "hi", "alice")
    assert render(entry) is entry


NAMES = {"alice": "Alice Example", "bob": "Bob Example", "carol": "Carol Example"}


@pytest.mark.parametrize(("before", "event", "words"), CASES)
def test_each_line_names_people_as_the_dashboard_does(
    before: tuple[Event, ...], event: Event, words: tuple[Any, ...] | None
) -> None:
    """`named` writes every person of a line by what the dashboard calls them, and nothing
    else changes: not `by` (an id), nor an API token's name after the words, nor someone who
    is no user (ci-bot, named by the id itself)."""
    inc = incident_after(before, event)
    line = named(inc.history[-1], lambda uid: NAMES.get(uid, uid))
    assert line._replace(text="") == inc.timeline[-1]._replace(text="")
    expected = re.sub(r"\b(alice|bob|carol)\b", lambda m: NAMES[m[1]], inc.timeline[-1].text)
    assert line.text == expected


def test_named_changes_no_words_but_people() -> None:
    note = incident_after((), NoteAdded(incident_id=IID, text="bob said alice", attribution=ALICE))
    assert named(note.history[-1], NAMES.__getitem__).text == "bob said alice"
    old = TimelineEntry(1, T0, "incident.acknowledged", "Acknowledged by alice", "alice")
    assert named(old, NAMES.__getitem__) is old  # words written long ago stay as they were
