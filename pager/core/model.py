"""The values the domain is made of: alerts, incidents, their status, escalation position.

Everything here is a frozen value. An incident changes only by `evolve` (see incident.py)
returning a new value, so a reference held by the read model, an actor or a snapshot writer
never changes under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from .timeline_words import TimelineEntry, rendered
from .vocabulary import AlertStatus

__all__ = [
    "MAX_FIRING_ALERTS",
    "MAX_RESOLVED_ALERTS",
    "SEVERITIES",
    "SHORT_CODE_ALPHABET",
    "Alert",
    "EscalationState",
    "Incident",
    "Page",
    "Severity",
    "Status",
    "StatusFilter",
    "TimelineEntry",
    "Unreachable",
    "short_code",
    "statuses_for",
]


# What one incident keeps of its alerts, so that its JSON and every snapshot stay bounded:
# at most this many firing alerts (new ones past it are not added) and this many resolved
# ones (older ones are dropped from the list and counted in `Incident.alerts_unlisted`).
MAX_FIRING_ALERTS = 1000
MAX_RESOLVED_ALERTS = 1000


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class StatusFilter(StrEnum):
    """The words that pick incidents by status, the same everywhere: the REST API's
    `status=` (a comma list of them), `pager incidents --status` and the dashboard's filter.
    A status itself, `open` (triggered or acknowledged) or `all` (every status)."""

    OPEN = "open"
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ALL = "all"


_FILTERED: dict[str, frozenset[Status] | None] = {
    StatusFilter.OPEN: frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED}),
    StatusFilter.TRIGGERED: frozenset({Status.TRIGGERED}),
    StatusFilter.ACKNOWLEDGED: frozenset({Status.ACKNOWLEDGED}),
    StatusFilter.RESOLVED: frozenset({Status.RESOLVED}),
    StatusFilter.ALL: None,
}


def statuses_for(raw: str) -> frozenset[Status] | None:
    """The statuses a comma list of `StatusFilter` words picks; None for every status (`all`,
    or nothing written). A word that is none of them raises ValueError naming it and the
    words there are."""
    out: set[Status] = set()
    for part in raw.split(","):
        word = part.strip().lower()
        if not word:
            continue
        if word not in _FILTERED:
            raise ValueError(f"{word!r} is not one of {', '.join(StatusFilter)}")
        picked = _FILTERED[word]
        if picked is None:
            return None
        out |= picked
    return frozenset(out) if out else None


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def worst_severity(a: str, b: str) -> str:
    return a if _SEVERITY_RANK.get(a, 9) <= _SEVERITY_RANK.get(b, 9) else b


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert inside an incident, keyed by its dedup key (PagerDuty, generic) or its
    fingerprint (Alertmanager). `count` is how many times it was triggered."""

    key: str
    status: AlertStatus
    summary: str
    severity: str
    source: str | None
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    resolved_at: datetime | None = None
    labels: Mapping[str, str] | None = None
    details: Any = None
    links: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationState:
    """Where an incident stands on its policy. `level` indexes the policy's levels (0 is the
    first), `round` counts the walks through them (0 .. repeat). `next_at` is the absolute
    instant of the next step, or None when the policy is exhausted."""

    policy_id: str
    level: int
    round: int
    next_at: datetime | None


@dataclass(frozen=True, slots=True)
class Page:
    """One person being paged for an incident: their notification rules run from
    `paged_at` on; `next_step` indexes the rule to run next, due at `next_at` (None: no
    more steps). Pages end when the incident is acknowledged or resolved."""

    user_id: str
    paged_at: datetime
    level: int
    round: int
    next_step: int
    next_at: datetime | None


class Unreachable(NamedTuple):
    """A paged person nobody could reach (`incident.person_unreachable`): at `at`, paged at
    `level` (0-based) in walk `round`, every method in `tried` had failed."""

    user_id: str
    at: datetime
    level: int
    round: int
    tried: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    number: int
    short_code: str
    service_id: str
    dedup_key: str
    integration: str
    title: str
    severity: str
    urgency: str
    status: Status
    created_at: datetime
    updated_at: datetime
    alerts: Mapping[str, Alert] = field(default_factory=dict)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    snoozed_until: datetime | None = None
    ack_timeout_at: datetime | None = None
    auto_resolve_at: datetime | None = None
    paging: bool = True
    page_at: datetime | None = None  # paging deferred (low urgency outside business hours)
    escalation: EscalationState | None = None
    pages: Mapping[str, Page] = field(default_factory=dict)
    notification_count: int = 0
    messages: Mapping[str, str] = field(
        default_factory=dict
    )  # Slack messages to edit: id -> provider id
    # the timeline as the fold keeps it: raw entries (seq, at, kind, args), and entries in
    # words (`TimelineEntry`) where a snapshot from before raw entries held them so; read
    # it as `timeline` (see timeline.py)
    history: tuple[TimelineEntry | tuple[Any, ...], ...] = ()
    # resolved alerts no longer listed in `alerts` (past MAX_RESOLVED_ALERTS), only counted
    alerts_unlisted: int = 0
    last_seq: int = 0
    opened_seq: int = 0  # the record that opened it: its history is records opened_seq..last_seq
    unreachable: tuple[Unreachable, ...] = ()  # paged people nobody could reach

    @property
    def timeline(self) -> tuple[TimelineEntry, ...]:
        """The incident's history in words, oldest first."""
        return rendered(self.history)

    @property
    def is_open(self) -> bool:
        return self.status is not Status.RESOLVED

    def firing_alerts(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.status == AlertStatus.FIRING]


# Short codes name an incident in an SMS reply ("ack K7Q"): three characters from an
# alphabet without look-alikes, a bijection of the incident number modulo 32**3 so codes of
# consecutive incidents do not look consecutive.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_ALPHABET = SHORT_CODE_ALPHABET
_CODES = len(_ALPHABET) ** 3
assert len(_ALPHABET) == 32  # short_code takes base-32 digits by shifts


def short_code(number: int) -> str:
    """Three letters of `_ALPHABET` (32 of them) for the incident `number`: its digits in
    base 32, most significant first, after a scramble."""
    n = (number * 7919 + 12345) % _CODES
    a = _ALPHABET
    return a[n >> 10] + a[(n >> 5) & 31] + a[n & 31]
