"""The PostgreSQL store's tables, how pager connects to them, and how it creates and
migrates them (`pager db migrate`, and at every start-up).

The schema has a version table, `pager_schema`: one row per migration applied. `migrate`
runs every migration newer than the database's version in one transaction, under an
advisory lock, so two pagers starting at once do it once; a database migrated by a newer
pager than this one is refused rather than guessed at.

Tables (version 1):

- `pager_events`: the log. One row per record, keyed by the global sequence number, with
  the JSON line's fields (`v`, `ts`, `type`, `subject`) and `data` as jsonb, so operators can
  query it; `epoch` is the lease epoch of the pager that wrote it. A statement trigger
  NOTIFYs `pager_events` on every insert, which is how standbys learn of new records.
- `pager_snapshots`: snapshots of the whole state (JSON bytes and their sha256), the newest
  three kept; a new node with an empty disk starts from them.
- `pager_leader`: one row: the lease (epoch, holder, expiry by the database's clock).
- `pager_nodes`: every pager process that uses the database, as it last reported itself
  (what `pager status` prints).

Version 2:

- `pager_web_sessions` and `pager_web_devices`: the dashboard's sign-in sessions and known
  browsers (pager/store/pg_sessions.py), shared by every node so a failover or a load
  balancer signs nobody out. Keyed by the sha256 of the cookie value (never the value);
  every node writes them (they are not records of the log, and no lease fences them).
- `pager_web_signin_failures`: the sign-in throttle's failures within its window
  (pager/store/pg_signin_throttle.py), by the sha256 of the key (a person, an address, a
  known browser), so guesses spread over the nodes count once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import set_json_dumps, set_json_loads

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "NOTIFY_CHANNEL",
    "Reconnecting",
    "SchemaTooNew",
    "connect",
    "describe_dsn",
    "first_line",
    "migrate",
    "schema_version",
]

log = logging.getLogger("pager.store")

NOTIFY_CHANNEL = "pager_events"
_MIGRATE_LOCK = 0x70616765  # "page": the advisory lock held while migrating

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "events, snapshots, lease and nodes",
        [
            """CREATE TABLE pager_events (
                seq bigint PRIMARY KEY,
                v integer NOT NULL,
                ts timestamptz NOT NULL,
                type text NOT NULL,
                subject text NOT NULL,
                data jsonb NOT NULL,
                epoch bigint NOT NULL
            )""",
            "CREATE INDEX pager_events_subject ON pager_events (subject, seq)",
            f"""CREATE FUNCTION pager_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$""",
            """CREATE TRIGGER pager_events_notify AFTER INSERT ON pager_events
                FOR EACH STATEMENT EXECUTE FUNCTION pager_events_notify()""",
            """CREATE TABLE pager_snapshots (
                seq bigint PRIMARY KEY,
                ts timestamptz NOT NULL,
                body bytea NOT NULL,
                sha256 text NOT NULL,
                written_at timestamptz NOT NULL DEFAULT now(),
                epoch bigint
            )""",
            """CREATE TABLE pager_leader (
                id integer PRIMARY KEY CHECK (id = 1),
                epoch bigint NOT NULL,
                holder text,
                acquired_at timestamptz,
                renewed_at timestamptz,
                expires_at timestamptz NOT NULL
            )""",
            "INSERT INTO pager_leader (id, epoch, expires_at) VALUES (1, 0, 'epoch')",
            """CREATE TABLE pager_nodes (
                node text PRIMARY KEY,
                role text NOT NULL,
                epoch bigint,
                applied_seq bigint NOT NULL,
                url text,
                started_at timestamptz NOT NULL,
                seen_at timestamptz NOT NULL
            )""",
        ],
    ),
    (
        2,
        "dashboard sessions, known browsers and failed sign-ins",
        [
            """CREATE TABLE pager_web_sessions (
                digest text PRIMARY KEY,
                user_id text NOT NULL,
                expires_at timestamptz NOT NULL,
                csrf text NOT NULL,
                key text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                node text
            )""",
            "CREATE INDEX pager_web_sessions_expiry ON pager_web_sessions (expires_at)",
            """CREATE TABLE pager_web_devices (
                digest text PRIMARY KEY,
                n bigint GENERATED ALWAYS AS IDENTITY,
                user_id text NOT NULL,
                expires_at timestamptz NOT NULL,
                key text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                node text
            )""",
            "CREATE INDEX pager_web_devices_user ON pager_web_devices (user_id, n)",
            "CREATE INDEX pager_web_devices_expiry ON pager_web_devices (expires_at)",
            """CREATE TABLE pager_web_signin_failures (
                key text NOT NULL,
                at timestamptz NOT NULL
            )""",
            "CREATE INDEX pager_web_signin_failures_key ON pager_web_signin_failures (key, at)",
            "CREATE INDEX pager_web_signin_failures_at ON pager_web_signin_failures (at)",
        ],
    ),
]
LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(Exception):
    """The database was migrated by a newer pager."""


def describe_dsn(dsn: str) -> str:
    """Where a DSN points, without its password: `host:port/dbname` (each host)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(a connection string that does not parse)"
    hosts = str(params.get("host") or params.get("hostaddr") or "localhost").split(",")
    ports = str(params.get("port") or "5432").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    where = ",".join(f"{h}:{p}" for h, p in zip(hosts, ports, strict=False))
    return f"{where}/{params.get('dbname', '')}"


def first_line(e: BaseException) -> str:
    """The first line of a database error (libpq's are several lines long)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def connect(
    dsn: str, *, application_name: str = "pager", timeout: float = 5.0
) -> psycopg.Connection[Any]:
    """A connection in autocommit mode (each statement its own transaction unless a
    `transaction()` block says otherwise), in UTC, that reaches a primary even when the DSN
    lists its standbys too, and notices a dead peer within seconds (TCP keepalives and a
    user timeout) rather than the kernel's minutes."""
    params: dict[str, Any] = {
        "target_session_attrs": "read-write",
        "connect_timeout": max(1, round(timeout)),
        "application_name": application_name,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": int(timeout * 1000),
    }
    given = conninfo_to_dict(dsn)
    for k, v in params.items():
        given.setdefault(k, v)
    conn = psycopg.connect(make_conninfo("", **given), autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    set_json_loads(orjson.loads, conn)
    set_json_dumps(orjson.dumps, conn)
    return conn


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The database's schema version; 0 when pager never migrated it."""
    row = conn.execute("SELECT to_regclass('pager_schema') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT coalesce(max(version), 0) FROM pager_schema").fetchone()
    return int(got[0]) if got else 0


def migrate(conn: psycopg.Connection[Any], *, by: str = "pager") -> tuple[int, int]:
    """Bring the schema to LATEST; returns (version before, version after). Raises
    SchemaTooNew when the database is ahead of this pager."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS pager_schema (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                applied_by text
            )"""
        )
        before = schema_version(conn)
        if before > LATEST:
            raise SchemaTooNew(
                f"the database's pager schema is version {before}, this pager knows up to "
                f"{LATEST}: run the newer pager (or restore a backup); nothing was changed"
            )
        for version, description, statements in MIGRATIONS:
            if version <= before:
                continue
            for statement in statements:
                conn.execute(statement)  # our own literal SQL
            conn.execute(
                "INSERT INTO pager_schema (version, description, applied_by) VALUES (%s, %s, %s)",
                (version, description, by),
            )
            log.info("database schema migrated to version %d: %s", version, description)
    return before, max(before, LATEST)


class Reconnecting:
    """One connection, used by one thread at a time (hold `lock`), made again by `get`
    after `drop` (which callers do when it failed)."""

    def __init__(self, dsn: str, name: str, timeout: float) -> None:
        self.dsn, self.name, self.timeout = dsn, name, timeout
        self.lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._shut = False

    def get(self) -> psycopg.Connection[Any]:
        if self._shut:  # a thread that outlived the log's close must not connect again
            raise psycopg.OperationalError(f"{self.name}: closed")
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, application_name=self.name, timeout=self.timeout)
        return self._conn

    def broken(self) -> bool:
        """Whether the connection is lost (rather than a statement refused)."""
        return self._conn is None or self._conn.closed or self._conn.broken

    def shut(self, *, drop: bool = True) -> None:
        """Close for good: `get` raises from now on. `drop=False` leaves the connection to
        the thread that holds it (it shuts it again when done)."""
        self._shut = True
        if drop:
            self.drop()

    def close(self, wait: float = 5.0) -> None:
        """Close for good from outside the thread that uses it: at once when it is free
        within `wait` seconds, else left to the thread that holds it (`shut(drop=False)`)."""
        if self.lock.acquire(timeout=wait):
            try:
                self.shut()
            finally:
                self.lock.release()
        else:
            self.shut(drop=False)

    def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
