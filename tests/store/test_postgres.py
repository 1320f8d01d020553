"""What the PostgreSQL log does beyond the common contract, against a real server
(tests/postgres.py): the lease's fence, followers, snapshots for an empty node, the schema's
version. Loopback only; every test has an absolute deadline."""

from __future__ import annotations

import hashlib
from datetime import timedelta, timezone

import psycopg
import pytest
import trio

from pager.store import pg_writer
from pager.store.base import Draft
from pager.store.lease import Lease
from pager.store.pg_schema import LATEST, SchemaTooNew, connect, describe_dsn, migrate
from pager.store.pg_writer import newest_snapshot, store_snapshot
from pager.store.postgres import FencedOut, NotActive, PostgresLog

from .conftest import T0, active_postgres_log, draft


def _sql(dsn: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def _expire(dsn: str) -> None:
    _sql(dsn, "UPDATE pager_leader SET expires_at = now() - interval '1 second'")


async def test_a_new_epoch_fences_the_old_writer_out(pg_dsn: str, nursery: trio.Nursery) -> None:
    with trio.fail_after(30):
        old = await active_postgres_log(pg_dsn, nursery, node="old")
        await old.append([draft(1), draft(2)])
        _expire(pg_dsn)
        lease = Lease(pg_dsn, "new", timedelta(seconds=30))
        epoch = lease.acquire()
        assert epoch == 2
        assert lease.acquire() is None  # held, not expired: nobody else gets it
        assert not lease.renew(1) and lease.renew(2)
        with pytest.raises(FencedOut):
            await old.append([draft(3)])
        assert old.lost.is_set() and old.epoch is None
        with pytest.raises(NotActive):
            await old.append([draft(4)])
        assert _sql(pg_dsn, "SELECT seq, epoch FROM pager_events ORDER BY seq") == [(1, 1), (2, 1)]
        # the new holder follows on without a gap
        new = PostgresLog.open(pg_dsn, node="new", poll=0.2)
        await nursery.start(new.run)
        await new.activate(2)
        recs = await new.append([draft(5)])
        assert [r.seq for r in recs] == [3]
        lease.close()
        await new.close()
        await old.close()


async def test_the_fence_holds_the_lease_row_until_the_batch_commits(
    pg_dsn: str, nursery: trio.Nursery
) -> None:
    """A takeover waits for an insert in flight: the insert either commits before the new
    epoch exists (and the new holder sees it) or writes nothing."""
    with trio.fail_after(30):
        old = await active_postgres_log(pg_dsn, nursery, node="old")
        await old.append([draft(1)])
        _expire(pg_dsn)
        with psycopg.connect(pg_dsn) as holding:  # a transaction like the writer's, held open
            holding.execute("SELECT epoch FROM pager_leader WHERE id = 1 FOR SHARE")
            lease = Lease(pg_dsn, "new", timedelta(seconds=30))
            taking = trio.Event()

            async def take() -> None:
                taking.set()
                assert await trio.to_thread.run_sync(lease.acquire) == 2

            async with trio.open_nursery() as n:
                n.start_soon(take)
                await taking.wait()
                await trio.sleep(0.3)
                assert _sql(pg_dsn, "SELECT epoch FROM pager_leader") == [(1,)]  # blocked
                holding.commit()
        lease.close()
        await old.close()


async def test_a_follower_applies_what_the_writer_commits(
    pg_dsn: str, nursery: trio.Nursery
) -> None:
    with trio.fail_after(30):
        writer = await active_postgres_log(pg_dsn, nursery, node="writer")
        follower = PostgresLog.open(pg_dsn, node="follower", poll=30.0)
        seen: list[int] = []
        follower.add_commit_hook(lambda recs: seen.extend(r.seq for r in recs))
        try:
            await nursery.start(follower.run)
            await writer.append([draft(i) for i in range(1, 4)])
            with trio.fail_after(10):  # long before the 30 s poll: the NOTIFY woke it
                while follower.last_seq < 3:
                    await trio.sleep(0.01)
            assert seen == [1, 2, 3]
            assert [r.data["i"] for r in follower.read_from(1)] == [1, 2, 3]
            with pytest.raises(NotActive):
                await follower.append([draft(9)])
        finally:  # a failure here must not leave connections for a later test's warnings
            await writer.close()
            await follower.close()


async def test_a_node_with_an_empty_disk_starts_from_the_snapshot_in_the_database(
    pg_dsn: str, nursery: trio.Nursery
) -> None:
    with trio.fail_after(30):
        writer = await active_postgres_log(pg_dsn, nursery, node="writer")
        await writer.append([draft(1), draft(2), draft(3)])
        for seq in (1, 2, 3, 3):  # the same seq twice is a no-op; the newest 3 are kept
            await writer.save_snapshot(seq, T0, {"at": seq})
        await writer.append([draft(4)])
        await writer.save_snapshot(4, T0, {"at": 4})
        assert _sql(pg_dsn, "SELECT seq FROM pager_snapshots ORDER BY seq") == [(2,), (3,), (4,)]
        fresh = PostgresLog.open(pg_dsn, node="fresh")
        snap = fresh.load_snapshot()
        assert snap is not None and (snap.seq, snap.state) == (4, {"at": 4})
        _sql(pg_dsn, "UPDATE pager_snapshots SET body = 'x' WHERE seq = 4")  # damaged
        snap = fresh.load_snapshot()
        assert snap is not None and snap.seq == 3  # the next older one
        fresh.release()
        await writer.close()


def test_a_snapshot_row_is_sent_a_block_at_a_time_and_is_there_whole_or_not_at_all(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body goes in by COPY in the binary format, a block at a time with a pause
    between blocks (pg_writer.py): the row holds the same bytes, instant, checksum and epoch
    as an INSERT of the whole would, and a writer that dies in the middle (its connection
    killed while the body is being sent) leaves no part of its row: the snapshot before it
    is the newest."""
    monkeypatch.setattr(pg_writer, "BLOCK", 7)  # long pieces cut, short ones put together
    pieces = [b'{"a":', b"1,", b'"b":"' + b"x" * 40 + b'",', '"é☃"'.encode(), b":2}"]
    body = b"".join(pieces)
    at = (T0 + timedelta(microseconds=123_456)).astimezone(timezone(timedelta(hours=5, minutes=30)))
    pauses = 0

    def pause() -> None:
        nonlocal pauses
        pauses += 1

    with connect(pg_dsn) as conn:
        migrate(conn)
        store_snapshot(conn, 1, at, pieces, 7, pause)
        store_snapshot(conn, 2, at, body, None)  # one piece; no epoch (NULL)
        assert pauses >= len(body) // 7
        rows = conn.execute(
            "SELECT seq, ts, body, sha256, epoch FROM pager_snapshots ORDER BY seq"
        ).fetchall()
        digest = hashlib.sha256(body).hexdigest()
        assert [(s, t, bytes(b), d, e) for s, t, b, d, e in rows] == [
            (1, at, body, digest, 7),
            (2, at, body, digest, None),
        ]

        victim = conn.info.backend_pid
        calls = 0

        def killed_midway() -> None:
            nonlocal calls
            calls += 1
            if calls == 4:  # the row's head and some blocks are on their way
                with psycopg.connect(pg_dsn, autocommit=True) as other:
                    other.execute("SELECT pg_terminate_backend(%s)", (victim,))

        with pytest.raises(psycopg.OperationalError):
            store_snapshot(conn, 3, at, pieces * 50, 7, killed_midway)
    assert calls > 4
    assert _sql(pg_dsn, "SELECT seq FROM pager_snapshots ORDER BY seq") == [(1,), (2,)]
    with connect(pg_dsn) as conn:
        snap = newest_snapshot(conn, 10, "here")
        assert snap is not None and (snap.seq, snap.ts, snap.state) == (
            2,
            at,
            {"a": 1, "b": "x" * 40, "é☃": 2},
        )


def test_schema_is_versioned_and_a_newer_database_is_refused(pg_dsn: str) -> None:
    with connect(pg_dsn) as conn:
        assert migrate(conn) == (0, LATEST)
        assert migrate(conn) == (LATEST, LATEST)
        conn.execute(
            "INSERT INTO pager_schema (version, description) VALUES (%s, 'from the future')",
            (LATEST + 1,),
        )
        with pytest.raises(SchemaTooNew, match="this pager knows up to"):
            migrate(conn)


def test_a_dsn_is_described_without_its_password() -> None:
    where = describe_dsn("host=db-1,db-2 port=5432,5433 dbname=pager password=s3cret user=u")
    assert where == "db-1:5432,db-2:5433/pager"
    assert "s3cret" not in describe_dsn("postgresql://u:s3cret@db-1/pager")


async def test_read_since_looks_back_from_the_end_by_time(
    pg_dsn: str, nursery: trio.Nursery
) -> None:
    with trio.fail_after(30):
        log = await active_postgres_log(pg_dsn, nursery)
        for i in range(6):
            await log.append([Draft("test.event", "inc-1", T0 + timedelta(minutes=i), {"i": i}, 1)])
        got = [r.data["i"] for r in log.read_since(T0 + timedelta(minutes=3))]
        assert got == [3, 4, 5]
        assert [r.data["i"] for r in log.read_since(T0 - timedelta(days=1))] == list(range(6))
        await log.close()
