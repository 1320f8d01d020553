"""Writes a snapshot of the whole state every N journaled records or T seconds (whichever
comes first, and only when something changed), and a last one at shutdown, so start-up
replays only a short tail.

A snapshot costs time in proportion to the state (every incident is written, though an
unchanged one from the log's cache of its JSON, store/snapshots.py), replay in proportion
to the records after it; so with a large state the record threshold grows to the
number of incidents, keeping the cost of snapshots at most about that of replaying. Of a
snapshot's time only `SystemState.capture()` runs on the event loop (copies of references,
a few milliseconds at 36,000 open incidents); the log builds the snapshot from the capture,
and writes it, in its worker thread, a piece at a time.

Records journaled while a snapshot is being written count towards the next one: they were
counted from the last snapshot taken, so the threshold crossed once asked for a second,
whole snapshot the moment the first was written (two snapshots per threshold; with a large
state a few per cent of the CPU of an alert storm, scripts/bench ingest)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

import trio

from pager.clock import WallClock
from pager.core.state import SystemState
from pager.store.base import EventLog, Record

__all__ = ["Snapshotter"]

log = logging.getLogger("pager.snapshots")

# a resolved incident is kept whole this long, then only as a summary (rebuilt from the log
# when someone asks for it in full)
ARCHIVE_AFTER = timedelta(hours=1)


class Snapshotter:
    def __init__(
        self, log_: EventLog, state: SystemState, clock: WallClock, *, every: int, interval: float
    ) -> None:
        self.log = log_
        self.state = state
        self.clock = clock
        self.every = every
        self.interval = interval
        self.last_seq = state.last_seq
        # records are counted from here: the seq of the snapshot being written, if one is
        self._counted_from = state.last_seq
        self.busy: Callable[[str], bool] | None = None  # incidents an actor is working on
        self._due = trio.Event()

    def _count(self, records: Sequence[Record]) -> None:
        threshold = max(self.every, len(self.state.incidents))
        if self.state.last_seq - self._counted_from >= threshold:
            self._due.set()

    async def run(
        self, *, task_status: trio.TaskStatus[Snapshotter] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # counts journaled records while it runs (an active pager's actors may run more than
        # once in a process's life, pager/actors/leadership.py)
        self.log.add_commit_hook(self._count)
        try:
            task_status.started(self)
            while True:
                with trio.move_on_after(self.interval):
                    await self._due.wait()
                self._due = trio.Event()
                await self.take()
        finally:
            self.log.remove_commit_hook(self._count)

    async def take(self) -> None:
        seq = self.state.last_seq
        if seq <= self.last_seq:
            return
        self._counted_from = seq
        written = False
        try:
            # on the event loop only the capture (copies of references, a few ms at 36,000
            # open incidents); the log builds the snapshot from it in its worker thread
            capture = self.state.capture()
            await self.log.save_snapshot(seq, self.clock.now(), capture.to_snapshot)
            written = True
        except OSError as e:
            log.error("snapshot at %d failed: %s (the log is intact; will try again)", seq, e)
            return
        finally:
            if not written:  # count from the last snapshot taken, as before this one
                self._counted_from = self.last_seq
        self.last_seq = seq
        # (among the resolved incidents the snapshot held, not all: a log that did not build
        # it leaves None, every incident looked at)
        archived = self.state.compact(
            self.clock.now() - ARCHIVE_AFTER, self.busy, among=capture.resolved
        )
        log.info("snapshot at %d (%d resolved incidents archived)", seq, archived)
