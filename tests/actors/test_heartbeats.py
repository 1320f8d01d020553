"""Heartbeats on trio's MockClock, through the real supervisor on the in-memory log: the
first ping arms, pings on time keep it up, a missed one opens exactly one incident at
interval + grace, the next ping resolves it, and a restart in between changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import trio

from pager.clock import TrioWallClock
from pager.core.heartbeat import HeartbeatStatus, dedup_key
from pager.core.model import Status
from pager.store.memory import MemoryLog

from ..harness import EPOCH, make_config, running_pager

VIRTUAL_DEADLINE = 7 * 24 * 3600
EXTRA = """
heartbeats:
  - {name: nightly, service: checkout, interval: 10m, grace: 2m}
"""


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_config(tmp_path / "unused", extra=EXTRA)


def start(config, log: MemoryLog):  # type: ignore[no-untyped-def]

    # the wall clock is EPOCH + trio's clock, so it runs on across a restart
    return running_pager(
        config,
        event_log=log,
        clock=TrioWallClock(EPOCH + timedelta(seconds=trio.current_time())),
        serve_edges=False,
    )


def opened(log: MemoryLog) -> list[tuple[datetime, str]]:
    return [(r.ts, r.data["title"]) for r in log.read_from(1) if r.type == "incident.opened"]


def types(log: MemoryLog, prefix: str) -> list[str]:
    return [r.type for r in log.read_from(1) if r.type.startswith(prefix)]


async def sleep_to(minutes: float) -> None:
    await trio.sleep_until(minutes * 60)


async def test_missed_ping_opens_one_incident_next_ping_resolves_restart_changes_nothing(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            hb = run.actors.heartbeats
            assert hb is not None
            assert hb.status("nightly") is HeartbeatStatus.NEW
            await sleep_to(60)  # never pinged: not armed, nothing expires
            assert opened(log) == [] and hb.status("nightly") is HeartbeatStatus.NEW
            assert await hb.ping("nightly") is HeartbeatStatus.UP  # t = 60m
            for t in (69, 78, 87):  # on time (inside the interval)
                await sleep_to(t)
                assert hb.status("nightly") is HeartbeatStatus.UP
                await hb.ping("nightly")
            await sleep_to(97.5)  # past the interval, within the grace
            assert hb.status("nightly") is HeartbeatStatus.LATE
        # restart at 97.5m: the deadline (87m + 10m + 2m = 99m) is kept as the log holds it
        assert opened(log) == [] and types(log, "heartbeat.rearmed") == []
        async with start(config, log) as run:
            hb = run.actors.heartbeats
            assert hb is not None and hb.status("nightly") is HeartbeatStatus.LATE
            await sleep_to(99 - 1 / 60)
            assert opened(log) == []
            await sleep_to(99 + 1 / 60)
            assert opened(log) == [(EPOCH + timedelta(minutes=99), "Heartbeat nightly expired")]
            assert hb.status("nightly") is HeartbeatStatus.DOWN
            await sleep_to(300)  # down stays one incident, not one per interval
            assert len(opened(log)) == 1 and types(log, "heartbeat.expired") == [
                "heartbeat.expired"
            ]
        # restart while down: no second incident, no re-arm
        async with start(config, log) as run:
            hb = run.actors.heartbeats
            assert hb is not None
            await sleep_to(400)
            assert len(opened(log)) == 1 and types(log, "heartbeat.rearmed") == []
            key = ("checkout", dedup_key("nightly"))
            iid = run.system.state.open_by_key[key]
            assert run.system.state.incidents[iid].status is not Status.RESOLVED
            assert await hb.ping("nightly") is HeartbeatStatus.UP
            assert run.system.state.incidents[iid].status is Status.RESOLVED
            assert key not in run.system.state.open_by_key
            # armed again: the next miss opens a new incident
            await sleep_to(400 + 12 + 1 / 60)
            assert len(opened(log)) == 2


async def test_deadline_passed_while_stopped_gets_a_fresh_interval(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            assert run.actors.heartbeats is not None
            await run.actors.heartbeats.ping("nightly")  # down at 12m
        await sleep_to(60)  # pager is stopped from 0m to 60m: the job's pings were refused
        async with start(config, log) as run:
            hb = run.actors.heartbeats
            assert hb is not None
            assert opened(log) == [] and types(log, "heartbeat.rearmed") == ["heartbeat.rearmed"]
            assert hb.status("nightly") is HeartbeatStatus.UP
            await sleep_to(72 - 1 / 60)
            assert opened(log) == []
            await sleep_to(72 + 1 / 60)
            assert len(opened(log)) == 1


async def test_fail_pages_at_once_and_ping_resolves(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            hb = run.actors.heartbeats
            assert hb is not None
            assert await hb.fail("nightly") is HeartbeatStatus.DOWN
            assert [t for _, t in opened(log)] == ["Heartbeat nightly reported a failure"]
            await hb.fail("nightly")  # the same incident, updated
            assert len(opened(log)) == 1
            await hb.ping("nightly")
            assert types(log, "incident.resolved") == ["incident.resolved"]
