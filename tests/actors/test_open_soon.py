"""A new incident opened in its requester's task (Router._open_soon: the log appends without
a waiting task): answered once durable, its actor without a task until something reaches it,
and from then on as any actor: the escalation timer fires on time, a second alert is counted
on the same incident, a resolve closes it; a write that fails leaves nothing open, and the
next alert opens a fresh incident. On the in-memory log and trio's MockClock, and on the
JSON-lines log (its writer calls back) on the real clock, with no waiting for time."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import trio
import trio.testing

from pager.actors.messages import Ingest
from pager.clock import TrioWallClock
from pager.core.commands import ResolveAlert, TriggerAlert
from pager.core.model import Status
from pager.errors import LogUnavailable
from pager.store.jsonl import JsonlLog
from pager.store.memory import MemoryLog

from ..harness import EPOCH, make_config, running_pager

VIRTUAL_DEADLINE = 24 * 3600
TIMEOUT = 20


def trigger(key: str) -> Ingest:
    return Ingest(
        "checkout", key, "pagerduty", TriggerAlert(key=key, summary="disk", severity="critical")
    )


def level(run, iid: str) -> int:  # type: ignore[no-untyped-def]
    esc = run.system.state.incidents[iid].escalation
    assert esc is not None
    return int(esc.level)


async def test_an_incident_opened_without_a_task_escalates_counts_and_closes(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config(tmp_path / "unused")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with running_pager(
            config, event_log=MemoryLog(), clock=TrioWallClock(EPOCH), serve_edges=False
        ) as run:
            system, router = run.system, run.actors.router
            opened = await system.submit(trigger("k1"))
            inc = opened.incident
            assert inc is not None and level(run, inc.id) == 0
            assert router.has_actor(inc.id) and router.actor_count == 1
            assert inc.id in router._idle  # no task yet
            # level 0 escalates after 5 minutes: the timer starts the actor's task
            await trio.sleep(5 * 60 - 1)
            assert level(run, inc.id) == 0
            await trio.sleep(2)
            assert level(run, inc.id) == 1
            assert inc.id not in router._idle
            again = await system.submit(trigger("k1"))
            assert again.incident is not None and again.incident.id == inc.id
            assert again.incident.alerts["k1"].count == 2
            resolved = await system.submit(
                Ingest("checkout", "k1", "pagerduty", ResolveAlert(key="k1"), opens=False)
            )
            assert resolved.incident is not None
            assert resolved.incident.status is Status.RESOLVED
            while router.actor_count:  # the actor closes once its incident is resolved
                await trio.sleep(1)
            assert not router.has_actor(inc.id)


async def test_an_idle_actor_takes_the_next_alert_of_its_incident_on_disk(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path / "data", fsync=False)
    with trio.fail_after(TIMEOUT):
        async with running_pager(config, serve_edges=False) as run:
            router = run.actors.router
            first = await run.system.submit(trigger("k1"))
            assert first.incident is not None and first.incident.id in router._idle
            assert isinstance(run.system.log, JsonlLog)
            assert run.system.log.last_seq >= 3  # opened, escalated, paged: on disk first
            second = await run.system.submit(trigger("k1"))
            assert second.incident is not None and second.incident.id == first.incident.id
            assert second.incident.alerts["k1"].count == 2
            assert first.incident.id not in router._idle


async def test_an_opening_that_cannot_be_written_leaves_nothing_open_on_disk(
    tmp_path: Path,
) -> None:
    def enospc(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    config = make_config(tmp_path / "data", fsync=False)
    with trio.fail_after(TIMEOUT):
        async with running_pager(config, serve_edges=False) as run:
            router, log = run.actors.router, run.system.log
            assert isinstance(log, JsonlLog)
            log.write_fn = enospc
            with pytest.raises(LogUnavailable):
                await run.system.submit(trigger("k1"))
            assert run.system.state.incidents == {}
            assert router.actor_count == 0 and not router._idle
            log.write_fn = os.write  # the disk has room again
            out = await run.system.submit(trigger("k1"))
            assert out.incident is not None and out.incident.id == "inc-2"
            assert run.system.state.open_by_key[("checkout", "k1")] == "inc-2"


async def test_an_opening_whose_answer_fails_still_hands_its_actor_to_the_router(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in answering an opening (here: answering, then raising) must not leave the
    incident without an owner: the router still learns how the opening ended, so the next
    alert of that incident is taken by its actor, and shutdown does not wait for it."""
    from pager.actors.incident import IncidentActor

    answer = IncidentActor._answer
    failed: list[str] = []

    def answer_then_fail(self, turn, error):  # type: ignore[no-untyped-def]
        out = answer(self, turn, error)
        if not failed:
            failed.append(self.id)
            raise RuntimeError("a bug in answering")
        return out

    monkeypatch.setattr(IncidentActor, "_answer", answer_then_fail)
    config = make_config(tmp_path / "data", fsync=False)
    with trio.fail_after(TIMEOUT):
        async with running_pager(config, serve_edges=False) as run:
            router = run.actors.router
            first = await run.system.submit(trigger("k1"))
            assert first.incident is not None and failed == [first.incident.id]
            with trio.fail_after(5):  # the request deadline (10 s) would answer 503 first
                second = await run.system.submit(trigger("k1"))
            assert second.incident is not None and second.incident.id == first.incident.id
            assert second.incident.alerts["k1"].count == 2
            assert router.actor_count == 1


async def test_new_incidents_are_refused_while_the_log_is_stalled_past_its_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the disk does not answer, each distinct alert would queue a new incident in
    memory without end: past MAX_LOG_BACKLOG queued appends the next one is refused at once
    (503 with Retry-After over HTTP) and changes nothing; what was queued is answered once
    the disk answers, and the refused alert, sent again, opens its incident."""
    import threading

    from pager.actors import router as router_module
    from pager.errors import Unavailable

    monkeypatch.setattr(router_module, "MAX_LOG_BACKLOG", 3)
    gate = threading.Event()

    def stalled(fd: int, data: memoryview) -> int:
        gate.wait(TIMEOUT)  # (in the log's worker thread) the disk answers when the gate opens
        return os.write(fd, data)

    config = make_config(tmp_path / "data", fsync=False)
    with trio.fail_after(TIMEOUT):
        async with running_pager(config, serve_edges=False) as run:
            system, router, log = run.system, run.actors.router, run.system.log
            assert isinstance(log, JsonlLog)
            log.write_fn = stalled
            answers: dict[str, str] = {}

            async def send(key: str) -> None:
                out = await system.submit(trigger(key))
                assert out.incident is not None
                answers[key] = out.incident.id

            try:
                async with trio.open_nursery() as nursery:
                    for i in range(4):  # k0 is being written (stalled), k1..k3 queue behind
                        nursery.start_soon(send, f"k{i}")
                        await trio.testing.wait_all_tasks_blocked()
                    assert log.backlog == 3 and answers == {}
                    with pytest.raises(Unavailable, match="event log is behind"):
                        await system.submit(trigger("k4"))
                    assert ("checkout", "k4") not in system.state.open_by_key
                    assert router.actor_count == 4  # nothing was made for k4
                    gate.set()
            finally:
                gate.set()
            assert sorted(answers) == ["k0", "k1", "k2", "k3"]
            again = await system.submit(trigger("k4"))  # sent again: taken
            assert again.incident is not None and again.incident.id == "inc-5"
            opened = {system.state.incidents[i].dedup_key for i in answers.values()}
            assert opened == {"k0", "k1", "k2", "k3"}
