"""The journal: the one way an actor records events. It stamps them, appends them to the
event log and returns once they are durable; the log's commit hook has by then folded them
into the read model (`SystemState`) and handed them to the broadcaster, in sequence order.

Persist, then apply, then act: nothing outside changes until `record` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pager.core.events import SCHEMA_VERSION, Event, encode
from pager.core.state import SystemState
from pager.store.base import Draft, EventLog, Record

__all__ = ["Journal"]


class Journal:
    def __init__(self, log: EventLog, state: SystemState) -> None:
        self.log = log
        self.state = state
        log.add_commit_hook(self._apply)

    def _apply(self, records: Sequence[Record]) -> None:
        apply = self.state.apply
        for r in records:
            apply(r)

    async def record(self, events: Sequence[Event], now: datetime) -> list[Record]:
        """Journal `events` stamped `now`. Raises LogUnavailable if they could not be made
        durable; then none of them happened."""
        if not events:
            return []
        return await self.log.append(
            [Draft(e.TYPE, e.subject, now, encode(e), SCHEMA_VERSION, e) for e in events]
        )
