"""The events of heartbeats (dead man's switches): created and deleted through the API,
pinged, failed, expired, re-armed after a restart. Part of the vocabulary of
`pager.core.events`, which re-exports them.

A ping journals the absolute instants at which the heartbeat turns late and down, so the
deadline a restart re-arms is the one the log holds, never one recomputed from the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._base import NOBODY, Attributed, Attribution, Event, event

__all__ = [
    "HeartbeatCreated",
    "HeartbeatDeleted",
    "HeartbeatEvent",
    "HeartbeatExpired",
    "HeartbeatFailed",
    "HeartbeatPinged",
    "HeartbeatRearmed",
]


class HeartbeatEvent(Event):
    __slots__ = ()
    name: str

    @property
    def subject(self) -> str:
        return f"heartbeat:{self.name}"


@event("heartbeat.created")
@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatCreated(HeartbeatEvent, Attributed):
    """A heartbeat made through the API (configured ones are not journaled: the file holds
    them). `interval` and `grace` in seconds."""

    name: str
    service_id: str
    interval: float
    grace: float
    attribution: Attribution = NOBODY


@event("heartbeat.deleted")
@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatDeleted(HeartbeatEvent, Attributed):
    name: str
    attribution: Attribution = NOBODY


@event("heartbeat.pinged")
@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatPinged(HeartbeatEvent):
    """A ping arrived: the heartbeat is up until `late_at` and down at `down_at`."""

    name: str
    late_at: datetime
    down_at: datetime
    via: str | None = None


@event("heartbeat.failed")
@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatFailed(HeartbeatEvent):
    """The monitored job reported a failure (`/fail`): down at once."""

    name: str
    via: str | None = None


@event("heartbeat.expired")
@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatExpired(HeartbeatEvent):
    """No ping by `down_at`: the heartbeat is down and its incident has been opened."""

    name: str
    down_at: datetime


@event("heartbeat.rearmed")
@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatRearmed(HeartbeatEvent):
    """At start-up, a deadline that passed while pager was not running (its pings may have
    been refused) is moved to a fresh interval and grace from the start."""

    name: str
    late_at: datetime
    down_at: datetime
