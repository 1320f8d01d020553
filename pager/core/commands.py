"""Commands: what someone asks of an incident. `decide` turns a command into events or
refuses it; a command is never journaled itself, only the events it produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .events import Attribution

__all__ = [
    "Acknowledge",
    "AddNote",
    "AlertObservation",
    "Command",
    "Edit",
    "Escalate",
    "Fallback",
    "NewIncident",
    "Open",
    "Resolve",
    "ResolveAlert",
    "Snooze",
    "Tick",
    "TriggerAlert",
    "UpsertGroup",
    "UseLink",
    "who",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerAlert:
    """An alert fires (PagerDuty trigger, generic firing). An alert already open under the
    same key is updated; nobody is paged again."""

    key: str
    summary: str
    severity: str
    source: str | None = None
    labels: dict[str, str] | None = None
    details: Any = None
    links: tuple[Any, ...] | None = None
    occurred_at: datetime | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveAlert:
    """One alert resolves; the incident resolves with its last firing alert."""

    key: str
    by: str | None = None
    via: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertObservation:
    """One alert as Alertmanager reports it inside a group."""

    key: str
    firing: bool
    summary: str
    severity: str
    source: str | None = None
    labels: dict[str, str] | None = None
    details: Any = None
    links: tuple[Any, ...] | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpsertGroup:
    """The whole state of an Alertmanager group. Idempotent: the same group twice produces
    no events the second time. With `truncated`, alerts missing from the list are left as
    they are; without, a missing alert has resolved."""

    alerts: tuple[AlertObservation, ...]
    truncated: bool = False
    title: str | None = None
    via: str | None = "alertmanager"


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledge:
    by: str | None = None
    via: str | None = None
    token_name: str | None = None  # the API token that asked, by its name


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve:
    by: str | None = None
    via: str | None = None
    token_name: str | None = None  # the API token that asked, by its name
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Snooze:
    duration: timedelta
    by: str | None = None
    via: str | None = None
    token_name: str | None = None  # the API token that asked, by its name


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate:
    """Escalate to a level: 1 is the policy's first level (as users count)."""

    level: int
    by: str | None = None
    via: str | None = None
    token_name: str | None = None  # the API token that asked, by its name


@dataclass(frozen=True, slots=True, kw_only=True)
class AddNote:
    text: str
    by: str | None = None
    via: str | None = None
    token_name: str | None = None  # the API token that asked, by its name


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    """A new title and/or description (Opsgenie's PUT message/description)."""

    title: str | None = None
    description: str | None = None
    by: str | None = None
    via: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UseLink:
    """`command`, asked for through the signed action link `link_id` (email, Teams): decided
    as `command` alone, and, when allowed, journaled together with `link.used` so the link
    cannot act again."""

    link_id: str
    expires_at: datetime
    command: Acknowledge | Resolve | Escalate


@dataclass(frozen=True, slots=True, kw_only=True)
class Fallback:
    """A notification of `user_id` failed for good (or was retried past the policy's limit):
    try their next contact method now. `failed`: how many notifications of the person's
    current page have failed so far, as delivery counts them (None: some have not); when
    that is every one of them and no rule is left, the person is unreachable."""

    user_id: str
    notification_id: str
    failed: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """Time passed: act on every deadline that is due (escalation, ack timeout, snooze end,
    deferred paging, auto-resolve)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewIncident:
    """Identity the router assigns to a new incident."""

    incident_id: str
    number: int
    service_id: str
    dedup_key: str
    integration: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    """Open a new incident with its first alert (or first Alertmanager group)."""

    new: NewIncident
    first: TriggerAlert | UpsertGroup


Command = (
    TriggerAlert
    | ResolveAlert
    | UpsertGroup
    | Acknowledge
    | Resolve
    | Snooze
    | Escalate
    | UseLink
    | AddNote
    | Edit
    | Fallback
    | Tick
    | Open
)


def who(
    c: ResolveAlert | Acknowledge | Resolve | Snooze | Escalate | AddNote | Edit,
) -> Attribution:
    """Who asked for `c`, as the events it produces record it."""
    return Attribution(c.by, c.via, getattr(c, "token_name", None))
