"""Keeping CPython's cyclic garbage collector off the long-lived state, and its pauses short.

pager holds many small objects that live for hours (open incidents, their alerts, timelines
and pages, one actor task each). The collector rescans every tracked object it has not
frozen; with 100,000 open incidents that is millions of objects, and its full collections
stopped the event loop for seconds at a time (timers fired seconds late). So the service
freezes what exists every few seconds (`gc.freeze`: frozen objects are never rescanned),
and once an hour unfreezes and collects everything, so that reference cycles which became
garbage after being frozen are reclaimed. Objects that are not in cycles are freed by
reference counting either way.

A young collection stops the event loop for as long as it takes to scan the young objects,
about half a microsecond each, so its threshold (how many new objects start one) is a
trade: at 20,000 each pause is 5-15 ms, which is most of a page's latency budget when it
lands in the middle of one; at 2,000 a pause is under a millisecond, but an alert storm that
creates 100,000 long-lived objects a second then spends more than twice the time collecting
(measured with `scripts/bench escalation`: 8.4 s instead of 3.2 s of GC in 46 s, timers
p99 late 218 ms instead of 72 ms). So the threshold follows the rate at which the service
makes objects: every second it is set to what makes about `YOUNG_PER_SECOND` young
collections a second, between `YOUNG_MIN` (a quiet service: short pauses, pages on time) and
`YOUNG_MAX` (a storm: fewer collections in all).

Only `pager serve` turns this on (`run_pager(manage_gc=True)`): it changes the whole
process.
"""

from __future__ import annotations

import gc
import logging
import time

import trio

__all__ = ["run_collector", "tune", "young_threshold"]

log = logging.getLogger("pager.gc")

ADAPT_EVERY = 1.0  # seconds
FREEZE_EVERY = 5  # adaptations
FULL_EVERY = 3600  # adaptations
YOUNG_MIN = 2_000
YOUNG_MAX = 20_000
YOUNG_PER_SECOND = 2.0
DECAY = 0.95  # the most the threshold comes down in one adaptation
OLDER = (20, 1000)  # the thresholds of the two older generations, in young collections


def tune(young: int = YOUNG_MIN) -> None:
    gc.set_threshold(young, *OLDER)


def young_threshold(objects_per_second: float, current: int = YOUNG_MIN) -> int:
    """The young generation's threshold for a service that makes `objects_per_second` new
    tracked objects (net of those freed at once): about `YOUNG_PER_SECOND` collections a
    second, within [YOUNG_MIN, YOUNG_MAX]. It rises at once and comes down by at most a
    twentieth a second from `current`: a storm's rate swings from second to second (freeing
    old objects takes the count down as new ones take it up), and a threshold that followed
    every dip made a storm's collections small and many (timers p99 late 109-125 ms instead
    of 69 ms in `scripts/bench escalation`).
    """
    want = max(objects_per_second / YOUNG_PER_SECOND, current * DECAY)
    return int(min(YOUNG_MAX, max(YOUNG_MIN, want)))


def _collections() -> int:
    # every automatic collection, of whichever generation, starts when the young count
    # passes the threshold, and sets it back to 0
    return sum(s["collections"] for s in gc.get_stats())


class _Rate:
    """New tracked objects per second since the last look: the collections there were times
    the young threshold then in force, plus the change of the young count."""

    def __init__(self) -> None:
        self._collections = _collections()
        self._count = gc.get_count()[0]
        self._at = trio.current_time()

    def take(self, threshold: int) -> float:
        collections, count, at = _collections(), gc.get_count()[0], trio.current_time()
        made = (collections - self._collections) * threshold + count - self._count
        seconds = at - self._at
        self._collections, self._count, self._at = collections, count, at
        return max(made, 0) / seconds if seconds > 0 else 0.0

    def recount(self) -> None:
        """After `gc.freeze()` or `gc.collect()`, which set the young count back to 0."""
        self._collections, self._count = _collections(), gc.get_count()[0]


async def run_collector(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    rate = _Rate()
    ticks = 0
    while True:
        await trio.sleep(ADAPT_EVERY)
        ticks += 1
        young = gc.get_threshold()[0]
        tune(young_threshold(rate.take(young), young))
        if ticks % FULL_EVERY == 0:
            t = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            log.info("full collection: %d objects freed in %.2f s", found, time.perf_counter() - t)
            rate.recount()
        if ticks % FREEZE_EVERY == 0:
            gc.freeze()
            rate.recount()
