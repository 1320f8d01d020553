"""Rebuilding an archived incident from the log: the records `opened_seq..last_seq` of its
subject, folded. Used when someone asks for an archived incident in full (its detail, a
note added to it). Records that journal.retention archived are read from the archive;
records it deleted are HistoryDeleted (a 410 at the edges)."""

from __future__ import annotations

import itertools
import logging
from functools import partial

from pager.core.archive import IncidentSummary
from pager.core.events import decode
from pager.core.evolve import evolve
from pager.core.model import Incident
from pager.core.notifications import Notification, NotificationBook
from pager.core.state import SystemState
from pager.store.base import EventLog, HistoryDeleted

__all__ = ["ensure_incident", "rebuild"]

log = logging.getLogger("pager.replay")


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
            if ev.TYPE.startswith("notification."):
                book.apply(ev, rec.ts)
            inc = evolve(inc, ev, rec.seq, rec.ts)
        if rec.seq >= summary.last_seq:
            break  # never read past it: a line being written may follow
    if inc is None:
        raise ValueError(f"the log holds no records of {summary.id} from {summary.opened_seq}")
    return inc, list(book.by_id.values())


async def ensure_incident(
    state: SystemState, event_log: EventLog, incident_id: str
) -> Incident | None:
    """The incident in full, rebuilding it from the log if it is archived; None if unknown."""
    for _ in range(5):
        inc = state.incidents.get(incident_id)
        if inc is not None:
            return inc
        summary = state.archive.get(incident_id)
        if summary is None:
            return None
        rebuilt, notifications = await event_log.read_in_thread(
            partial(rebuild, event_log, summary)
        )
        if state.archive.get(incident_id) is summary:  # nothing was journaled meanwhile
            state.materialize(rebuilt, notifications)
    log.warning("incident %s kept changing while it was rebuilt", incident_id)
    return state.incidents.get(incident_id)
