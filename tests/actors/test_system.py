"""The actors together, on trio's MockClock: the router opens, dedups and closes incidents,
incident actors escalate on virtual time, and a restart over the same log resumes every
escalation where it stood. The in-memory log stands in for the disk (autojump cannot see
the disk log's fsync thread); it passes the same contract suite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import trio

from pager.actors.messages import Act, Ingest
from pager.clock import TrioWallClock
from pager.core.commands import Acknowledge, AddNote, Resolve, ResolveAlert, TriggerAlert
from pager.core.events import IncidentEscalated
from pager.core.model import Status
from pager.errors import NotFound, TransitionRefused
from pager.store.memory import MemoryLog

from ..harness import EPOCH, make_config, running_pager

# MockClock time: a test that hangs runs into this at once (autojump), however long it is
VIRTUAL_DEADLINE = 7 * 24 * 3600


def trigger(key: str, summary: str = "CPU high") -> Ingest:
    return Ingest(
        "checkout", key, "pagerduty", TriggerAlert(key=key, summary=summary, severity="critical")
    )


def escalations(log: MemoryLog, incident_id: str) -> list[tuple[int, int]]:
    out = []
    for rec in log.read_from(1):
        if rec.type == IncidentEscalated.TYPE and rec.subject == incident_id:
            out.append((rec.data["level"], rec.data["round"]))
    return out


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_config(tmp_path / "unused")


def start(config, log: MemoryLog, clock: TrioWallClock | None = None):  # type: ignore[no-untyped-def]
    """pager on `log`; pass the same `clock` to a restart so wall time runs on across it."""
    return running_pager(
        config, event_log=log, clock=clock or TrioWallClock(EPOCH), serve_edges=False
    )


async def test_trigger_opens_duplicate_updates_resolve_closes_retrigger_reopens(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            s = run.system
            out = await s.submit(trigger("k1"))
            assert out.incident is not None and out.incident.id == "inc-1"
            out = await s.submit(trigger("k1", "CPU higher"))
            assert out.incident is not None and out.incident.id == "inc-1"
            assert out.incident.alerts["k1"].count == 2
            out = await s.submit(
                Ingest("checkout", "k1", "pagerduty", ResolveAlert(key="k1"), opens=False)
            )
            assert out.incident is not None and out.incident.status is Status.RESOLVED
            out = await s.submit(trigger("k1"))
            assert out.incident is not None and out.incident.id == "inc-2"
            # acknowledge of a key with nothing open: accepted, nothing happens
            out = await s.submit(
                Ingest("checkout", "nope", "pagerduty", Acknowledge(), opens=False)
            )
            assert out.incident is None and not out.changed
            # a resolved incident refuses, by a short-lived actor; a note still lands
            with pytest.raises(TransitionRefused):
                await s.submit(Act("inc-1", Acknowledge(by="alice")))
            out = await s.submit(Act("inc-1", AddNote(text="root cause: disk", by="alice")))
            assert out.incident is not None and out.incident.timeline[-1].text == "root cause: disk"
            with pytest.raises(NotFound):
                await s.submit(Act("inc-99", Acknowledge()))
            await trio.sleep(1)
            assert run.actors.router.actor_count == 1  # only inc-2 is open


async def test_concurrent_triggers_for_one_key_open_one_incident(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            ids = set()

            async def send(i: int) -> None:
                out = await run.system.submit(trigger("same", f"attempt {i}"))
                assert out.incident is not None
                ids.add(out.incident.id)

            async with trio.open_nursery() as n:
                for i in range(50):
                    n.start_soon(send, i)
            assert ids == {"inc-1"}
            inc = run.system.state.incidents["inc-1"]
            assert inc.alerts["same"].count == 50
            assert len(run.system.state.incidents) == 1


async def test_escalation_walks_on_virtual_time_and_ack_stops_it(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            s = run.system
            await s.submit(trigger("a"))
            await trio.sleep(4 * 60 + 59)
            assert escalations(log, "inc-1") == [(0, 0)]
            await trio.sleep(2)  # 5 minutes: level 2
            assert escalations(log, "inc-1") == [(0, 0), (1, 0)]
            await trio.sleep(10 * 60)  # round 2, level 1
            await trio.sleep(5 * 60)  # round 2, level 2; policy exhausted after
            await trio.sleep(3 * 3600)
            assert escalations(log, "inc-1") == [(0, 0), (1, 0), (0, 1), (1, 1)]
            # a second incident, acknowledged at once: nobody further is paged
            await s.submit(trigger("b"))
            await s.submit(Act("inc-2", Acknowledge(by="alice")))
            await trio.sleep(20 * 60)
            assert escalations(log, "inc-2") == [(0, 0)]
            # ack timeout (30m) re-triggers and escalation restarts at level 1
            await trio.sleep(11 * 60)
            assert s.state.incidents["inc-2"].status is Status.TRIGGERED
            assert escalations(log, "inc-2") == [(0, 0), (0, 0)]


async def test_restart_resumes_escalation_without_repeating_or_skipping(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    clock = TrioWallClock(EPOCH)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log, clock) as run:
            await run.system.submit(trigger("a"))
            await trio.sleep(6 * 60)  # level 2 reached at 5m; next step at 15m
            assert escalations(log, "inc-1") == [(0, 0), (1, 0)]
        # pager is down for an hour: the 15m deadline passes while nobody runs
        await trio.sleep(3600)
        async with start(config, log, clock) as run:
            inc = run.system.state.incidents["inc-1"]
            assert inc.status is Status.TRIGGERED
            await trio.sleep(0.001)
            # the overdue step fired once, at once, and the next one is 5m after it
            assert escalations(log, "inc-1") == [(0, 0), (1, 0), (0, 1)]
            await trio.sleep(4 * 60)
            assert escalations(log, "inc-1") == [(0, 0), (1, 0), (0, 1)]
            await trio.sleep(61)
            assert escalations(log, "inc-1") == [(0, 0), (1, 0), (0, 1), (1, 1)]
            out = await run.system.submit(Act("inc-1", Resolve(by="alice")))
            assert out.incident is not None and out.incident.status is Status.RESOLVED


async def test_restart_restores_dedup_index(config, autojump_clock: trio.testing.MockClock) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            await run.system.submit(trigger("a"))
            await run.system.submit(trigger("b"))
            await run.system.submit(
                Ingest("checkout", "b", "pagerduty", ResolveAlert(key="b"), opens=False)
            )
        async with start(config, log) as run:
            out = await run.system.submit(trigger("a"))
            assert out.incident is not None and out.incident.id == "inc-1"
            out = await run.system.submit(trigger("b"))
            assert out.incident is not None and out.incident.id == "inc-3"


async def test_unwritable_log_refuses_and_timers_retry(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    import errno

    from pager.errors import LogUnavailable

    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            await run.system.submit(trigger("a"))
            log.failing = OSError(errno.ENOSPC, "No space left on device")
            with pytest.raises(LogUnavailable):
                await run.system.submit(trigger("z"))
            assert "inc-2" not in run.system.state.incidents
            await trio.sleep(10 * 60)  # the 5m escalation could not be journaled...
            assert escalations(log, "inc-1") == [(0, 0)]
            log.failing = None
            await trio.sleep(2)  # ...and happens once the log is writable again
            assert escalations(log, "inc-1") == [(0, 0), (1, 0)]
            out = await run.system.submit(trigger("z"))
            assert out.incident is not None and out.incident.id == "inc-3"
            assert timedelta(0) <= run.system.clock.now() - EPOCH


async def test_a_trigger_right_behind_a_resolve_opens_a_new_incident_not_a_409(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log) as run:
            s = run.system
            await s.submit(trigger("k"))

            async def send(msg: Ingest, outcomes: list[object]) -> None:
                outcomes.append(await s.submit(msg))

            for _ in range(20):
                outcomes: list[object] = []
                async with trio.open_nursery() as n:  # both land in one actor batch
                    resolve = Ingest(
                        "checkout", "k", "pagerduty", ResolveAlert(key="k"), opens=False
                    )
                    n.start_soon(send, resolve, outcomes)
                    n.start_soon(send, trigger("k"), outcomes)
                assert len(outcomes) == 2  # neither raised (a 409 would have)
                key_open = ("checkout", "k") in s.state.open_by_key
                if not key_open:
                    await s.submit(trigger("k"))
            assert ("checkout", "k") in s.state.open_by_key
