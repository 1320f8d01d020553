"""What the fold keeps of an incident's timeline (evolve.py calls these): for each event that
adds a line, a compact raw entry, `(seq, at, kind, args)`, where `args` is a small tuple of
plain values (strings, numbers, instants) its words are made from; the few that depend on
the incident as it was before the event (whether a fired alert was firing already, the
summaries of the alerts a resolve ended, whether a snooze also acknowledged) are taken then.
The words are written when someone reads them (timeline_words.py: `Incident.timeline`, the
REST API, the dashboard, templates): replay and a standby folding the log pay for a tuple,
not for a sentence. Snapshots keep the raw entries as they are (plain JSON arrays);
snapshots written before kept the entries in words (`TimelineEntry`), and an incident loaded
from one holds those as they were, beside raw entries for what came after.

One capture per event type (`CAPTURES`: the incident before, the event -> args, or None for
no line); its words are in timeline_words.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .events import (
    AlertsUpdated,
    IncidentAcknowledged,
    IncidentEdited,
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
    PagingDeferred,
    PersonUnreachable,
    UserPaged,
)
from .model import Incident, Status
from .timeline_words import RawEntry
from .vocabulary import AlertStatus, NotificationKind

__all__ = ["CAPTURES", "Capture", "opened_entry"]

Capture = Callable[[Incident, Any], tuple[Any, ...] | None]

_FIRING = AlertStatus.FIRING
_TRIGGERED = Status.TRIGGERED
_PAGE = NotificationKind.PAGE


# ------------------------------------------------------------------ captures (the fold)
#
# Each returns the args of its event's line (None: the event adds no line). An attributed
# event's args start with who acted: (by, via, token_name).


def opened_entry(event: IncidentOpened, seq: int, at: datetime) -> RawEntry:
    return (
        seq,
        at,
        "incident.opened",
        (event.severity, event.urgency, event.reason, event.integration),
    )


def _c_alerts(inc: Incident, e: AlertsUpdated) -> tuple[Any, ...]:
    alerts = inc.alerts
    fired: tuple[dict[str, Any], ...] = e.fired or ()
    gone = []
    for key in e.resolved or ():
        old = alerts.get(key)
        if old is not None and old.status == _FIRING:
            gone.append(old.summary)
    first = fired[0]["summary"] if fired else None
    again = False
    if len(fired) == 1:
        old = alerts.get(fired[0]["key"])
        again = old is not None and old.status == _FIRING
    return (len(fired), first, again, len(gone), gone[0] if gone else None)


def _c_who(inc: Incident, e: Any) -> tuple[Any, ...]:
    by, via, token = e.attribution
    return (by, via, token)


def _c_unacknowledged(inc: Incident, e: IncidentUnacknowledged) -> tuple[Any, ...]:
    return (e.reason,)


def _c_snoozed(inc: Incident, e: IncidentSnoozed) -> tuple[Any, ...]:
    by, via, token = e.attribution
    # snoozing a triggered incident acknowledges it: the timeline says so
    return (by, via, token, inc.status is _TRIGGERED, e.until)


def _c_resolved(inc: Incident, e: IncidentResolved) -> tuple[Any, ...]:
    by, via, token = e.attribution
    return (by, via, token, e.reason)


def _c_note(inc: Incident, e: NoteAdded) -> tuple[Any, ...]:
    by, via, token = e.attribution
    return (by, via, token, e.text)


def _c_edited(inc: Incident, e: IncidentEdited) -> tuple[Any, ...] | None:
    described = e.description is not None and inc.dedup_key in inc.alerts
    if e.title is None and not described:
        return None
    by, via, token = e.attribution
    return (by, via, token, None if e.title is None else e.title[:1024], described)


def _c_escalated(inc: Incident, e: IncidentEscalated) -> tuple[Any, ...]:
    by, via, token = e.attribution
    paged = ", ".join(e.paged) if e.paged else None
    return (by, via, token, e.level, e.round, ", ".join(e.targets or ()), paged)


def _c_deferred(inc: Incident, e: PagingDeferred) -> tuple[Any, ...]:
    return (e.page_at, e.reason)


def _c_user_paged(inc: Incident, e: UserPaged) -> tuple[Any, ...] | None:
    if e.step != 0:
        return None
    return (e.user_id, e.level, e.next_at is None)


def _c_requested(inc: Incident, e: NotificationRequested) -> tuple[Any, ...]:
    page = e.kind == _PAGE and e.user_id is not None
    return (e.method, page, e.user_id, e.fallback_from, e.topic)


def _c_sent(inc: Incident, e: NotificationSent) -> tuple[Any, ...]:
    return (e.notification_id, e.attempt, e.bundle_id)


def _c_failed(inc: Incident, e: NotificationFailed) -> tuple[Any, ...]:
    return (e.notification_id, e.attempt, e.error, e.retry_at, e.permanent)


def _c_delivered(inc: Incident, e: NotificationDelivered) -> tuple[Any, ...]:
    return (e.notification_id, e.status, e.error)


def _c_cancelled(inc: Incident, e: NotificationCancelled) -> tuple[Any, ...]:
    return (e.notification_id, e.reason)


def _c_unreachable(inc: Incident, e: PersonUnreachable) -> tuple[Any, ...]:
    return (e.user_id, ", ".join(e.tried) if e.tried else None)


CAPTURES: dict[type, Capture] = {
    AlertsUpdated: _c_alerts,
    IncidentAcknowledged: _c_who,
    IncidentUnacknowledged: _c_unacknowledged,
    IncidentSnoozed: _c_snoozed,
    IncidentResolved: _c_resolved,
    NoteAdded: _c_note,
    IncidentEdited: _c_edited,
    IncidentEscalated: _c_escalated,
    PagingDeferred: _c_deferred,
    UserPaged: _c_user_paged,
    NotificationRequested: _c_requested,
    NotificationSent: _c_sent,
    NotificationFailed: _c_failed,
    NotificationDelivered: _c_delivered,
    NotificationCancelled: _c_cancelled,
    PersonUnreachable: _c_unreachable,
}
"""Each event type's capture, `CAPTURES[type](before, event)`: the args of the line it adds
to the timeline (None: it adds none, e.g. `incident.user_paged` correcting a running page;
`link.used` has no capture: its action is on the timeline already, with who and how)."""
