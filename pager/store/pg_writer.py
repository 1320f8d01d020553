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
import time
from datetime import datetime
from typing import Any

import orjson
import psycopg

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


def store_snapshot(
    conn: psycopg.Connection[Any], seq: int, ts: datetime, body: bytes, epoch: int | None
) -> None:
    """Store a snapshot (its JSON and sha256) and keep only the newest KEEP."""
    digest = hashlib.sha256(body).hexdigest()
    with conn.transaction():
        conn.execute(
            "INSERT INTO pager_snapshots (seq, ts, body, sha256, epoch) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (seq) DO NOTHING",
            (seq, ts, body, digest, epoch),
        )
        conn.execute(
            "DELETE FROM pager_snapshots WHERE seq < (SELECT min(seq) FROM "
            "(SELECT seq FROM pager_snapshots ORDER BY seq DESC LIMIT %s) AS k)",
            (KEEP,),
        )


def newest_snapshot(conn: psycopg.Connection[Any], last_seq: int, where: str) -> Snapshot | None:
    """The newest whole snapshot as of `last_seq` or before; a damaged one is skipped."""
    rows = conn.execute(
        "SELECT seq, ts, body, sha256 FROM pager_snapshots WHERE seq <= %s "
        "ORDER BY seq DESC LIMIT %s",
        (last_seq, KEEP),
    ).fetchall()
    for seq, ts, raw, digest in rows:
        body = bytes(raw)
        if hashlib.sha256(body).hexdigest() != digest:
            log.warning("skipping snapshot %d in %s: its body does not match", seq, where)
            continue
        return Snapshot(int(seq), ts, orjson.loads(body))
    return None
