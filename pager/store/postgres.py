"""The event log in PostgreSQL: the same contract as the JSON-lines log, shared by several
pager processes, written by one at a time.

Writing (the process that holds the lease, `activate(epoch)`): group commit as on disk. One
writer task takes every append queued meanwhile, numbers the records and inserts them all
in one statement, which is one transaction, in a worker thread (psycopg's sync API: its
async API needs asyncio); each appender returns once its batch has committed. The insert is
fenced: it selects the lease row `FOR SHARE` where the epoch is still ours, so it inserts
nothing once another process has taken the lease (the lease row cannot change while the
insert holds it). A refused batch fails its appenders with `FencedOut`, drops the epoch and
sets `lost`: the caller stops paging at once and stands by.

Past ~400 lines on purpose: writing, following and snapshots are one `EventLog` sharing
its connections, their locks and the lease epoch; the SQL lives in pg_schema.py and the
batch insert in pg_writer.py.

A commit whose answer never came (the connection broke, the primary died) is in doubt:
the writer reconnects (the DSN may name the standby that gets promoted) and looks whether
the batch's rows are there; they are, or it inserts them again, or, past `settle_timeout`,
the batch fails and the next write settles it first.

Following (every other process): a follower task LISTENs for the insert trigger's NOTIFY
and, on each notice or every `poll` seconds, reads the records after the last one it
applied, by sequence, and hands them to the commit hooks as if it had written them. So a
standby's state is current, and a takeover replays only the last few records.

Connections: one for writing, one for reading and snapshots, one for LISTEN; each is used
by one thread at a time (a lock), and reconnects after a failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
import trio

from pager.errors import LogUnavailable, NotActive

from .base import LINE_OPTIONS, Draft, EventLog, Record, Snapshot, new_record
from .pg_schema import NOTIFY_CHANNEL, Reconnecting, describe_dsn, first_line, migrate
from .pg_writer import FencedWriter, newest_snapshot, store_snapshot
from .snapshots import ItemCache, Pacer, snapshot_pieces

__all__ = ["FencedOut", "NotActive", "PostgresLog"]

log = logging.getLogger("pager.store")

PAGE = 1000  # records per read
NOTIFY_SLICE = 0.25  # seconds a follower waits for a NOTIFY before it looks at `_closing`


class FencedOut(NotActive):
    """The batch was refused: another pager took the lease (a newer epoch). (`NotActive`,
    pager.errors, is the refusal of an append while this pager stands by.)"""


class _Pending:
    __slots__ = ("done", "drafts", "error", "records")

    def __init__(self, drafts: Sequence[Draft]) -> None:
        self.drafts = drafts
        self.done = trio.Event()
        self.records: list[Record] = []
        self.error: LogUnavailable | None = None


class PostgresLog(EventLog):
    """Open with `PostgresLog.open(dsn)`: connects, creates or migrates the schema, and
    finds where the log ends. It starts as a follower; `activate(epoch)` makes it the
    writer."""

    def __init__(
        self,
        dsn: str,
        *,
        node: str = "pager",
        poll: float = 1.0,
        timeout: float = 5.0,
        settle_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.dsn = dsn
        self.where = describe_dsn(dsn)
        self.node = node
        self.poll = poll
        self.settle_timeout = settle_timeout
        self._writer = Reconnecting(dsn, f"pager {node} writer", timeout)
        self._fenced = FencedWriter(self._writer, self.where, settle_timeout)
        self._reader = Reconnecting(dsn, f"pager {node} reader", timeout)
        self._listener = Reconnecting(dsn, f"pager {node} listener", timeout)
        self.snapshot_cache = ItemCache()  # unchanged items' JSON, from one snapshot to the next
        self._limiter = trio.CapacityLimiter(1)  # the writer thread: one batch at a time
        self._queue: list[_Pending] = []
        self._wake = trio.Event()
        self._closing = False
        self._running = False
        self._closed = trio.Event()
        self._apply = (
            trio.Lock()
        )  # writing a batch and applying followed records exclude each other
        self._last_seq = 0
        self._writable = True
        self._epoch: int | None = None
        self._in_doubt: list[Record] | None = None
        self._role_changed = trio.Event()
        self.lost = trio.Event()  # set when a write is refused by the fence
        self.head_seq = 0  # the log's end as last seen in the database
        self.caught_up_at: float | None = None  # trio time this follower last reached the end
        self.batches = 0

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, dsn: str, **kwargs: Any) -> PostgresLog:
        self = cls(dsn, **kwargs)
        with self._reader.lock:
            conn = self._reader.get()
            migrate(conn, by=self.node)
            self._last_seq = self.head_seq = self._max_seq(conn)
        return self

    @staticmethod
    def _max_seq(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM pager_events").fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ roles

    @property
    def epoch(self) -> int | None:
        """The lease epoch this process writes with; None while it follows."""
        return self._epoch

    async def activate(self, epoch: int) -> None:
        """Become the writer with `epoch` (just taken with the lease): first apply every
        record the previous holder wrote, then take appends."""
        async with self._apply:
            self._epoch = None
            await self._catch_up_locked()
            self._epoch = epoch
            self._in_doubt = None
            self.lost = trio.Event()
        self._role_changed.set()
        log.info("event log: writing as epoch %d from record %d", epoch, self._last_seq + 1)

    def deactivate(self) -> None:
        """Stop writing (the lease is gone or given back); follow again."""
        if self._epoch is not None:
            log.info("event log: epoch %d no longer written here; following", self._epoch)
        self._epoch = None
        self._role_changed.set()

    # ------------------------------------------------------------------ reading

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def backlog(self) -> int:
        return len(self._queue)

    @property
    def writable(self) -> bool:
        return self._writable

    def _fetch(self, start: int, stop: int, limit: int = PAGE) -> list[Record]:
        """Blocking: records start..stop (at most `limit`), in order."""
        with self._reader.lock:
            for attempt in (1, 2):
                try:
                    rows = (
                        self._reader.get()
                        .execute(
                            "SELECT seq, ts, type, subject, data, v FROM pager_events "
                            "WHERE seq >= %s AND seq <= %s ORDER BY seq LIMIT %s",
                            (start, stop, limit),
                        )
                        .fetchall()
                    )
                    break
                except psycopg.OperationalError:
                    self._reader.drop()
                    if attempt == 2:
                        raise
        return [
            new_record(seq, ts, type_, subject, data, v)
            for seq, ts, type_, subject, data, v in rows
        ]

    def read_from(self, seq: int) -> Iterator[Record]:
        """Every record from `seq` up to the last one this process has applied (so what it
        reads agrees with its state), a page at a time."""
        cursor = max(seq, 1)
        while cursor <= self._last_seq:
            page = self._fetch(cursor, self._last_seq)
            if not page:
                return
            yield from page
            cursor = page[-1].seq + 1

    def read_since(self, since: datetime) -> Iterator[Record]:
        """Every applied record journaled at or after `since` (the recent past: it starts
        from the end of the log and looks back for the first record older than `since`)."""
        with self._reader.lock:
            row = (
                self._reader.get()
                .execute(
                    "SELECT coalesce(max(seq), 0) FROM (SELECT seq FROM pager_events "
                    "WHERE seq <= %s AND ts < %s ORDER BY seq DESC LIMIT 1) AS older",
                    (self._last_seq, since),
                )
                .fetchone()
            )
        start = (int(row[0]) if row else 0) + 1
        return (r for r in self.read_from(start) if r.ts >= since)

    async def catch_up(self) -> int:
        """Apply every record written since the last one applied (a follower's work);
        returns how many. Nothing to do while this process is the writer."""
        async with self._apply:
            return await self._catch_up_locked()

    async def _catch_up_locked(self) -> int:
        if self._epoch is not None:
            return 0
        n = 0
        while True:
            page = await trio.to_thread.run_sync(self._fetch, self._last_seq + 1, 2**62)
            if not page:
                break
            if page[0].seq != self._last_seq + 1:
                raise LogUnavailable(
                    f"the log in {self.where} has a gap after record {self._last_seq}"
                )
            self._last_seq = page[-1].seq
            n += len(page)
            self._committed(page)
        self.head_seq = max(self.head_seq, self._last_seq)
        self.caught_up_at = trio.current_time()
        return n

    def _wait_notify(self, timeout: float) -> None:
        """Blocking: return on a NOTIFY of new records, or after `timeout` seconds (waiting in
        slices, so that closing never waits long for this thread to let the connection go)."""
        with self._listener.lock:
            if self._closing:
                return
            try:
                conn = self._listener.get()
                if not getattr(conn, "_pager_listening", False):
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    conn._pager_listening = True  # type: ignore[attr-defined]
                    # what was committed before the LISTEN sent no notice here: catch up
                    # now, not a whole poll later
                    return
                waited = 0.0
                while waited < timeout and not self._closing:
                    step = min(NOTIFY_SLICE, timeout - waited)
                    if any(True for _ in conn.notifies(timeout=step, stop_after=1)):
                        break
                    waited += step
                if self._closing:
                    self._listener.shut()
            except psycopg.Error as e:
                log.warning("listening for new records in %s failed: %s", self.where, first_line(e))
                self._listener.drop()
                threading.Event().wait(min(timeout, 1.0))

    def _stop_listening(self) -> None:
        """Blocking: close the LISTEN connection while this process writes. A session that
        listens but is never read keeps the server's notification queue from advancing,
        and a full queue fails every commit that notifies."""
        with self._listener.lock:
            self._listener.drop()

    async def _follow(self) -> None:
        while not self._closing:
            if self._epoch is not None:
                self._role_changed = trio.Event()
                await trio.to_thread.run_sync(self._stop_listening)
                await self._role_changed.wait()
                continue
            await trio.to_thread.run_sync(self._wait_notify, self.poll, abandon_on_cancel=True)
            try:
                await self.catch_up()
            except (psycopg.Error, LogUnavailable) as e:
                log.warning("following the log in %s: %s", self.where, first_line(e))
                await trio.sleep(self.poll)

    # ------------------------------------------------------------------ snapshots

    async def save_snapshot(self, seq: int, ts: datetime, state: Any) -> None:
        await trio.to_thread.run_sync(self._save_snapshot_sync, seq, ts, state)

    def _save_snapshot_sync(self, seq: int, ts: datetime, state: Any) -> None:
        # serialized here, in the worker thread, not on the event loop, in pieces (unchanged
        # items from the cache: the same bytes), and sent to the row a block at a time, with
        # the same pauses
        pacer = Pacer()
        body = snapshot_pieces(state, self.snapshot_cache, pacer)
        with self._reader.lock:
            try:
                store_snapshot(self._reader.get(), seq, ts, body, self._epoch, pacer.pause)
            except psycopg.Error as e:
                self._reader.drop()
                raise OSError(f"snapshot not stored in {self.where}: {e}") from e

    def load_snapshot(self) -> Snapshot | None:
        with self._reader.lock:
            return newest_snapshot(self._reader.get(), self._last_seq, self.where)

    # ------------------------------------------------------------------ writing

    async def append(self, drafts: Sequence[Draft]) -> list[Record]:
        if not drafts:
            return []
        if self._closing:
            raise LogUnavailable("event log is closing")
        if self._epoch is None:
            raise NotActive("this pager is a standby: another one holds the lease and writes")
        p = _Pending(drafts)
        self._queue.append(p)
        self._wake.set()
        await p.done.wait()
        if p.error is not None:
            raise p.error
        return p.records

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._follow)
                task_status.started()
                await self._write_loop()
                nursery.cancel_scope.cancel()
        finally:
            self._fail_queued(LogUnavailable("event log closed"))
            self._closed.set()

    def _fail_queued(self, error: LogUnavailable) -> None:
        for p in self._queue:
            p.error = error
            p.done.set()
        self._queue = []

    async def _write_loop(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            batch, self._queue = self._queue, []
            async with self._apply:
                await self._write(batch)

    def _encode(self, batch: list[_Pending]) -> tuple[list[_Pending], list[Record], list[str]]:
        seq = self._last_seq
        accepted: list[_Pending] = []
        records: list[Record] = []
        datas: list[str] = []
        for p in batch:
            try:
                encoded = [orjson.dumps(d.data, option=LINE_OPTIONS).decode() for d in p.drafts]
            except (TypeError, ValueError) as e:
                log.error("an append could not be encoded (%s); refused", e)
                p.error = LogUnavailable(f"event cannot be written: {e}")
                p.done.set()
                continue
            for d in p.drafts:
                seq += 1
                p.records.append(new_record(seq, d.ts, d.type, d.subject, d.data, d.v, d.event))
            accepted.append(p)
            records.extend(p.records)
            datas.extend(encoded)
        return accepted, records, datas

    async def _write(self, batch: list[_Pending]) -> None:
        epoch = self._epoch
        if epoch is None:
            self._fail(batch, NotActive("this pager is a standby: another one holds the lease"))
            return
        if self._in_doubt is not None and not await self._settle_doubt(epoch):
            self._fail(batch, LogUnavailable(f"the database {self.where} cannot be reached"))
            return
        batch, records, datas = self._encode(batch)
        if not batch:
            return
        try:
            outcome = await trio.to_thread.run_sync(
                self._fenced.insert_settled, records, datas, epoch, limiter=self._limiter
            )
        except psycopg.Error as e:
            self._writable = False
            reason = (e.diag.message_primary if e.diag else None) or str(e)
            log.error(
                "event log write to %s failed: %s; %d appends refused",
                self.where,
                reason,
                len(batch),
            )
            self._fail(
                batch, LogUnavailable(f"event log cannot be written ({e.sqlstate}: {reason})")
            )
            return
        if outcome is None:  # not settled in time: the next write settles it first
            self._writable = False
            self._in_doubt = records
            log.error("a commit to %s is in doubt; %d appends refused", self.where, len(batch))
            self._fail(batch, LogUnavailable(f"the database {self.where} cannot be reached"))
            return
        if outcome is False:
            self._fence(batch, epoch)
            return
        if not self._writable:
            log.warning("event log writable again")
        self._writable = True
        self.batches += 1
        self._last_seq = self.head_seq = records[-1].seq
        try:
            self._committed(records)
        finally:
            for p in batch:
                p.done.set()

    def _fail(self, batch: list[_Pending], error: LogUnavailable) -> None:
        for p in batch:
            p.records = []
            p.error = error
            p.done.set()

    def _fence(self, batch: list[_Pending], epoch: int) -> None:
        log.error(
            "an append of epoch %d was refused by %s: another pager holds the lease; this one "
            "stops writing",
            epoch,
            self.where,
        )
        self._epoch = None
        self.lost.set()
        self._role_changed.set()
        self._fail(batch, FencedOut("this pager lost its lease: another one took over"))

    async def _settle_doubt(self, epoch: int) -> bool:
        """Before writing after a commit in doubt: apply it if it committed. False while the
        database cannot be reached."""
        doubt = self._in_doubt
        assert doubt is not None
        try:
            present = await trio.to_thread.run_sync(
                self._fenced.present, doubt, epoch, limiter=self._limiter
            )
        except psycopg.Error:
            self._writer.drop()
            return False
        self._in_doubt = None
        if present is True:
            log.warning(
                "records %d..%d, refused as in doubt, did commit: applied now",
                doubt[0].seq,
                doubt[-1].seq,
            )
            self._last_seq = doubt[-1].seq
            self._committed(doubt)
        elif present is None:
            self._epoch = None
            self.lost.set()
            self._role_changed.set()
            return False
        return True

    async def close(self) -> None:
        """Finish every queued append, stop following, close the connections."""
        self._closing = True
        self._wake.set()
        self._role_changed.set()
        if self._running:
            await self._closed.wait()
        self.release()

    def release(self) -> None:
        for c in (self._writer, self._reader, self._listener):
            c.close()  # one still used by a thread left behind: it closes it when done
