"""The lease in PostgreSQL that makes one pager process the active one, and the table of
nodes that `pager status` prints.

The lease is the one row of `pager_leader`: an epoch, who holds it, and when it expires by
the database's clock (so the nodes' clocks never have to agree). Taking it bumps the epoch,
and only when it has expired (or was given back); renewing it moves the expiry and succeeds
only while the epoch is still the holder's. The epoch is also the fence: the log's writer
inserts only while the row still holds its epoch (pager/store/postgres.py), so taking the
lease is what shuts an old holder out, whatever it believes.

Every call blocks (psycopg's sync API): the caller runs it in a worker thread. Each `Lease`
has a connection of its own, so a renewal never waits behind a batch of appends.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from .pg_schema import Reconnecting, schema_version

__all__ = ["Cluster", "LeaderRow", "Lease", "NodeRow", "node_name"]

log = logging.getLogger("pager.lease")


def node_name(configured: str | None) -> str:
    """This process's name among the nodes on one database: `store.node_name` when it is
    configured, else the host name and process id."""
    return configured or f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class LeaderRow:
    epoch: int
    holder: str | None
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime
    now: datetime  # the database's clock when read

    @property
    def expired(self) -> bool:
        return self.expires_at <= self.now

    @property
    def age(self) -> float | None:
        """Seconds since the lease was last taken or renewed."""
        return None if self.renewed_at is None else (self.now - self.renewed_at).total_seconds()


@dataclass(frozen=True, slots=True)
class NodeRow:
    node: str
    role: str
    epoch: int | None
    applied_seq: int
    url: str | None
    started_at: datetime
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Cluster:
    """The cluster as the database sees it (`pager status`)."""

    leader: LeaderRow
    nodes: list[NodeRow]
    last_seq: int
    schema: int
    snapshots: list[tuple[int, datetime]]
    replicas: list[dict[str, Any]]  # pg_stat_replication of the primary


_LEADER = "SELECT epoch, holder, acquired_at, renewed_at, expires_at, now() FROM pager_leader WHERE id = 1"


class Lease:
    def __init__(self, dsn: str, node: str, ttl: timedelta, *, timeout: float = 5.0) -> None:
        self.node = node
        self.ttl = ttl
        self._conn = Reconnecting(dsn, f"pager {node} lease", timeout)

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._conn.lock:
            try:
                cur = self._conn.get().execute(sql, params)
                return cur.fetchall() if cur.description else []
            except psycopg.Error:
                self._conn.drop()
                raise

    def read(self) -> LeaderRow:
        return LeaderRow(*self._execute(_LEADER)[0])

    def observe(self) -> tuple[LeaderRow, int]:
        """The lease row and the log's last sequence number, in one round trip."""
        row = self._execute(
            "SELECT epoch, holder, acquired_at, renewed_at, expires_at, now(), "
            "(SELECT coalesce(max(seq), 0) FROM pager_events) FROM pager_leader WHERE id = 1"
        )[0]
        return LeaderRow(*row[:6]), int(row[6])

    def acquire(self) -> int | None:
        """Take the lease if it has expired; the new epoch, or None."""
        rows = self._execute(
            """UPDATE pager_leader SET epoch = epoch + 1, holder = %s, acquired_at = now(),
                   renewed_at = now(), expires_at = now() + %s
               WHERE id = 1 AND expires_at <= now() RETURNING epoch""",
            (self.node, self.ttl),
        )
        return int(rows[0][0]) if rows else None

    def renew(self, epoch: int) -> bool:
        """Move the expiry on; False when the lease is no longer ours."""
        rows = self._execute(
            """UPDATE pager_leader SET renewed_at = now(), expires_at = now() + %s
               WHERE id = 1 AND epoch = %s RETURNING epoch""",
            (self.ttl, epoch),
        )
        return bool(rows)

    def release(self, epoch: int) -> None:
        """Give the lease back (a clean shutdown), so a standby takes over at once."""
        self._execute(
            "UPDATE pager_leader SET expires_at = now() WHERE id = 1 AND epoch = %s", (epoch,)
        )

    def report(
        self, role: str, epoch: int | None, applied_seq: int, url: str | None, started_at: datetime
    ) -> None:
        """Say how this node is, for `pager status`."""
        self._execute(
            """INSERT INTO pager_nodes (node, role, epoch, applied_seq, url, started_at, seen_at)
               VALUES (%s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (node) DO UPDATE SET role = excluded.role, epoch = excluded.epoch,
                   applied_seq = excluded.applied_seq, url = excluded.url,
                   started_at = excluded.started_at, seen_at = now()""",
            (self.node, role, epoch, applied_seq, url, started_at),
        )

    def forget_nodes(self, older_than: timedelta) -> None:
        """Drop the rows of nodes not seen for `older_than` (gone for good)."""
        self._execute("DELETE FROM pager_nodes WHERE seen_at < now() - %s", (older_than,))

    def cluster(self) -> Cluster:
        leader = self.read()
        nodes = [
            NodeRow(*r)
            for r in self._execute(
                "SELECT node, role, epoch, applied_seq, url, started_at, seen_at FROM pager_nodes "
                "ORDER BY node"
            )
        ]
        last = self._execute("SELECT coalesce(max(seq), 0) FROM pager_events")[0][0]
        snaps = [
            (int(s), ts)
            for s, ts in self._execute(
                "SELECT seq, written_at FROM pager_snapshots ORDER BY seq DESC"
            )
        ]
        replicas = []
        try:
            cols = ("application_name", "client_addr", "state", "sync_state", "replay_lag")
            for row in self._execute(
                "SELECT application_name, client_addr::text, state, sync_state, "
                "extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication ORDER BY 1"
            ):
                replicas.append(dict(zip(cols, row, strict=True)))
        except psycopg.Error as e:  # a role without the right to see it
            log.debug("pg_stat_replication not readable: %s", e)
        with self._conn.lock:
            schema = schema_version(self._conn.get())
        return Cluster(leader, nodes, int(last), schema, snaps, replicas)

    def close(self) -> None:
        with self._conn.lock:
            self._conn.drop()
