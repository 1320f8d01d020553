"""What the configuration says, in the shape the core decides with.

The configuration (pydantic models, `pager.config`) is compiled into these small frozen
values once per load, so `decide` reads plain attributes and the core does not depend on how
the YAML is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .bundling import BundlePolicy
from .routing import IntegrationRoute
from .schedule import Schedule
from .schedule_rotation import local_to_utc

__all__ = [
    "BusinessHours",
    "Context",
    "LevelRules",
    "NotifyRule",
    "PolicyRules",
    "RulesBook",
    "ServiceRules",
    "Target",
    "UserRules",
    "Window",
]


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "user" | "schedule"
    id: str


@dataclass(frozen=True, slots=True)
class LevelRules:
    targets: tuple[Target, ...]
    escalate_after: timedelta


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """`escalate_when_unreachable`: a paged person nobody could reach moves the incident to
    the next level at once. A notification that failed `unreachable_after_attempts` times
    counts as failed (its retries go on)."""

    id: str
    levels: tuple[LevelRules, ...]
    repeat: int = 0
    escalate_when_unreachable: bool = True
    unreachable_after_attempts: int = 3


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    reason: str | None = None
    id: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class BusinessHours:
    timezone: str
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_start(self, at: datetime) -> datetime:
        """The first instant at or after `at` that lies within business hours."""
        if self.contains(at):
            return at
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        for day in range(8):
            d = (local + timedelta(days=day)).date()
            if d.weekday() not in self.days:
                continue
            # a start in a spring-forward gap opens when the gap ends
            opening = local_to_utc(datetime.combine(d, self.start), zone)
            if opening >= at:
                return opening.astimezone(at.tzinfo)
        raise ValueError("business hours never open")


DEFAULT_URGENCY: Mapping[str, str] = {
    "critical": "high",
    "error": "high",
    "warning": "low",
    "info": "low",
}


@dataclass(frozen=True, slots=True)
class NotifyRule:
    after: timedelta
    via: str
    urgency: str | None = None  # None: both urgencies


@dataclass(frozen=True, slots=True)
class UserRules:
    """A person's personal notification rules (sorted by `after`) and contacts."""

    id: str
    name: str = ""
    rules: tuple[NotifyRule, ...] = ()
    contacts: Mapping[str, str] = field(default_factory=dict)
    # `rules_for` by urgency, filled as asked: every page and every escalation of a new
    # incident asks (the value is immutable, so the answer never changes)
    _for: dict[str | None, tuple[NotifyRule, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def rules_for(self, urgency: str | None) -> tuple[NotifyRule, ...]:
        found = self._for.get(urgency)
        if found is None:
            found = self._for[urgency] = tuple(
                r
                for r in self.rules
                if r.urgency is None or urgency is None or r.urgency == urgency
            )
        return found

    def address(self, method: str) -> str | None:
        return self.contacts.get(method)


@dataclass(frozen=True, slots=True)
class ServiceRules:
    id: str
    name: str = ""
    policy: PolicyRules | None = None
    urgency_by_severity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_URGENCY))
    ack_timeout: timedelta | None = None
    auto_resolve_after: timedelta | None = None
    low_urgency: str = "page"  # "page" | "business_hours" | "never"
    business_hours: BusinessHours | None = None
    maintenance: tuple[Window, ...] = ()
    chat: tuple[tuple[str, str], ...] = ()  # (method, address): where status updates go

    def urgency(self, severity: str) -> str:
        return self.urgency_by_severity.get(severity, "high")


def _nobody(schedule_id: str, at: datetime) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class MessageEdits:
    """A provider that edits the messages it sent when the incident changes (a fact of the
    transports, handed to `decide` as data): `method` is its contact method, and
    `posted_to(provider_id, address)` says whether the message with that provider id was
    posted to the chat channel `address` (whose status updates are then edits, not posts)."""

    method: str
    posted_to: Callable[[str, str], bool]


@dataclass(frozen=True, slots=True)
class Context:
    """Everything `decide` may consult besides the incident: the service's rules, the
    instant, whether the service is in maintenance now, and who is on a schedule at an
    instant (a pure lookup)."""

    service: ServiceRules
    now: datetime
    maintenance: str | None = None
    oncall: Callable[[str, datetime], str | None] = _nobody
    users: Mapping[str, UserRules] = field(default_factory=dict)
    edits: MessageEdits | None = None  # None: no provider edits its messages

    def user(self, user_id: str) -> UserRules:
        u = self.users.get(user_id)
        return u if u is not None else UserRules(user_id)

    def resolve_targets(self, level: LevelRules) -> tuple[str, ...]:
        users: list[str] = []
        for t in level.targets:
            uid = t.id if t.kind == "user" else self.oncall(t.id, self.now)
            if uid is not None and uid not in users:
                users.append(uid)
        return tuple(users)


@dataclass(frozen=True, slots=True)
class RulesBook:
    """The whole compiled configuration, as the actors consult it. Swapped whole on a
    reload; never changed in place."""

    services: Mapping[str, ServiceRules]
    integrations: Mapping[tuple[str, str], IntegrationRoute]
    oncall: Callable[[str, datetime], str | None] = _nobody
    digest: str = ""
    users: Mapping[str, UserRules] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    policies: Mapping[str, PolicyRules] = field(default_factory=dict)
    bundling: BundlePolicy = field(default_factory=BundlePolicy)

    def service(self, service_id: str) -> ServiceRules:
        svc = self.services.get(service_id)
        return svc if svc is not None else ServiceRules(service_id)

    def name_of(self, user_id: str) -> str:
        """What pager calls a person wherever it shows one (dashboard, messages, replies):
        their display name; the id itself when they have none or are no user (any more)."""
        user = self.users.get(user_id)
        return (user.name or user.id) if user is not None else user_id

    def names_of(self, *user_ids: str | None) -> dict[str, str]:
        """`name_of` each of these people, by id (None is left out)."""
        return {uid: self.name_of(uid) for uid in user_ids if uid}
