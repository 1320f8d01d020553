"""Keeping CPython's cyclic garbage collector off the long-lived state, and its pauses short.

pager holds many small objects that live for hours (open incidents, their alerts, timelines
and pages, one actor task each). The collector rescans every tracked object it has not
frozen; with 100,000 open incidents that is millions of objects, and its full collections
stopped the event loop for seconds at a time (timers fired seconds late). So the service
freezes what exists every few seconds (`gc.freeze`: frozen objects are never rescanned),
and now and then (below) unfreezes and collects everything, so that reference cycles which
became garbage after being frozen are reclaimed. Objects that are not in cycles are freed by
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
later becomes garbage in a cycle waits for the next full collection, like everything frozen;
after that storm, a full collection finds 1,362 objects of such garbage (1,342 without the
early freezing) and the resident memory does not change: the early freezing leaves no more
garbage behind than the collections it replaces would have found.

Every `FREEZE_EVERY` seconds the young generation is collected before the freeze (`freeze()`:
a few thousand objects at most, those made since the last young collection; start-up
freezes its replayed state without one): their cyclic garbage is freed rather than frozen, and
CPython untracks there the tuples that hold only atoms (numbers, strings, datetimes: a
timeline entry, a timer), which it does only in a collection, one level of nesting a pass,
and never for a frozen object. The storm's freezes above do not: scanning the storm is what
they save (it would cost a microsecond an object, and one pass untracks only the innermost
tuples: 116,000 of the 1.72 million objects after start-up on 36,330 incidents).

A full collection (unfreeze everything, collect, freeze again: `full_collection()`) scans
every tracked object: 1.7 million with 36,330 open incidents (about 44 an incident: the
incident, its alerts, pages, timeline and notifications, its actor's task), a pause of
0.8-1.2 s, for about 1,400 objects of garbage after a storm. It used to run every hour,
so an hour after a storm pages and acknowledgements waited that long once. Now
(`FullCollections`) it is:

- *due* once the process's small objects (`size()`: pymalloc's blocks, garbage included)
  grew by `FULL_GROWTH` since the last full collection (and by at least `FULL_MIN_GROWTH`),
  the rule CPython itself uses for its full collections: each object is scanned a bounded
  number of times in all, and what the frozen objects hold, live or garbage, stays within a
  quarter above what the last full collection left (plus what the wait below adds). Or
  `FULL_AT_LEAST_EVERY` after the last one whatever the growth, so that the cycles of what
  died in place (a storm's incidents, resolved) are reclaimed too.
- *run* at the first quiet moment once due: the young threshold at its least (no storm) and
  the service's `quiet()` (`supervisor.quiet_moment`: no incident timer due within
  `QUIET_AHEAD` seconds, no notification being sent, nothing queued for the log), so that
  the pause does not land on a page or an escalation. A service that is never quiet gets it
  `FULL_WAITS_AT_MOST` after it was due: the garbage that waits is bounded in time as with
  the hourly collection before.

So after a storm its full collection runs once, in the first lull after it, and an hour
later there is none: nothing has grown since.

The pauses are measured (`gc.callbacks`, `PAUSES`) and served on /metrics as
`pager_gc_pause_seconds`, `pager_gc_collected_objects_total` and `pager_gc_frozen_objects`.

Only `pager serve` turns this on (`run_pager(manage_gc=True)`): it changes the whole
process.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import trio

__all__ = [
    "PAUSES",
    "FullCollections",
    "Pauses",
    "freeze",
    "freeze_state",
    "full_collection",
    "run_collector",
    "size",
    "tune",
    "young_threshold",
]

log = logging.getLogger("pager.gc")

TICK = 0.1  # seconds between looks
ADAPT_EVERY = 1.0  # seconds
FREEZE_EVERY = 5  # adaptations (seconds)
FULL_GROWTH = 0.25  # a full collection is due once the small objects grew by this share...
FULL_MIN_GROWTH = 250_000  # ...and by at least this many (pymalloc blocks), since the last one
FULL_AT_LEAST_EVERY = 24 * 3600.0  # seconds: due then whatever the growth
FULL_WAITS_AT_MOST = 3600.0  # seconds a due full collection waits for a quiet moment
QUIET_AHEAD = 5.0  # seconds without an incident timer due that make a quiet moment
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
        # objects start-up or the last full collection left frozen: counted then only, as
        # `gc.get_freeze_count()` walks every frozen object (18-22 ms at 1.7 million, too
        # long for each /metrics scrape on the event loop; a full collection pauses ~1 s)
        self.frozen = 0
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


def freeze() -> None:
    """Collect the young generation (at most `FREEZE_AT` of the threshold: a short pass),
    then freeze what exists: its cyclic garbage is freed rather than frozen, and its tuples
    of atoms are untracked (only a collection does that, one level of nesting a pass, and
    never for a frozen object). Sets the young count back to 0, like `gc.freeze()`."""
    gc.collect(0)
    gc.freeze()


def freeze_state() -> None:
    """Start-up: freeze the replayed state as it is (see pager/service.py)."""
    gc.freeze()
    PAUSES.frozen = gc.get_freeze_count()


def full_collection() -> int:
    """Unfreeze everything, collect it all, freeze what is left: the objects found."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    PAUSES.frozen = gc.get_freeze_count()
    return found


def size() -> int:
    """The process's small objects (`sys.getallocatedblocks()`: pymalloc's blocks in use,
    every tracked object among them): what a full collection's growth rule reads. A walk of
    pymalloc's arenas, 0.2-0.5 ms with 1.7 million frozen objects, where
    `gc.get_freeze_count()` walks the objects themselves (18-22 ms)."""
    return sys.getallocatedblocks()


class FullCollections:
    """When a full collection is due (`due`) and when it runs (`now`): see the module's
    docstring. Times are in seconds on any one clock; `size` is `size()`."""

    def __init__(self, size: int, at: float) -> None:
        self.size = size  # what the last full collection left (or start-up)
        self.at = at  # when it ran
        self.due_since: float | None = None

    def due(self, size: int, at: float) -> bool:
        grown = size - self.size
        return (
            grown >= max(FULL_MIN_GROWTH, FULL_GROWTH * self.size)
            or at - self.at >= FULL_AT_LEAST_EVERY
        )

    def now(self, size: int, at: float, quiet: Callable[[], bool]) -> bool:
        """Whether to run a full collection at `at`: due, and quiet or due for too long."""
        if not self.due(size, at):
            self.due_since = None
            return False
        if self.due_since is None:
            self.due_since = at
        return at - self.due_since >= FULL_WAITS_AT_MOST or quiet()

    def ran(self, size: int, at: float) -> None:
        self.size, self.at, self.due_since = size, at, None


async def run_collector(
    quiet: Callable[[], bool] = lambda: True,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Manage the collector (see the module's docstring). `quiet()` says whether this is a
    good moment for a full collection as far as the service knows (nothing about to be
    paged); the collector adds that no storm is going on."""
    PAUSES.install()
    task_status.started()
    rate = _Rate()
    full = FullCollections(size(), trio.current_time())
    looks = 0

    def calm() -> bool:  # no storm (the young threshold at its least), and quiet
        return gc.get_threshold()[0] == YOUNG_MIN and quiet()

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
                gc.freeze()  # no collection first: in a storm, scanning them is the cost
            continue
        ticks = looks // per_adaptation
        young = young_threshold(rate.take(young), young)
        tune(young)
        at = trio.current_time()
        if full.now(size(), at, calm):
            waited = at - (full.due_since or at)
            t = time.perf_counter()
            rate.reset(young)
            found = full_collection()
            rate.recount()  # this collection is not one the young count started
            full.ran(size(), at)
            log.info(
                "full collection: %d objects freed in %.2f s (%.0f s after it was due)",
                found,
                time.perf_counter() - t,
                waited,
            )
            continue
        if young > YOUNG_MIN and gc.get_count()[0] >= young * FREEZE_AT:  # a storm
            rate.reset(young)
            gc.freeze()
        elif ticks % FREEZE_EVERY == 0:
            rate.reset(young)
            freeze()
            rate.recount()  # its collection is not one the young count started
