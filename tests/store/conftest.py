"""Fixtures that open each event-log implementation with its writer task running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import trio

from pager.store.base import Draft, EventLog
from pager.store.jsonl import JsonlLog
from pager.store.lease import Lease
from pager.store.memory import MemoryLog
from pager.store.postgres import PostgresLog

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def draft(i: int, subject: str = "inc-1") -> Draft:
    return Draft("test.event", subject, T0, {"i": i}, 1)


async def active_postgres_log(dsn: str, nursery: trio.Nursery, node: str = "test") -> PostgresLog:
    """A PostgresLog that holds the lease, its writer running: ready to append."""
    lg = PostgresLog.open(dsn, node=node, poll=0.2)
    lease = Lease(dsn, node, timedelta(seconds=30))
    epoch = lease.acquire()
    lease.close()
    assert epoch is not None
    await nursery.start(lg.run)
    await lg.activate(epoch)
    return lg


@pytest.fixture(params=["memory", "jsonl", "postgres"])
async def log(request: pytest.FixtureRequest, tmp_path, nursery) -> AsyncIterator[EventLog]:
    lg: EventLog
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        with trio.fail_after(30):
            lg = await active_postgres_log(dsn, nursery)
    else:
        lg = MemoryLog() if request.param == "memory" else JsonlLog.open(tmp_path / "data")
        await nursery.start(lg.run)
    yield lg
    with trio.fail_after(10):
        await lg.close()
