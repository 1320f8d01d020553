"""What a report is asked (`Query`: a time range, a service, periods) and what it needs to
know that the log does not say (`Directory`: people's time zones and names, the escalation
policies, schedules and configured maintenance windows, from the configuration in force)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..rules import PolicyRules, RulesBook, Window
from ..schedule import Schedule

__all__ = ["MAX_RANGE", "Directory", "Query"]

MAX_RANGE = timedelta(days=400)  # a year and a bit: a year's report in one answer


@dataclass(frozen=True, slots=True)
class Query:
    """Incidents opened in [start, end) (and the pages, notifications, alerts and
    maintenance of the same range), of one service or all, with a series by day or week of
    the calendar of `timezone`."""

    start: datetime
    end: datetime
    service: str | None = None
    group_by: str = "day"
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("from, to: must be instants with a UTC offset")
        if self.end <= self.start:
            raise ValueError("to: must be after from")
        if self.end - self.start > MAX_RANGE:
            raise ValueError(f"to: at most {MAX_RANGE.days} days after from")
        if self.group_by not in ("day", "week"):
            raise ValueError("group_by: must be day or week")


@dataclass(frozen=True, slots=True)
class Directory:
    zones: Mapping[str, str] = field(default_factory=dict)  # user -> IANA time zone
    user_names: Mapping[str, str] = field(default_factory=dict)
    service_names: Mapping[str, str] = field(default_factory=dict)
    service_policy: Mapping[str, str] = field(default_factory=dict)
    policies: Mapping[str, PolicyRules] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    windows: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)  # configured

    def zone(self, user: str) -> str:
        return self.zones.get(user, "UTC")

    @classmethod
    def from_rules(cls, rules: RulesBook, zones: Mapping[str, str]) -> Directory:
        """From the compiled configuration (with the API's schedule overrides laid over it)
        and each person's time zone (`users[].timezone`)."""
        return cls(
            zones=dict(zones),
            user_names={u.id: u.name or u.id for u in rules.users.values()},
            service_names={s.id: s.name or s.id for s in rules.services.values()},
            service_policy={s.id: s.policy.id for s in rules.services.values() if s.policy},
            policies=dict(rules.policies),
            schedules=dict(rules.schedules),
            windows={s.id: s.maintenance for s in rules.services.values() if s.maintenance},
        )
