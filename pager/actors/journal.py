"""The journal: the one way an actor records events. It stamps them, appends them to the
event log and returns once they are durable; the log's commit hook has by then folded them
into the read model (`SystemState`) and handed them to the broadcaster, in sequence order.

Persist, then apply, then act: nothing outside changes until `record` returns.

An incident actor that has already evolved its incident through the events it decides
passes that value along (`decided`), so the commit takes it instead of evolving the
incident a second time (`SystemState.apply_decided`): about a fifth of the work of an alert
that opens an incident (scripts/bench ingest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pager.core.events import SCHEMA_VERSION, Event, encode
from pager.core.model import Incident
from pager.core.state import SystemState
from pager.errors import LogUnavailable
from pager.store.base import AppendDone, EventLog, Record, new_draft

__all__ = ["Journal"]


class Journal:
    def __init__(self, log: EventLog, state: SystemState) -> None:
        self.log = log
        self.state = state
        # id of the first event of an append in flight -> (its count, base, decided)
        self._decided: dict[int, tuple[int, Incident | None, Incident]] = {}
        log.add_commit_hook(self._apply)

    def _apply(self, records: Sequence[Record]) -> None:
        state = self.state
        decided = self._decided
        i, n = 0, len(records)
        while i < n:
            r = records[i]
            run = decided.pop(id(r.event), None) if decided else None
            if run is None:
                state.apply(r)
                i += 1
                continue
            count, base, after = run
            state.apply_decided(records[i : i + count], base, after)
            i += count

    async def record(
        self,
        events: Sequence[Event],
        now: datetime,
        *,
        decided: tuple[Incident | None, Incident] | None = None,
    ) -> list[Record]:
        """Journal `events` stamped `now`. Raises LogUnavailable if they could not be made
        durable; then none of them happened.

        `decided`: (base, after) when `events` are what an incident actor decided on `base`
        (the incident in the state as it decided), with `after` the incident as they leave
        it, evolved with placeholder sequence numbers from 0 (`decide_full(first=...)`)."""
        if not events:
            return []
        drafts = [new_draft(e.TYPE, e.subject, now, encode(e), SCHEMA_VERSION, e) for e in events]
        if decided is None:
            return await self.log.append(drafts)
        key = id(events[0])
        self._decided[key] = (len(events), decided[0], decided[1])
        try:
            return await self.log.append(drafts)
        finally:
            self._decided.pop(key, None)  # not committed (a failed write): forget it

    @property
    def backlog(self) -> int:
        """Appends queued in the log and not yet being written (EventLog.backlog)."""
        return self.log.backlog

    @property
    def records_soon(self) -> bool:
        """Whether `record_soon` is there (the log appends without a waiting task)."""
        return self.log.appends_soon

    def record_soon(
        self,
        events: Sequence[Event],
        now: datetime,
        done: AppendDone,
        *,
        decided: tuple[Incident | None, Incident] | None = None,
    ) -> None:
        """`record` without a task waiting in it: `done(records, None)` once `events` are
        durable and folded into the state, `done([], error)` when they could not be (then
        none of them happened); `done` runs in the log's writer task (EventLog.append_soon),
        or at once when there is nothing to record or the log takes no more appends."""
        if not events:
            done([], None)
            return
        drafts = [new_draft(e.TYPE, e.subject, now, encode(e), SCHEMA_VERSION, e) for e in events]
        if decided is None:
            finish = done
        else:
            key = id(events[0])
            self._decided[key] = (len(events), decided[0], decided[1])

            def finish(records: list[Record], error: LogUnavailable | None) -> None:
                self._decided.pop(key, None)  # not committed (a failed write): forget it
                done(records, error)

        try:
            self.log.append_soon(drafts, finish)
        except LogUnavailable as e:
            finish([], e)
