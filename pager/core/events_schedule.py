"""The events of schedules changed through the API: overrides added and removed, and
calendar feed URLs revoked. Part of the vocabulary of `pager.core.events`, which re-exports
them. Overrides in the configuration file are not journaled: the file holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .events import Event, event

__all__ = ["CalendarFeedRevoked", "OverrideAdded", "OverrideRemoved"]


class ScheduleEvent(Event):
    __slots__ = ()
    schedule_id: str

    @property
    def subject(self) -> str:
        return f"schedule:{self.schedule_id}"


@event("schedule.override_added")
@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideAdded(ScheduleEvent):
    """`user` is on call on `schedule_id` over [start, end), over every layer and over the
    configured overrides."""

    override_id: str
    schedule_id: str
    user: str
    start: datetime
    end: datetime
    by: str | None = None
    token_name: str | None = None


@event("schedule.override_removed")
@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideRemoved(ScheduleEvent):
    override_id: str
    schedule_id: str
    by: str | None = None
    token_name: str | None = None


@event("calendar.feed_revoked")
@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarFeedRevoked(Event):
    """The URL of calendar feed `feed` (`schedules/primary`, `users/alice`) stops working:
    the feed's token generation is now `generation`, so only its new URL opens it."""

    feed: str
    generation: int
    by: str | None = None

    @property
    def subject(self) -> str:
        return f"calendar:{self.feed}"
