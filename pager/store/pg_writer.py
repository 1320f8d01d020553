"""The PostgreSQL log's statements, blocking (run in worker threads): the fenced insert of
one batch, settling a batch whose commit answer was lost, and storing and loading
snapshots.

The insert selects the lease row `FOR SHARE` where the epoch is still the writer's and
inserts the batch with it, in one statement, so one transaction: nothing is inserted once
another process has taken the lease, and the lease row cannot change (a takeover waits)
until this transaction has committed. When the connection breaks before the answer, the
batch is in doubt: `insert_settled` reconnects (the DSN may name a standby being promoted)
and looks whether the batch's rows are there, and inserts them again if they are not, for
up to `settle_timeout` seconds.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from pager.core.pacing import Pause, still

from .base import Record, Snapshot
from .pg_schema import Reconnecting, first_line
from .snapshots import KEEP

__all__ = ["FencedWriter", "newest_snapshot", "store_snapshot"]

log = logging.getLogger("pager.store")


class FencedWriter:
    def __init__(self, conn: Reconnecting, where: str, settle_timeout: float) -> None:
        self.conn = conn
        self.where = where
        self.settle_timeout = settle_timeout

    # parameters in binary (%b): the text format escapes every JSON string by regex, which
    # cost more than the commit
    # the fenced insert: nothing is inserted unless the lease row still holds our epoch, and
    # the row is locked (FOR SHARE) until this statement's transaction commits
    INSERT = """
        INSERT INTO pager_events (seq, v, ts, type, subject, data, epoch)
        SELECT r.seq, r.v, r.ts, r.type, r.subject, r.data, l.epoch
        FROM (SELECT epoch FROM pager_leader WHERE id = 1 AND epoch = %b FOR SHARE) AS l,
             unnest(%b::bigint[], %b::integer[], %b::timestamptz[], %b::text[], %b::text[],
                    %b::jsonb[]) AS r(seq, v, ts, type, subject, data)
    """

    def insert(self, records: list[Record], datas: list[str], epoch: int) -> bool:
        """Blocking: one fenced insert (one transaction). False when refused."""
        cur = self.conn.get().execute(
            self.INSERT,
            (
                epoch,
                [r.seq for r in records],
                [r.v for r in records],
                [r.ts for r in records],
                [r.type for r in records],
                [r.subject for r in records],
                datas,
            ),
        )
        return cur.rowcount == len(records)

    def present(self, records: list[Record], epoch: int) -> bool | None:
        """Blocking: True when the batch is in the log with our epoch, False when none of it
        is, None when another epoch wrote those numbers (we were fenced)."""
        first, last = records[0].seq, records[-1].seq
        rows = (
            self.conn.get()
            .execute(
                "SELECT epoch, count(*) FROM pager_events WHERE seq BETWEEN %s AND %s GROUP BY epoch",
                (first, last),
            )
            .fetchall()
        )
        if not rows:
            return False
        if len(rows) == 1 and rows[0][0] == epoch and rows[0][1] == len(records):
            return True
        return None

    def insert_settled(self, records: list[Record], datas: list[str], epoch: int) -> bool | None:
        """Blocking: insert, and when the answer is lost, reconnect until the batch's fate is
        known: True (committed), False (refused), None (not known by `settle_timeout`)."""
        deadline = time.monotonic() + self.settle_timeout  # no timer thread: one per batch
        tried = tried_again = False
        while True:
            try:
                if tried:
                    present = self.present(records, epoch)
                    if present is True:
                        return True
                    if present is None:
                        return False
                tried = True
                done = self.insert(records, datas, epoch)
                if tried_again:
                    log.warning("reconnected to %s; the batch is settled", self.where)
                return done
            except psycopg.errors.UniqueViolation:
                return False  # someone else wrote these numbers: fenced
            except psycopg.OperationalError as e:
                if not self.conn.broken():
                    raise  # the server refused the batch (disk full, ...): nothing written
                self.conn.drop()
                if time.monotonic() >= deadline:
                    return None
                if not tried_again:
                    log.warning(
                        "write to %s interrupted (%s); reconnecting",
                        self.where,
                        first_line(e),
                    )
                tried_again = True
                time.sleep(0.2)


# A snapshot's row goes in by COPY in PostgreSQL's binary format, its body sent a BLOCK at a
# time: an INSERT with the body as a parameter is one call that holds the interpreter's lock
# while the whole body (90 MB at 36,000 open incidents) is escaped and copied into the
# driver's buffer: the event loop waited 50-400 ms (scripts/bench_lib/snapshot_lag.py).
# The format: a signature, flags and header extension (none); per row the number of fields,
# then each field's length (-1: NULL) and its bytes in the type's binary form (bigint: 8
# bytes big-endian; timestamptz: microseconds since 2000-01-01 UTC; text: UTF-8; bytea: the
# bytes); at the end -1 as the number of fields.
SNAPSHOT_COPY = (
    "COPY pager_snapshots (seq, ts, sha256, epoch, body) FROM STDIN WITH (FORMAT BINARY)"
)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_END = struct.pack(">h", -1)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BLOCK = 1 << 17  # bytes handed to the driver in one call (psycopg's own largest piece)


def _row_head(seq: int, ts: datetime, digest: str, epoch: int | None, size: int) -> bytes:
    """The COPY stream up to the body's bytes: the signature, the row's fields but the
    body, and the body's length."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    d = ts - _PG_EPOCH
    micros = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    hexdigest = digest.encode("ascii")
    return b"".join(
        (
            _SIGNATURE,
            struct.pack(">h", 5),
            struct.pack(">iq", 8, seq),
            struct.pack(">iq", 8, micros),
            struct.pack(">i", len(hexdigest)) + hexdigest,
            struct.pack(">i", -1) if epoch is None else struct.pack(">iq", 8, epoch),
            struct.pack(">i", size),
        )
    )


def _blocks(pieces: Sequence[bytes]) -> Iterator[bytes | memoryview]:
    """The pieces' bytes, one after another, in blocks of about BLOCK: a long piece cut
    (views, no copy), short ones put together."""
    short: list[bytes] = []
    held = 0
    for piece in pieces:
        if len(piece) >= BLOCK:
            if short:
                yield b"".join(short)
                short, held = [], 0
            with memoryview(piece) as view:
                for j in range(0, len(piece), BLOCK):
                    yield view[j : j + BLOCK]
            continue
        short.append(piece)
        held += len(piece)
        if held >= BLOCK:
            yield b"".join(short)
            short, held = [], 0
    if short:
        yield b"".join(short)


def store_snapshot(
    conn: psycopg.Connection[Any],
    seq: int,
    ts: datetime,
    body: bytes | Sequence[bytes],
    epoch: int | None,
    pause: Pause = still,
) -> None:
    """Store a snapshot (its JSON, `body` or its pieces one after another, and its sha256)
    and keep only the newest KEEP, in one transaction: the row is there whole, or not at
    all (a failure or a crash in the middle leaves the snapshots as they were). The body
    goes to the server a block at a time with a `pause` between blocks (the worker's, so
    the event loop gets the interpreter's lock). A snapshot of `seq` that is there already
    (another pager's, or an earlier one of this one's) is kept: it holds the same state."""
    pieces = [body] if isinstance(body, bytes) else body
    digest = hashlib.sha256()
    size = 0
    for piece in pieces:
        digest.update(piece)  # (hashlib lets go of the interpreter's lock over 2 KB)
        size += len(piece)
    head = _row_head(seq, ts, digest.hexdigest(), epoch, size)
    try:
        with conn.transaction():
            there = conn.execute("SELECT 1 FROM pager_snapshots WHERE seq = %s", (seq,))
            if there.fetchone() is None:
                with conn.cursor() as cur, cur.copy(SNAPSHOT_COPY) as copy:
                    copy.write(head)
                    for block in _blocks(pieces):
                        pause()
                        copy.write(block)
                    copy.write(_END)
            conn.execute(
                "DELETE FROM pager_snapshots WHERE seq < (SELECT min(seq) FROM "
                "(SELECT seq FROM pager_snapshots ORDER BY seq DESC LIMIT %s) AS k)",
                (KEEP,),
            )
    except psycopg.errors.UniqueViolation:
        pass  # stored by another pager meanwhile (the same state): its row is kept


def newest_snapshot(conn: psycopg.Connection[Any], last_seq: int, where: str) -> Snapshot | None:
    """The newest whole snapshot as of `last_seq` or before; a damaged one is skipped.
    (The bodies are read one at a time: the next older only when one is damaged.)"""
    seqs = conn.execute(
        "SELECT seq FROM pager_snapshots WHERE seq <= %s ORDER BY seq DESC LIMIT %s",
        (last_seq, KEEP),
    ).fetchall()
    for (seq,) in seqs:
        row = conn.execute(
            "SELECT ts, body, sha256 FROM pager_snapshots WHERE seq = %s", (seq,)
        ).fetchone()
        if row is None:  # gone meanwhile (a newer snapshot pushed it out)
            continue
        ts, raw, digest = row
        body = bytes(raw)
        if hashlib.sha256(body).hexdigest() != digest:
            log.warning("skipping snapshot %d in %s: its body does not match", seq, where)
            continue
        return Snapshot(int(seq), ts, orjson.loads(body))
    return None
