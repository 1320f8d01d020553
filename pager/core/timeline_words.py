"""The words of an incident's timeline: each raw entry the fold keeps (timeline.py), `(seq,
at, kind, args)`, in words as people read them (`render`, `rendered`), and `TimelineEntry`,
one line in words. A leaf of the core (it knows the event tags, nothing of incidents), so
that `Incident.timeline` (model.py) can write its words.

The words are part of what pager shows: changing a sentence here changes what the REST API,
the dashboard and `pager replay --at` show for old logs too, so the golden replay fixture
(tests/fixtures/replay) holds it still; tests/core/test_timeline.py has every kind of line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

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

__all__ = [
    "DATETIME_ARGS",
    "RawEntry",
    "TimelineEntry",
    "last_via",
    "named",
    "raw_entry",
    "render",
    "rendered",
]


class TimelineEntry(NamedTuple):
    """One line of an incident's history in words. A named tuple rather than a dataclass:
    incidents carry many of these, and tuples of plain values are not tracked by the garbage
    collector, which otherwise spends its time scanning them."""

    seq: int
    at: datetime
    kind: str
    text: str
    by: str | None = None
    via: str | None = None
    token_name: str | None = None  # the API token's name, for actions through the REST API


RawEntry = tuple[int, datetime, str, tuple[Any, ...]]
"""A timeline entry as the fold keeps it: (seq, at, kind, args)."""


def _by(by: str | None, via: str | None) -> str:
    parts = []
    if by:
        parts.append(f"by {by}")
    if via:
        parts.append(f"via {via}")
    return (" " + " ".join(parts)) if parts else ""


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


# each kind's words, and who acted: "attribution" (args start with by, via, token_name),
# "method" (a notification's method, args[0], as `via`), "integration" (the last arg), None
_WORDS: tuple[tuple[str, Callable[[tuple[Any, ...]], str], str | None], ...] = (
    (IncidentOpened.TYPE, _s_opened, "integration"),
    (AlertsUpdated.TYPE, _s_alerts, None),
    (IncidentAcknowledged.TYPE, _s_acknowledged, "attribution"),
    (IncidentUnacknowledged.TYPE, _s_unacknowledged, None),
    (IncidentSnoozed.TYPE, _s_snoozed, "attribution"),
    (IncidentResolved.TYPE, _s_resolved, "attribution"),
    (NoteAdded.TYPE, _s_note, "attribution"),
    (IncidentEdited.TYPE, _s_edited, "attribution"),
    (IncidentEscalated.TYPE, _s_escalated, "attribution"),
    (PagingDeferred.TYPE, _s_deferred, None),
    (UserPaged.TYPE, _s_user_paged, None),
    (NotificationRequested.TYPE, _s_requested, "method"),
    (NotificationSent.TYPE, _s_sent, None),
    (NotificationFailed.TYPE, _s_failed, None),
    (NotificationDelivered.TYPE, _s_delivered, None),
    (NotificationCancelled.TYPE, _s_cancelled, None),
    (PersonUnreachable.TYPE, _s_unreachable, None),
)

DATETIME_ARGS: dict[str, tuple[int, ...]] = {
    IncidentSnoozed.TYPE: (4,),
    PagingDeferred.TYPE: (0,),
    NotificationFailed.TYPE: (3,),
}
"""The args that are instants, by kind: a snapshot holds them as text (snapshot_codec)."""

# the args that name people (a user id, or a comma list of them), by kind: where `named`
# writes what the dashboard calls each person
_PEOPLE: dict[str, frozenset[int]] = {
    IncidentAcknowledged.TYPE: frozenset({0}),
    IncidentSnoozed.TYPE: frozenset({0}),
    IncidentResolved.TYPE: frozenset({0}),
    IncidentEscalated.TYPE: frozenset({0, 5, 6}),  # by, targets, paged
    UserPaged.TYPE: frozenset({0}),
    NotificationRequested.TYPE: frozenset({2}),
    PersonUnreachable.TYPE: frozenset({0}),
}
_SAY = {kind: say for kind, say, _ in _WORDS}

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


_RENDERS: dict[str, Render] = {kind: _render(say, who, kind) for kind, say, who in _WORDS}


def render(entry: TimelineEntry | RawEntry) -> TimelineEntry:
    """One line of the timeline in words (an entry rendered already is itself)."""
    if type(entry) is TimelineEntry:
        return entry
    seq, at, kind, args = entry  # type: ignore[misc]  # (a raw entry: not the 7 above)
    return _RENDERS[kind](seq, at, kind, args)


def rendered(entries: Iterable[TimelineEntry | RawEntry]) -> tuple[TimelineEntry, ...]:
    """The timeline in words."""
    return tuple(map(render, entries))


def _people(value: Any, name: Callable[[str], str]) -> Any:
    if not isinstance(value, str) or not value:
        return value
    return ", ".join(name(person) for person in value.split(", "))


def named(entry: TimelineEntry | RawEntry, name: Callable[[str], str]) -> TimelineEntry:
    """The line as `render` writes it, with each person in its words as `name` calls them
    (the dashboard: `Acknowledged by Alice Example via web`, where the API and `pager
    replay` say `alice`). `by` and the other fields keep the ids. An entry rendered already
    (an old snapshot's) keeps its words."""
    line = render(entry)
    if type(entry) is TimelineEntry:
        return line
    kind, args = line.kind, entry[3]  # (a raw entry: seq, at, kind, args)
    assert isinstance(args, tuple)
    people = _PEOPLE.get(kind)
    if people is None:
        return line
    say = _SAY[kind]
    plain = say(args)  # what render wrote first; an API token's name may follow
    swapped = tuple(_people(v, name) if i in people else v for i, v in enumerate(args))
    return line._replace(text=say(swapped) + line.text[len(plain) :])


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
