"""The broadcaster: every journaled record, to every websocket subscriber, in order.

The journal's commit hook hands it each durable batch (synchronously, so it never blocks the
journal); it keeps the newest records in a ring. A subscriber first catches up from the log
(from its `since`), then follows the ring. Nothing is queued per subscriber: one that falls so
far behind that the ring has moved past it reads the older records from the log again, so
nothing is lost and nobody slow holds anyone else back. (The websocket edge drops a
subscriber whose socket stops draining, with the sequence number to resume from.)
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from functools import partial

import trio

from pager.store.base import EventLog, Record

__all__ = ["RING_SIZE", "Broadcaster"]

RING_SIZE = 8192
CATCH_UP_CHUNK = 1000


class Broadcaster:
    def __init__(self, log: EventLog, ring_size: int = RING_SIZE) -> None:
        self.log = log
        self._ring: deque[Record] = deque(maxlen=ring_size)
        self._new = trio.Event()
        self._closing = False
        self.subscribers = 0

    def publish(self, records: Sequence[Record]) -> None:
        """The journal's commit hook."""
        self._ring.extend(records)
        self._new.set()
        self._new = trio.Event()

    def close_all(self) -> None:
        """Shutdown: every subscription ends (its websocket closes normally)."""
        self._closing = True
        self._new.set()

    async def subscribe(self, since: int) -> AsyncIterator[Record]:
        """Records with seq >= `since`, in order, until shutdown."""
        self.subscribers += 1
        try:
            cursor = max(since, 1)
            while not self._closing:
                ring_start = self._ring[0].seq if self._ring else self.log.last_seq + 1
                if cursor < ring_start:
                    cursor = max(cursor, self.log.first_seq)  # journal.retention deleted older
                    async with aclosing(self._from_log(cursor, ring_start)) as older:
                        async for rec in older:
                            yield rec
                            cursor = rec.seq + 1
                    if cursor < ring_start:
                        return  # the log holds less than it said: nothing more to give
                    continue
                last = self._ring[-1].seq if self._ring else self.log.last_seq
                if cursor > last:
                    await self._new.wait()
                    continue
                # a copy: the ring may move on while this subscriber is sending
                pending = list(itertools.islice(self._ring, cursor - ring_start, None))
                for rec in pending:
                    yield rec
                    cursor = rec.seq + 1
        finally:
            self.subscribers -= 1

    async def _from_log(self, start: int, stop: int) -> AsyncGenerator[Record, None]:
        it = self.log.read_from(start)

        def chunk(n: int) -> list[Record]:
            return list(itertools.islice(it, n))

        remaining = stop - start
        while remaining > 0:
            got = await self.log.read_in_thread(partial(chunk, min(remaining, CATCH_UP_CHUNK)))
            if not got:
                return
            for rec in got:
                yield rec
            remaining -= len(got)
