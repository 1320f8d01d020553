"""Archived incidents in the running system: `ensure_incident` gives an incident in full,
rebuilding it from the log (pager.replay.history.rebuild, in a worker thread) and installing
it in the state when it was archived. The actors and the edges call it when they need an
archived incident whole (a late delivery receipt, its detail page, a note added to it)."""

from __future__ import annotations

import logging
from functools import partial

from pager.core.model import Incident
from pager.core.state import SystemState
from pager.replay.history import rebuild
from pager.store.base import EventLog

__all__ = ["ensure_incident"]

log = logging.getLogger("pager.archive")


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
