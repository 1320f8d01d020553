"""A bounded, single-consumer inbox for incident actors, with a coalesced timer wake-up.

Why not a trio memory channel: pager keeps one incident actor per open incident, and a
memory channel pair costs about 2 KB (its state object, two ordered dicts of waiting tasks,
a deque, two channel objects). At 100,000 open incidents that is 200 MB for inboxes that
are almost always empty. This one is a list and two fields; it keeps the channel semantics
that matter here: a fixed capacity (`put_nowait` raises `trio.WouldBlock` when full, so the
router never blocks on an actor), FIFO order, and closing (the consumer drains what is left,
then gets `trio.EndOfChannel`). There is one consumer, so one waiting task at most.

`tick()` is how the timer service says "a deadline of yours is due": it does not take a slot
and several ticks before the actor looks count as one.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import trio

__all__ = ["Mailbox"]

T = TypeVar("T")


class Mailbox(Generic[T]):
    __slots__ = ("_capacity", "_closed", "_items", "_ticked", "_waiter")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: list[T] = []
        self._ticked = False
        self._closed = False
        self._waiter: trio.lowlevel.Task | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def pending(self) -> bool:
        """Whether its consumer has something to do: messages, a tick, or the close."""
        return bool(self._items) or self._ticked or self._closed

    def put_nowait(self, item: T) -> None:
        if self._closed:
            raise trio.ClosedResourceError("mailbox is closed")
        if len(self._items) >= self._capacity:
            raise trio.WouldBlock
        self._items.append(item)
        self._wake()

    def drain(self) -> list[T]:
        """Take every message now, without waiting (for a consumer that never ran)."""
        items, self._items = self._items, []
        return items

    def tick(self) -> None:
        if not self._closed:
            self._ticked = True
            self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        task, self._waiter = self._waiter, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    async def take(self, limit: int) -> tuple[list[T], bool]:
        """Wait for messages or a tick; return up to `limit` messages (oldest first) and
        whether a tick came. Raises EndOfChannel once closed and drained.

        Unlike a channel's `receive`, it is not a checkpoint when something is there
        already: that is every new incident's first turn (the router puts the opening
        alert in before the actor's task first runs), and the yield cost a task step per
        new incident. Only other tasks fill a mailbox, so an actor that finds one full has
        yielded since it last took, and cannot loop without yielding."""
        if not self._items and not self._ticked:
            if self._closed:
                raise trio.EndOfChannel
            if self._waiter is not None:
                raise trio.BusyResourceError("another task is already taking from this mailbox")
            self._waiter = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._waiter = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
            if not self._items and not self._ticked:
                raise trio.EndOfChannel  # woken by close with nothing left
        batch, self._items = self._items[:limit], self._items[limit:]
        ticked, self._ticked = self._ticked, False
        return batch, ticked
