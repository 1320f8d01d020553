"""The event of a paged person nobody could reach: every contact method their notification
rules name failed for good (or was retried past the escalation policy's limit). Part of the
vocabulary of `pager.core.events`."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import IncidentEvent, event

__all__ = ["PersonUnreachable"]


@event("incident.person_unreachable")
@dataclass(frozen=True, slots=True, kw_only=True)
class PersonUnreachable(IncidentEvent):
    """`user_id`, paged at `level` (0-based) in walk `round`, could not be reached: each of
    the notifications of their page failed; `tried` names their methods in the order tried.
    When the policy says so (`escalate_when_unreachable`, the default), an
    `incident.escalated` to the next level follows in the same append."""

    incident_id: str
    user_id: str
    level: int
    round: int
    tried: tuple[str, ...] = ()
