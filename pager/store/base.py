"""The event log's interface: what every implementation (in memory, JSON lines on disk, and
one day a replicated log) must do. One contract test suite (tests/store/test_contract.py)
runs against each.

A `Draft` is an event about to be journaled; `append` assigns it the next global sequence
number and returns once it is durable, as a `Record`. A commit hook, called synchronously in
sequence order right after each durable batch, is how the read model and the broadcaster see
every record exactly once and in order.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
import trio

from pager.core._fast import maker
from pager.errors import Gone, LogUnavailable

__all__ = [
    "CommitHook",
    "Draft",
    "EventLog",
    "HistoryDeleted",
    "LogDamaged",
    "LogTooNew",
    "Record",
    "RetentionPolicy",
    "RetentionReport",
    "Snapshot",
    "new_draft",
    "new_record",
]


LINE_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS  # how a record is written as JSON


@dataclass(frozen=True, slots=True)
class Draft:
    """`v` is the schema version of `data` (the event vocabulary's, pager.core.events): the
    store writes it on the record as it is and knows no schema of its own."""

    type: str
    subject: str
    ts: datetime
    data: dict[str, Any]
    v: int
    event: object = None  # the decoded event, handed on to the commit hook unchanged


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    ts: datetime
    type: str
    subject: str
    data: dict[str, Any]
    v: int
    event: object = field(default=None, compare=False, repr=False)
    # the record's line in the log, without its newline (when written or read here)
    line: bytes | None = field(default=None, compare=False, repr=False)

    def json_bytes(self) -> bytes:
        """The record as one JSON line (no newline): its line in the log when known."""
        if self.line is not None:
            return self.line
        return orjson.dumps(self.to_json(), option=LINE_OPTIONS)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "subject": self.subject,
            "data": self.data,
        }


new_record: Callable[..., Record] = maker(Record)
"""`Record(...)`, the same value, made without a frozen dataclass's `object.__setattr__` per
field: 0.4 µs instead of 1.7, a third of reading a log line (replay reads a million)."""

new_draft: Callable[..., Draft] = maker(Draft)
"""`Draft(...)`, the same value, made the same way: 0.5 µs instead of 1.5, for each record an
actor journals (three for every alert that opens an incident)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    ts: datetime
    state: Any


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """`journal.retention`: history older than `keep` may go, once a snapshot covers it and
    no incident held whole in the state began in it. `delete` removes it; otherwise it is
    compressed into `data_dir/archive/`, where readers still find it."""

    keep: timedelta
    now: datetime
    delete: bool = False
    keep_from_seq: int | None = None  # the oldest record the live state still needs


@dataclass(frozen=True, slots=True)
class RetentionReport:
    segments: tuple[str, ...] = ()  # the names of the segments archived or deleted
    bytes_before: int = 0  # their size in events/
    bytes_after: int = 0  # their size in archive/ (0 when deleted)
    first_seq: int = 1  # the oldest record left in events/


CommitHook = Callable[[Sequence[Record]], None]
#: called by `EventLog.append_soon` once the append is durable (records, None) or failed
#: ([], the LogUnavailable that says why)
AppendDone = Callable[[list[Record], LogUnavailable | None], None]
T = TypeVar("T")


class LogDamaged(Exception):
    """A line of the log that cannot be read, somewhere other than a torn last line."""

    def __init__(self, file: str, line: int, reason: str, data_dir: str | None = None) -> None:
        self.file, self.line, self.reason = file, line, reason
        repair = (
            f"pager replay --data-dir {data_dir} --repair" if data_dir else "pager replay --repair"
        )
        super().__init__(
            f"{file}:{line}: {reason}. The log is damaged before its end, so pager will not "
            f"guess. Inspect with `pager replay --data-dir {data_dir or 'DIR'} --verify`; "
            f"`{repair}` cuts the log at this line and keeps the cut-off part beside it."
        )


class LogTooNew(LogDamaged):
    """A record of a schema version newer than this pager knows: written by a newer pager.
    Readers refuse it as they refuse damage, but nothing is damaged and nothing is to be cut
    (`pager replay --repair` refuses it)."""

    def __init__(self, file: str, line: int, reason: str, data_dir: str | None = None) -> None:
        Exception.__init__(
            self,
            f"{file}:{line}: {reason}: a newer pager wrote it. Nothing is damaged; run that "
            "version (or a newer one) on this folder.",
        )
        self.file, self.line, self.reason = file, line, reason


class HistoryDeleted(Gone, ValueError):
    """Records asked for that are no longer in the log: `journal.retention` (in `delete`
    mode) removed the segments that held them. Not damage: the log after them is whole.
    A 410 at the edges; a ValueError to the actors, which already tell a history that
    cannot be read from one that can."""

    def __init__(self, wanted: int, first: int, what: str | None = None) -> None:
        self.wanted, self.first = wanted, first
        super().__init__(
            f"{what or f'record {wanted}'} is no longer in the log: it starts at record "
            f"{first} (journal.retention deleted what came before)"
        )


class EventLog(abc.ABC):
    """Append-only, totally ordered, durable."""

    def __init__(self) -> None:
        self._hooks: list[CommitHook] = []

    def add_commit_hook(self, hook: CommitHook) -> None:
        self._hooks.append(hook)

    def remove_commit_hook(self, hook: CommitHook) -> None:
        """Forget `hook` (its owner has stopped); nothing when it is not there."""
        if hook in self._hooks:
            self._hooks.remove(hook)

    def clear_commit_hooks(self) -> None:
        """Forget every hook (the system that added them has stopped)."""
        self._hooks.clear()

    def _committed(self, records: Sequence[Record]) -> None:
        for hook in self._hooks:
            hook(records)

    @property
    @abc.abstractmethod
    def last_seq(self) -> int:
        """The sequence number of the newest durable record (0 when empty)."""

    #: Whether reading (`read_from`) does blocking I/O, so that callers in the event loop
    #: should read in a worker thread. The in-memory log does not.
    reads_block: bool = True

    async def read_in_thread(self, fn: Callable[[], T], /) -> T:
        """Run `fn` (which reads this log) off the event loop when reading blocks."""
        if not self.reads_block:
            await trio.lowlevel.checkpoint()
            return fn()
        return await trio.to_thread.run_sync(fn)

    @property
    def writable(self) -> bool:
        """False after a failed write, until a write succeeds again."""
        return True

    @property
    def backlog(self) -> int:
        """Appends queued for the writer and not yet being written (each one appender's
        batch). It stays near zero while the store keeps up; it grows while a write stalls
        (a slow disk, a database that does not answer), and pager stops opening incidents
        past a bound (actors/router.py, MAX_LOG_BACKLOG) rather than queue without end."""
        return 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer task, for implementations that have one. Returns after `close`."""
        task_status.started()

    @abc.abstractmethod
    async def append(self, drafts: Sequence[Draft]) -> list[Record]:
        """Journal `drafts`, in order, with consecutive sequence numbers; return once they
        are durable. Raises LogUnavailable when they could not be written; then none of
        them is in the log."""

    #: Whether `append_soon` is there (a log with a writer task of its own).
    appends_soon: bool = False

    def append_soon(self, drafts: Sequence[Draft], done: AppendDone) -> None:
        """`append` without a task to wait in it: `drafts` are queued, and `done(records,
        None)` is called once they are durable and committed (the commit hooks have seen
        them), or `done([], error)` when they could not be written (then none of them is in
        the log). `done` runs in the log's writer task and must not block. Raises
        LogUnavailable at once when the log takes no more appends, and ValueError for no
        drafts (an empty batch would be written as an empty line, which no reader takes)."""
        raise NotImplementedError

    @abc.abstractmethod
    def read_from(self, seq: int) -> Iterator[Record]:
        """Every durable record with a sequence number >= `seq`, in order."""

    @abc.abstractmethod
    async def save_snapshot(self, seq: int, ts: datetime, state: Any) -> None:
        """Store the whole state as of record `seq`, atomically. `state` is the JSON-able
        state, or a function that builds it (`SystemState.capture().to_snapshot`, say):
        the store calls it in the worker thread that writes the snapshot, with a `pause()`
        to call between pieces of its work (pager/core/pacing.py), so the event loop runs
        meanwhile."""

    @abc.abstractmethod
    def load_snapshot(self) -> Snapshot | None:
        """The newest valid snapshot, or None."""

    @property
    def first_seq(self) -> int:
        """The oldest record `read_from` can give (1 unless retention deleted older ones)."""
        return 1

    async def apply_retention(self, policy: RetentionPolicy) -> RetentionReport | None:
        """Archive or delete the history `policy` lets go (pager/store/retention.py). Logs
        that keep no files (in memory) keep everything: None."""
        await trio.lowlevel.checkpoint()
        return None

    async def close(self) -> None:
        """Finish pending appends and release the log."""
        await trio.lowlevel.checkpoint()

    def release(self) -> None:
        """Let go of what `open` took (a folder lock, connections) without running: for a
        log whose writer never started. Nothing to let go of by default."""
        return None
