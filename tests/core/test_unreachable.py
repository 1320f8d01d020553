"""An unreachable person is an event (issue 12 item 3), in the core: a `Fallback` that
finds no rule left and every notification of the person's page failed journals
`incident.person_unreachable` (once per page) and, by the policy, escalates to the next
level at once; the failed attempts of one notification read as one timeline line; an
incident with an unreachable mark survives a snapshot, and one from before the mark loads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import orjson
import pytest

from pager.core.commands import Fallback, NewIncident, Open, TriggerAlert
from pager.core.events import (
    IncidentEscalated,
    NotificationFailed,
    NotificationRequested,
    PersonUnreachable,
)
from pager.core.evolve import evolve
from pager.core.model import TimelineEntry
from pager.core.rules import NotifyRule, ServiceRules, UserRules
from pager.core.snapshot_codec import incident_from_json
from pager.core.views import incident_json, timeline_lines
from pager.store.snapshots import json_default

from .test_incident import POLICY, T0, Box

ALICE = UserRules(
    "alice",
    rules=(NotifyRule(timedelta(0), "slack"), NotifyRule(timedelta(minutes=1), "sms")),
    contacts={"slack": "U1", "sms": "+15555550100"},
)
USERS = {"alice": ALICE}


def paged_alice() -> Box:
    box = Box()
    box.run(
        Open(
            new=NewIncident(
                incident_id="inc-1",
                number=1,
                service_id="checkout",
                dedup_key="k1",
                integration="pagerduty",
            ),
            first=TriggerAlert(key="k1", summary="CPU high", severity="critical"),
        ),
        T0,
        users=USERS,
    )
    return box


def fails(box: Box, nid: str, failed: int | None, at_minutes: float = 0.5, **kw: object) -> list:
    at = T0 + timedelta(minutes=at_minutes)
    return box.run(
        Fallback(user_id="alice", notification_id=nid, failed=failed), at, users=USERS, **kw
    )


def test_every_method_failed_journals_the_person_and_escalates_at_once() -> None:
    box = paged_alice()
    assert [e.method for e in box.log if isinstance(e, NotificationRequested)] == ["slack"]
    # slack failed: sms is requested at once (not at 1m); alice is not unreachable yet
    events = fails(box, "inc-1-n1", 1)
    assert [type(e) for e in events] == [NotificationRequested]
    # sms failed too: nothing left, both failed
    events = fails(box, "inc-1-n2", 2, at_minutes=0.75)
    assert [type(e) for e in events] == [PersonUnreachable, IncidentEscalated]
    gone, esc = events
    assert isinstance(gone, PersonUnreachable) and isinstance(esc, IncidentEscalated)
    assert (gone.user_id, gone.level, gone.round, gone.tried) == ("alice", 0, 0, ("slack", "sms"))
    # level 2 now, 45 s after the page, not at 5 minutes; its own delay counts from now
    assert esc.level == 1 and esc.next_at == T0 + timedelta(minutes=0.75 + 10)
    inc = box.inc
    assert inc is not None and inc.unreachable[0].user_id == "alice"
    assert "alice could not be reached: slack, sms failed" in [t.text for t in inc.timeline]
    shown = incident_json(inc, detail=True)["unreachable"]
    assert shown == [
        {"user": "alice", "at": T0 + timedelta(minutes=0.75), "level": 1, "round": 1,
         "tried": ["slack", "sms"]}
    ]  # fmt: skip
    # said once per page: another failure report changes nothing
    assert fails(box, "inc-1-n2", 2, at_minutes=0.8) == []


@pytest.mark.parametrize(
    ("failed", "why"),
    [(None, "a notification was sent or is still being tried"), (1, "one of two failed")],
)
def test_not_unreachable_while_a_notification_may_still_reach(failed: int | None, why: str) -> None:
    box = paged_alice()
    fails(box, "inc-1-n1", 1)
    assert fails(box, "inc-1-n2", failed) == [], why


def test_the_policy_may_keep_its_own_time() -> None:
    box = paged_alice()
    quiet = ServiceRules(
        "checkout", policy=replace(POLICY, escalate_when_unreachable=False), ack_timeout=None
    )
    fails(box, "inc-1-n1", 1, service=quiet)
    events = fails(box, "inc-1-n2", 2, service=quiet)
    assert [type(e) for e in events] == [PersonUnreachable]
    assert box.inc is not None and box.inc.escalation is not None
    assert box.inc.escalation.level == 0


def test_no_escalation_past_the_end_of_the_policy() -> None:
    box = paged_alice()
    last = ServiceRules("checkout", policy=replace(POLICY, levels=POLICY.levels[:1], repeat=0))
    fails(box, "inc-1-n1", 1, service=last)
    events = fails(box, "inc-1-n2", 2, service=last)
    assert [type(e) for e in events] == [PersonUnreachable]


def test_the_mark_survives_a_snapshot_and_an_older_snapshot_loads() -> None:
    box = paged_alice()
    fails(box, "inc-1-n1", 1)
    fails(box, "inc-1-n2", 2)
    assert box.inc is not None
    raw = orjson.loads(orjson.dumps(box.inc, option=orjson.OPT_UTC_Z, default=json_default))
    assert incident_from_json(raw) == box.inc
    del raw["unreachable"]
    assert incident_from_json(raw).unreachable == ()


def test_failed_attempts_of_one_notification_are_one_timeline_line() -> None:
    box = paged_alice()
    at = T0
    for attempt in range(1, 5):
        at += timedelta(seconds=2**attempt)
        failed = NotificationFailed(
            incident_id="inc-1",
            notification_id="inc-1-n1",
            attempt=attempt,
            error=f"Slack answered 50{attempt}",
            retry_at=None if attempt == 4 else at + timedelta(seconds=4),
            permanent=attempt == 4,
        )
        box.inc = evolve(box.inc, failed, 100 + attempt, at)
    assert box.inc is not None
    raw = [t for t in box.inc.timeline if t.kind == "notification.failed"]
    assert len(raw) == 4  # the incident keeps every attempt: the log is the record
    lines = timeline_lines(box.inc.timeline)
    failed = [line for line in lines if line.entry.kind == "notification.failed"]
    assert len(failed) == 1
    (line,) = failed
    assert line.times == 4 and line.first_at == raw[0].at and line.entry.at == raw[-1].at
    assert line.text == (
        "Notification inc-1-n1 failed 4 times (attempts 1-4): Slack answered 504; giving up"
    )
    assert len(lines) == len(box.inc.timeline) - 3


def test_failures_of_different_notifications_stay_apart() -> None:
    entries = [
        TimelineEntry(i, T0 + timedelta(seconds=i), "notification.failed", text)
        for i, text in enumerate(
            [
                "Notification a failed (attempt 1): x; retrying at z",
                "Notification b failed (attempt 1): y; giving up",
                "Notification a failed (attempt 2): x; giving up",
            ]
        )
    ]
    lines = timeline_lines(entries)
    assert [(line.text, line.times) for line in lines] == [
        ("Notification b failed (attempt 1): y; giving up", 1),
        ("Notification a failed 2 times (attempts 1-2): x; giving up", 2),
    ]


def test_a_resolved_incident_reads_the_same_in_the_list_held_or_archived() -> None:
    """Found by CI: a backup restored lists a resolved incident from its summary ("paging":
    false, no escalation) while the original still held it in full ("paging": true). A
    resolved incident pages nobody, in either shape."""
    from pager.core.archive import summarize
    from pager.core.commands import Resolve
    from pager.core.views import summary_json

    box = paged_alice()
    box.run(Resolve(by="bob"), T0 + timedelta(minutes=2), users=USERS)
    inc = box.inc
    assert inc is not None and inc.escalation is not None
    held, archived = incident_json(inc), summary_json(summarize(inc))
    assert held["paging"] is False and held["escalation"] is None
    assert held == archived
    # the detail still says how far the escalation went
    assert incident_json(inc, detail=True)["escalation"]["level"] == 1
