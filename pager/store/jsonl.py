"""The event log on disk: JSON lines in size-limited segments, with group commit.

One writer task owns the open segment. Appenders queue their drafts and wait; the writer
takes everything queued, assigns sequence numbers, writes it with one `write` and makes it
durable with one `fdatasync` in a worker thread (the event loop never blocks on the disk),
then wakes every appender of the batch. So a hundred concurrent appends cost one fsync, not a
hundred, and each appender still returns only once its own records are on disk.

When a write fails (ENOSPC, EIO) the segment is cut back to where the batch began, the
batch's appenders get LogUnavailable (the web layer answers 503), and the next batch tries
again: the service stays up and recovers by itself when the disk does.

Past ~400 lines on purpose: the writer's queue, its batch write, the cut-back after a failed
write and the segment roll share the open segment's descriptor, size and sequence number,
and are only correct together; reading, segments and snapshots are already apart
(segments.py, snapshots.py).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import trio

from pager.errors import LogUnavailable

if TYPE_CHECKING:
    from outcome import Outcome

from . import retention
from .base import (
    LINE_OPTIONS,
    AppendDone,
    Draft,
    EventLog,
    Record,
    RetentionPolicy,
    RetentionReport,
    Snapshot,
    new_record,
)
from .lock import DirLock
from .segments import (
    Segment,
    TornTail,
    cut_torn_tail,
    iter_records,
    last_record,
    list_history,
    list_segments,
    segment_name,
)
from .snapshots import ItemCache, fsync_dir, list_snapshots, read_snapshot, write_snapshot

__all__ = ["JsonlLog"]

log = logging.getLogger("pager.store")

DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024


class _Pending:
    """One append in the queue; its appender parks until the writer calls `finish` (a
    trio.Event and its parking lot per append cost more, for one waiter), or it has left a
    callback (`append_soon`)."""

    __slots__ = ("done", "drafts", "error", "finished", "records", "waiter")

    def __init__(self, drafts: Sequence[Draft], done: AppendDone | None = None) -> None:
        self.drafts = drafts
        self.records: list[Record] = []
        self.error: LogUnavailable | None = None
        self.finished = False
        self.waiter: trio.lowlevel.Task | None = None
        self.done = done

    def finish(self) -> None:
        self.finished = True
        task, self.waiter = self.waiter, None
        if task is not None:
            trio.lowlevel.reschedule(task)
        done = self.done
        if done is not None:
            self.done = None
            try:
                done(self.records, self.error)
            except Exception:  # a bug of the caller's must not stop the writer
                log.exception("the callback of an append failed")

    async def wait(self) -> None:
        """Until `finish`. A cancelled appender stops waiting; its records are written all
        the same (as with any cancelled append)."""
        if self.finished:
            await trio.lowlevel.checkpoint()
            return
        self.waiter = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self.waiter = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)


async def _in_worker_thread(fn: Callable[[], None]) -> None:
    """`fn()` in one of trio's cached worker threads, awaited without being cancellable, as
    `trio.to_thread.run_sync` does by default; without its capacity limiter, context copy,
    thread naming and message loop, which every batch of the log paid for nothing."""
    task = trio.lowlevel.current_task()
    token = trio.lowlevel.current_trio_token()

    def deliver(result: Outcome[None]) -> None:
        token.run_sync_soon(trio.lowlevel.reschedule, task, result)

    trio.lowlevel.start_thread_soon(fn, deliver)
    await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)


class JsonlLog(EventLog):
    """Open with `JsonlLog.open(data_dir)`: takes the folder's lock, cuts a torn last line
    (reported in `.torn`), and finds where the log ends."""

    def __init__(
        self,
        data_dir: Path,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        fsync: bool = True,
        newest_schema: int | None = None,
    ) -> None:
        """`newest_schema`: reading refuses, as damage, a record whose schema version is
        newer (None: any version is read; the store knows no schema itself)."""
        super().__init__()
        self.newest_schema = newest_schema
        self.data_dir = data_dir
        self.events_dir = data_dir / "events"
        self.snap_dir = data_dir / "snapshots"
        self.segment_size = segment_size
        self.fsync = fsync
        self.torn: TornTail | None = None
        self.skipped_snapshots: list[str] = []
        self.snapshot_cache = ItemCache()  # unchanged items' JSON, from one snapshot to the next
        self._lock = DirLock(data_dir)
        self._queue: list[_Pending] = []
        self._wake = trio.Event()
        self._closing = False
        self._running = False
        self._closed = trio.Event()
        self._fd = -1
        self._size = 0
        self._last_seq = 0
        self._writable = True
        # test hook: replaces os.write in the writer thread, to inject ENOSPC/EIO
        self.write_fn: Callable[[int, memoryview], int] = os.write

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], **kwargs: Any) -> JsonlLog:
        d = Path(data_dir)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        self = cls(d, **kwargs)
        self._lock.acquire()
        try:
            self._prepare()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _prepare(self) -> None:
        self.events_dir.mkdir(mode=0o700, exist_ok=True)
        self.snap_dir.mkdir(mode=0o700, exist_ok=True)
        segs = list_segments(self.events_dir)
        if segs:
            self.torn = cut_torn_tail(segs[-1].path)
            if self.torn:
                log.warning(
                    "cut a torn last line from %s (line %d, %d bytes): a crash in mid-write; "
                    "it was never acknowledged",
                    self.torn.file,
                    self.torn.line,
                    self.torn.bytes_cut,
                )
            self._last_seq = self._find_last_seq(segs)
            current = segs[-1]
        else:
            current = Segment(1, self.events_dir / segment_name(1))
        self._open_segment(current.path)

    def _find_last_seq(self, segs: list[Segment]) -> int:
        for seg in reversed(segs):
            try:
                rec = last_record(seg)
            except ValueError:
                # damage at the end of a closed segment: reading will report it with its line
                return seg.first_seq - 1
            if rec is not None:
                return rec.seq
            if seg is segs[-1] and len(segs) > 1:
                continue
            return seg.first_seq - 1
        return 0

    def _open_segment(self, path: Path) -> None:
        existed = path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        if not existed:
            fsync_dir(self.events_dir)

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

    def read_from(self, seq: int) -> Iterator[Record]:
        """From events/ and, for records that journal.retention archived, archive/."""
        return iter_records(
            list_history(self.data_dir),
            max(seq, 1),
            str(self.data_dir),
            newest_schema=self.newest_schema,
        )

    @property
    def first_seq(self) -> int:
        history = list_history(self.data_dir)
        return history[0].first_seq if history else 1

    async def apply_retention(self, policy: RetentionPolicy) -> RetentionReport:
        return await trio.to_thread.run_sync(retention.apply, self.data_dir, policy)

    def load_snapshot(self) -> Snapshot | None:
        for snap in list_snapshots(self.snap_dir):
            if snap.seq > self._last_seq:
                self.skipped_snapshots.append(
                    f"{snap.path}: newer than the log's end ({self._last_seq})"
                )
                continue
            try:
                return read_snapshot(snap.path)
            except (OSError, ValueError) as e:
                self.skipped_snapshots.append(f"{snap.path}: {e}")
                log.warning("skipping snapshot %s: %s", snap.path, e)
        return None

    async def save_snapshot(self, seq: int, ts: datetime, state: Any) -> None:
        await trio.to_thread.run_sync(
            write_snapshot, self.snap_dir, seq, ts, state, self.snapshot_cache
        )

    # ------------------------------------------------------------------ writing

    appends_soon = True

    def append_soon(self, drafts: Sequence[Draft], done: AppendDone) -> None:
        if not drafts:
            raise ValueError("append_soon: no drafts to append")
        if self._closing:
            raise LogUnavailable("event log is closing")
        self._queue.append(_Pending(drafts, done))
        self._wake.set()

    async def append(self, drafts: Sequence[Draft]) -> list[Record]:
        if not drafts:
            return []
        if self._closing:
            raise LogUnavailable("event log is closing")
        p = _Pending(drafts)
        self._queue.append(p)
        self._wake.set()
        await p.wait()
        if p.error is not None:
            raise p.error
        return p.records

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._running = True
        task_status.started()
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    await self._wake.wait()
                    self._wake = trio.Event()
                    continue
                batch, self._queue = self._queue, []
                await self._write(batch)
        finally:
            # the writer is gone (closed, or cancelled without `close`): later appends are
            # refused at once, not queued where no writer will take them
            self._closing = True
            for p in self._queue:
                p.error = LogUnavailable("event log closed")
                p.finish()
            self._queue = []
            self._closed.set()

    def _encode(self, p: _Pending, seq: int) -> list[bytes]:
        lines = []
        for d in p.drafts:
            seq += 1
            line = orjson.dumps(
                {
                    "v": d.v,
                    "seq": seq,
                    "ts": d.ts,
                    "type": d.type,
                    "subject": d.subject,
                    "data": d.data,
                },
                option=LINE_OPTIONS,
            )
            lines.append(line)
            p.records.append(new_record(seq, d.ts, d.type, d.subject, d.data, d.v, d.event, line))
        return lines

    async def _write(self, batch: list[_Pending]) -> None:
        seq = self._last_seq
        chunks: list[bytes] = []
        accepted: list[_Pending] = []
        for p in batch:
            try:
                lines = self._encode(p, seq)
            except (TypeError, ValueError) as e:  # e.g. data nested too deep for orjson
                log.error("an append could not be encoded (%s); refused", e)
                p.records = []
                p.error = LogUnavailable(f"event cannot be written: {e}")
                p.finish()
                continue
            accepted.append(p)
            chunks.extend(lines)
            seq += len(lines)
        batch = accepted
        if not batch:
            return
        data = b"\n".join(chunks) + b"\n"
        try:
            await _in_worker_thread(partial(self._write_sync, data, seq + 1))
        except OSError as e:
            self._writable = False
            name = errno.errorcode.get(e.errno or 0, "error")
            log.error("event log write failed (%s): %s; %d appends refused", name, e, len(batch))
            err = LogUnavailable(f"event log cannot be written ({name}: {e.strerror or e})")
            for p in batch:
                p.records = []
                p.error = err
                p.finish()
            return
        if not self._writable:
            log.warning("event log writable again")
        self._writable = True
        self._last_seq = seq
        records = [r for p in batch for r in p.records]
        try:
            self._committed(records)
        finally:
            for p in batch:
                p.finish()

    def _write_sync(self, data: bytes, next_seq: int) -> None:
        """Runs in a worker thread: write, make durable, maybe start a new segment. On
        failure the segment is cut back to where this batch began; a segment that is not
        the length the log knows (a cut-back that failed) is cut first, or nothing is
        written."""
        start = self._size
        if os.fstat(self._fd).st_size != start:
            os.ftruncate(self._fd, start)  # raises: the batch fails, nothing is appended
        try:
            view = memoryview(data)
            while view:
                n = self.write_fn(self._fd, view)
                view = view[n:]
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                log.exception("could not cut the failed write back; the next write will")
            raise
        self._size = start + len(data)
        if self._size >= self.segment_size:
            self._roll(next_seq)

    def _roll(self, next_seq: int) -> None:
        """Start the next segment. The batch is already durable in the current one, so a
        failure here fails nothing: the log goes on in the current segment and tries to
        roll again after the next batch."""
        path = self.events_dir / segment_name(next_seq)
        try:
            if path.exists() and path.stat().st_size == 0:  # left by a roll that failed
                path.unlink()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            log.error("cannot start segment %s (%s); writing on in the current one", path.name, e)
            return
        try:
            fsync_dir(self.events_dir)
        except OSError as e:
            os.close(fd)
            path.unlink(missing_ok=True)
            log.error("cannot make segment %s durable (%s); not rolling yet", path.name, e)
            return
        old, self._fd, self._size = self._fd, fd, 0
        os.close(old)

    async def close(self) -> None:
        """Finish every queued append, then release the segment and the folder lock. The
        writer task (`run`) must be running, or have run."""
        self._closing = True
        self._wake.set()
        if self._running:
            await self._closed.wait()
        self.release()

    def release(self) -> None:
        if self._fd >= 0:
            if self.fsync:
                try:
                    os.fsync(self._fd)
                except OSError:
                    log.exception("final fsync failed")
            os.close(self._fd)
            self._fd = -1
        self._lock.release()
