"""The snapshotter writes one snapshot each time `every` records have been journaled since
the last one it began: records journaled while a snapshot is being written count towards
the next one (they used to count from the snapshot before, so every threshold crossed wrote
two whole snapshots back to back). Time stands still (a MockClock that does not run), so the
`interval` never fires; a failed write is tried again at the next record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import trio
import trio.testing

from pager.actors.journal import Journal
from pager.actors.snapshotter import Snapshotter
from pager.clock import TrioWallClock
from pager.core.events import ConfigApplied
from pager.core.state import SystemState
from pager.store.memory import MemoryLog

EVERY = 10
AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


class SlowLog(MemoryLog):
    """A snapshot is written only when the test lets it finish (`release`)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[int] = []
        self.saved: list[int] = []
        self.release = trio.Event()
        self.fail: OSError | None = None

    async def save_snapshot(self, seq: int, ts: datetime, state: Any) -> None:
        self.started.append(seq)
        await self.release.wait()
        self.release = trio.Event()
        if self.fail is not None:
            raise self.fail
        await super().save_snapshot(seq, ts, state)
        self.saved.append(seq)


@asynccontextmanager
async def running() -> AsyncIterator[tuple[SlowLog, Journal]]:
    """A snapshotter every EVERY records over a SlowLog; its clock stands at AT."""
    log = SlowLog()
    state = SystemState()
    journal = Journal(log, state)  # first: its commit hook folds before the snapshotter counts
    snapshotter = Snapshotter(log, state, TrioWallClock(AT), every=EVERY, interval=3600.0)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(snapshotter.run)
            yield log, journal
            nursery.cancel_scope.cancel()


async def _record(journal: Journal, n: int) -> None:
    for i in range(n):
        await journal.record([ConfigApplied(digest=f"d{i}", source="test")], AT)


def test_records_written_during_a_snapshot_count_towards_the_next() -> None:
    async def main() -> None:
        async with running() as (log, journal):
            await _record(journal, EVERY)
            await trio.testing.wait_all_tasks_blocked()
            assert log.started == [EVERY]
            # more records while it is written, fewer than a threshold
            await _record(journal, EVERY - 1)
            log.release.set()
            await trio.testing.wait_all_tasks_blocked()
            assert log.saved == [EVERY]
            assert log.started == [EVERY]  # no second snapshot at once
            # the threshold counts from the snapshot begun at EVERY
            await _record(journal, 1)
            await trio.testing.wait_all_tasks_blocked()
            assert log.started == [EVERY, 2 * EVERY]
            log.release.set()
            await trio.testing.wait_all_tasks_blocked()
            assert log.saved == [EVERY, 2 * EVERY]

    trio.run(main, clock=trio.testing.MockClock())


def test_a_failed_snapshot_is_tried_again_at_the_next_record() -> None:
    async def main() -> None:
        async with running() as (log, journal):
            await _record(journal, EVERY)
            await trio.testing.wait_all_tasks_blocked()
            log.fail = OSError(28, "No space left on device")
            log.release.set()
            await trio.testing.wait_all_tasks_blocked()
            assert log.saved == []
            log.fail = None
            await _record(journal, 1)
            await trio.testing.wait_all_tasks_blocked()
            assert log.started == [EVERY, EVERY + 1]
            log.release.set()
            await trio.testing.wait_all_tasks_blocked()
            assert log.saved == [EVERY + 1]

    trio.run(main, clock=trio.testing.MockClock())
