"""Fixtures that open each event-log implementation with its writer task running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import trio

from pager.store.base import Draft, EventLog
from pager.store.jsonl import JsonlLog
from pager.store.memory import MemoryLog

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def draft(i: int, subject: str = "inc-1") -> Draft:
    return Draft("test.event", subject, T0, {"i": i}, 1)


@pytest.fixture(params=["memory", "jsonl"])
async def log(request: pytest.FixtureRequest, tmp_path, nursery) -> AsyncIterator[EventLog]:
    lg: EventLog = MemoryLog() if request.param == "memory" else JsonlLog.open(tmp_path / "data")
    await nursery.start(lg.run)
    yield lg
    with trio.fail_after(10):
        await lg.close()
