"""The dashboard's sessions in PostgreSQL (pager/store/pg_sessions.py), two nodes' stores on
one real database (tests/postgres.py): what one makes the other accepts, a sign-out on one
ends it on the other, expiry, the key that a new password hash no longer matches, and only
digests in the tables; and the sign-in throttle in the same database
(pager/store/pg_signin_throttle.py): failures on two nodes count once. Loopback only; every
test has an absolute deadline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import trio

from pager.core.sessions import DEVICES_PER_USER, digest, fingerprint
from pager.errors import Unavailable
from pager.store.pg_schema import LATEST, connect, migrate
from pager.store.pg_sessions import PostgresSessions
from pager.store.pg_signin_throttle import PostgresSigninThrottle

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
DAY = timedelta(hours=12)


def _sql(dsn: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


@pytest.fixture
async def nodes(pg_dsn: str) -> AsyncIterator[tuple[PostgresSessions, PostgresSessions]]:
    """Two nodes' stores on one database (migrated as at start-up)."""
    with connect(pg_dsn) as conn:
        assert migrate(conn)[1] == LATEST >= 2
    one, two = PostgresSessions(pg_dsn, node="one"), PostgresSessions(pg_dsn, node="two")
    yield one, two
    one.close()
    two.close()


async def test_a_session_made_on_one_node_works_on_the_other_until_signed_out(
    nodes: tuple[PostgresSessions, PostgresSessions],
) -> None:
    one, two = nodes
    with trio.fail_after(30):
        key = fingerprint("$argon2id$old")
        sid = await one.create("alice", NOW, DAY, key=key)
        assert one.get(sid, NOW) is not None  # its maker knows it at once
        assert two.get(sid, NOW) is None  # the other has not asked yet
        await two.load(sid, None, NOW)
        got = two.get(sid, NOW)
        assert got is not None and (got.user, got.key) == ("alice", key)
        assert got.csrf == one.get(sid, NOW).csrf  # type: ignore[union-attr]
        assert got.expires == NOW + DAY
        # a sign-out on the second ends it on the first from its next request on
        await two.end(sid, NOW)
        assert two.get(sid, NOW) is None
        await one.load(sid, None, NOW)
        assert one.get(sid, NOW) is None
        # a new sign-in replaces the browser's old session everywhere
        first = await one.create("alice", NOW, DAY, key=key)
        second = await two.create("alice", NOW, DAY, key=key, replaces=first)
        await one.load(first, None, NOW)
        assert one.get(first, NOW) is None
        await one.load(second, None, NOW)
        assert one.get(second, NOW) is not None


async def test_a_session_expires_and_expired_rows_are_dropped(
    pg_dsn: str, nodes: tuple[PostgresSessions, PostgresSessions]
) -> None:
    one, two = nodes
    with trio.fail_after(30):
        sid = await one.create("alice", NOW, DAY, key="k")
        late = NOW + DAY
        assert one.get(sid, late - timedelta(seconds=1)) is not None
        assert one.get(sid, late) is None
        await two.load(sid, None, late)  # the database does not answer an expired one
        assert two.get(sid, late - timedelta(seconds=1)) is None
        assert len(_sql(pg_dsn, "SELECT 1 FROM pager_web_sessions")) == 1
        await two.create("bob", late, DAY, key="k")  # any write drops the expired rows
        assert _sql(pg_dsn, "SELECT user_id FROM pager_web_sessions") == [("bob",)]


async def test_a_new_password_hash_is_told_by_the_key(
    nodes: tuple[PostgresSessions, PostgresSessions],
) -> None:
    """The store keeps the fingerprint of the hash at sign-in; the dashboard compares it
    with the user's hash now (Dashboard.session_principal, tests/web/
    test_dashboard_shared_sessions.py shows it over HTTP)."""
    one, two = nodes
    with trio.fail_after(30):
        sid = await one.create("alice", NOW, DAY, key=fingerprint("$argon2id$old"))
        await two.load(sid, None, NOW)
        got = two.get(sid, NOW)
        assert got is not None
        assert got.key == fingerprint("$argon2id$old") != fingerprint("$argon2id$new")


async def test_only_digests_are_stored(
    pg_dsn: str, nodes: tuple[PostgresSessions, PostgresSessions]
) -> None:
    one, _ = nodes
    with trio.fail_after(30):
        sid = await one.create("alice", NOW, DAY, key="k")
        device = await one.remember_device("alice", NOW, timedelta(days=30), "k")
        rows = _sql(pg_dsn, "SELECT digest FROM pager_web_sessions") + _sql(
            pg_dsn, "SELECT digest FROM pager_web_devices"
        )
        assert sorted(rows) == sorted([(digest(sid),), (digest(device),)])
        whole = str(
            _sql(pg_dsn, "SELECT * FROM pager_web_sessions")
            + _sql(pg_dsn, "SELECT * FROM pager_web_devices")
        )
        assert sid not in whole and device not in whole


async def test_known_browsers_are_shared_and_bounded(
    pg_dsn: str, nodes: tuple[PostgresSessions, PostgresSessions]
) -> None:
    one, two = nodes
    month = timedelta(days=30)
    with trio.fail_after(60):
        first = await one.remember_device("alice", NOW, month, "k")
        await two.load(None, first, NOW)
        found = two.device(first, NOW)
        assert found is not None and found == (digest(first), one.device(first, NOW)[1])  # type: ignore[index]
        again = await two.remember_device("alice", NOW, month, "k", old=first)
        await one.load(None, first, NOW)
        assert one.device(first, NOW) is None
        ids = [again] + [await one.remember_device("alice", NOW, month, "k") for _ in range(30)]
        kept = _sql(pg_dsn, "SELECT digest FROM pager_web_devices WHERE user_id = 'alice'")
        assert sorted(kept) == sorted((digest(d),) for d in ids[-DEVICES_PER_USER:])
        await two.load(None, ids[-1], NOW + month - timedelta(seconds=1))
        assert two.device(ids[-1], NOW + month - timedelta(seconds=1)) is not None
        await two.load(None, ids[-1], NOW + month)
        assert two.device(ids[-1], NOW + month) is None


async def test_without_the_database_a_node_answers_from_what_it_found(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The database gone (here: the connection cut and the database renamed): a session this
    node saw still works, one it never saw does not, a sign-in answers 503 (Unavailable), a
    sign-out here holds here at once and reaches the database once it is back."""
    with connect(pg_dsn) as conn:
        migrate(conn)
    node = PostgresSessions(pg_dsn, node="one", timeout=2.0, wait=1.0)
    other = PostgresSessions(pg_dsn, node="two")
    try:
        with trio.fail_after(60):
            seen = await node.create("alice", NOW, DAY, key="k")
            kept = await node.create("bob", NOW, DAY, key="k")
            unseen = await other.create("carol", NOW, DAY, key="k")
            other.close()
            name = pg_dsn.rsplit("dbname=", 1)[1].split()[0]
            admin = pg_dsn.replace(f"dbname={name}", "dbname=postgres")
            with psycopg.connect(admin, autocommit=True) as a:
                a.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                a.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
            try:
                with caplog.at_level(logging.WARNING, "pager.web.sessions"):
                    await node.load(seen, None, NOW)
                    assert node.get(seen, NOW) is not None
                    await node.load(unseen, None, NOW)
                    assert node.get(unseen, NOW) is None
                    with pytest.raises(Unavailable):
                        await node.create("alice", NOW, DAY, key="k")
                    await node.end(kept, NOW)
                    assert node.get(kept, NOW) is None
                assert "answering from what this node last found" in caplog.text
            finally:
                with psycopg.connect(admin, autocommit=True) as a:
                    a.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')
            await node.load(seen, None, NOW)  # back: the sign-out goes with the next query
            assert _sql(pg_dsn, "SELECT user_id FROM pager_web_sessions ORDER BY 1") == [
                ("alice",),
                ("carol",),
            ]
    finally:
        node.close()
        other.close()


def test_a_database_of_the_previous_version_gains_the_tables(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database a pager without shared sessions made (schema version 1) is migrated at
    start-up; its log is left as it was."""
    from pager.store import pg_schema

    with connect(pg_dsn) as conn:
        with monkeypatch.context() as m:
            m.setattr(pg_schema, "MIGRATIONS", pg_schema.MIGRATIONS[:1])
            m.setattr(pg_schema, "LATEST", 1)
            assert migrate(conn) == (0, 1)
        conn.execute("INSERT INTO pager_events VALUES (1, 1, now(), 'test', 's', '{}'::jsonb, 1)")
        assert migrate(conn) == (1, LATEST)
        assert conn.execute("SELECT count(*) FROM pager_web_sessions").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pager_events").fetchone() == (1,)


WINDOW = timedelta(minutes=15)


@pytest.fixture
async def throttles(pg_dsn: str) -> AsyncIterator[tuple[PostgresSigninThrottle, ...]]:
    with connect(pg_dsn) as conn:
        migrate(conn)
    pair = PostgresSigninThrottle(pg_dsn, node="one"), PostgresSigninThrottle(pg_dsn, node="two")
    yield pair
    for t in pair:
        t.close()


async def test_failed_sign_ins_on_several_nodes_count_once(
    pg_dsn: str, throttles: tuple[PostgresSigninThrottle, ...]
) -> None:
    one, two = throttles
    limits = [("user:alice", 3), ("addr:192.0.2.7", 12)]
    with trio.fail_after(30):
        assert await one.attempt(limits, NOW, WINDOW) == 0.0
        assert await two.attempt(limits, NOW + timedelta(minutes=1), WINDOW) == 0.0
        assert await one.attempt(limits, NOW + timedelta(minutes=2), WINDOW) == 0.0
        # the fourth, on either node, waits until the first leaves the window
        wait = await two.attempt(limits, NOW + timedelta(minutes=3), WINDOW)
        assert wait == (WINDOW - timedelta(minutes=3)).total_seconds()
        assert await one.attempt(limits, NOW + WINDOW, WINDOW) == 0.0
        # a right password takes its attempt back, on whichever node
        later = NOW + WINDOW + timedelta(minutes=1)
        assert await two.attempt(limits, later, WINDOW) == 0.0
        await one.succeeded([k for k, _ in limits], later)
        assert await one.attempt(limits, later, WINDOW) == 0.0
        # only digests of the keys (a name typed may be a password in the wrong field)
        rows = _sql(pg_dsn, "SELECT key FROM pager_web_signin_failures")
        assert rows and all(
            k in {(digest("user:alice"),), (digest("addr:192.0.2.7"),)} for k in rows
        )
        # failures older than the window are deleted as attempts come
        assert await one.attempt([("user:bob", 3)], NOW + 3 * WINDOW, WINDOW) == 0.0
        assert len(_sql(pg_dsn, "SELECT 1 FROM pager_web_signin_failures")) == 1


async def test_concurrent_guesses_on_two_nodes_are_counted_one_after_the_other(
    throttles: tuple[PostgresSigninThrottle, ...],
) -> None:
    allowed: list[float] = []

    async def guess(t: PostgresSigninThrottle) -> None:
        allowed.append(await t.attempt([("user:alice", 3)], NOW, WINDOW))

    with trio.fail_after(30):
        async with trio.open_nursery() as n:
            for i in range(10):
                n.start_soon(guess, throttles[i % 2])
    assert len(allowed) == 10 and allowed.count(0.0) == 3
    assert all(w == WINDOW.total_seconds() for w in allowed if w)


async def test_without_the_database_a_node_counts_on_its_own(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    throttle = PostgresSigninThrottle(pg_dsn.replace("dbname=", "dbname=absent_"), wait=2.0)
    try:
        with trio.fail_after(30), caplog.at_level(logging.WARNING, "pager.web.sessions"):
            for _ in range(3):
                assert await throttle.attempt([("user:alice", 3)], NOW, WINDOW) == 0.0
            assert await throttle.attempt([("user:alice", 3)], NOW, WINDOW) > 0
        assert "counts failed sign-ins on its own" in caplog.text
    finally:
        throttle.close()
