"""The incident vocabulary: an incident opened, its alerts changed, acknowledged, snoozed,
resolved, noted, edited, escalated, its paging deferred or corrected. Part of
`pager.core.events`, which re-exports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._base import NOBODY, Attributed, Attribution, IncidentEvent, event

__all__ = [
    "AlertsUpdated",
    "IncidentAcknowledged",
    "IncidentEdited",
    "IncidentEscalated",
    "IncidentOpened",
    "IncidentResolved",
    "IncidentSnoozed",
    "IncidentUnacknowledged",
    "NoteAdded",
    "PagingDeferred",
    "UserPaged",
]


@event("incident.opened")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentOpened(IncidentEvent):
    incident_id: str
    number: int
    short_code: str
    service_id: str
    dedup_key: str
    integration: str
    title: str
    severity: str
    urgency: str
    paging: bool = True
    page_at: datetime | None = None
    auto_resolve_at: datetime | None = None
    reason: str | None = None  # why nobody is paged (maintenance, low urgency)
    alerts: tuple[dict[str, Any], ...] | None = (
        None  # the alerts it opens with (as in AlertsUpdated)
    )


@event("alerts.updated")
@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsUpdated(IncidentEvent):
    """Alerts of the incident fired (new, or again: an update of the same key, no new
    page) or resolved. `fired` holds one object per alert: key, summary, severity, source,
    labels, details, links. One event for a whole Alertmanager group, however many alerts
    changed."""

    incident_id: str
    fired: tuple[dict[str, Any], ...] | None = None
    resolved: tuple[str, ...] | None = None
    auto_resolve_at: datetime | None = None


@event("incident.acknowledged")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentAcknowledged(IncidentEvent, Attributed):
    incident_id: str
    attribution: Attribution = NOBODY
    ack_timeout_at: datetime | None = None


@event("incident.unacknowledged")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentUnacknowledged(IncidentEvent):
    """Back to triggered: the ack timed out or a snooze ended. Escalation restarts."""

    incident_id: str
    reason: str


@event("incident.snoozed")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentSnoozed(IncidentEvent, Attributed):
    incident_id: str
    until: datetime
    attribution: Attribution = NOBODY


@event("incident.resolved")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentResolved(IncidentEvent, Attributed):
    incident_id: str
    attribution: Attribution = NOBODY
    reason: str | None = None


@event("incident.note_added")
@dataclass(frozen=True, slots=True, kw_only=True)
class NoteAdded(IncidentEvent, Attributed):
    incident_id: str
    text: str
    attribution: Attribution = NOBODY


@event("incident.edited")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentEdited(IncidentEvent, Attributed):
    """A new title and/or description of the incident's first alert (None: unchanged)."""

    incident_id: str
    title: str | None = None
    description: str | None = None
    attribution: Attribution = NOBODY


@event("incident.escalated")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentEscalated(IncidentEvent, Attributed):
    """The incident reached `level` (0-based) of `policy_id` in walk `round`; the next step
    is due at `next_at` (None: the policy is exhausted). `by` is set for a manual escalation.
    `paged` are the targets whose pages start now (a target already being paged in this
    walk is not paged again), `first_after` the seconds until each one's first notification
    rule is due (None: they have no rule for this urgency)."""

    incident_id: str
    policy_id: str
    level: int
    round: int
    next_at: datetime | None = None
    targets: tuple[str, ...] | None = None
    paged: tuple[str, ...] | None = None
    first_after: tuple[float | None, ...] | None = None
    attribution: Attribution = NOBODY


@event("incident.paging_deferred")
@dataclass(frozen=True, slots=True, kw_only=True)
class PagingDeferred(IncidentEvent):
    """The incident will start paging at `page_at` (a low-urgency incident outside the
    service's business hours), not now."""

    incident_id: str
    page_at: datetime
    reason: str | None = None


@event("incident.user_paged")
@dataclass(frozen=True, slots=True, kw_only=True)
class UserPaged(IncidentEvent):
    """A correction of a running page: `user_id`'s page stands at rule `step`, due at
    `next_at` (None: nothing more to send) — when their rules changed under a reload.
    Pages start with `incident.escalated`."""

    incident_id: str
    user_id: str
    level: int
    round: int
    step: int = 0
    next_at: datetime | None = None
