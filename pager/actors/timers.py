"""The timer service: one task holds the next deadline of every open incident in a heap and
ticks the incident's mailbox when it is due.

Why one service and not a `trio.move_on_at` in each incident actor: a cancel scope per
waiting actor is another object per open incident, and one heap gives one place to measure
how late timers fire under load (`lateness`). Deadlines are absolute UTC instants (the ones
the journal holds), turned into trio-clock time only for the wait at the top of the heap, so
re-arming the same instant is a no-op. An entry that is no longer its incident's current
deadline is skipped when it surfaces (lazy deletion), and the heap is compacted when stale
entries pile up.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from datetime import datetime

import trio

from pager.clock import WallClock, trio_deadline

__all__ = ["Timers"]


class Timers:
    def __init__(self, clock: WallClock, tick: Callable[[str], None]) -> None:
        self.clock = clock
        self._tick = tick
        self._heap: list[tuple[datetime, int, str]] = []
        self._current: dict[str, datetime] = {}
        self._counter = 0
        self._changed = trio.Event()
        self._enabled = trio.Event()
        self.fired = 0
        self.lateness: list[float] = []  # seconds late, of fired timers (when sampling)
        self.sample_lateness = False

    def arm(self, key: str, deadline: datetime) -> None:
        """Tick `key` at `deadline`; replaces its previous deadline."""
        if self._current.get(key) == deadline:
            return
        self._current[key] = deadline
        self._counter += 1
        heapq.heappush(self._heap, (deadline, self._counter, key))
        if len(self._heap) > 2 * len(self._current) + 1024:
            self._compact()
        if self._heap[0][2] == key:
            self._changed.set()

    def enable(self) -> None:
        """Start ticking. The supervisor enables the timers once pager serves, so incidents
        whose deadlines passed while it was down catch up after start-up, not during it."""
        self._enabled.set()

    def disarm(self, key: str) -> None:
        self._current.pop(key, None)

    def next_due(self) -> datetime | None:
        """The earliest deadline armed (or one a little earlier, that was re-armed since)."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._current)

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if self._current.get(e[2]) == e[0]]
        heapq.heapify(self._heap)

    async def run(self, *, task_status: trio.TaskStatus[Timers] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started(self)
        await self._enabled.wait()
        while True:
            now = self.clock.now()
            heap = self._heap
            while heap and heap[0][0] <= now:
                deadline, _, key = heapq.heappop(heap)
                if self._current.get(key) != deadline:
                    continue  # re-armed or disarmed since
                del self._current[key]
                self.fired += 1
                if self.sample_lateness:
                    self.lateness.append((now - deadline).total_seconds())
                self._tick(key)
            while heap and self._current.get(heap[0][2]) != heap[0][0]:
                heapq.heappop(heap)
            wake_at = trio_deadline(self.clock, heap[0][0]) if heap else math.inf
            self._changed = trio.Event()
            with trio.move_on_at(wake_at):
                await self._changed.wait()
