"""The words of an incident's timeline: what each journaled event says, written apart from
the fold (evolve.py), which only decides what the incident becomes. One small function per
event type, looked up in `_TEXTS`; each gets the incident as it was before the event.

The text is part of the incident's value (snapshots keep it, the API shows it): changing a
sentence here changes what `pager replay --incident` prints for old logs too, so the golden
replay fixture (tests/fixtures/replay) holds it still.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from .events import (
    AlertsUpdated,
    Attributed,
    Event,
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
from .model import Incident, Status, TimelineEntry
from .vocabulary import AlertStatus, NotificationKind

__all__ = ["LINES", "entry", "opened_entry"]


def _by(by: str | None, via: str | None) -> str:
    parts = []
    if by:
        parts.append(f"by {by}")
    if via:
        parts.append(f"via {via}")
    return (" " + " ".join(parts)) if parts else ""


def opened_entry(event: IncidentOpened, seq: int, at: datetime) -> TimelineEntry:
    text = f"Opened ({event.severity}, {event.urgency} urgency)"
    if event.reason:
        text += f"; not paging now: {event.reason}"
    return TimelineEntry(seq, at, event.TYPE, text, None, event.integration)


def _alerts(inc: Incident, e: AlertsUpdated) -> str:
    fired: tuple[dict[str, Any], ...] = e.fired or ()
    gone = []
    for key in e.resolved or ():
        old = inc.alerts.get(key)
        if old is not None and old.status == AlertStatus.FIRING:
            gone.append(old.summary)
    parts = []
    if len(fired) == 1:
        old = inc.alerts.get(fired[0]["key"])
        verb = (
            "Alert fired again"
            if old is not None and old.status == AlertStatus.FIRING
            else "Alert fired"
        )
        parts.append(f"{verb}: {fired[0]['summary']}")
    elif fired:
        parts.append(f"{len(fired)} alerts fired: {fired[0]['summary']}, ...")
    if len(gone) == 1:
        parts.append(f"Alert resolved: {gone[0]}")
    elif gone:
        parts.append(f"{len(gone)} alerts resolved: {gone[0]}, ...")
    return "; ".join(parts) or "Alerts unchanged"


def _acknowledged(inc: Incident, e: IncidentAcknowledged) -> str:
    return "Acknowledged" + _by(e.by, e.via)


def _unacknowledged(inc: Incident, e: IncidentUnacknowledged) -> str:
    return f"Triggered again: {e.reason}"


def _snoozed(inc: Incident, e: IncidentSnoozed) -> str:
    # snoozing a triggered incident acknowledges it: the timeline says so
    verb = "Acknowledged and snoozed" if inc.status is Status.TRIGGERED else "Snoozed"
    return f"{verb} until {e.until.isoformat()}" + _by(e.by, e.via)


def _resolved(inc: Incident, e: IncidentResolved) -> str:
    return "Resolved" + _by(e.by, e.via) + (f" ({e.reason})" if e.reason else "")


def _note(inc: Incident, e: NoteAdded) -> str:
    return e.text


def _edited(inc: Incident, e: IncidentEdited) -> str | None:
    parts = []
    if e.title is not None:
        parts.append(f"Title changed to {e.title[:1024]!r}")
    if e.description is not None and inc.dedup_key in inc.alerts:
        parts.append("Description changed")
    return "; ".join(parts) or None


def _escalated(inc: Incident, e: IncidentEscalated) -> str:
    who = ", ".join(e.targets or ()) or "nobody on call"
    text = f"Escalated to level {e.level + 1}"
    if e.round:
        text += f" (round {e.round + 1})"
    text += f": {who}" + _by(e.by, e.via)
    if e.paged:
        text += "; paging " + ", ".join(e.paged)
    return text


def _deferred(inc: Incident, e: PagingDeferred) -> str:
    return f"Paging deferred until {e.page_at.isoformat()}" + (f" ({e.reason})" if e.reason else "")


def _user_paged(inc: Incident, e: UserPaged) -> str | None:
    if e.step != 0:
        return None
    text = f"Paging {e.user_id} (level {e.level + 1})"
    if e.next_at is None:
        text += ": no notification rules for this urgency"
    return text


def _requested(inc: Incident, e: NotificationRequested) -> str:
    if e.kind == NotificationKind.PAGE and e.user_id is not None:
        text = f"Notifying {e.user_id} by {e.method}"
        if e.fallback_from:
            text += f" (instead of {e.fallback_from}, which failed)"
        return text
    return f"Status update ({e.topic}) to {e.method}"


def _sent(inc: Incident, e: NotificationSent) -> str:
    text = f"Notification {e.notification_id} sent (attempt {e.attempt})"
    if e.bundle_id is not None:
        text += f" in bundle {e.bundle_id}"
    return text


def _failed(inc: Incident, e: NotificationFailed) -> str:
    text = f"Notification {e.notification_id} failed (attempt {e.attempt}): {e.error}"
    if e.retry_at is not None:
        text += f"; retrying at {e.retry_at.isoformat()}"
    elif e.permanent:
        text += "; giving up"
    return text


def _delivered(inc: Incident, e: NotificationDelivered) -> str:
    text = f"Notification {e.notification_id}: {e.status}"
    if e.error:
        text += f" ({e.error})"
    return text


def _cancelled(inc: Incident, e: NotificationCancelled) -> str:
    return f"Notification {e.notification_id} not sent: {e.reason}"


def _unreachable(inc: Incident, e: PersonUnreachable) -> str:
    text = f"{e.user_id} could not be reached"
    if e.tried:
        text += ": " + ", ".join(e.tried) + " failed"
    return text


_TEXTS: dict[type, Callable[[Incident, Any], str | None]] = {
    AlertsUpdated: _alerts,
    IncidentAcknowledged: _acknowledged,
    IncidentUnacknowledged: _unacknowledged,
    IncidentSnoozed: _snoozed,
    IncidentResolved: _resolved,
    NoteAdded: _note,
    IncidentEdited: _edited,
    IncidentEscalated: _escalated,
    PagingDeferred: _deferred,
    UserPaged: _user_paged,
    NotificationRequested: _requested,
    NotificationSent: _sent,
    NotificationFailed: _failed,
    NotificationDelivered: _delivered,
    NotificationCancelled: _cancelled,
    PersonUnreachable: _unreachable,
}

_entry = partial(tuple.__new__, TimelineEntry)  # TimelineEntry(...) without its __new__
Line = Callable[[Incident, Any, int, datetime], TimelineEntry | None]


def _line(t: type[Event], describe: Callable[[Incident, Any], str | None]) -> Line:
    """The timeline entry of one event type: its words, and who acted (the event's
    attribution; a notification request's contact method as `via`)."""
    tag = t.TYPE
    if issubclass(t, Attributed):
        token_said = t is not NoteAdded  # a note is the person's own words: nothing added

        def attributed(before: Incident, e: Any, seq: int, at: datetime) -> TimelineEntry | None:
            text = describe(before, e)
            if text is None:
                return None
            by, via, token = e.attribution
            if token and token != by and token_said:
                text += f" (API token {token})"
            return _entry((seq, at, tag, text, by, via, token))

        return attributed
    if t is NotificationRequested:

        def requested(before: Incident, e: Any, seq: int, at: datetime) -> TimelineEntry | None:
            text = describe(before, e)
            return None if text is None else _entry((seq, at, tag, text, None, e.method, None))

        return requested

    def plain(before: Incident, e: Any, seq: int, at: datetime) -> TimelineEntry | None:
        text = describe(before, e)
        return None if text is None else _entry((seq, at, tag, text, None, None, None))

    return plain


LINES: dict[type, Line] = {t: _line(t, describe) for t, describe in _TEXTS.items()}
"""Each event type's timeline entry, `LINES[type](before, event, seq, at)`: None for an
event that adds none (e.g. `link.used`, whose action is on the timeline already)."""


def entry(before: Incident, event: Event, seq: int, at: datetime) -> TimelineEntry | None:
    """The timeline entry `event` adds to `before` (None: it adds none, e.g. `link.used`,
    whose action is on the timeline already, with who and how). It names who acted (the
    event's attribution; a notification's contact method as `via`)."""
    line = LINES.get(type(event))
    return None if line is None else line(before, event, seq, at)
