"""`evolve`: the incident after one journaled event. Replay is a fold of it over the log, so
it does no checking beyond what the event says: `decide` checked before the event was
journaled."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from .events import (
    AlertResolved,
    AlertTriggered,
    Event,
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    NoteAdded,
    NotificationCancelled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    UserPaged,
)
from .model import Alert, EscalationState, Incident, Page, Status, TimelineEntry, worst_severity

__all__ = ["evolve"]

T, A, R = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED

# providers whose messages can be edited in place when the incident changes (chat.update)
EDITABLE = frozenset({"slack"})


def _entry(
    inc: Incident,
    seq: int,
    at: datetime,
    kind: str,
    text: str,
    by: str | None = None,
    via: str | None = None,
) -> tuple[TimelineEntry, ...]:
    return (*inc.timeline, TimelineEntry(seq=seq, at=at, kind=kind, text=text, by=by, via=via))


def _by(by: str | None, via: str | None) -> str:
    parts = []
    if by:
        parts.append(f"by {by}")
    if via:
        parts.append(f"via {via}")
    return (" " + " ".join(parts)) if parts else ""


def evolve(incident: Incident | None, event: Event, seq: int, at: datetime) -> Incident:
    """The incident after `event`, journaled as number `seq` at `at`."""
    rep = dataclasses.replace
    if isinstance(event, IncidentOpened):
        inc = Incident(
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
        )
        text = f"Opened ({event.severity}, {event.urgency} urgency)"
        if event.reason:
            text += f"; not paging now: {event.reason}"
        return rep(
            inc,
            timeline=(
                TimelineEntry(seq=seq, at=at, kind=event.TYPE, text=text, via=event.integration),
            ),
        )
    if incident is None:
        raise ValueError(f"{event.TYPE} for an incident that was never opened")
    inc = incident
    match event:
        case AlertTriggered():
            old = inc.alerts.get(event.key)
            alert = Alert(
                key=event.key,
                status="firing",
                summary=event.summary,
                severity=event.severity,
                source=event.source,
                first_seen=old.first_seen if old and old.status == "firing" else at,
                last_seen=at,
                count=(old.count + 1) if old else 1,
                labels=event.labels,
                details=event.details,
                links=event.links or (),
            )
            alerts = {**inc.alerts, event.key: alert}
            inc = rep(
                inc,
                alerts=alerts,
                severity=worst_severity(inc.severity, event.severity),
                auto_resolve_at=event.auto_resolve_at or inc.auto_resolve_at,
            )
            verb = "Alert fired" if old is None or old.status != "firing" else "Alert fired again"
            inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, f"{verb}: {event.summary}"))
        case AlertResolved():
            old = inc.alerts.get(event.key)
            if old is not None:
                alerts = {**inc.alerts, event.key: rep(old, status="resolved", resolved_at=at)}
                inc = rep(
                    inc,
                    alerts=alerts,
                    timeline=_entry(inc, seq, at, event.TYPE, f"Alert resolved: {old.summary}"),
                )
        case IncidentAcknowledged():
            inc = rep(
                inc,
                status=A,
                acknowledged_at=at,
                acknowledged_by=event.by,
                ack_timeout_at=event.ack_timeout_at,
                snoozed_until=None,
                pages={},
                timeline=_entry(
                    inc,
                    seq,
                    at,
                    event.TYPE,
                    "Acknowledged" + _by(event.by, event.via),
                    event.by,
                    event.via,
                ),
            )
        case IncidentUnacknowledged():
            inc = rep(
                inc,
                status=T,
                acknowledged_at=None,
                acknowledged_by=None,
                ack_timeout_at=None,
                snoozed_until=None,
                pages={},
                timeline=_entry(inc, seq, at, event.TYPE, f"Triggered again: {event.reason}"),
            )
        case IncidentSnoozed():
            inc = rep(
                inc,
                status=A,
                acknowledged_at=inc.acknowledged_at or at,
                acknowledged_by=inc.acknowledged_by or event.by,
                snoozed_until=event.until,
                ack_timeout_at=None,
                pages={},
                timeline=_entry(
                    inc,
                    seq,
                    at,
                    event.TYPE,
                    f"Snoozed until {event.until.isoformat()}" + _by(event.by, event.via),
                    event.by,
                    event.via,
                ),
            )
        case IncidentResolved():
            text = (
                "Resolved"
                + _by(event.by, event.via)
                + (f" ({event.reason})" if event.reason else "")
            )
            inc = rep(
                inc,
                status=R,
                resolved_at=at,
                resolved_by=event.by,
                snoozed_until=None,
                ack_timeout_at=None,
                page_at=None,
                pages={},
                escalation=rep(inc.escalation, next_at=None) if inc.escalation else None,
                timeline=_entry(inc, seq, at, event.TYPE, text, event.by, event.via),
            )
        case NoteAdded():
            inc = rep(
                inc, timeline=_entry(inc, seq, at, event.TYPE, event.text, event.by, event.via)
            )
        case IncidentEscalated():
            who = ", ".join(event.targets or ()) or "nobody on call"
            text = f"Escalated to level {event.level + 1}" + (
                f" (round {event.round + 1})" if event.round else ""
            )
            text += f": {who}" + _by(event.by, event.via)
            changes: dict[str, object] = {
                "escalation": EscalationState(
                    event.policy_id, event.level, event.round, event.next_at
                ),
                "paging": True,
                "page_at": None,
            }
            if inc.status is A:
                changes.update(
                    status=T,
                    acknowledged_at=None,
                    acknowledged_by=None,
                    ack_timeout_at=None,
                    snoozed_until=None,
                )
            inc = rep(
                inc, **changes, timeline=_entry(inc, seq, at, event.TYPE, text, event.by, event.via)
            )
        case UserPaged():
            page = Page(event.user_id, at, event.level, event.round, event.step, event.next_at)
            running = inc.pages.get(event.user_id)
            if running is not None and event.step > 0:  # a correction of a running page
                page = rep(running, next_step=event.step, next_at=event.next_at)
            inc = rep(inc, pages={**inc.pages, event.user_id: page})
            if event.step == 0:
                text = f"Paging {event.user_id} (level {event.level + 1})"
                if event.next_at is None:
                    text += ": no notification rules for this urgency"
                inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, text))
        case NotificationRequested():
            pages = inc.pages
            if event.kind == "page" and event.user_id is not None:
                current = inc.pages.get(event.user_id)
                if current is not None and event.step is not None:
                    pages = {
                        **inc.pages,
                        event.user_id: rep(
                            current, next_step=event.step + 1, next_at=event.next_at
                        ),
                    }
                text = f"Notifying {event.user_id} by {event.method}"
                if event.fallback_from:
                    text += f" (instead of {event.fallback_from}, which failed)"
            else:
                text = f"Status update ({event.topic}) to {event.method}"
            inc = rep(
                inc,
                pages=pages,
                notification_count=inc.notification_count + 1,
                timeline=_entry(inc, seq, at, event.TYPE, text, via=event.method),
            )
        case NotificationSent():
            text = f"Notification {event.notification_id} sent (attempt {event.attempt})"
            inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, text))
            if (
                event.method in EDITABLE
                and event.provider_id
                and event.notification_id not in inc.messages
            ):
                inc = rep(inc, messages={**inc.messages, event.notification_id: event.provider_id})
        case NotificationFailed():
            text = f"Notification {event.notification_id} failed (attempt {event.attempt}): {event.error}"
            if event.retry_at is not None:
                text += f"; retrying at {event.retry_at.isoformat()}"
            elif event.permanent:
                text += "; giving up"
            inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, text))
        case NotificationDelivered():
            text = f"Notification {event.notification_id}: {event.status}"
            if event.error:
                text += f" ({event.error})"
            inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, text))
        case NotificationCancelled():
            text = f"Notification {event.notification_id} not sent: {event.reason}"
            inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, text))
        case _:
            raise ValueError(f"{event.TYPE} is not an incident event")
    return rep(inc, updated_at=at, last_seq=seq)
