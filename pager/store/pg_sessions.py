"""The dashboard's sessions and known browsers in PostgreSQL, shared by every pager on the
database: a session made on one node is known to the others (behind a load balancer, and
after a failover), and a sign-out on one ends it on all.

The same values and rules as the file of a single pager (pager/web/sessions.py): only the
sha256 of each cookie value is stored, with the user, the expiry, the session's CSRF token
and the fingerprint of the user's password hash at sign-in; a known browser likewise, the
newest `DEVICES_PER_USER` of each person kept. Expired rows are never answered and are
deleted on every sign-in. Any node writes them, the active one or a standby: they are not
records of the event log, and the lease does not fence them.

Reading: the web layer `load`s what a request's cookies name before it handles the request
(one query, in a worker thread: psycopg's sync API, as the log's), and `get`/`device` answer
from what that query found. So a sign-out or a new password on another node counts from the
next request on. When the database does not answer within `wait` seconds, the node answers
from what it last found (a session it has seen, unless signed out here), with a warning: a
database outage does not sign everyone out of a dashboard that still shows the last state.
A sign-in needs the database (503 while it cannot be reached); a sign-out here that the
database did not take is refused here at once, and sent again with the next query.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
import trio

from pager.core.sessions import DEVICES_PER_USER, Device, Session, digest
from pager.errors import Unavailable

from .pg_schema import Reconnecting, describe_dsn, first_line

__all__ = ["PostgresSessions"]

log = logging.getLogger("pager.web.sessions")

T = TypeVar("T")
KEPT = 10_000  # sessions and browsers remembered from the database's answers, each
WARN_EVERY = 60.0  # seconds between two warnings that the database does not answer


class PostgresSessions:
    """Sessions in the database at `dsn` (its tables made by `migrate`, as the log's)."""

    def __init__(
        self, dsn: str, *, node: str = "pager", timeout: float = 5.0, wait: float = 1.0
    ) -> None:
        self.where = describe_dsn(dsn)
        self.node = node
        self.timeout = timeout
        self.wait = wait
        self._conn = Reconnecting(dsn, f"pager {node} sessions", timeout)
        self._limiter = trio.CapacityLimiter(1)  # one query at a time on the one connection
        self._sessions: dict[str, Session] = {}  # the database's answers, as last asked
        self._devices: dict[str, Device] = {}
        self._ended: set[str] = set()  # signed out here, not yet deleted in the database
        self._warned_at: float | None = None

    # ------------------------------------------------------------------ the database

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Blocking: `work` on the connection, once more on a new one if it was lost (every
        statement here may run twice: inserts of new random ids, deletes)."""
        with self._conn.lock:
            for attempt in (1, 2):
                try:
                    return work(self._conn.get())
                except psycopg.OperationalError:
                    self._conn.drop()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    async def _call(self, work: Callable[[psycopg.Connection[Any]], T], within: float) -> T:
        """`work` in a worker thread; Unavailable when the database fails or takes longer
        than `within` seconds (the thread is left to finish on its own)."""
        with trio.move_on_after(within):
            try:
                return await trio.to_thread.run_sync(
                    self._run, work, abandon_on_cancel=True, limiter=self._limiter
                )
            except psycopg.Error as e:
                raise Unavailable(
                    f"the dashboard's sessions in {self.where} cannot be reached: {first_line(e)}"
                ) from e
        raise Unavailable(
            f"the dashboard's sessions in {self.where} did not answer within {within:g} s"
        )

    def _warn(self, e: Unavailable) -> None:
        now = trio.current_time()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("%s; answering from what this node last found", e)

    # ------------------------------------------------------------------ reading

    async def load(self, session_id: str | None, device_id: str | None, now: datetime) -> None:
        """Ask the database for the session and the known browser these cookie values name
        (and delete the sign-outs it did not take before)."""
        if not session_id and not device_id:
            return
        s_digest = digest(session_id) if session_id else None
        d_digest = digest(device_id) if device_id else None
        ended = list(self._ended)

        def work(conn: psycopg.Connection[Any]) -> tuple[Any, Any]:
            if ended:
                conn.execute("DELETE FROM pager_web_sessions WHERE digest = ANY(%s)", (ended,))
            s = d = None
            if s_digest:
                s = conn.execute(
                    "SELECT user_id, expires_at, csrf, key FROM pager_web_sessions "
                    "WHERE digest = %s AND expires_at > %s",
                    (s_digest, now),
                ).fetchone()
            if d_digest:
                d = conn.execute(
                    "SELECT user_id, expires_at, key FROM pager_web_devices "
                    "WHERE digest = %s AND expires_at > %s",
                    (d_digest, now),
                ).fetchone()
            return s, d

        try:
            s, d = await self._call(work, self.wait)
        except Unavailable as e:
            self._warn(e)
            return
        self._ended.difference_update(ended)
        if s_digest:
            self._sessions.pop(s_digest, None)
            if s is not None:
                self._sessions[s_digest] = Session(str(s[0]), s[1], str(s[2]), str(s[3]))
        if d_digest:
            self._devices.pop(d_digest, None)
            if d is not None:
                self._devices[d_digest] = Device(str(d[0]), d[1], str(d[2]))
        _bound(self._sessions, now)
        _bound(self._devices, now)

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        """The session `session_id` names, as the database said when the request was
        `load`ed."""
        if not session_id:
            return None
        key = digest(session_id)
        found = self._sessions.get(key)
        if found is None or found.expires <= now or key in self._ended:
            return None
        return found

    def device(self, device_id: str | None, now: datetime) -> tuple[str, Device] | None:
        """The known browser `device_id` names (and the throttle's key for it)."""
        if not device_id:
            return None
        key = digest(device_id)
        found = self._devices.get(key)
        if found is None or found.expires <= now:
            return None
        return key, found

    # ------------------------------------------------------------------ writing

    async def create(
        self,
        user: str,
        now: datetime,
        lifetime: timedelta,
        key: str = "",
        replaces: str | None = None,
    ) -> str:
        """A new session for `user`, ending `replaces` (the cookie the browser came with);
        returns the cookie value. Unavailable (503) when the database cannot take it."""
        session_id = secrets.token_urlsafe(32)
        new = Session(user, now + lifetime, secrets.token_urlsafe(24), key)
        s_digest, old = digest(session_id), digest(replaces) if replaces else None
        node = self.node

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                _drop_expired(conn, now)
                if old:
                    conn.execute("DELETE FROM pager_web_sessions WHERE digest = %s", (old,))
                conn.execute(
                    "INSERT INTO pager_web_sessions (digest, user_id, expires_at, csrf, key, node)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING",
                    (s_digest, new.user, new.expires, new.csrf, new.key, node),
                )

        await self._call(work, self.timeout)
        if old:
            self._sessions.pop(old, None)
        self._sessions[s_digest] = new
        return session_id

    async def end(self, session_id: str | None, now: datetime) -> None:
        """Sign-out: the session ends on every node. When the database cannot take it now,
        this node refuses the session at once and deletes it with its next query."""
        if not session_id:
            return
        key = digest(session_id)
        self._sessions.pop(key, None)
        self._ended.add(key)

        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute("DELETE FROM pager_web_sessions WHERE digest = %s", (key,))

        try:
            await self._call(work, self.timeout)
        except Unavailable as e:
            log.warning("%s: a sign-out is sent again with the next query", e)
            return
        self._ended.discard(key)

    async def remember_device(
        self, user: str, now: datetime, lifetime: timedelta, key: str, old: str | None = None
    ) -> str:
        """A browser `user` signed in on with their password: a new id for it (replacing
        `old`), kept for `lifetime`, the newest DEVICES_PER_USER of theirs kept. Returns the
        cookie value. When the database cannot take it, the browser is not remembered (a
        warning; the sign-in stands)."""
        device_id = secrets.token_urlsafe(32)
        d_digest, gone = digest(device_id), digest(old) if old else None
        node = self.node

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                if gone:
                    conn.execute("DELETE FROM pager_web_devices WHERE digest = %s", (gone,))
                conn.execute(
                    "DELETE FROM pager_web_devices WHERE digest IN (SELECT digest FROM "
                    "pager_web_devices WHERE user_id = %s ORDER BY n DESC OFFSET %s)",
                    (user, DEVICES_PER_USER - 1),
                )
                conn.execute(
                    "INSERT INTO pager_web_devices (digest, user_id, expires_at, key, node) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING",
                    (d_digest, user, now + lifetime, key, node),
                )

        try:
            await self._call(work, self.timeout)
        except Unavailable as e:
            log.warning("%s: this browser is not remembered", e)
            return device_id
        if gone:
            self._devices.pop(gone, None)
        self._devices[d_digest] = Device(user, now + lifetime, key)
        return device_id

    def close(self) -> None:
        """Close the connection (a thread still using it closes it when done)."""
        self._conn.close()


def _drop_expired(conn: psycopg.Connection[Any], now: datetime) -> None:
    conn.execute("DELETE FROM pager_web_sessions WHERE expires_at <= %s", (now,))
    conn.execute("DELETE FROM pager_web_devices WHERE expires_at <= %s", (now,))


def _bound(found: dict[str, Any], now: datetime) -> None:
    """At most KEPT answers remembered: the expired ones go first, then the oldest."""
    if len(found) <= KEPT:
        return
    for k in [k for k, v in found.items() if v.expires <= now]:
        del found[k]
    for k in list(found)[: max(0, len(found) - KEPT)]:
        del found[k]
