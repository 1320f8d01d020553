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

In a storm the service makes long-lived objects faster still (some 50,000 a second in
`scripts/bench ingest`'s new-incident row: each incident, its alerts, its actor), and young
collections at the largest threshold scan each of them (about a microsecond each: 15-50 ms a
collection, several a second), find almost no garbage (some 2,000 objects in a whole run),
and hand the survivors to the middle generation, which scans them again (pauses up to 95-130
ms): about a second of GC in a 12-second run, 7% of the CPU. So while the service is busier
than quiet (the threshold above `YOUNG_MIN`), the collector looks every `TICK` and freezes
the young objects once they are `FREEZE_AT` of the threshold: a storm's new objects are
frozen before a young collection gets to them (the same run: 0.1-0.3 s of GC, young pauses
under 10-16 ms). A quiet service keeps its young collections as before. What is frozen and
later becomes garbage in a cycle waits for the hourly full collection, like everything frozen;
after that storm, a full collection finds 1,362 objects of such garbage (1,342 without the
early freezing) and the resident memory does not change: the early freezing leaves no more
garbage behind than the collections it replaces would have found.

The pauses are measured (`gc.callbacks`, `PAUSES`) and served on /metrics as
`pager_gc_pause_seconds`, `pager_gc_collected_objects_total` and `pager_gc_frozen_objects`.

Only `pager serve` turns this on (`run_pager(manage_gc=True)`): it changes the whole
process.
"""

from __future__ import annotations

import gc
import logging
import time
from bisect import bisect_left
from typing import Any

import trio

__all__ = ["PAUSES", "Pauses", "run_collector", "tune", "young_threshold"]

log = logging.getLogger("pager.gc")

TICK = 0.1  # seconds between looks
ADAPT_EVERY = 1.0  # seconds
FREEZE_EVERY = 5  # adaptations
FULL_EVERY = 3600  # adaptations
FREEZE_AT = 0.25  # young objects at a look, as a share of the threshold, that are frozen then
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


class Pauses:
    """The collector's pauses by generation, counted as they end (a `gc.callbacks` entry: a
    clock read and a few additions a collection): for /metrics."""

    BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        self.buckets = [[0] * (len(self.BOUNDS) + 1) for _ in range(3)]  # the last: +Inf
        self.seconds = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        g = info["generation"]
        self.seconds[g] += took
        self.collected[g] += info["collected"]
        self.buckets[g][bisect_left(self.BOUNDS, took)] += 1

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)


PAUSES = Pauses()  # the process's one collector, measured once `pager serve` manages it


def _collections() -> int:
    # every automatic collection, of whichever generation, starts when the young count
    # passes the threshold, and sets it back to 0
    return sum(s["collections"] for s in gc.get_stats())


class _Rate:
    """New tracked objects per second since the last look: the collections there were times
    the young threshold then in force, plus the change of the young count (and what it was
    when a freeze or a full collection set it back to 0)."""

    def __init__(self) -> None:
        self._collections = _collections()
        self._count = gc.get_count()[0]
        self._at = trio.current_time()
        self._made = 0

    def _since(self, threshold: int) -> int:
        return (_collections() - self._collections) * threshold + gc.get_count()[0] - self._count

    def take(self, threshold: int) -> float:
        made = self._made + self._since(threshold)
        at = trio.current_time()
        seconds = at - self._at
        self._collections, self._count, self._at, self._made = (
            _collections(), gc.get_count()[0], at, 0
        )  # fmt: skip
        return max(made, 0) / seconds if seconds > 0 else 0.0

    def reset(self, threshold: int) -> None:
        """Before `gc.freeze()` or `gc.collect()`, which set the young count back to 0: what
        was made until then is kept for the next `take`."""
        self._made += self._since(threshold)
        self._collections, self._count = _collections(), 0

    def recount(self) -> None:
        """After `gc.freeze()` or `gc.collect()` (what was made before is not counted)."""
        self._collections, self._count = _collections(), gc.get_count()[0]


async def run_collector(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    PAUSES.install()
    task_status.started()
    rate = _Rate()
    looks = 0
    per_adaptation = round(ADAPT_EVERY / TICK)
    while True:
        await trio.sleep(TICK)
        looks += 1
        young = gc.get_threshold()[0]
        if looks % per_adaptation:
            # between adaptations: a busy service's young objects are frozen before a young
            # collection scans them (see the module's docstring)
            if young > YOUNG_MIN and gc.get_count()[0] >= young * FREEZE_AT:
                rate.reset(young)
                gc.freeze()
            continue
        ticks = looks // per_adaptation
        young = young_threshold(rate.take(young), young)
        tune(young)
        if ticks % FULL_EVERY == 0:
            t = time.perf_counter()
            rate.reset(young)
            gc.unfreeze()
            found = gc.collect()
            rate.recount()  # this collection is not one the young count started
            log.info("full collection: %d objects freed in %.2f s", found, time.perf_counter() - t)
        busy = young > YOUNG_MIN and gc.get_count()[0] >= young * FREEZE_AT
        if ticks % FREEZE_EVERY == 0 or busy:
            rate.reset(young)
            gc.freeze()
