"""The deadlines of requests routed at once (`Router.take`): one queue and one task, instead
of a cancel scope with a deadline around every request's wait.

`System.submit` bounds each request by `request_timeout`. A trio cancel scope with a
deadline costs a context manager and a heap entry on entering and on leaving it: with the
lean listener's own deadline moves, 5 to 7% of the CPU of an alert storm (py-spy,
`scripts/bench ingest`). Here a request's deadline is a tuple appended to a deque: every
request has the same timeout, so they arrive in deadline order and the oldest is always at
the head. `run` sleeps until the head's deadline, fails each reply whose deadline passed
with `Unavailable` (what the cancel scope's expiry answered), drops the ones already
answered, and sleeps again. A queue that grows long wakes it to drop what was answered, so
its memory stays bounded by the requests of one `request_timeout` at most.
"""

from __future__ import annotations

import math
from collections import deque

import trio

from pager.errors import Unavailable

from .messages import Reply

__all__ = ["TOO_LATE", "ReplyDeadlines"]

TOO_LATE = "pager could not take this request in time; try again"
SWEEP_EVERY = 1024  # entries added between two wake-ups that drop the answered ones


class ReplyDeadlines:
    __slots__ = ("_changed", "_queue")

    def __init__(self) -> None:
        self._queue: deque[tuple[float, Reply]] = deque()
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, reply: Reply, deadline: float) -> None:
        """Fail `reply` with Unavailable at `deadline` (trio time) unless it is answered by
        then. Deadlines must come in order (one timeout for every request)."""
        queue = self._queue
        queue.append((deadline, reply))
        n = len(queue)
        if n == 1 or n % SWEEP_EVERY == 0:
            self._changed.set()

    def fail_all(self, error: BaseException) -> None:
        """Fail every reply not answered yet (the router stopped)."""
        queue = self._queue
        while queue:
            queue.popleft()[1].fail(error)

    async def run(self) -> None:
        queue = self._queue
        while True:
            now = trio.current_time()
            while queue:
                deadline, reply = queue[0]
                if reply.done:
                    queue.popleft()
                elif deadline <= now:
                    queue.popleft()
                    reply.fail(Unavailable(TOO_LATE))
                else:
                    break
            self._changed = trio.Event()
            with trio.move_on_at(queue[0][0] if queue else math.inf):
                await self._changed.wait()
