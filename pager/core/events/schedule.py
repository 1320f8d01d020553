"""The events of schedules changed through the API: overrides added and removed, and
calendar feed URLs revoked. Part of the vocabulary of `pager.core.events`, which re-exports
them. Overrides in the configuration file are not journaled: the file holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._base import NOBODY, Attributed, Attribution, Event, event

__all__ = ["CalendarFeedRevoked", "OverrideAdded", "OverrideRemoved"]


class ScheduleEvent(Event):
    __slots__ = ()
    schedule_id: str

    @property
    def subject(self) -> str:
        return f"schedule:{self.schedule_id}"


@event("schedule.override_added")
@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideAdded(ScheduleEvent, Attributed):
    """`user` is on call on `schedule_id` over [start, end), over every layer and over the
    configured overrides."""

    override_id: str
    schedule_id: str
    user: str
    start: datetime
    end: datetime
    attribution: Attribution = NOBODY


@event("schedule.override_removed")
@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideRemoved(ScheduleEvent, Attributed):
    override_id: str
    schedule_id: str
    attribution: Attribution = NOBODY


@event("calendar.feed_revoked")
@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarFeedRevoked(Attributed):
    """The URL of calendar feed `feed` (`schedules/primary`, `users/alice`) stops working:
    the feed's token generation is now `generation`, so only its new URL opens it."""

    feed: str
    generation: int
    attribution: Attribution = NOBODY

    @property
    def subject(self) -> str:
        return f"calendar:{self.feed}"
