"""`evolve`: the incident after one journaled event. Replay is a fold of it over the log, so
it does no checking beyond what the event says: `decide` checked before the event was
journaled.

One small function per event type (`_FOLDS`) returns the fields the event changes; the
status comes from the state machine's table (lifecycle.EVENTS) and the timeline's words from
timeline.py. Nothing here knows a provider: whether a sent message can be edited in place is
in the event (`notification.sent`'s `editable`, set by the transport that sent it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ._fast import copier, maker
from .events import (
    AlertsUpdated,
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
from .lifecycle import EVENTS
from .model import (
    MAX_RESOLVED_ALERTS,
    Alert,
    EscalationState,
    Incident,
    Page,
    Status,
    Unreachable,
    worst_severity,
)
from .timeline import entry, opened_entry
from .vocabulary import AlertStatus, NotificationKind

__all__ = ["evolve"]

Changes = dict[str, Any]


def _alert_from(f: dict[str, Any], old: Alert | None, at: datetime) -> Alert:
    again = old is not None and old.status == AlertStatus.FIRING
    return _Alert(
        key=f["key"],
        status=AlertStatus.FIRING,
        summary=f["summary"],
        severity=f["severity"],
        source=f.get("source"),
        first_seen=old.first_seen if again and old is not None else at,
        last_seen=at,
        count=(old.count + 1) if old is not None else 1,
        labels=f.get("labels"),
        details=f.get("details"),
        links=tuple(f.get("links") or ()),
    )


def _forget_old_resolved(alerts: dict[str, Alert]) -> int:
    """Drop the oldest resolved alerts past MAX_RESOLVED_ALERTS from `alerts`; how many."""
    resolved = [a for a in alerts.values() if a.status != AlertStatus.FIRING]
    over = len(resolved) - MAX_RESOLVED_ALERTS
    if over <= 0:
        return 0
    resolved.sort(key=lambda a: (a.resolved_at or a.last_seen, a.key))
    for a in resolved[:over]:
        del alerts[a.key]
    return over


# ------------------------------------------------------------------ one fold per event


def _alerts(inc: Incident, e: AlertsUpdated, at: datetime) -> Changes:
    alerts = dict(inc.alerts)
    severity = inc.severity
    for f in e.fired or ():
        alerts[f["key"]] = _alert_from(f, alerts.get(f["key"]), at)
        severity = worst_severity(severity, f["severity"])
    gone = False
    for key in e.resolved or ():
        old = alerts.get(key)
        if old is not None and old.status == AlertStatus.FIRING:
            alerts[key] = dataclasses.replace(old, status=AlertStatus.RESOLVED, resolved_at=at)
            gone = True
    c: Changes = {"alerts": alerts, "severity": severity}
    if gone:
        dropped = _forget_old_resolved(alerts)
        if dropped:
            c["alerts_unlisted"] = inc.alerts_unlisted + dropped
    if e.auto_resolve_at is not None:
        c["auto_resolve_at"] = e.auto_resolve_at
    return c


def _acknowledged(inc: Incident, e: IncidentAcknowledged, at: datetime) -> Changes:
    return {
        "acknowledged_at": at,
        "acknowledged_by": e.by,
        "ack_timeout_at": e.ack_timeout_at,
        "snoozed_until": None,
        "pages": {},
    }


def _unacknowledged(inc: Incident, e: IncidentUnacknowledged, at: datetime) -> Changes:
    return {
        "acknowledged_at": None,
        "acknowledged_by": None,
        "ack_timeout_at": None,
        "snoozed_until": None,
        "pages": {},
    }


def _snoozed(inc: Incident, e: IncidentSnoozed, at: datetime) -> Changes:
    return {
        "acknowledged_at": inc.acknowledged_at or at,
        "acknowledged_by": inc.acknowledged_by or e.by,
        "snoozed_until": e.until,
        "ack_timeout_at": None,
        "pages": {},
    }


def _resolved(inc: Incident, e: IncidentResolved, at: datetime) -> Changes:
    return {
        "resolved_at": at,
        "resolved_by": e.by,
        "snoozed_until": None,
        "ack_timeout_at": None,
        "page_at": None,
        "pages": {},
        "escalation": _stopped(inc.escalation),
    }


def _stopped(esc: EscalationState | None) -> EscalationState | None:
    """The escalation with no next step (the incident resolved)."""
    if esc is None:
        return None
    return _Escalation(esc.policy_id, esc.level, esc.round, None)


def _nothing(inc: Incident, e: Event, at: datetime) -> Changes:
    return {}


def _edited(inc: Incident, e: IncidentEdited, at: datetime) -> Changes:
    c: Changes = {}
    if e.title is not None:
        c["title"] = e.title[:1024]
    first = inc.alerts.get(inc.dedup_key)
    if e.description is not None and first is not None:
        details = dict(first.details) if isinstance(first.details, dict) else {}
        details["description"] = e.description
        c["alerts"] = {**inc.alerts, inc.dedup_key: dataclasses.replace(first, details=details)}
    return c


def _escalated(inc: Incident, e: IncidentEscalated, at: datetime) -> Changes:
    c: Changes = {
        "escalation": _Escalation(e.policy_id, e.level, e.round, e.next_at),
        "paging": True,
        "page_at": None,
    }
    if inc.status is Status.ACKNOWLEDGED:  # a manual escalation ends the acknowledgement
        c.update(
            acknowledged_at=None, acknowledged_by=None, ack_timeout_at=None, snoozed_until=None
        )
    if e.paged:
        pages = dict(inc.pages)
        for uid, after in zip(e.paged, e.first_after or (), strict=False):
            due = None if after is None else at + timedelta(seconds=after)
            pages[uid] = _Page(uid, at, e.level, e.round, 0, due)
        c["pages"] = pages
    return c


def _deferred(inc: Incident, e: PagingDeferred, at: datetime) -> Changes:
    return {"paging": True, "page_at": e.page_at}


def _user_paged(inc: Incident, e: UserPaged, at: datetime) -> Changes:
    running = inc.pages.get(e.user_id)
    if running is not None and e.step > 0:  # a correction of a running page
        page = dataclasses.replace(running, next_step=e.step, next_at=e.next_at)
    else:
        page = _Page(e.user_id, at, e.level, e.round, e.step, e.next_at)
    return {"pages": {**inc.pages, e.user_id: page}}


def _requested(inc: Incident, e: NotificationRequested, at: datetime) -> Changes:
    c: Changes = {"notification_count": inc.notification_count + 1}
    if e.kind == NotificationKind.PAGE and e.user_id is not None and e.step is not None:
        current = inc.pages.get(e.user_id)
        if current is not None:
            c["pages"] = {
                **inc.pages,
                e.user_id: _Page(
                    current.user_id,
                    current.paged_at,
                    current.level,
                    current.round,
                    e.step + 1,
                    e.next_at,
                ),
            }
    return c


def _sent(inc: Incident, e: NotificationSent, at: datetime) -> Changes:
    # a bundle's message is about several incidents: it is not edited as one's status changes
    if (
        e.bundle_id is None
        and e.editable
        and e.provider_id
        and e.notification_id not in inc.messages
    ):
        return {"messages": {**inc.messages, e.notification_id: e.provider_id}}
    return {}


def _unreachable(inc: Incident, e: PersonUnreachable, at: datetime) -> Changes:
    mark = Unreachable(e.user_id, at, e.level, e.round, e.tried)
    return {"unreachable": (*inc.unreachable, mark)}


_FOLDS: dict[type, Callable[[Incident, Any, datetime], Changes]] = {
    AlertsUpdated: _alerts,
    IncidentAcknowledged: _acknowledged,
    IncidentUnacknowledged: _unacknowledged,
    IncidentSnoozed: _snoozed,
    IncidentResolved: _resolved,
    NoteAdded: _nothing,
    IncidentEdited: _edited,
    IncidentEscalated: _escalated,
    PagingDeferred: _deferred,
    UserPaged: _user_paged,
    NotificationRequested: _requested,
    NotificationSent: _sent,
    NotificationFailed: _nothing,
    NotificationDelivered: _nothing,
    NotificationCancelled: _nothing,
    LinkUsed: _nothing,
    PersonUnreachable: _unreachable,
}


def _opened(e: IncidentOpened, seq: int, at: datetime) -> Incident:
    status = EVENTS[None][IncidentOpened]
    return _Incident(
        id=e.incident_id,
        number=e.number,
        short_code=e.short_code,
        service_id=e.service_id,
        dedup_key=e.dedup_key,
        integration=e.integration,
        title=e.title,
        severity=e.severity,
        urgency=e.urgency,
        status=status,
        created_at=at,
        updated_at=at,
        paging=e.paging,
        page_at=e.page_at,
        auto_resolve_at=e.auto_resolve_at,
        last_seq=seq,
        opened_seq=seq,
        alerts={a["key"]: _alert_from(a, None, at) for a in e.alerts or ()},
        timeline=(opened_entry(e, seq, at),),
    )


# dataclasses.replace and the constructors, made fast for replay (see _fast.py)
_copy = copier(Incident)
_Incident = maker(Incident)
_Alert = maker(Alert)
_Page = maker(Page)
_Escalation = maker(EscalationState)


def evolve(incident: Incident | None, event: Event, seq: int, at: datetime) -> Incident:
    """The incident after `event`, journaled as number `seq` at `at`."""
    t = type(event)
    if t is IncidentOpened:
        return _opened(event, seq, at)  # type: ignore[arg-type]
    if incident is None:
        raise ValueError(f"{event.TYPE} for an incident that was never opened")
    fold = _FOLDS.get(t)
    if fold is None:
        raise ValueError(f"{event.TYPE} is not an incident event")
    c = fold(incident, event, at)
    c["updated_at"] = at
    c["last_seq"] = seq
    status = EVENTS[incident.status].get(t)
    if status is not None and status is not incident.status:
        c["status"] = status
    line = entry(incident, event, seq, at)
    if line is not None:
        c["timeline"] = (*incident.timeline, line)
    return _copy(incident, c)
