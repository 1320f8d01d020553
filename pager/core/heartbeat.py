"""Heartbeats (dead man's switches) as pure functions: a monitored job pings every
`interval`; a heartbeat not pinged for `interval + grace` is down and opens an incident.

States follow healthchecks.io: `new` (never pinged: not armed, nothing can expire), `up`
(pinged within `interval`), `late` (past `interval`, within `grace`), `down` (past both, or a
failure reported). The state is derived from the journaled instants and `now`; the only
stored facts are the last ping's deadlines and whether it is down.

Every decision returns the events to journal and what to tell the incident side: `OPEN` (the
heartbeat went down: open or update its incident) or `RESOLVE` (a ping after down: resolve
it). The incident is deduplicated by heartbeat (`dedup_key`), so a repeated decision after a
crash updates the one incident instead of paging twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .events import (
    Event,
    HeartbeatExpired,
    HeartbeatFailed,
    HeartbeatPinged,
    HeartbeatRearmed,
)

__all__ = [
    "Beat",
    "HeartbeatSpec",
    "HeartbeatStatus",
    "IncidentAction",
    "dedup_key",
    "evolve_beat",
    "expire",
    "fail",
    "incident_title",
    "ping",
    "rearm",
    "status_of",
]


class HeartbeatStatus(StrEnum):
    NEW = "new"
    UP = "up"
    LATE = "late"
    DOWN = "down"


class IncidentAction(StrEnum):
    NONE = "none"
    OPEN = "open"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    """A heartbeat's definition: from the configuration (`source` "config") or the API."""

    name: str
    service_id: str
    interval: timedelta
    grace: timedelta
    source: str = "config"


@dataclass(frozen=True, slots=True)
class Beat:
    """What the log says of a heartbeat since it was armed."""

    pinged_at: datetime
    late_at: datetime
    down_at: datetime
    down: bool = False
    failed: bool = False


def dedup_key(name: str) -> str:
    return f"heartbeat:{name}"


def incident_title(name: str, *, failed: bool = False) -> str:
    return f"Heartbeat {name} {'reported a failure' if failed else 'expired'}"


def status_of(beat: Beat | None, now: datetime) -> HeartbeatStatus:
    if beat is None:
        return HeartbeatStatus.NEW
    if beat.down or now >= beat.down_at:
        return HeartbeatStatus.DOWN
    if now >= beat.late_at:
        return HeartbeatStatus.LATE
    return HeartbeatStatus.UP


def ping(
    spec: HeartbeatSpec, beat: Beat | None, now: datetime, via: str | None = None
) -> tuple[list[Event], IncidentAction]:
    """A ping arms (or re-arms) the heartbeat; one after it went down resolves its incident."""
    late_at = now + spec.interval
    ev = HeartbeatPinged(name=spec.name, late_at=late_at, down_at=late_at + spec.grace, via=via)
    action = IncidentAction.RESOLVE if beat is not None and beat.down else IncidentAction.NONE
    return [ev], action


def fail(
    spec: HeartbeatSpec, beat: Beat | None, now: datetime, via: str | None = None
) -> tuple[list[Event], IncidentAction]:
    """A failure reported by the job: down at once (armed if it was new)."""
    return [HeartbeatFailed(name=spec.name, via=via)], IncidentAction.OPEN


def expire(beat: Beat | None, name: str, now: datetime) -> tuple[list[Event], IncidentAction]:
    """The deadline check: a heartbeat past `down_at` and not yet down goes down."""
    if beat is None or beat.down or now < beat.down_at:
        return [], IncidentAction.NONE
    return [HeartbeatExpired(name=name, down_at=beat.down_at)], IncidentAction.OPEN


def rearm(spec: HeartbeatSpec, beat: Beat | None, started: datetime) -> list[Event]:
    """At start-up: a heartbeat that should have gone down while pager was not running gets
    a fresh interval and grace from `started` (its pings may have been refused), instead of
    an incident at once. Deadlines still ahead are kept as the log holds them."""
    if beat is None or beat.down or beat.down_at > started:
        return []
    late_at = started + spec.interval
    return [HeartbeatRearmed(name=spec.name, late_at=late_at, down_at=late_at + spec.grace)]


def evolve_beat(beat: Beat | None, ev: Event, at: datetime) -> Beat | None:
    """The heartbeat after one of its events (`at`: when it was journaled)."""
    if isinstance(ev, HeartbeatPinged):
        return Beat(pinged_at=at, late_at=ev.late_at, down_at=ev.down_at)
    if isinstance(ev, HeartbeatRearmed) and beat is not None:
        return replace(beat, late_at=ev.late_at, down_at=ev.down_at)
    if isinstance(ev, HeartbeatExpired) and beat is not None:
        return replace(beat, down=True)
    if isinstance(ev, HeartbeatFailed):
        if beat is None:
            return Beat(pinged_at=at, late_at=at, down_at=at, down=True, failed=True)
        return replace(beat, down=True, failed=True)
    return beat
