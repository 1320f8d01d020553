"""The lean listener's live connections and the one task that enforces their timeouts.

Each connection keeps its current deadline as a plain number (`due`, on trio's clock) that it
moves as its phase changes (idle, reading a request, running the handler, writing the
answer): two or three moves for every request. Moving a trio cancel scope's deadline costs a
context manager and a heap update each time, about 3% of the CPU of an alert storm (py-spy,
`scripts/bench ingest`); a float costs nothing. So the connections' cancel scopes carry no
deadline, and `watch` (one task per listener) sleeps until the soonest `due`, cancels the
scope of each connection past it, and sleeps again. A connection that moves its deadline
sooner than the watcher's wake-up wakes it (`moved`), so every timeout fires on time, as
with a deadline on the scope; a deadline moved later is noticed when the watcher wakes.
"""

from __future__ import annotations

import math
from typing import Protocol

import trio

__all__ = ["IDLE", "ConnectionRegistry", "Watched"]

IDLE = 0  # a connection between requests: a graceful shutdown closes it


class Watched(Protocol):
    """What the registry reads of a connection."""

    phase: int
    due: float  # trio time at which the connection's phase runs out; inf: never
    scope: trio.CancelScope


class ConnectionRegistry:
    """The listener's live connections, for the connection cap, graceful shutdown and the
    timeouts (`watch`)."""

    __slots__ = ("_changed", "draining", "live", "rejecting", "wake_at")

    def __init__(self) -> None:
        self.live: set[Watched] = set()
        self.rejecting = 0
        self.draining = False
        self.wake_at = math.inf  # when `watch` wakes next
        self._changed = trio.Event()

    def drain(self) -> None:
        """From now on every answer closes its connection; idle connections close now."""
        self.draining = True
        for connection in self.live:
            if connection.phase == IDLE:
                connection.scope.cancel()

    def moved(self, due: float) -> None:
        """A connection's deadline moved to `due`: wake `watch` if it would sleep past it."""
        if due < self.wake_at:
            self.wake_at = due
            self._changed.set()

    async def watch(self) -> None:
        """Cancel each connection whose `due` has passed; runs until cancelled."""
        while True:
            now = trio.current_time()
            soonest = math.inf
            for connection in self.live:
                due = connection.due
                if due <= now:
                    connection.due = math.inf
                    connection.scope.cancel()
                elif due < soonest:
                    soonest = due
            self.wake_at = soonest
            self._changed = trio.Event()
            with trio.move_on_at(soonest):
                await self._changed.wait()
