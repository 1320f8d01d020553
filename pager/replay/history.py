"""Rebuilding an archived incident from the log: the records `opened_seq..last_seq` of its
subject, folded. The running system installs the result with
`pager.actors.archived.ensure_incident` when someone asks for an archived incident in full
(its detail, a note added to it). Records that journal.retention archived are read from the
archive; records it deleted are HistoryDeleted (a 410 at the edges)."""

from __future__ import annotations

import itertools

from pager.core.archive import IncidentSummary
from pager.core.events import NotificationEvent, decode
from pager.core.evolve import evolve
from pager.core.model import Incident
from pager.core.notifications import Notification, NotificationBook
from pager.store.base import EventLog, HistoryDeleted

__all__ = ["rebuild"]


def rebuild(event_log: EventLog, summary: IncidentSummary) -> tuple[Incident, list[Notification]]:
    """Blocking (reads the log): run it in a thread."""
    inc: Incident | None = None
    book = NotificationBook()
    try:
        records = event_log.read_from(summary.opened_seq)
        first = next(records, None)
    except HistoryDeleted as e:
        raise HistoryDeleted(
            e.wanted, e.first, f"the history of {summary.id} (resolved, summary only)"
        ) from None
    for rec in itertools.chain([first] if first else [], records):
        if rec.subject == summary.id:
            ev = decode(rec.type, rec.data)
            if isinstance(ev, NotificationEvent):
                book.apply(ev, rec.ts)
            inc = evolve(inc, ev, rec.seq, rec.ts)
        if rec.seq >= summary.last_seq:
            break  # never read past it: a line being written may follow
    if inc is None:
        raise ValueError(f"the log holds no records of {summary.id} from {summary.opened_seq}")
    return inc, list(book.by_id.values())
