"""The incident state machine: the table, decide and evolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pager.core.commands import (
    Acknowledge,
    AddNote,
    AlertObservation,
    Edit,
    Escalate,
    NewIncident,
    Open,
    Resolve,
    ResolveAlert,
    Snooze,
    Tick,
    TriggerAlert,
    UpsertGroup,
)
from pager.core.events import (
    AlertsUpdated,
    Event,
    IncidentEdited,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentUnacknowledged,
    decode,
    encode,
)
from pager.core.incident import TRANSITIONS, decide, evolve, next_deadline
from pager.core.model import Incident, Status
from pager.core.rules import Context, LevelRules, PolicyRules, ServiceRules, Target
from pager.errors import BadRequest, TransitionRefused

T0 = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
POLICY = PolicyRules(
    "default",
    (
        LevelRules((Target("user", "alice"),), timedelta(minutes=5)),
        LevelRules((Target("user", "bob"), Target("schedule", "primary")), timedelta(minutes=10)),
    ),
    repeat=1,
)
SVC = ServiceRules("checkout", policy=POLICY, ack_timeout=timedelta(minutes=30))


def ctx(at: datetime = T0, **kw: object) -> Context:
    svc = kw.pop("service", SVC)
    return Context(service=svc, now=at, oncall=lambda sid, _at: "carol", **kw)  # type: ignore[arg-type]


class Box:
    """Runs commands through decide and evolve, as an actor would."""

    def __init__(self) -> None:
        self.inc: Incident | None = None
        self.seq = 0
        self.log: list[Event] = []

    def run(self, command: object, at: datetime = T0, **kw: object) -> list[Event]:
        events = decide(self.inc, command, ctx(at, **kw))  # type: ignore[arg-type]
        for e in events:
            self.seq += 1
            # through the codec, as replay would see it
            e2 = decode(e.TYPE, __import__("orjson").loads(__import__("orjson").dumps(encode(e))))
            assert e2 == e
            self.inc = evolve(self.inc, e, self.seq, at)
        self.log.extend(events)
        return events


def opened(box: Box | None = None, severity: str = "critical", at: datetime = T0) -> Box:
    box = box or Box()
    box.run(
        Open(
            new=NewIncident(
                incident_id="inc-1",
                number=1,
                service_id="checkout",
                dedup_key="k1",
                integration="pagerduty",
            ),
            first=TriggerAlert(key="k1", summary="CPU high", severity=severity, source="db-1"),
        ),
        at,
    )
    return box


def test_open_pages_the_first_level() -> None:
    box = opened()
    kinds = [type(e) for e in box.log]
    assert kinds == [IncidentOpened, IncidentEscalated]
    inc = box.inc
    assert inc is not None and inc.status is Status.TRIGGERED
    assert inc.urgency == "high" and inc.short_code and len(inc.short_code) == 3
    esc = box.log[1]
    assert isinstance(esc, IncidentEscalated)
    assert esc.level == 0 and esc.targets == ("alice",) and esc.next_at == T0 + timedelta(minutes=5)
    assert next_deadline(inc) == T0 + timedelta(minutes=5)


def test_every_status_refuses_what_its_row_lacks_and_stays_unchanged() -> None:
    box = opened()
    box.run(Resolve(by="alice"))
    assert box.inc is not None and box.inc.status is Status.RESOLVED
    before = box.inc
    for cmd in [Acknowledge(), Resolve(), Snooze(duration=timedelta(minutes=5)), Escalate(level=1)]:
        with pytest.raises(TransitionRefused) as info:
            decide(before, cmd, ctx())
        assert info.value.status == "resolved"
    assert box.inc is before
    assert AddNote in TRANSITIONS[Status.RESOLVED]
    assert box.run(AddNote(text="post-mortem Friday", by="alice"))


def test_trigger_while_acknowledged_pages_nobody_and_keeps_ack() -> None:
    box = opened()
    box.run(Acknowledge(by="alice", via="slack"), T0 + timedelta(minutes=1))
    events = box.run(
        TriggerAlert(key="k1", summary="CPU higher", severity="critical"), T0 + timedelta(minutes=2)
    )
    assert [type(e) for e in events] == [AlertsUpdated]
    assert box.inc is not None and box.inc.status is Status.ACKNOWLEDGED
    assert box.inc.alerts["k1"].count == 2 and box.inc.alerts["k1"].summary == "CPU higher"


def test_ack_is_idempotent() -> None:
    box = opened()
    assert box.run(Acknowledge(by="alice"))
    assert box.run(Acknowledge(by="bob")) == []
    assert box.inc is not None and box.inc.acknowledged_by == "alice"


def test_escalation_walks_levels_and_repeats_then_stops() -> None:
    box = opened()
    at = T0
    levels = []
    for _ in range(6):
        assert box.inc is not None
        nd = next_deadline(box.inc)
        if nd is None:
            break
        at = nd
        events = box.run(Tick(), at)
        levels += [
            (e.level, e.round, e.targets) for e in events if isinstance(e, IncidentEscalated)
        ]
    assert levels == [(1, 0, ("bob", "carol")), (0, 1, ("alice",)), (1, 1, ("bob", "carol"))]
    assert at == T0 + timedelta(minutes=5 + 10 + 5)
    assert (
        box.inc is not None
        and box.inc.escalation is not None
        and box.inc.escalation.next_at is None
    )


def test_ack_timeout_retriggers_and_restarts_escalation() -> None:
    box = opened()
    box.run(Acknowledge(by="alice"), T0 + timedelta(minutes=1))
    assert box.inc is not None
    due = next_deadline(box.inc)
    assert due == T0 + timedelta(minutes=31)
    events = box.run(Tick(), due)
    assert [type(e) for e in events] == [IncidentUnacknowledged, IncidentEscalated]
    assert box.inc.status is Status.TRIGGERED
    assert box.inc.escalation is not None and box.inc.escalation.level == 0


def test_snooze_then_snooze_end_retriggers() -> None:
    box = opened()
    box.run(Snooze(duration=timedelta(hours=1), by="alice"), T0)
    assert box.inc is not None and box.inc.status is Status.ACKNOWLEDGED
    assert next_deadline(box.inc) == T0 + timedelta(hours=1)
    assert box.run(Tick(), T0 + timedelta(minutes=59)) == []
    events = box.run(Tick(), T0 + timedelta(hours=1))
    assert isinstance(events[0], IncidentUnacknowledged) and events[0].reason == "snooze ended"
    with pytest.raises(BadRequest):
        decide(box.inc, Snooze(duration=timedelta(0)), ctx())


def test_manual_escalate_to_level_two_unacknowledges() -> None:
    box = opened()
    box.run(Acknowledge(by="alice"))
    events = box.run(Escalate(level=2, by="alice"), T0 + timedelta(minutes=1))
    assert (
        isinstance(events[0], IncidentEscalated)
        and events[0].level == 1
        and events[0].by == "alice"
    )
    assert box.inc is not None and box.inc.status is Status.TRIGGERED
    with pytest.raises(BadRequest, match="between 1 and 2"):
        decide(box.inc, Escalate(level=3), ctx())


def test_resolve_alert_resolves_incident_with_its_last_alert() -> None:
    box = opened()
    events = box.run(ResolveAlert(key="k1", via="pagerduty"))
    assert [type(e) for e in events] == [AlertsUpdated, IncidentResolved]
    assert box.inc is not None and box.inc.status is Status.RESOLVED
    assert next_deadline(box.inc) is None


def _obs(key: str, firing: bool = True, summary: str = "disk") -> AlertObservation:
    return AlertObservation(key=key, firing=firing, summary=summary, severity="warning")


def test_alertmanager_group_upsert_is_idempotent_and_resolves_with_last_alert() -> None:
    box = Box()
    new = NewIncident(
        incident_id="inc-2",
        number=2,
        service_id="checkout",
        dedup_key="g",
        integration="alertmanager",
    )
    box.run(Open(new=new, first=UpsertGroup(alerts=(_obs("a"), _obs("b")))))
    assert box.inc is not None and len(box.inc.firing_alerts()) == 2
    assert box.run(UpsertGroup(alerts=(_obs("a"), _obs("b")))) == []  # a repeat changes nothing
    # a firing group that carries one resolved alert
    events = box.run(UpsertGroup(alerts=(_obs("a", firing=False), _obs("b"))))
    assert [type(e) for e in events] == [AlertsUpdated]
    # truncated: a missing alert is not resolved
    assert box.run(UpsertGroup(alerts=(), truncated=True)) == []
    events = box.run(UpsertGroup(alerts=()))  # not truncated: b is gone, so resolved
    assert [type(e) for e in events] == [AlertsUpdated, IncidentResolved]


def test_open_with_only_resolved_alerts_opens_nothing() -> None:
    new = NewIncident(
        incident_id="inc-3",
        number=3,
        service_id="checkout",
        dedup_key="g",
        integration="alertmanager",
    )
    assert (
        decide(None, Open(new=new, first=UpsertGroup(alerts=(_obs("a", firing=False),))), ctx())
        == []
    )


def test_maintenance_records_but_pages_nobody() -> None:
    box = Box()
    box.run(
        Open(
            new=NewIncident(
                incident_id="inc-4",
                number=4,
                service_id="checkout",
                dedup_key="m",
                integration="generic",
            ),
            first=TriggerAlert(key="m", summary="deploy noise", severity="critical"),
        ),
        maintenance="deploy window",
    )
    assert box.inc is not None and box.inc.paging is False
    assert not any(isinstance(e, IncidentEscalated) for e in box.log)
    assert next_deadline(box.inc) is None
    # after maintenance, a new trigger starts paging
    events = box.run(
        TriggerAlert(key="m", summary="still broken", severity="critical"), T0 + timedelta(hours=2)
    )
    assert any(isinstance(e, IncidentEscalated) for e in events)


def test_low_urgency_waits_for_business_hours() -> None:
    from datetime import time

    from pager.core.rules import BusinessHours

    bh = BusinessHours("Europe/Berlin", frozenset(range(5)), time(9), time(17))
    svc = ServiceRules("checkout", policy=POLICY, low_urgency="business_hours", business_hours=bh)
    sunday_3am = datetime(2026, 3, 8, 2, 0, tzinfo=UTC)
    box = Box()
    box.run(
        Open(
            new=NewIncident(
                incident_id="inc-5",
                number=5,
                service_id="checkout",
                dedup_key="w",
                integration="generic",
            ),
            first=TriggerAlert(key="w", summary="cert expires in 20 days", severity="warning"),
        ),
        sunday_3am,
        service=svc,
    )
    assert box.inc is not None and box.inc.urgency == "low"
    monday_9 = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert box.inc.page_at == monday_9
    assert next_deadline(box.inc) == monday_9
    events = box.run(Tick(), monday_9, service=svc)
    assert [type(e) for e in events] == [IncidentEscalated]


def test_a_repeat_of_an_unchanged_group_pages_once_maintenance_is_over() -> None:
    box = Box()
    new = NewIncident(
        incident_id="inc-6",
        number=6,
        service_id="checkout",
        dedup_key="g",
        integration="alertmanager",
    )
    box.run(Open(new=new, first=UpsertGroup(alerts=(_obs("a"),))), maintenance="deploy")
    assert box.inc is not None and box.inc.paging is False
    assert (
        box.run(UpsertGroup(alerts=(_obs("a"),)), T0 + timedelta(minutes=30), maintenance="deploy")
        == []
    )
    events = box.run(UpsertGroup(alerts=(_obs("a"),)), T0 + timedelta(hours=2))
    assert [type(e) for e in events] == [IncidentEscalated]


def _low_urgency_service() -> ServiceRules:
    from datetime import time

    from pager.core.rules import BusinessHours

    bh = BusinessHours("Europe/Berlin", frozenset(range(5)), time(9), time(17))
    return ServiceRules("checkout", policy=POLICY, low_urgency="business_hours", business_hours=bh,
                        ack_timeout=timedelta(minutes=30))  # fmt: skip


def test_low_urgency_paging_after_maintenance_still_waits_for_business_hours() -> None:
    from pager.core.events import PagingDeferred

    svc = _low_urgency_service()
    saturday = datetime(2026, 3, 7, 1, 0, tzinfo=UTC)
    box = Box()
    new = NewIncident(
        incident_id="inc-7", number=7, service_id="checkout", dedup_key="w", integration="generic"
    )
    box.run(Open(new=new, first=TriggerAlert(key="w", summary="cert", severity="warning")), saturday,
            service=svc, maintenance="deploy")  # fmt: skip
    assert box.inc is not None and not box.inc.paging
    events = box.run(
        TriggerAlert(key="w", summary="cert", severity="warning"),
        saturday + timedelta(hours=2),
        service=svc,
    )
    assert [type(e) for e in events] == [AlertsUpdated, PagingDeferred]
    monday_9 = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert box.inc is not None and box.inc.page_at == monday_9
    assert next_deadline(box.inc) == monday_9


def test_snooze_ending_outside_business_hours_defers_a_low_urgency_page() -> None:
    from pager.core.events import PagingDeferred

    svc = _low_urgency_service()
    friday_4pm = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    box = Box()
    new = NewIncident(
        incident_id="inc-8", number=8, service_id="checkout", dedup_key="w", integration="generic"
    )
    box.run(
        Open(new=new, first=TriggerAlert(key="w", summary="cert", severity="warning")),
        friday_4pm,
        service=svc,
    )
    box.run(Snooze(duration=timedelta(hours=3), by="alice"), friday_4pm, service=svc)
    events = box.run(Tick(), friday_4pm + timedelta(hours=3), service=svc)
    assert [type(e) for e in events] == [IncidentUnacknowledged, PagingDeferred]
    assert box.inc is not None and box.inc.page_at == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


def test_edit_changes_title_and_description_and_refuses_an_empty_title() -> None:
    box = opened()
    [ev] = box.run(Edit(title="CPU very high", description="99%", via="opsgenie"))
    assert isinstance(ev, IncidentEdited) and ev.title == "CPU very high"
    assert box.inc is not None and box.inc.title == "CPU very high"
    assert box.inc.alerts["k1"].details == {"description": "99%"}
    assert box.inc.timeline[-1].text == "Title changed to 'CPU very high'; Description changed"
    assert box.run(Edit(title="CPU very high")) == []  # the same title: nothing to journal
    with pytest.raises(BadRequest):
        decide(box.inc, Edit(title="  "), ctx())
    box.run(Resolve(by="alice"))
    assert box.run(Edit(title="after the fact"))  # a closed alert's message may change


def test_resolving_an_incident_resolves_its_alerts_and_old_summaries_read_the_same() -> None:
    """A resolve by a person or by auto-resolve resolves the alerts still firing, at that
    instant. Summaries of resolved incidents in snapshots written before counted those alerts
    as firing: read back, they count none, as the incident rebuilt from the log does."""
    import orjson

    from pager.core.archive import summarize
    from pager.core.state import SystemState
    from pager.core.views import incident_json, summary_json
    from pager.store.snapshots import json_default

    box = opened()
    at = T0 + timedelta(minutes=3)
    box.run(Resolve(by="alice"), at)
    inc = box.inc
    assert inc is not None and inc.status is Status.RESOLVED
    assert [(a.status, a.resolved_at) for a in inc.alerts.values()] == [("resolved", at)]
    assert incident_json(inc)["alert_counts"] == {"firing": 0, "total": 1}
    assert summarize(inc).alerts_firing == 0

    state = SystemState()
    state.archive[inc.id] = summarize(inc)._replace(alerts_firing=1)  # as written before
    raw = orjson.dumps(state.to_snapshot(), default=json_default)
    back = SystemState.from_snapshot(orjson.loads(raw)).archive[inc.id]
    assert back.alerts_firing == 0
    assert summary_json(back)["alert_counts"] == incident_json(inc)["alert_counts"]
