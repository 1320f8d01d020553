"""The contract every event log keeps, run against each implementation (memory, JSON lines,
PostgreSQL: a real server, tests/postgres.py).

Localhost and tmp_path only; every test has an absolute deadline."""

from __future__ import annotations

import errno

import psycopg
import pytest
import trio

from pager.errors import LogUnavailable
from pager.store.base import EventLog, Record
from pager.store.jsonl import JsonlLog
from pager.store.memory import MemoryLog
from pager.store.postgres import PostgresLog

from .conftest import T0, draft


async def test_append_numbers_records_from_one(log: EventLog) -> None:
    with trio.fail_after(10):
        assert log.last_seq == 0
        recs = await log.append([draft(1), draft(2)])
        assert [r.seq for r in recs] == [1, 2]
        recs = await log.append([draft(3)])
        assert [r.seq for r in recs] == [3]
        assert log.last_seq == 3
        assert await log.append([]) == []


async def test_read_from_returns_durable_records_in_order(log: EventLog) -> None:
    with trio.fail_after(10):
        await log.append([draft(i) for i in range(1, 6)])
        got = list(log.read_from(1))
        assert [r.seq for r in got] == [1, 2, 3, 4, 5]
        assert [r.data["i"] for r in got] == [1, 2, 3, 4, 5]
        assert got[0].ts == T0 and got[0].type == "test.event" and got[0].subject == "inc-1"
        assert [r.seq for r in log.read_from(4)] == [4, 5]
        assert list(log.read_from(6)) == []


async def test_concurrent_appenders_get_consecutive_records_and_hook_sees_all_in_order(
    log: EventLog,
) -> None:
    seen: list[Record] = []
    log.add_commit_hook(seen.extend)
    results: dict[int, list[int]] = {}

    async def appender(k: int) -> None:
        for j in range(5):
            recs = await log.append([draft(k * 100 + j * 2), draft(k * 100 + j * 2 + 1)])
            a, b = recs
            assert b.seq == a.seq + 1
            results.setdefault(k, []).extend([a.seq, b.seq])

    with trio.fail_after(10):
        async with trio.open_nursery() as n:
            for k in range(20):
                n.start_soon(appender, k)
    all_seqs = sorted(s for v in results.values() for s in v)
    assert all_seqs == list(range(1, 201))
    assert [r.seq for r in seen] == list(range(1, 201))
    # each appender's own records are in the order it appended them
    for k, seqs in results.items():
        assert seqs == sorted(seqs)
        datas = [r.data["i"] for r in seen if r.data["i"] // 100 == k]
        assert datas == sorted(datas)


async def test_snapshot_round_trip(log: EventLog) -> None:
    with trio.fail_after(10):
        assert log.load_snapshot() is None
        await log.append([draft(1), draft(2)])
        await log.save_snapshot(2, T0, {"answer": [1, 2, {"x": "y"}], "when": T0})
        snap = log.load_snapshot()
        assert snap is not None
        assert snap.seq == 2 and snap.ts == T0
        assert snap.state == {"answer": [1, 2, {"x": "y"}], "when": "2026-11-27T03:00:00Z"}


# what PostgreSQL itself raises when its disk is full (SQLSTATE 53100)
_DISK_FULL = """
    CREATE FUNCTION pager_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'
        USING ERRCODE = 'disk_full'; END $$;
    CREATE TRIGGER pager_test_disk_full BEFORE INSERT ON pager_events
        FOR EACH STATEMENT EXECUTE FUNCTION pager_test_disk_full();
"""


def _sql(log: PostgresLog, statement: str) -> None:
    with psycopg.connect(log.dsn, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def _break(log: EventLog) -> None:
    if isinstance(log, PostgresLog):
        _sql(log, _DISK_FULL)
    elif isinstance(log, MemoryLog):
        log.failing = OSError(errno.ENOSPC, "No space left on device")
    else:
        assert isinstance(log, JsonlLog)

        def enospc(fd: int, data: memoryview) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        log.write_fn = enospc


def _mend(log: EventLog) -> None:
    if isinstance(log, PostgresLog):
        _sql(log, "DROP TRIGGER pager_test_disk_full ON pager_events")
    elif isinstance(log, MemoryLog):
        log.failing = None
    else:
        import os

        assert isinstance(log, JsonlLog)
        log.write_fn = os.write


async def test_failed_write_raises_typed_error_loses_nothing_and_recovers(log: EventLog) -> None:
    seen: list[int] = []
    log.add_commit_hook(lambda recs: seen.extend(r.seq for r in recs))
    with trio.fail_after(10):
        await log.append([draft(1)])
        _break(log)
        with pytest.raises(LogUnavailable, match="No space left"):
            await log.append([draft(2), draft(3)])
        assert log.writable is False
        assert log.last_seq == 1
        assert [r.seq for r in log.read_from(1)] == [1]
        _mend(log)
        recs = await log.append([draft(4)])
        assert [r.seq for r in recs] == [2]  # no gap where the failed batch was
        assert log.writable is True
        assert [r.data["i"] for r in log.read_from(1)] == [1, 4]
        assert seen == [1, 2]


async def test_append_soon_calls_back_once_durable_or_with_the_error(log: EventLog) -> None:
    """A log that appends without a waiting task (`appends_soon`) calls back once the
    records are durable and the commit hooks have seen them, or with the error and nothing
    in the log."""
    if not log.appends_soon:
        pytest.skip(f"{type(log).__name__} appends only with a waiting task")
    seen: list[int] = []
    log.add_commit_hook(lambda recs: seen.extend(r.seq for r in recs))
    calls: list[tuple[list[int], LogUnavailable | None, list[int]]] = []
    called = trio.Event()

    def done(records: list[Record], error: LogUnavailable | None) -> None:
        # what the hooks had seen when the callback came
        calls.append(([r.seq for r in records], error, list(seen)))
        called.set()

    with trio.fail_after(10):
        await log.append([draft(1)])
        log.append_soon([draft(2), draft(3)], done)
        await called.wait()
        assert calls == [([2, 3], None, [1, 2, 3])]
        assert [r.data["i"] for r in log.read_from(2)] == [2, 3]
        _break(log)
        called = trio.Event()
        log.append_soon([draft(4)], done)
        await called.wait()
        (_, error, _) = calls[-1]
        assert calls[-1][0] == [] and isinstance(error, LogUnavailable)
        assert log.last_seq == 3 and list(log.read_from(4)) == []
        _mend(log)


async def test_append_soon_refuses_an_empty_batch(log: EventLog) -> None:
    """An empty batch is a caller's bug: refused at once, nothing written (a JSON-lines log
    once wrote it as an empty line that made the folder unreadable)."""
    if not log.appends_soon:
        pytest.skip(f"{type(log).__name__} appends only with a waiting task")
    calls: list[object] = []
    with trio.fail_after(10):
        await log.append([draft(1)])
        with pytest.raises(ValueError, match="no drafts"):
            log.append_soon([], lambda records, error: calls.append((records, error)))
        await log.append([draft(2)])
    assert calls == []
    assert [r.data["i"] for r in log.read_from(1)] == [1, 2]
