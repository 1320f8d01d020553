"""The words of an incident's timeline, written apart from the fold (evolve.py), which only
decides what the incident becomes.

The fold does not write the words: for each event that adds a line to the timeline it keeps
a compact raw entry, `(seq, at, kind, args)`, where `args` is a small tuple of plain values
(strings, numbers, instants) the words are made from — the few that depend on the incident
as it was before the event (whether a fired alert was firing already, the summaries of the
alerts a resolve ended, whether a snooze also acknowledged) are taken then. The words are
written when someone reads them (`render`, `rendered`: the REST API, the dashboard, a
template): replay and a standby folding the log pay for a tuple, not for a sentence.
Snapshots keep the raw entries as they are (plain JSON arrays); snapshots written before
kept rendered entries (`TimelineEntry`), and an incident loaded from one holds those as
they were, beside raw entries for what came after.

One capture (`_CAPTURES`: the incident before, the event -> args, or None for no line) and
one rendering (`_SAYS`: args -> the words) per event type. The words are part of what
pager shows: changing a sentence here changes what the API and `pager replay --at` show
for old logs too, so the golden replay fixture (tests/fixtures/replay) holds it still.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
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

__all__ = [
    "CAPTURES",
    "DATETIME_ARGS",
    "Capture",
    "RawEntry",
    "last_via",
    "opened_entry",
    "raw_entry",
    "render",
    "rendered",
]

RawEntry = tuple[int, datetime, str, tuple[Any, ...]]
"""A timeline entry as the fold keeps it: (seq, at, kind, args)."""
Capture = Callable[[Incident, Any], tuple[Any, ...] | None]

_FIRING = AlertStatus.FIRING
_TRIGGERED = Status.TRIGGERED
_PAGE = NotificationKind.PAGE


def _by(by: str | None, via: str | None) -> str:
    parts = []
    if by:
        parts.append(f"by {by}")
    if via:
        parts.append(f"via {via}")
    return (" " + " ".join(parts)) if parts else ""


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


# ------------------------------------------------------------------ the words (a reader)


def _s_opened(a: tuple[Any, ...]) -> str:
    severity, urgency, reason, _ = a
    text = f"Opened ({severity}, {urgency} urgency)"
    if reason:
        text += f"; not paging now: {reason}"
    return text


def _s_alerts(a: tuple[Any, ...]) -> str:
    fired, first, again, gone, first_gone = a
    parts = []
    if fired == 1:
        parts.append(f"{'Alert fired again' if again else 'Alert fired'}: {first}")
    elif fired:
        parts.append(f"{fired} alerts fired: {first}, ...")
    if gone == 1:
        parts.append(f"Alert resolved: {first_gone}")
    elif gone:
        parts.append(f"{gone} alerts resolved: {first_gone}, ...")
    return "; ".join(parts) or "Alerts unchanged"


def _s_acknowledged(a: tuple[Any, ...]) -> str:
    return "Acknowledged" + _by(a[0], a[1])


def _s_unacknowledged(a: tuple[Any, ...]) -> str:
    return f"Triggered again: {a[0]}"


def _s_snoozed(a: tuple[Any, ...]) -> str:
    by, via, _, triggered, until = a
    verb = "Acknowledged and snoozed" if triggered else "Snoozed"
    return f"{verb} until {until.isoformat()}" + _by(by, via)


def _s_resolved(a: tuple[Any, ...]) -> str:
    by, via, _, reason = a
    return "Resolved" + _by(by, via) + (f" ({reason})" if reason else "")


def _s_note(a: tuple[Any, ...]) -> str:
    return str(a[3])


def _s_edited(a: tuple[Any, ...]) -> str:
    _, _, _, title, described = a
    parts = []
    if title is not None:
        parts.append(f"Title changed to {title!r}")
    if described:
        parts.append("Description changed")
    return "; ".join(parts)


def _s_escalated(a: tuple[Any, ...]) -> str:
    by, via, _, level, round_, targets, paged = a
    text = f"Escalated to level {level + 1}"
    if round_:
        text += f" (round {round_ + 1})"
    text += f": {targets or 'nobody on call'}" + _by(by, via)
    if paged is not None:
        text += "; paging " + paged
    return text


def _s_deferred(a: tuple[Any, ...]) -> str:
    page_at, reason = a
    return f"Paging deferred until {page_at.isoformat()}" + (f" ({reason})" if reason else "")


def _s_user_paged(a: tuple[Any, ...]) -> str:
    user_id, level, no_rules = a
    text = f"Paging {user_id} (level {level + 1})"
    if no_rules:
        text += ": no notification rules for this urgency"
    return text


def _s_requested(a: tuple[Any, ...]) -> str:
    method, page, user_id, fallback_from, topic = a
    if page:
        text = f"Notifying {user_id} by {method}"
        if fallback_from:
            text += f" (instead of {fallback_from}, which failed)"
        return text
    return f"Status update ({topic}) to {method}"


def _s_sent(a: tuple[Any, ...]) -> str:
    nid, attempt, bundle_id = a
    text = f"Notification {nid} sent (attempt {attempt})"
    if bundle_id is not None:
        text += f" in bundle {bundle_id}"
    return text


def _s_failed(a: tuple[Any, ...]) -> str:
    nid, attempt, error, retry_at, permanent = a
    text = f"Notification {nid} failed (attempt {attempt}): {error}"
    if retry_at is not None:
        text += f"; retrying at {retry_at.isoformat()}"
    elif permanent:
        text += "; giving up"
    return text


def _s_delivered(a: tuple[Any, ...]) -> str:
    nid, status, error = a
    text = f"Notification {nid}: {status}"
    if error:
        text += f" ({error})"
    return text


def _s_cancelled(a: tuple[Any, ...]) -> str:
    return f"Notification {a[0]} not sent: {a[1]}"


def _s_unreachable(a: tuple[Any, ...]) -> str:
    user_id, tried = a
    text = f"{user_id} could not be reached"
    if tried is not None:
        text += ": " + tried + " failed"
    return text


# (event type, its capture, its words, who acted: "attribution" (args start with by, via,
# token_name), "method" (a notification's method, args[0], as `via`), "integration" (the
# last arg), or None)
_TABLE: tuple[tuple[type[Event], Capture, Callable[[tuple[Any, ...]], str], str | None], ...] = (
    (AlertsUpdated, _c_alerts, _s_alerts, None),
    (IncidentAcknowledged, _c_who, _s_acknowledged, "attribution"),
    (IncidentUnacknowledged, _c_unacknowledged, _s_unacknowledged, None),
    (IncidentSnoozed, _c_snoozed, _s_snoozed, "attribution"),
    (IncidentResolved, _c_resolved, _s_resolved, "attribution"),
    (NoteAdded, _c_note, _s_note, "attribution"),
    (IncidentEdited, _c_edited, _s_edited, "attribution"),
    (IncidentEscalated, _c_escalated, _s_escalated, "attribution"),
    (PagingDeferred, _c_deferred, _s_deferred, None),
    (UserPaged, _c_user_paged, _s_user_paged, None),
    (NotificationRequested, _c_requested, _s_requested, "method"),
    (NotificationSent, _c_sent, _s_sent, None),
    (NotificationFailed, _c_failed, _s_failed, None),
    (NotificationDelivered, _c_delivered, _s_delivered, None),
    (NotificationCancelled, _c_cancelled, _s_cancelled, None),
    (PersonUnreachable, _c_unreachable, _s_unreachable, None),
)

CAPTURES: dict[type, Capture] = {t: capture for t, capture, _, _ in _TABLE}
"""Each event type's capture, `CAPTURES[type](before, event)`: the args of the line it adds
to the timeline (None: it adds none, e.g. `incident.user_paged` correcting a running page;
`link.used` has no capture: its action is on the timeline already, with who and how)."""

DATETIME_ARGS: dict[str, tuple[int, ...]] = {
    IncidentSnoozed.TYPE: (4,),
    PagingDeferred.TYPE: (0,),
    NotificationFailed.TYPE: (3,),
}
"""The args that are instants, by kind: a snapshot holds them as text (snapshot_codec)."""

_entry = partial(tuple.__new__, TimelineEntry)  # TimelineEntry(...) without its __new__
Render = Callable[[int, datetime, str, tuple[Any, ...]], TimelineEntry]


def _render(say: Callable[[tuple[Any, ...]], str], who: str | None, kind: str) -> Render:
    if who == "attribution":
        token_said = kind != NoteAdded.TYPE  # a note is the person's own words: nothing added

        def attributed(seq: int, at: datetime, kind: str, a: tuple[Any, ...]) -> TimelineEntry:
            text = say(a)
            by, via, token = a[0], a[1], a[2]
            if token and token != by and token_said:
                text += f" (API token {token})"
            return _entry((seq, at, kind, text, by, via, token))

        return attributed
    if who == "method":
        return lambda seq, at, kind, a: _entry((seq, at, kind, say(a), None, a[0], None))
    if who == "integration":
        return lambda seq, at, kind, a: _entry((seq, at, kind, say(a), None, a[-1], None))
    return lambda seq, at, kind, a: _entry((seq, at, kind, say(a), None, None, None))


_RENDERS: dict[str, Render] = {t.TYPE: _render(say, who, t.TYPE) for t, _, say, who in _TABLE}
_RENDERS[IncidentOpened.TYPE] = _render(_s_opened, "integration", IncidentOpened.TYPE)


def render(entry: TimelineEntry | RawEntry) -> TimelineEntry:
    """One line of the timeline in words (an entry rendered already is itself)."""
    if type(entry) is TimelineEntry:
        return entry
    seq, at, kind, args = entry  # type: ignore[misc]  # (a raw entry: not the 7 above)
    return _RENDERS[kind](seq, at, kind, args)


def rendered(entries: Iterable[TimelineEntry | RawEntry]) -> tuple[TimelineEntry, ...]:
    """The timeline in words."""
    return tuple(map(render, entries))


def raw_entry(kind: str, seq: int, at: datetime, args: tuple[Any, ...]) -> RawEntry:
    """A raw entry (as a snapshot holds it), checked to be one `render` knows."""
    if kind not in _RENDERS:
        raise ValueError(f"no timeline entry of kind {kind!r}")
    return (seq, at, kind, args)


def last_via(entries: Sequence[TimelineEntry | RawEntry], kind: str) -> str | None:
    """How the newest entry of `kind` came (its `via`), without writing the words of the
    others; None when there is none."""
    for entry in reversed(entries):
        if entry[2] == kind:
            return render(entry).via
    return None
