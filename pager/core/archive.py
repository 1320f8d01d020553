"""Resolved incidents in summary: what the incident list shows, and where in the log the
rest of each one's history is.

A pager accumulates resolved incidents for ever; keeping each as a full value (alerts,
timeline, pages) costs memory and, worse, start-up time (a snapshot would have to hold and
rebuild them all). So a snapshot holds open incidents whole and resolved ones as
`IncidentSummary` rows, and a running pager turns resolved incidents into summaries an hour
after they resolve. Asking for one in full (its detail, a note added to it) rebuilds it from
the log records `opened_seq..last_seq` — the log is the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from .model import Incident, Status

__all__ = ["IncidentSummary", "summarize"]


class IncidentSummary(NamedTuple):
    id: str
    number: int
    short_code: str
    service_id: str
    dedup_key: str
    integration: str
    title: str
    status: Status
    severity: str
    urgency: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    alerts_firing: int
    alerts_total: int
    opened_seq: int
    last_seq: int


# positions of the datetime fields (a snapshot holds them as ISO strings)
SUMMARY_DATES = tuple(
    i
    for i, name in enumerate(IncidentSummary._fields)
    if name in ("created_at", "updated_at", "acknowledged_at", "resolved_at")
)


_STATUS = IncidentSummary._fields.index("status")
_FIRING = IncidentSummary._fields.index("alerts_firing")


def summarize(inc: Incident) -> IncidentSummary:
    return IncidentSummary(
        inc.id,
        inc.number,
        inc.short_code,
        inc.service_id,
        inc.dedup_key,
        inc.integration,
        inc.title,
        inc.status,
        inc.severity,
        inc.urgency,
        inc.created_at,
        inc.updated_at,
        inc.acknowledged_at,
        inc.acknowledged_by,
        inc.resolved_at,
        inc.resolved_by,
        len(inc.firing_alerts()),
        len(inc.alerts) + inc.alerts_unlisted,
        inc.opened_seq,
        inc.last_seq,
    )


def summary_from_json(row: list[object]) -> IncidentSummary:
    values = list(row)
    for i in SUMMARY_DATES:
        v = values[i]
        if v is not None:
            values[i] = datetime.fromisoformat(str(v))
    values[_STATUS] = Status(str(values[_STATUS]))
    if values[_STATUS] is Status.RESOLVED:
        # its alerts resolved with it (evolve.py); summaries written before still count some
        values[_FIRING] = 0
    return IncidentSummary(*values)  # type: ignore[arg-type]
