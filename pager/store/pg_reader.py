"""Reading the PostgreSQL log from outside the service (`pager replay --config FILE`): the
records from a sequence number, checked as the JSON-lines reader checks its lines, and the
snapshots, all as of one moment of the database, taking no lease and writing nothing.

Unlike `PostgresLog.open`, it does not create or migrate the tables (that writes) and never
reports itself in `pager_nodes`. Its connection is read only (`default_transaction_read_only`)
and everything it reads is in one `REPEATABLE READ READ ONLY` transaction, so the records
and the snapshots are those of one instant, while pagers go on writing: a role that may only
`SELECT` the tables is enough. Records are read through a server-side cursor, `PAGE` rows at
a time, so a log of millions of rows is never held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, LiteralString

import orjson
import psycopg

from .base import LogDamaged, LogTooNew, Record, Snapshot, new_record
from .pg_schema import LATEST, connect, describe_dsn, first_line, schema_version

__all__ = ["PAGE", "PgReader", "RowDamaged", "RowTooNew", "StoredSnapshot"]

PAGE = 2000  # rows fetched from the server-side cursor at a time

_COLUMNS = "SELECT seq, ts, type, subject, data, v FROM pager_events"
_FROM_SEQ: LiteralString = _COLUMNS + " WHERE seq >= %s ORDER BY seq"
_OF_SUBJECT: LiteralString = _COLUMNS + " WHERE subject = %s ORDER BY subject, seq"


class RowDamaged(LogDamaged):
    """A row of `pager_events` that is not a record pager can read, or a sequence number
    missing before it. `file` is the table (and database), `line` the row's `seq`."""

    def __init__(self, where: str, seq: int, reason: str) -> None:
        Exception.__init__(self, f"{where}: record {seq}: {reason}")
        self.file, self.line, self.reason = where, seq, reason


class RowTooNew(LogTooNew):
    """A row of a schema version newer than this pager knows: a newer pager wrote it."""

    def __init__(self, where: str, seq: int, reason: str) -> None:
        Exception.__init__(
            self,
            f"{where}: record {seq}: {reason}: a newer pager wrote it. Nothing is damaged; "
            "read it with that version (or a newer one).",
        )
        self.file, self.line, self.reason = where, seq, reason


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A row of `pager_snapshots`, its body read only when `load` is called."""

    seq: int
    where: str
    reader: PgReader

    def load(self) -> Snapshot:
        """Raises ValueError when the body does not match its checksum or is not JSON."""
        return self.reader.load_snapshot(self.seq)


class PgReader:
    """`PgReader(dsn)` connects (read only) and starts the transaction everything is read
    in; `close()` ends both. Blocking (a command-line tool's)."""

    def __init__(self, dsn: str, *, application_name: str = "pager replay") -> None:
        self.where = describe_dsn(dsn)
        self.table = f"pager_events in {self.where}"
        try:
            conn = connect(dsn, application_name=application_name)
        except psycopg.Error as e:
            raise OSError(f"cannot connect to {self.where}: {first_line(e)}") from None
        self._conn = conn
        try:
            conn.execute("SET default_transaction_read_only = on")
            version = schema_version(conn)
            if version == 0:
                raise OSError(f"{self.where} has no pager tables (no pager ever ran on it)")
            if version > LATEST:
                raise OSError(
                    f"the database's pager schema is version {version}, this pager knows up "
                    f"to {LATEST}: read it with the newer pager"
                )
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.autocommit = False
            end = conn.execute("SELECT coalesce(max(seq), 0) FROM pager_events").fetchone()
        except psycopg.Error as e:
            conn.close()
            raise OSError(f"cannot read {self.where}: {first_line(e)}") from None
        except OSError:
            conn.close()
            raise
        assert end is not None
        self.last_seq = int(end[0])  # the log's end as of the transaction
        self._cursors = 0

    def close(self) -> None:
        self._conn.close()  # the transaction wrote nothing: closing rolls it back

    def records(self, start: int, newest_schema: int | None = None) -> Iterator[Record]:
        """Records with seq >= `start`, in order, each checked: RowDamaged at the first
        missing number (nothing deletes records from the table, so record 1 is there too) or
        unreadable row, RowTooNew at a row of a newer schema than `newest_schema`."""
        expect = max(start, 1)
        for row in self._rows(_FROM_SEQ, expect):
            if row[0] != expect:
                raise RowDamaged(
                    self.table, expect, f"missing (sequence gap: the next is {row[0]})"
                )
            expect += 1
            yield self._checked(row, newest_schema)

    def records_of(self, subject: str, newest_schema: int | None = None) -> Iterator[Record]:
        """The records of one subject (an incident), in order, by the table's index on
        (subject, seq): rows checked as `records` checks them, but not for gaps (the numbers
        of one incident's records are not consecutive)."""
        for row in self._rows(_OF_SUBJECT, subject):
            yield self._checked(row, newest_schema)

    def _rows(self, query: LiteralString, param: object) -> Iterator[tuple[Any, ...]]:
        """The rows of `query`, PAGE at a time from a server-side cursor, in binary
        (timestamps and numbers arrive unparsed)."""
        self._cursors += 1
        with self._conn.cursor(name=f"pager_replay_{self._cursors}", binary=True) as cur:
            try:
                cur.execute(query, (param,))
                while rows := cur.fetchmany(PAGE):
                    yield from rows
            except psycopg.Error as e:
                raise OSError(f"reading {self.table}: {first_line(e)}") from None

    def _checked(self, row: tuple[Any, ...], newest_schema: int | None) -> Record:
        seq, ts, type_, subject, data, v = row
        if newest_schema is not None and v > newest_schema:
            raise RowTooNew(
                self.table, seq, f"schema version {v} is newer than this pager understands"
            )
        if type(data) is not dict:
            raise RowDamaged(self.table, seq, f"data is a JSON {_json_kind(data)}, not an object")
        return new_record(seq, ts, type_, subject, data, v)

    def snapshots(self) -> list[StoredSnapshot]:
        """The snapshots in the database (their sequence numbers; bodies are read by
        `load`), newest first."""
        try:
            rows = self._conn.execute(
                "SELECT seq FROM pager_snapshots ORDER BY seq DESC"
            ).fetchall()
        except psycopg.Error as e:
            raise OSError(f"reading pager_snapshots in {self.where}: {first_line(e)}") from None
        return [
            StoredSnapshot(int(seq), f"pager_snapshots in {self.where}: snapshot {seq}", self)
            for (seq,) in rows
        ]

    def load_snapshot(self, seq: int) -> Snapshot:
        try:
            row = self._conn.execute(
                "SELECT ts, body, sha256 FROM pager_snapshots WHERE seq = %s", (seq,)
            ).fetchone()
        except psycopg.Error as e:
            raise OSError(f"reading pager_snapshots in {self.where}: {first_line(e)}") from None
        if row is None:
            raise ValueError("not there")
        ts, raw, digest = row
        body = bytes(raw)
        if hashlib.sha256(body).hexdigest() != digest:
            raise ValueError("body does not match its checksum (damaged)")
        try:
            return Snapshot(seq, ts, orjson.loads(body))
        except orjson.JSONDecodeError as e:
            raise ValueError(f"body is not JSON ({e})") from None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
