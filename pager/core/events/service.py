"""The vocabulary of services and the configuration: PagerDuty change events, maintenance
windows started and ended through the API, the configuration version in force, and the
scheduled reports sent. Part of `pager.core.events`, which re-exports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._base import NOBODY, Attributed, Attribution, Event, event

__all__ = [
    "ChangeRecorded",
    "ConfigApplied",
    "MaintenanceEnded",
    "MaintenanceStarted",
    "ReportSent",
]


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
class MaintenanceStarted(Attributed):
    window_id: str
    service_id: str
    start: datetime
    end: datetime
    reason: str | None = None
    attribution: Attribution = NOBODY

    @property
    def subject(self) -> str:
        return f"service:{self.service_id}"


@event("maintenance.ended")
@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceEnded(Attributed):
    window_id: str
    service_id: str
    attribution: Attribution = NOBODY

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


@event("report.sent")
@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSent(Event):
    """The scheduled report `report` (a digest of its entry in the `reports` section) due at
    `due` went out. A report due while pager was not running, or while a standby took over,
    is sent late at start-up when the log says it was not (pager.actors.reports)."""

    report: str
    due: datetime

    @property
    def subject(self) -> str:
        return f"report:{self.report}"
