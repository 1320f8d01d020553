"""The rate limiter recomputed from the log at start-up (pager/replay/ratelimit.py): which
records count against which key, and that only the last window is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from pager.core.ratelimit import RateLimiter
from pager.core.routing import IntegrationRoute
from pager.core.state import SystemState
from pager.replay.ratelimit import recent_records, warm_limiter, window
from pager.store.base import Draft, LogDamaged, Record
from pager.store.jsonl import JsonlLog

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
ROUTES = {
    ("pagerduty", "pd-a"): IntegrationRoute("pagerduty", "checkout", rate_events=2),
    ("generic", "gen-a"): IntegrationRoute("generic", "checkout", rate_events=2),
    ("generic", "gen-b"): IntegrationRoute("generic", "payments"),  # no limit
}


def rec(seq: int, ago: float, typ: str, subject: str, **data: object) -> Record:
    return Record(seq, NOW - timedelta(seconds=ago), typ, subject, dict(data), 1)


def opened(seq: int, ago: float, iid: str, integration: str) -> Record:
    return rec(seq, ago, "incident.opened", iid, service_id="checkout", integration=integration)


def wait(limiter: RateLimiter, typ: str, key: str, mono: float = 1000.0) -> float:
    return limiter.take((typ, key), 2, 60.0, mono)


def test_records_count_against_the_key_of_their_service_and_integration() -> None:
    limiter = RateLimiter()
    records = [
        opened(1, 10, "inc-1", "pagerduty"),
        rec(2, 9, "alerts.updated", "inc-1", incident_id="inc-1"),
        rec(3, 8, "incident.acknowledged", "inc-1", incident_id="inc-1"),  # not an ingest
        opened(4, 7, "inc-2", "generic"),
    ]
    assert warm_limiter(limiter, ROUTES, SystemState(), records, NOW, 1000.0) == 3
    assert wait(limiter, "pagerduty", "pd-a") > 0  # two used: over
    assert wait(limiter, "generic", "gen-a") == 0  # one used: one left
    assert wait(limiter, "generic", "gen-a") > 0


def test_tokens_come_back_at_the_configured_rate() -> None:
    limiter = RateLimiter()
    records = [opened(1, 45, "inc-1", "pagerduty"), opened(2, 45, "inc-2", "pagerduty")]
    warm_limiter(limiter, ROUTES, SystemState(), records, NOW, 1000.0)
    # 45 s at 2 per 60 s gave back 1.5 tokens
    assert wait(limiter, "pagerduty", "pd-a") == 0
    assert wait(limiter, "pagerduty", "pd-a") > 0


def test_no_limit_configured_reads_nothing() -> None:
    unlimited = {("generic", "gen-b"): ROUTES[("generic", "gen-b")]}
    assert window(unlimited) is None
    assert window(ROUTES) == timedelta(minutes=1)


async def test_recent_records_reads_the_last_window_only(tmp_path: Path) -> None:
    log = JsonlLog.open(tmp_path, segment_size=300, fsync=False)
    with trio.fail_after(10):
        async with trio.open_nursery() as n:
            await n.start(log.run)
            for i in range(12):
                at = NOW - timedelta(seconds=120 - 10 * i)
                data = {"service_id": "checkout", "summary": f"c{i}"}
                draft = Draft("service.change", "service:checkout", at, data, 1)
                await log.append([draft])
            await log.close()
            n.cancel_scope.cancel()
    segments = sorted((tmp_path / "events").iterdir())
    assert len(segments) > 2
    segments[0].write_bytes(b"not a log line\n")  # an old segment is not read at all
    got = [r.data["summary"] for r in recent_records(log, NOW - timedelta(seconds=60))]
    assert got == ["c6", "c7", "c8", "c9", "c10", "c11"]


async def test_a_log_quiet_for_the_whole_window_is_not_read(tmp_path: Path) -> None:
    log = JsonlLog.open(tmp_path, fsync=False)
    with trio.fail_after(10):
        async with trio.open_nursery() as n:
            await n.start(log.run)
            at = NOW - timedelta(seconds=90)
            draft = Draft("service.change", "service:checkout", at, {"service_id": "c"}, 1)
            await log.append([draft])
            await log.close()
            n.cancel_scope.cancel()
    for segment in (tmp_path / "events").iterdir():
        segment.write_bytes(b"not a log line\n")  # reading it would fail
    since = NOW - timedelta(seconds=60)
    assert list(recent_records(log, since, last=at)) == []
    with pytest.raises(LogDamaged):  # without the last record's time, the segment is read
        list(recent_records(log, since))
