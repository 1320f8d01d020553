"""`evolve`: the incident after one journaled event. Replay is a fold of it over the log, so
it does no checking beyond what the event says: `decide` checked before the event was
journaled.

One small function per event type (`@fold`) returns the new values of the fields the event
changes; the status comes from the state machine's table (lifecycle.EVENTS) and the
timeline's words from timeline.py. Each fold and those are put together once per event type
into a step (`STEPS`) that writes them into one copy of the incident. Nothing here knows a
provider: whether a sent message can be edited in place is in the event
(`notification.sent`'s `editable`, set by the transport that sent it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

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
from .timeline import LINES, opened_entry
from .vocabulary import AlertStatus, NotificationKind

__all__ = ["STEPS", "evolve"]


def _alert_from(f: dict[str, Any], old: Alert | None, at: datetime) -> Alert:
    again = old is not None and old.status == AlertStatus.FIRING
    return _Alert(
        f["key"],
        AlertStatus.FIRING,
        f["summary"],
        f["severity"],
        f.get("source"),
        old.first_seen if again and old is not None else at,
        at,
        (old.count + 1) if old is not None else 1,
        None,
        f.get("labels"),
        f.get("details"),
        tuple(f.get("links") or ()),
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
#
# `@fold(EventType, field, ...)` registers the fold of one event type: it returns the new
# values of those fields of the incident, in that order (a field it leaves as it was is
# returned as it was). The status, `updated_at`, `last_seq` and the timeline are set by the
# step `fold` makes around it (see `_step`).

Fold = Callable[[Incident, Any, datetime], tuple[Any, ...]]
Step = Callable[[Incident, Any, int, datetime], Incident]
_STEPS: dict[type, Step] = {}
F = TypeVar("F", bound=Fold)


def _step(t: type[Event], fn: Fold | None, fields: tuple[str, ...]) -> Step:
    """The whole step of event type `t`: its fold's fields, the status from the state
    machine's table, `updated_at`, `last_seq`, and the timeline entry from timeline.py,
    written into one copy of the incident."""
    copy = copier(Incident, (*fields, "updated_at", "last_seq", "status", "timeline"))
    after = {s: EVENTS[s].get(t, s) for s in Status}  # the status each one leads to
    line = LINES.get(t)
    if fn is None and line is None:

        def unchanged(inc: Incident, e: Any, seq: int, at: datetime) -> Incident:
            return copy(inc, at, seq, after[inc.status], inc.timeline)

        return unchanged

    def step(inc: Incident, e: Any, seq: int, at: datetime) -> Incident:
        entry = None if line is None else line(inc, e, seq, at)
        # (a concatenation: one new tuple, where (*t, entry) builds a list first)
        timeline = inc.timeline if entry is None else inc.timeline + (entry,)  # noqa: RUF005
        if fn is None:
            return copy(inc, at, seq, after[inc.status], timeline)
        return copy(inc, *fn(inc, e, at), at, seq, after[inc.status], timeline)

    return step


# dataclasses.replace and the constructors, made fast for replay (see _fast.py)
_Incident = maker(Incident)
_Alert = maker(Alert)
_Page = maker(Page)
_Escalation = maker(EscalationState)
_resolve_alert = copier(Alert, ("status", "resolved_at"))


def fold(event_type: type[Event], *fields: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        _STEPS[event_type] = _step(event_type, fn, fields)
        return fn

    return register


@fold(AlertsUpdated, "alerts", "severity", "alerts_unlisted", "auto_resolve_at")
def _alerts(inc: Incident, e: AlertsUpdated, at: datetime) -> tuple[Any, ...]:
    alerts = dict(inc.alerts)
    severity = inc.severity
    for f in e.fired or ():
        key = f["key"]
        alerts[key] = _alert_from(f, alerts.get(key), at)
        severity = worst_severity(severity, f["severity"])
    unlisted = inc.alerts_unlisted
    if e.resolved:
        gone = False
        for key in e.resolved:
            old = alerts.get(key)
            if old is not None and old.status == AlertStatus.FIRING:
                alerts[key] = _resolve_alert(old, AlertStatus.RESOLVED, at)
                gone = True
        if gone:
            unlisted += _forget_old_resolved(alerts)
    auto = inc.auto_resolve_at if e.auto_resolve_at is None else e.auto_resolve_at
    return alerts, severity, unlisted, auto


_ENDS_PAGES = ("acknowledged_at", "acknowledged_by", "ack_timeout_at", "snoozed_until", "pages")


@fold(IncidentAcknowledged, *_ENDS_PAGES)
def _acknowledged(inc: Incident, e: IncidentAcknowledged, at: datetime) -> tuple[Any, ...]:
    return at, e.attribution.by, e.ack_timeout_at, None, {}


@fold(IncidentUnacknowledged, *_ENDS_PAGES)
def _unacknowledged(inc: Incident, e: IncidentUnacknowledged, at: datetime) -> tuple[Any, ...]:
    return None, None, None, None, {}


@fold(IncidentSnoozed, *_ENDS_PAGES)
def _snoozed(inc: Incident, e: IncidentSnoozed, at: datetime) -> tuple[Any, ...]:
    return (
        inc.acknowledged_at or at,
        inc.acknowledged_by or e.attribution.by,
        None,
        e.until,
        {},
    )


@fold(
    IncidentResolved,
    "resolved_at",
    "resolved_by",
    "snoozed_until",
    "ack_timeout_at",
    "page_at",
    "pages",
    "escalation",
    "alerts",
    "alerts_unlisted",
)
def _resolved(inc: Incident, e: IncidentResolved, at: datetime) -> tuple[Any, ...]:
    esc = inc.escalation
    if esc is not None and esc.next_at is not None:  # no next step: the incident resolved
        esc = _Escalation(esc.policy_id, esc.level, esc.round, None)
    # its alerts resolve with it (PagerDuty's way): the same key firing later opens a new one
    alerts, unlisted = inc.alerts, inc.alerts_unlisted
    if any(a.status == AlertStatus.FIRING for a in alerts.values()):
        alerts = {
            k: _resolve_alert(a, AlertStatus.RESOLVED, at) if a.status == AlertStatus.FIRING else a
            for k, a in alerts.items()
        }
        unlisted += _forget_old_resolved(alerts)
    return at, e.attribution.by, None, None, None, {}, esc, alerts, unlisted


@fold(IncidentEdited, "title", "alerts")
def _edited(inc: Incident, e: IncidentEdited, at: datetime) -> tuple[Any, ...]:
    title = inc.title if e.title is None else e.title[:1024]
    alerts = inc.alerts
    first = alerts.get(inc.dedup_key)
    if e.description is not None and first is not None:
        details = dict(first.details) if isinstance(first.details, dict) else {}
        details["description"] = e.description
        alerts = {**alerts, inc.dedup_key: dataclasses.replace(first, details=details)}
    return title, alerts


@fold(IncidentEscalated, "escalation", "paging", "page_at", "pages", *_ENDS_PAGES[:4])
def _escalated(inc: Incident, e: IncidentEscalated, at: datetime) -> tuple[Any, ...]:
    pages = inc.pages
    if e.paged:
        pages = dict(pages)
        for uid, after in zip(e.paged, e.first_after or (), strict=False):
            due = None if after is None else at + timedelta(seconds=after)
            pages[uid] = _Page(uid, at, e.level, e.round, 0, due)
    esc = _Escalation(e.policy_id, e.level, e.round, e.next_at)
    if inc.status is Status.ACKNOWLEDGED:  # a manual escalation ends the acknowledgement
        return esc, True, None, pages, None, None, None, None
    ack = (inc.acknowledged_at, inc.acknowledged_by, inc.ack_timeout_at, inc.snoozed_until)
    return esc, True, None, pages, *ack


@fold(PagingDeferred, "paging", "page_at")
def _deferred(inc: Incident, e: PagingDeferred, at: datetime) -> tuple[Any, ...]:
    return True, e.page_at


@fold(UserPaged, "pages")
def _user_paged(inc: Incident, e: UserPaged, at: datetime) -> tuple[Any, ...]:
    running = inc.pages.get(e.user_id)
    if running is not None and e.step > 0:  # a correction of a running page
        page = dataclasses.replace(running, next_step=e.step, next_at=e.next_at)
    else:
        page = _Page(e.user_id, at, e.level, e.round, e.step, e.next_at)
    return ({**inc.pages, e.user_id: page},)


@fold(NotificationRequested, "notification_count", "pages")
def _requested(inc: Incident, e: NotificationRequested, at: datetime) -> tuple[Any, ...]:
    pages = inc.pages
    if e.kind == NotificationKind.PAGE and e.user_id is not None and e.step is not None:
        current = pages.get(e.user_id)
        if current is not None:
            page = _Page(
                current.user_id,
                current.paged_at,
                current.level,
                current.round,
                e.step + 1,
                e.next_at,
            )
            pages = {**pages, e.user_id: page}
    return inc.notification_count + 1, pages


@fold(NotificationSent, "messages")
def _sent(inc: Incident, e: NotificationSent, at: datetime) -> tuple[Any, ...]:
    # a bundle's message is about several incidents: it is not edited as one's status changes
    messages = inc.messages
    if e.bundle_id is None and e.editable and e.provider_id and e.notification_id not in messages:
        messages = {**messages, e.notification_id: e.provider_id}
    return (messages,)


@fold(PersonUnreachable, "unreachable")
def _unreachable(inc: Incident, e: PersonUnreachable, at: datetime) -> tuple[Any, ...]:
    mark = Unreachable(e.user_id, at, e.level, e.round, e.tried)
    return ((*inc.unreachable, mark),)


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


# events that change nothing of the incident but its history
for _t in (NoteAdded, NotificationFailed, NotificationDelivered, NotificationCancelled, LinkUsed):
    _STEPS[_t] = _step(_t, None, ())
STEPS: Mapping[type, Step] = _STEPS
"""Each incident event's step: `STEPS[type(event)](incident, event, seq, at)` is `evolve`
for an incident that exists (the read model's hot path)."""


def evolve(incident: Incident | None, event: Event, seq: int, at: datetime) -> Incident:
    """The incident after `event`, journaled as number `seq` at `at`."""
    t = type(event)
    if t is IncidentOpened:
        return _opened(event, seq, at)  # type: ignore[arg-type]
    if incident is None:
        raise ValueError(f"{event.TYPE} for an incident that was never opened")
    step = _STEPS.get(t)
    if step is None:
        raise ValueError(f"{event.TYPE} is not an incident event")
    return step(incident, event, seq, at)
