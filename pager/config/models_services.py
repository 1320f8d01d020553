"""The `services` and `routing` sections: where alerts come in and which policy they page.

A service owns integration keys (one per monitoring tool that sends to it) and names the
escalation policy its incidents follow. Beyond the core format it can map severities
to urgencies, hold low-urgency pages until business hours, silence itself in maintenance
windows and cap the rate of each key. A shared routing key (`routing`) sends alerts to
services by their content instead of by key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from pager.config.durations import Duration, PositiveDuration, TimeOfDay, TimeZoneName
from pager.config.fields import ConfigModel, HttpUrl, Identifier, NonEmptyStr, Reference, error
from pager.config.models_people import Urgency, fill_name_from_id
from pager.config.models_schedules import Weekdays

__all__ = [
    "BusinessHours",
    "ChatUpdates",
    "Condition",
    "Heartbeat",
    "Integration",
    "IntegrationType",
    "LowUrgency",
    "MaintenanceWindow",
    "RateLimit",
    "RoutingKey",
    "RoutingRule",
    "Service",
    "Severity",
    "UrgencyBySeverity",
]

IntegrationType = Literal["pagerduty", "alertmanager", "generic", "opsgenie"]
Severity = Literal["critical", "error", "warning", "info"]


class Integration(ConfigModel):
    """A key a monitoring tool sends with its alerts: `pagerduty` (Events API v2 routing
    key), `alertmanager` (webhook path), `generic` (webhook path) or `opsgenie` (GenieKey)."""

    type: IntegrationType
    key: NonEmptyStr


class ChatUpdates(ConfigModel):
    """Where status updates of every incident of the service are posted."""

    slack_channel: NonEmptyStr | None = None
    teams: HttpUrl | None = None


class UrgencyBySeverity(ConfigModel):
    """Extension: the urgency of an incident from the severity of its alert. Keys left out
    keep the default (critical and error are high, warning and info are low)."""

    critical: Urgency = "high"
    error: Urgency = "high"
    warning: Urgency = "low"
    info: Urgency = "low"

    def of(self, severity: Severity) -> Urgency:
        urgency: Urgency = getattr(self, severity)
        return urgency


class LowUrgency(ConfigModel):
    """Extension: what a low-urgency incident does. `page` (default) pages like a
    high-urgency one; `business_hours` waits until the service's business hours;
    `never` records the incident and pages nobody."""

    mode: Literal["page", "business_hours", "never"] = "page"


class BusinessHours(ConfigModel):
    """Extension: the service's working hours, `start` to `end` (same day) on `days`."""

    timezone: TimeZoneName
    days: Weekdays = (0, 1, 2, 3, 4)
    start: TimeOfDay = dt.time(9, 0)
    end: TimeOfDay = dt.time(17, 0)

    @model_validator(mode="after")
    def ends_after_start(self) -> BusinessHours:
        if self.end <= self.start:
            raise error("span", "end must be after start (business hours stay within a day)")
        return self


class MaintenanceWindow(ConfigModel):
    """Extension: from `start` to `end` (instants with a UTC offset) the service's alerts
    are recorded but page nobody."""

    start: AwareDatetime
    end: AwareDatetime
    reason: NonEmptyStr | None = None

    @model_validator(mode="after")
    def ends_after_start(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise error("span", "end must be after start")
        return self


class RateLimit(ConfigModel):
    """Extension, opt-in: each integration key of the service takes at most `events` per
    `per`; ingest answers 429 beyond that. Without it every event that can be made durable
    is accepted (a storm is when a pager is needed most)."""

    events: int = Field(ge=1)
    per: PositiveDuration = dt.timedelta(minutes=1)


class Service(ConfigModel):
    """Something that breaks: its alerts become incidents that follow `escalation_policy`.

    `ack_timeout`: an acknowledged incident not resolved within it triggers again.
    `auto_resolve_after`: an incident with no new alert for this long resolves itself.
    """

    id: Identifier
    name: NonEmptyStr = ""  # filled in from the id before validation
    escalation_policy: Reference
    ack_timeout: PositiveDuration | None = None
    auto_resolve_after: PositiveDuration | None = None
    integrations: tuple[Integration, ...] = ()
    chat: ChatUpdates = ChatUpdates()
    urgency: UrgencyBySeverity = UrgencyBySeverity()
    low_urgency: LowUrgency = LowUrgency()
    business_hours: BusinessHours | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    rate_limit: RateLimit | None = None

    @model_validator(mode="before")
    @classmethod
    def default_name_to_id(cls, data: Any) -> Any:
        return fill_name_from_id(data)

    @model_validator(mode="after")
    def business_hours_when_needed(self) -> Service:
        if self.low_urgency.mode == "business_hours" and self.business_hours is None:
            raise error(
                "business_hours",
                "low_urgency mode 'business_hours' needs a business_hours section",
            )
        return self

    def in_maintenance(self, at: dt.datetime) -> bool:
        """Whether the instant `at` (with offset) falls in a maintenance window."""
        return any(window.start <= at < window.end for window in self.maintenance)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise error("regex", f"regex {pattern!r} does not compile: {exc}") from None
    return pattern


_FIELD_PATH = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def _field_path(path: str) -> str:
    if not _FIELD_PATH.fullmatch(path):
        raise error("field", f"{path!r} is not a field path: use dotted names like labels.team")
    return path


class Condition(ConfigModel):
    """A test on one field of an alert, named by a dotted path (`summary`, `labels.team`,
    `payload.source`), with exactly one of `equals`, `regex` (searched, not anchored: use
    `^...$` to match the whole value) or `in` (one of the listed strings)."""

    field: Annotated[str, AfterValidator(_field_path)]
    equals: str | None = None
    regex: Annotated[str, AfterValidator(_compiles)] | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def exactly_one_test(self) -> Condition:
        tests = [self.equals, self.regex, self.in_]
        if sum(test is not None for test in tests) != 1:
            raise error("condition", "a condition has exactly one of equals, regex or in")
        return self

    def matches(self, value: str | None) -> bool:
        """Whether the alert's value of `field` (None when it has none) passes the test."""
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals
        if self.regex is not None:
            return re.search(self.regex, value) is not None
        return self.in_ is not None and value in self.in_


class RoutingRule(ConfigModel):
    """Send the alert to `service` when every condition in `when` holds; a rule without
    `when` takes everything and must be the last of its key."""

    service: Reference
    when: tuple[Condition, ...] | None = Field(default=None, min_length=1)


class RoutingKey(ConfigModel):
    """Extension: a shared integration key whose alerts go to the service of the first rule
    that matches (what becomes of an alert no rule matches is ingest's decision)."""

    key: NonEmptyStr
    type: IntegrationType
    rules: tuple[RoutingRule, ...] = Field(min_length=1)


class Heartbeat(ConfigModel):
    """A dead man's switch: a job pings it every `interval`; with no ping for `interval +
    grace` an incident "Heartbeat <name> expired" opens on `service`. Armed by the first
    ping (docs/heartbeats.md)."""

    name: Identifier
    service: Reference
    interval: PositiveDuration
    grace: Duration = dt.timedelta(0)
