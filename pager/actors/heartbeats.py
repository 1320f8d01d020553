"""The heartbeat actor: takes pings and failures, creates and deletes API heartbeats, and
waits for the earliest journaled deadline; a heartbeat that passes it goes down and opens its
incident through the router, and the next ping resolves it.

One task and one lock: every change is decided (pager.core.heartbeat) and journaled in
order, so a ping racing its own deadline is either before it (no incident) or after it (the
incident opens, then resolves). The incident is opened before `heartbeat.expired` is
journaled: a crash in between leaves the heartbeat up in the log, and the repeated decision
after the restart updates the same deduplicated incident instead of paging twice.

Start-up re-arms from the log: deadlines still ahead are kept as they are; one that passed
while pager was not running gets a fresh interval and grace (journaled as
`heartbeat.rearmed`), because the job's pings in that time were refused, not missed.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

import trio

from pager.clock import trio_deadline
from pager.core.commands import ResolveAlert, TriggerAlert
from pager.core.events import Attribution, Event, HeartbeatCreated, HeartbeatDeleted
from pager.core.heartbeat import (
    HeartbeatSpec,
    HeartbeatStatus,
    IncidentAction,
    dedup_key,
    expire,
    fail,
    incident_title,
    ping,
    rearm,
    status_of,
)
from pager.errors import Conflict, NotFound

from .messages import Ingest
from .system import System

__all__ = ["INTEGRATION", "Heartbeats", "heartbeat_specs"]

log = logging.getLogger("pager.heartbeats")

INTEGRATION = "heartbeat"


def heartbeat_specs(system: System) -> dict[str, HeartbeatSpec]:
    """Every heartbeat in force: the configured ones, then those made through the API (read
    from the configuration and the state: a standby, where no actor runs, answers it too)."""
    out = {
        h.name: HeartbeatSpec(h.name, h.service, h.interval, h.grace, "config")
        for h in system.config.heartbeats
    }
    for name, spec in system.state.api_heartbeats.items():
        out.setdefault(name, spec)
    return out


class Heartbeats:
    def __init__(self, system: System) -> None:
        self.system = system
        self._lock = trio.Lock()
        self._changed = trio.Event()
        self._enabled = trio.Event()
        self.expired = 0
        self._retry_at: datetime | None = None  # an expiry the router could not take yet

    # ------------------------------------------------------------------ reading

    def specs(self) -> dict[str, HeartbeatSpec]:
        """Every heartbeat in force: the configured ones, then those made through the API."""
        return heartbeat_specs(self.system)

    def spec(self, name: str) -> HeartbeatSpec:
        spec = self.specs().get(name)
        if spec is None:
            raise NotFound(f"no heartbeat {name}")
        return spec

    def status(self, name: str) -> HeartbeatStatus:
        return status_of(self.system.state.beats.get(name), self.system.clock.now())

    # ------------------------------------------------------------------ changing

    async def ping(self, name: str, via: str | None = None) -> HeartbeatStatus:
        async with self._lock:
            spec = self.spec(name)
            now = self.system.clock.now()
            events, action = ping(spec, self.system.state.beats.get(name), now, via)
            await self._act(spec, action)
            await self._record(events)
            return self.status(name)

    async def fail(self, name: str, via: str | None = None) -> HeartbeatStatus:
        async with self._lock:
            spec = self.spec(name)
            now = self.system.clock.now()
            events, action = fail(spec, self.system.state.beats.get(name), now, via)
            await self._act(spec, action, failed=True)
            await self._record(events)
            return self.status(name)

    async def create(
        self, spec: HeartbeatSpec, by: str | None, token_name: str | None = None
    ) -> None:
        async with self._lock:
            if spec.name in self.specs():
                raise Conflict(f"name: heartbeat {spec.name!r} exists already")
            ev = HeartbeatCreated(
                name=spec.name,
                service_id=spec.service_id,
                interval=spec.interval.total_seconds(),
                grace=spec.grace.total_seconds(),
                attribution=Attribution(by, None, token_name),
            )
            await self._record([ev])

    async def delete(self, name: str, by: str | None, token_name: str | None = None) -> None:
        async with self._lock:
            spec = self.spec(name)
            if spec.source == "config":
                raise Conflict(f"heartbeat {name} is configured in the file; remove it there")
            await self._record(
                [HeartbeatDeleted(name=name, attribution=Attribution(by, None, token_name))]
            )

    def enable(self) -> None:
        """Start expiring heartbeats (the supervisor calls it once pager serves)."""
        self._enabled.set()

    async def _record(self, events: list[Event]) -> None:
        if events:
            await self.system.journal.record(events, self.system.clock.now())
            self._changed.set()

    async def _act(self, spec: HeartbeatSpec, action: IncidentAction, failed: bool = False) -> None:
        key = dedup_key(spec.name)
        if action is IncidentAction.OPEN:
            title = incident_title(spec.name, failed=failed)
            cmd = TriggerAlert(
                key=key,
                summary=title,
                severity="critical",
                source=f"heartbeat {spec.name}",
                details={"heartbeat": spec.name, "interval": spec.interval.total_seconds()},
                title=title,
            )
            await self.system.submit(Ingest(spec.service_id, key, INTEGRATION, cmd))
        elif action is IncidentAction.RESOLVE:
            cmd_r = ResolveAlert(key=key, via=INTEGRATION)
            await self.system.submit(Ingest(spec.service_id, key, INTEGRATION, cmd_r, opens=False))

    # ------------------------------------------------------------------ deadlines

    async def run(
        self, *, task_status: trio.TaskStatus[Heartbeats] = trio.TASK_STATUS_IGNORED
    ) -> None:
        started = self.system.clock.now()
        for name, spec in self.specs().items():
            await self._record(rearm(spec, self.system.state.beats.get(name), started))
        task_status.started(self)
        await self._enabled.wait()
        while True:
            self._changed = trio.Event()
            async with self._lock:
                await self._expire_due()
            wake_at = self._next_wake()
            with trio.move_on_at(wake_at):
                await self._changed.wait()

    async def _expire_due(self) -> None:
        now = self.system.clock.now()
        for name, spec in self.specs().items():
            events, action = expire(self.system.state.beats.get(name), name, now)
            if not events:
                continue
            try:
                await self._act(spec, action)
            except Exception:  # the router is busy or stopping: try again shortly
                log.exception("heartbeat %s expired but its incident could not be opened", name)
                self._retry_at = now + timedelta(seconds=5)
                continue
            log.info("heartbeat %s expired", name)
            self.expired += 1
            await self._record(events)

    def _next_wake(self) -> float:
        specs = self.specs()
        downs = [
            b.down_at for name, b in self.system.state.beats.items() if not b.down and name in specs
        ]
        if self._retry_at is not None:
            downs.append(self._retry_at)
            self._retry_at = None
        if not downs:
            return math.inf
        return trio_deadline(self.system.clock, min(downs))
