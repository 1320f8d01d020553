"""Keeping CPython's cyclic garbage collector off the long-lived state.

pager holds many small objects that live for hours (open incidents, their alerts, timelines
and pages, one actor task each). The collector rescans every tracked object it has not
frozen; with 100,000 open incidents that is millions of objects, and its full collections
stopped the event loop for seconds at a time (timers fired seconds late). So the service
freezes what exists every few seconds (`gc.freeze`: frozen objects are never rescanned),
collects young objects less often, and once an hour unfreezes and collects everything, so
that reference cycles which became garbage after being frozen are reclaimed. Objects that
are not in cycles are freed by reference counting either way.

Only `pager serve` turns this on (`run_pager(manage_gc=True)`): it changes the whole
process.
"""

from __future__ import annotations

import gc
import logging
import time

import trio

__all__ = ["run_collector", "tune"]

log = logging.getLogger("pager.gc")

FREEZE_EVERY = 5.0  # seconds
FULL_EVERY = 3600.0


def tune() -> None:
    gc.set_threshold(20_000, 20, 1000)


async def run_collector(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    since_full = 0.0
    while True:
        await trio.sleep(FREEZE_EVERY)
        since_full += FREEZE_EVERY
        if since_full >= FULL_EVERY:
            since_full = 0.0
            t = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            log.info("full collection: %d objects freed in %.2f s", found, time.perf_counter() - t)
        gc.freeze()
