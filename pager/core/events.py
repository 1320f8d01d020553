"""The event vocabulary: every fact pager journals, and the registry that maps a log line's
`type` tag back to its class.

Events are frozen dataclasses. `TYPE` is the tag written in the log; the registry built by
`@event` is the log's vocabulary, so an unknown tag in a log is damage, not something to skip.
Renaming a tag or a field is a schema change: bump `SCHEMA_VERSION` and teach `decode` the old
form. `encode`/`decode` convert to and from plain JSON-able data; they are on the replay hot
path (hundreds of thousands of lines a second), so they do no validation beyond construction.

Who acted: `by` is the person (a user id, or the API token's name when the request named
nobody), `via` the channel (`api`, `slack`, `sms`...), and `token_name` the name of the API
token (`auth.api_tokens[].name`, never its secret) whose request it was. `token_name` came
later: optional, absent from older lines, and left out when None.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AlertsUpdated",
    "CalendarFeedRevoked",
    "ChangeRecorded",
    "ConfigApplied",
    "ContactOptedIn",
    "ContactOptedOut",
    "Event",
    "HeartbeatCreated",
    "HeartbeatDeleted",
    "HeartbeatExpired",
    "HeartbeatFailed",
    "HeartbeatPinged",
    "HeartbeatRearmed",
    "IncidentAcknowledged",
    "IncidentEdited",
    "IncidentEscalated",
    "IncidentEvent",
    "IncidentOpened",
    "IncidentResolved",
    "IncidentSnoozed",
    "IncidentUnacknowledged",
    "InteractionReceived",
    "LinkUsed",
    "MaintenanceEnded",
    "MaintenanceStarted",
    "NoteAdded",
    "NotificationCancelled",
    "NotificationDelivered",
    "NotificationFailed",
    "NotificationRequested",
    "NotificationSent",
    "NotificationsBundled",
    "OverrideAdded",
    "OverrideRemoved",
    "PagingDeferred",
    "PersonUnreachable",
    "UserPaged",
    "decode",
    "encode",
]

SCHEMA_VERSION = 1


class Event:
    """Base of every event. Subclasses are frozen slotted dataclasses registered by @event."""

    __slots__ = ()
    TYPE: ClassVar[str]
    _datetimes: ClassVar[tuple[str, ...]]
    _tuples: ClassVar[tuple[str, ...]]
    _fields: ClassVar[tuple[str, ...]]

    @property
    def subject(self) -> str:
        raise NotImplementedError


EVENT_TYPES: dict[str, type[Event]] = {}
E = TypeVar("E", bound=type[Event])


def event(tag: str) -> Callable[[E], E]:
    def register(cls: E) -> E:
        if tag in EVENT_TYPES:
            raise ValueError(f"event tag {tag!r} registered twice")
        cls.TYPE = tag
        hints = typing.get_type_hints(cls)
        dts, tups = [], []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            h = str(hints[f.name])
            if "datetime" in h:
                dts.append(f.name)
            elif "tuple" in h:
                tups.append(f.name)
        cls._datetimes = tuple(dts)
        cls._tuples = tuple(tups)
        cls._fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        EVENT_TYPES[tag] = cls
        return cls

    return register


def encode(ev: Event) -> dict[str, Any]:
    """The event's data for the log: its fields, None values left out."""
    out: dict[str, Any] = {}
    for name in ev._fields:
        v = getattr(ev, name)
        if v is not None:
            out[name] = v
    return out


def decode(tag: str, data: Mapping[str, Any]) -> Event:
    """Rebuild an event from a log line's `type` and `data`. Raises KeyError for an unknown
    tag and TypeError/ValueError for data that does not fit the class."""
    cls = EVENT_TYPES[tag]
    kwargs = dict(data)
    for name in cls._datetimes:
        v = kwargs.get(name)
        if v is not None:
            kwargs[name] = datetime.fromisoformat(v)
    for name in cls._tuples:
        v = kwargs.get(name)
        if v is not None:
            kwargs[name] = tuple(v)
    return cls(**kwargs)


class IncidentEvent(Event):
    __slots__ = ()
    incident_id: str

    @property
    def subject(self) -> str:
        return self.incident_id


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
class IncidentAcknowledged(IncidentEvent):
    incident_id: str
    by: str | None = None
    via: str | None = None
    token_name: str | None = None
    ack_timeout_at: datetime | None = None


@event("incident.unacknowledged")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentUnacknowledged(IncidentEvent):
    """Back to triggered: the ack timed out or a snooze ended. Escalation restarts."""

    incident_id: str
    reason: str


@event("incident.snoozed")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentSnoozed(IncidentEvent):
    incident_id: str
    until: datetime
    by: str | None = None
    via: str | None = None
    token_name: str | None = None


@event("incident.resolved")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentResolved(IncidentEvent):
    incident_id: str
    by: str | None = None
    via: str | None = None
    token_name: str | None = None
    reason: str | None = None


@event("incident.note_added")
@dataclass(frozen=True, slots=True, kw_only=True)
class NoteAdded(IncidentEvent):
    incident_id: str
    text: str
    by: str | None = None
    via: str | None = None
    token_name: str | None = None


@event("incident.edited")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentEdited(IncidentEvent):
    """A new title and/or description of the incident's first alert (None: unchanged)."""

    incident_id: str
    title: str | None = None
    description: str | None = None
    by: str | None = None
    via: str | None = None


@event("incident.escalated")
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentEscalated(IncidentEvent):
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
    by: str | None = None
    via: str | None = None
    token_name: str | None = None


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


@event("service.change")
@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeRecorded(Event):
    """A PagerDuty change event: recorded on the service's timeline, pages nobody."""

    service_id: str
    summary: str
    source: str | None = None
    occurred_at: datetime | None = None
    links: tuple[Any, ...] | None = None
    details: Any = None

    @property
    def subject(self) -> str:
        return f"service:{self.service_id}"


@event("maintenance.started")
@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceStarted(Event):
    window_id: str
    service_id: str
    start: datetime
    end: datetime
    reason: str | None = None
    by: str | None = None
    token_name: str | None = None

    @property
    def subject(self) -> str:
        return f"service:{self.service_id}"


@event("maintenance.ended")
@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceEnded(Event):
    window_id: str
    service_id: str
    by: str | None = None
    token_name: str | None = None

    @property
    def subject(self) -> str:
        return f"service:{self.service_id}"


@event("config.applied")
@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigApplied(Event):
    digest: str
    source: str

    @property
    def subject(self) -> str:
        return "config"


# What delivery and the interactions journal lives in its own module; importing it here
# registers those events too, so this module stays the whole vocabulary.
from .events_bundle import NotificationsBundled  # noqa: E402
from .events_delivery import (  # noqa: E402
    ContactOptedIn,
    ContactOptedOut,
    LinkUsed,
    NotificationCancelled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from .events_heartbeat import (  # noqa: E402
    HeartbeatCreated,
    HeartbeatDeleted,
    HeartbeatExpired,
    HeartbeatFailed,
    HeartbeatPinged,
    HeartbeatRearmed,
)
from .events_interaction import InteractionReceived  # noqa: E402
from .events_reach import PersonUnreachable  # noqa: E402
from .events_schedule import CalendarFeedRevoked, OverrideAdded, OverrideRemoved  # noqa: E402
