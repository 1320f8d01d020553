"""`evolve`: the incident after one journaled event. Replay is a fold of it over the log, so
it does no checking beyond what the event says: `decide` checked before the event was
journaled."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

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
from .model import (
    MAX_RESOLVED_ALERTS,
    Alert,
    EscalationState,
    Incident,
    Page,
    Status,
    TimelineEntry,
    Unreachable,
    worst_severity,
)

__all__ = ["evolve"]

T, A, R = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED

# providers whose messages can be edited in place when the incident changes (chat.update)
EDITABLE = frozenset({"slack"})


def _alert_from(f: dict[str, Any], old: Alert | None, at: datetime) -> Alert:
    again = old is not None and old.status == "firing"
    return Alert(
        key=f["key"],
        status="firing",
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
    resolved = [a for a in alerts.values() if a.status != "firing"]
    over = len(resolved) - MAX_RESOLVED_ALERTS
    if over <= 0:
        return 0
    resolved.sort(key=lambda a: (a.resolved_at or a.last_seen, a.key))
    for a in resolved[:over]:
        del alerts[a.key]
    return over


def _alerts_text(fired: tuple[dict[str, Any], ...], inc: Incident, gone: list[str]) -> str:
    parts = []
    if len(fired) == 1:
        old = inc.alerts.get(fired[0]["key"])
        verb = "Alert fired again" if old is not None and old.status == "firing" else "Alert fired"
        parts.append(f"{verb}: {fired[0]['summary']}")
    elif fired:
        parts.append(f"{len(fired)} alerts fired: {fired[0]['summary']}, ...")
    if len(gone) == 1:
        parts.append(f"Alert resolved: {gone[0]}")
    elif gone:
        parts.append(f"{len(gone)} alerts resolved: {gone[0]}, ...")
    return "; ".join(parts) or "Alerts unchanged"


def _by(by: str | None, via: str | None) -> str:
    parts = []
    if by:
        parts.append(f"by {by}")
    if via:
        parts.append(f"via {via}")
    return (" " + " ".join(parts)) if parts else ""


_FIELDS = tuple(f.name for f in dataclasses.fields(Incident))
_new = object.__new__
_set = object.__setattr__


def _copy(inc: Incident, changes: dict[str, Any]) -> Incident:
    """`dataclasses.replace` without its checks: replay calls this once per event, and the
    checks cost more than the copy."""
    out = _new(Incident)
    for name in _FIELDS:
        _set(out, name, changes[name] if name in changes else getattr(inc, name))
    return out


def evolve(incident: Incident | None, event: Event, seq: int, at: datetime) -> Incident:
    """The incident after `event`, journaled as number `seq` at `at`."""
    if isinstance(event, IncidentOpened):
        opened = f"Opened ({event.severity}, {event.urgency} urgency)"
        if event.reason:
            opened += f"; not paging now: {event.reason}"
        alerts = {a["key"]: _alert_from(a, None, at) for a in event.alerts or ()}
        return Incident(
            id=event.incident_id,
            number=event.number,
            short_code=event.short_code,
            service_id=event.service_id,
            dedup_key=event.dedup_key,
            integration=event.integration,
            title=event.title,
            severity=event.severity,
            urgency=event.urgency,
            status=T,
            created_at=at,
            updated_at=at,
            paging=event.paging,
            page_at=event.page_at,
            auto_resolve_at=event.auto_resolve_at,
            last_seq=seq,
            opened_seq=seq,
            alerts=alerts,
            timeline=(TimelineEntry(seq, at, event.TYPE, opened, None, event.integration),),
        )
    if incident is None:
        raise ValueError(f"{event.TYPE} for an incident that was never opened")
    inc = incident
    c: dict[str, Any] = {"updated_at": at, "last_seq": seq}
    text: str | None = None
    by = via = None
    match event:
        case AlertsUpdated():
            alerts = dict(inc.alerts)
            severity = inc.severity
            for f in event.fired or ():
                alerts[f["key"]] = _alert_from(f, alerts.get(f["key"]), at)
                severity = worst_severity(severity, f["severity"])
            gone = []
            for key in event.resolved or ():
                old = alerts.get(key)
                if old is not None and old.status == "firing":
                    alerts[key] = dataclasses.replace(old, status="resolved", resolved_at=at)
                    gone.append(old.summary)
            c.update(alerts=alerts, severity=severity)
            if gone:
                dropped = _forget_old_resolved(alerts)
                if dropped:
                    c["alerts_unlisted"] = inc.alerts_unlisted + dropped
            if event.auto_resolve_at is not None:
                c["auto_resolve_at"] = event.auto_resolve_at
            text = _alerts_text(event.fired or (), inc, gone)
        case IncidentAcknowledged():
            by, via = event.by, event.via
            c.update(
                status=A,
                acknowledged_at=at,
                acknowledged_by=event.by,
                ack_timeout_at=event.ack_timeout_at,
                snoozed_until=None,
                pages={},
            )
            text = "Acknowledged" + _by(by, via)
        case IncidentUnacknowledged():
            c.update(
                status=T,
                acknowledged_at=None,
                acknowledged_by=None,
                ack_timeout_at=None,
                snoozed_until=None,
                pages={},
            )
            text = f"Triggered again: {event.reason}"
        case IncidentSnoozed():
            by, via = event.by, event.via
            c.update(
                status=A,
                acknowledged_at=inc.acknowledged_at or at,
                acknowledged_by=inc.acknowledged_by or event.by,
                snoozed_until=event.until,
                ack_timeout_at=None,
                pages={},
            )
            # snoozing a triggered incident acknowledges it: the timeline says so
            verb = "Acknowledged and snoozed" if inc.status is T else "Snoozed"
            text = f"{verb} until {event.until.isoformat()}" + _by(by, via)
        case IncidentResolved():
            by, via = event.by, event.via
            c.update(
                status=R,
                resolved_at=at,
                resolved_by=event.by,
                snoozed_until=None,
                ack_timeout_at=None,
                page_at=None,
                pages={},
                escalation=dataclasses.replace(inc.escalation, next_at=None)
                if inc.escalation
                else None,
            )
            text = "Resolved" + _by(by, via) + (f" ({event.reason})" if event.reason else "")
        case NoteAdded():
            by, via = event.by, event.via
            text = event.text
        case IncidentEdited():
            by, via = event.by, event.via
            parts = []
            if event.title is not None:
                c["title"] = event.title[:1024]
                parts.append(f"Title changed to {event.title[:1024]!r}")
            first = inc.alerts.get(inc.dedup_key)
            if event.description is not None and first is not None:
                details = dict(first.details) if isinstance(first.details, dict) else {}
                details["description"] = event.description
                c["alerts"] = {
                    **inc.alerts,
                    inc.dedup_key: dataclasses.replace(first, details=details),
                }
                parts.append("Description changed")
            text = "; ".join(parts) or None
        case IncidentEscalated():
            by, via = event.by, event.via
            who = ", ".join(event.targets or ()) or "nobody on call"
            text = f"Escalated to level {event.level + 1}"
            if event.round:
                text += f" (round {event.round + 1})"
            text += f": {who}" + _by(by, via)
            c.update(
                escalation=EscalationState(
                    event.policy_id, event.level, event.round, event.next_at
                ),
                paging=True,
                page_at=None,
            )
            if inc.status is A:
                c.update(
                    status=T,
                    acknowledged_at=None,
                    acknowledged_by=None,
                    ack_timeout_at=None,
                    snoozed_until=None,
                )
            if event.paged:
                pages = dict(inc.pages)
                for uid, after in zip(event.paged, event.first_after or (), strict=False):
                    due = None if after is None else at + timedelta(seconds=after)
                    pages[uid] = Page(uid, at, event.level, event.round, 0, due)
                c["pages"] = pages
                text += "; paging " + ", ".join(event.paged)
        case PagingDeferred():
            c.update(paging=True, page_at=event.page_at)
            text = f"Paging deferred until {event.page_at.isoformat()}" + (
                f" ({event.reason})" if event.reason else ""
            )
        case UserPaged():
            running = inc.pages.get(event.user_id)
            if running is not None and event.step > 0:  # a correction of a running page
                page = dataclasses.replace(running, next_step=event.step, next_at=event.next_at)
            else:
                page = Page(event.user_id, at, event.level, event.round, event.step, event.next_at)
            c["pages"] = {**inc.pages, event.user_id: page}
            if event.step == 0:
                text = f"Paging {event.user_id} (level {event.level + 1})"
                if event.next_at is None:
                    text += ": no notification rules for this urgency"
        case NotificationRequested():
            c["notification_count"] = inc.notification_count + 1
            via = event.method
            if event.kind == "page" and event.user_id is not None:
                current = inc.pages.get(event.user_id)
                if current is not None and event.step is not None:
                    c["pages"] = {
                        **inc.pages,
                        event.user_id: dataclasses.replace(
                            current, next_step=event.step + 1, next_at=event.next_at
                        ),
                    }
                text = f"Notifying {event.user_id} by {event.method}"
                if event.fallback_from:
                    text += f" (instead of {event.fallback_from}, which failed)"
            else:
                text = f"Status update ({event.topic}) to {event.method}"
        case NotificationSent():
            text = f"Notification {event.notification_id} sent (attempt {event.attempt})"
            if event.bundle_id is not None:
                text += f" in bundle {event.bundle_id}"
            elif (
                event.method in EDITABLE
                and event.provider_id
                and event.notification_id not in inc.messages
            ):
                c["messages"] = {**inc.messages, event.notification_id: event.provider_id}
        case NotificationFailed():
            text = f"Notification {event.notification_id} failed (attempt {event.attempt}): {event.error}"
            if event.retry_at is not None:
                text += f"; retrying at {event.retry_at.isoformat()}"
            elif event.permanent:
                text += "; giving up"
        case NotificationDelivered():
            text = f"Notification {event.notification_id}: {event.status}"
            if event.error:
                text += f" ({event.error})"
        case NotificationCancelled():
            text = f"Notification {event.notification_id} not sent: {event.reason}"
        case LinkUsed():
            pass  # the action it performed is on the timeline, with who and how
        case PersonUnreachable():
            mark = Unreachable(event.user_id, at, event.level, event.round, event.tried)
            c["unreachable"] = (*inc.unreachable, mark)
            text = f"{event.user_id} could not be reached"
            if event.tried:
                text += ": " + ", ".join(event.tried) + " failed"
        case _:
            raise ValueError(f"{event.TYPE} is not an incident event")
    if text is not None:
        token = getattr(event, "token_name", None)
        if token and token != by and not isinstance(event, NoteAdded):
            text += f" (API token {token})"
        entry = TimelineEntry(seq, at, event.TYPE, text, by, via, token)
        c["timeline"] = (*inc.timeline, entry)
    return _copy(inc, c)
