"""The dashboard's sign-in throttle in PostgreSQL, shared by every pager on the database, so
guesses spread over several nodes behind a load balancer count once, and a failover does
not forget them.

The same rules as one pager's own counts (pager.core.signin_throttle): an attempt is counted
as a failure under each of its keys before its password is checked, refused while a key
already has its limit of failures within the window, and taken back when the password was
right. Each attempt is one transaction that holds an advisory lock per key, so concurrent
attempts on several nodes are counted one after the other. A key is stored as its sha256
(a name typed into the form may be a password typed in the wrong field); failures older
than the window are deleted as attempts come.

When the database does not answer, this node counts on its own (a warning): a sign-in is
never refused only because the database is away.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
import trio

from pager.core.sessions import digest
from pager.core.signin_throttle import SigninThrottle
from pager.errors import Unavailable

from .pg_schema import Reconnecting, describe_dsn, first_line

__all__ = ["PostgresSigninThrottle"]

log = logging.getLogger("pager.web.sessions")

_LOCKS = 0x7369676E  # "sign": the advisory locks' namespace (hashtextextended's seed)


class PostgresSigninThrottle:
    def __init__(
        self, dsn: str, *, node: str = "pager", timeout: float = 5.0, wait: float = 2.0
    ) -> None:
        self.where = describe_dsn(dsn)
        self.wait = wait
        self._conn = Reconnecting(dsn, f"pager {node} sign-in throttle", timeout)
        self._limiter = trio.CapacityLimiter(1)
        self.own = SigninThrottle()  # this node's counts while the database is away

    def _attempt(
        self, limits: Sequence[tuple[str, int]], now: datetime, window: timedelta
    ) -> float:
        """Blocking: check and count in one transaction."""
        keys = sorted((digest(k), n) for k, n in limits)
        edge = now - window
        with self._conn.lock:
            conn = self._conn.get()
            try:
                with conn.transaction():
                    for k, _ in keys:
                        conn.execute(
                            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", (k, _LOCKS)
                        )
                    conn.execute("DELETE FROM pager_web_signin_failures WHERE at <= %s", (edge,))
                    wait = 0.0
                    for k, limit in keys:
                        row = conn.execute(
                            "SELECT at FROM pager_web_signin_failures WHERE key = %s AND at > %s "
                            "ORDER BY at DESC OFFSET %s LIMIT 1",
                            (k, edge, max(0, limit - 1)),
                        ).fetchone()
                        if row is not None:
                            wait = max(wait, (row[0] + window - now).total_seconds())
                    if wait > 0:
                        return wait
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO pager_web_signin_failures (key, at) VALUES (%s, %s)",
                            [(k, now) for k, _ in keys],
                        )
                    return 0.0
            except psycopg.OperationalError:
                self._conn.drop()
                raise

    def _succeeded(self, keys: Sequence[str], at: datetime) -> None:
        with self._conn.lock:
            conn = self._conn.get()
            try:
                for k in keys:
                    conn.execute(
                        "DELETE FROM pager_web_signin_failures WHERE ctid IN (SELECT ctid FROM "
                        "pager_web_signin_failures WHERE key = %s AND at = %s LIMIT 1)",
                        (digest(k), at),
                    )
            except psycopg.OperationalError:
                self._conn.drop()
                raise

    async def _call(self, fn: Any, *args: Any) -> Any:
        with trio.move_on_after(self.wait):
            try:
                return await trio.to_thread.run_sync(
                    fn, *args, abandon_on_cancel=True, limiter=self._limiter
                )
            except psycopg.Error as e:
                raise Unavailable(
                    f"the sign-in throttle in {self.where} cannot be reached: {first_line(e)}"
                ) from e
        raise Unavailable(f"the sign-in throttle in {self.where} did not answer in time")

    async def attempt(
        self, limits: Sequence[tuple[str, int]], now: datetime, window: timedelta
    ) -> float:
        """0.0 and the attempt counted under every key when it may go ahead; otherwise the
        seconds to wait, and nothing counted (pager.core.signin_throttle)."""
        try:
            wait: float = await self._call(self._attempt, limits, now, window)
        except Unavailable as e:
            log.warning("%s; this node counts failed sign-ins on its own meanwhile", e)
            return self.own.attempt(limits, now, window)
        return wait

    async def succeeded(self, keys: Sequence[str], at: datetime) -> None:
        """Take back the failure `attempt` counted at `at` under each of `keys`."""
        self.own.succeeded(keys, at)
        try:
            await self._call(self._succeeded, keys, at)
        except Unavailable as e:
            log.warning("%s; a right password's attempt stays counted", e)

    def close(self) -> None:
        """Close the connection (a thread still using it closes it when done)."""
        self._conn.close()
