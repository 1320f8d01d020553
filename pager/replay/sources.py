"""Where `pager replay` reads a log from: a JSON-lines data folder, or the PostgreSQL store's
tables. The tool needs the same two things of each, "the records from seq N" (checked, in
order, read as they are needed) and "the snapshots"; `RecordSource` is that interface, and
everything the tool prints is made from it, so `--verify`, `--at`, `--incident` and
`--export` read both stores with one code path.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pager.core.events import SCHEMA_VERSION
from pager.store.base import Record, Snapshot
from pager.store.segments import TornTail, iter_records, last_record, list_history
from pager.store.snapshots import list_snapshots, read_snapshot

__all__ = ["FolderSource", "PostgresSource", "RecordSource", "SnapshotRef"]


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """A stored snapshot: its record, how messages name it, and how to read it (`load`
    raises OSError or ValueError when it is not whole)."""

    seq: int
    where: str
    load: Callable[[], Snapshot]


class RecordSource(abc.ABC):
    """A log read from outside the service, without changing it."""

    @property
    @abc.abstractmethod
    def first(self) -> int:
        """The oldest record kept (past 1 when journal.retention deleted older ones)."""

    @property
    @abc.abstractmethod
    def last_seq(self) -> int:
        """The last record, as far as is known before reading (for the progress bar)."""

    @abc.abstractmethod
    def records(self, start: int) -> Iterator[Record]:
        """Records from `start` on, in order, checked: LogDamaged at the first that cannot be
        read or breaks the sequence (LogTooNew for a newer pager's), OSError when the store
        cannot be read at all."""

    #: Whether `records_of` finds a subject's records without reading the whole log.
    indexed_subjects: bool = False

    def records_of(self, subject: str) -> Iterator[Record]:
        """The records of one subject (an incident), in order: by default, every record
        read and the others skipped."""
        return (rec for rec in self.records(self.first) if rec.subject == subject)

    @abc.abstractmethod
    def snapshots(self) -> list[SnapshotRef]:
        """Every stored snapshot, newest first."""

    @abc.abstractmethod
    def describe(self) -> str:
        """What was read, for `--verify`'s summary ("N records in ...")."""

    def notes(self) -> list[str]:
        """What reading met that is no problem but worth saying (a torn last line)."""
        return []

    def close(self) -> None:
        """Let go of what reading holds (a database connection)."""
        return None


class FolderSource(RecordSource):
    """A JSON-lines data folder: `events/` and `archive/` segments, `snapshots/` files.
    Reading takes no lock and works while pager writes the folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.events = data_dir / "events"
        self.segments = list_history(data_dir)
        self.torn: TornTail | None = None

    @property
    def first(self) -> int:
        return self.segments[0].first_seq if self.segments else 1

    @property
    def last_seq(self) -> int:
        if not self.segments:
            return 0
        try:
            rec = last_record(self.segments[-1])
        except ValueError:
            return 0
        return rec.seq if rec else 0

    def records(self, start: int) -> Iterator[Record]:
        return iter_records(
            self.segments,
            start,
            str(self.data_dir),
            on_torn=self._torn,
            newest_schema=SCHEMA_VERSION,
        )

    def _torn(self, t: TornTail) -> None:
        self.torn = t

    def snapshots(self) -> list[SnapshotRef]:
        return [
            SnapshotRef(s.seq, str(s.path), partial(read_snapshot, s.path))
            for s in list_snapshots(self.data_dir / "snapshots")
        ]

    def describe(self) -> str:
        first = self.segments[0].path.name if self.segments else "-"
        return f"{len(self.segments)} segment(s) (first {first})"

    def notes(self) -> list[str]:
        t = self.torn
        if t is None:
            return []
        return [
            f"{t.file}:{t.line}: torn last line ({t.bytes_cut} bytes, a crash in mid-write, "
            "never acknowledged); pager cuts it at its next start"
        ]


class PostgresSource(RecordSource):
    """The PostgreSQL store: `pager_events` and `pager_snapshots`, read as of one instant in
    a read-only transaction (pager/store/pg_reader.py), while pagers run, taking no lease.
    The table keeps every record, so the log starts at record 1."""

    def __init__(self, dsn: str) -> None:
        from pager.store.pg_reader import PgReader  # psycopg only when a database is read

        self.reader = PgReader(dsn)
        self.where = self.reader.where

    @property
    def first(self) -> int:
        return 1

    @property
    def last_seq(self) -> int:
        return self.reader.last_seq

    def records(self, start: int) -> Iterator[Record]:
        return self.reader.records(start, newest_schema=SCHEMA_VERSION)

    indexed_subjects = True  # pager_events_subject: (subject, seq)

    def records_of(self, subject: str) -> Iterator[Record]:
        return self.reader.records_of(subject, newest_schema=SCHEMA_VERSION)

    def snapshots(self) -> list[SnapshotRef]:
        return [SnapshotRef(s.seq, s.where, s.load) for s in self.reader.snapshots()]

    def describe(self) -> str:
        return self.reader.table

    def close(self) -> None:
        self.reader.close()
