"""The in-memory event log: the same contract as the JSON-lines log, no disk.

Used by tests that run on trio's MockClock (autojump cannot see work in threads, and the
disk log fsyncs in a thread) and by `pager route-test`. A fault can be injected with
`fail_next` to exercise the unavailable path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import trio

from pager.core.pacing import still
from pager.errors import LogUnavailable

from .base import AppendDone, Draft, EventLog, Record, Snapshot
from .snapshots import json_default

__all__ = ["MemoryLog"]


class MemoryLog(EventLog):
    reads_block = False

    def __init__(self) -> None:
        super().__init__()
        self._records: list[Record] = []
        self._snapshot: bytes | None = None
        self._lock = trio.Lock()
        self.failing: OSError | None = None
        self._writable = True

    @property
    def last_seq(self) -> int:
        return self._records[-1].seq if self._records else 0

    @property
    def writable(self) -> bool:
        return self._writable

    async def append(self, drafts: Sequence[Draft]) -> list[Record]:
        if not drafts:
            return []
        async with self._lock:  # one writer, like the disk log
            await trio.lowlevel.checkpoint()
            if self.failing is not None:
                self._writable = False
                raise LogUnavailable(f"event log cannot be written: {self.failing}")
            self._writable = True
            seq = self.last_seq
            out = []
            for d in drafts:
                seq += 1
                out.append(Record(seq, d.ts, d.type, d.subject, d.data, d.v, event=d.event))
            self._records.extend(out)
            self._committed(out)
            return out

    appends_soon = True

    def append_soon(self, drafts: Sequence[Draft], done: AppendDone) -> None:
        """`append` in a task of its own (a trio system task: the in-memory log has no
        writer task), then `done`."""
        if not drafts:
            raise ValueError("append_soon: no drafts to append")

        async def write() -> None:
            try:
                records = await self.append(drafts)
            except LogUnavailable as e:
                done([], e)
            else:
                done(records, None)

        trio.lowlevel.spawn_system_task(write)

    def read_from(self, seq: int) -> Iterator[Record]:
        start = max(seq - 1, 0)
        # records are numbered 1.. without gaps, so the index is seq - 1
        yield from self._records[start:]

    async def save_snapshot(self, seq: int, ts: datetime, state: Any) -> None:
        await trio.lowlevel.checkpoint()
        if callable(state):  # built here, at once: no worker thread (tests on a mock clock)
            state = state(still)
        # through bytes, as on disk, so a loaded snapshot never aliases the live state
        self._snapshot = orjson.dumps(
            {"seq": seq, "ts": ts, "state": state}, option=orjson.OPT_UTC_Z, default=json_default
        )

    def load_snapshot(self) -> Snapshot | None:
        if self._snapshot is None:
            return None
        raw = orjson.loads(self._snapshot)
        return Snapshot(raw["seq"], datetime.fromisoformat(raw["ts"]), raw["state"])
