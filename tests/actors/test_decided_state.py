"""The read model that the journal's commit builds from what incident actors decided (the
decided incident taken as it is, `SystemState.apply_decided`) is the one a replay of the log
builds by evolving every record: after a mixed workload on trio's MockClock (incidents
opened together, alerts firing again in one batch, acknowledgements, notes, snoozes, links,
escalation and acknowledgement timeouts on virtual time, resolves, deliveries interleaved),
every incident, notification and index is the same."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio

from pager.actors.messages import Act, Ingest
from pager.clock import TrioWallClock
from pager.core import state as state_module
from pager.core.commands import (
    Acknowledge,
    AddNote,
    Edit,
    Escalate,
    Resolve,
    ResolveAlert,
    Snooze,
    TriggerAlert,
    UseLink,
)
from pager.core.model import Incident
from pager.core.state import SystemState
from pager.errors import PagerError
from pager.store.memory import MemoryLog
from pager.store.segments import parse_line
from pager.store.snapshots import json_default

from ..harness import EPOCH, make_config, running_pager

VIRTUAL_DEADLINE = 7 * 24 * 3600


def trigger(key: str, summary: str = "CPU high") -> Ingest:
    return Ingest(
        "checkout", key, "pagerduty", TriggerAlert(key=key, summary=summary, severity="critical")
    )


def replayed(log: MemoryLog) -> SystemState:
    """The state a replay builds: every record read back from its log line, decoded and
    evolved."""
    state = SystemState()
    for r in log.read_from(1):
        state.apply(parse_line(r.json_bytes()))
    return state


def plain(state: SystemState) -> Any:
    opts = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
    return orjson.loads(orjson.dumps(state.to_snapshot(), option=opts, default=json_default))


async def test_decided_incidents_are_what_replay_gives(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[Incident] = []
    with_seqs = state_module.with_seqs

    def counting(*args: Any) -> Incident | None:
        out = with_seqs(*args)
        if out is not None:
            taken.append(out)
        return out

    monkeypatch.setattr(state_module, "with_seqs", counting)
    log = MemoryLog()
    clock = TrioWallClock(EPOCH)
    config = make_config(tmp_path / "unused")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with running_pager(config, event_log=log, clock=clock, serve_edges=False) as run:
            s = run.system

            async def quietly(msg: Ingest | Act) -> None:
                with contextlib.suppress(PagerError):  # a 409 or the like: part of the mix
                    await s.submit(msg)

            # forty incidents opened at once, and alerts firing again several to a batch
            async with trio.open_nursery() as n:
                for i in range(40):
                    n.start_soon(quietly, trigger(f"k{i}", f"disk {i}"))
            async with trio.open_nursery() as n:
                for i in range(40):
                    for again in range(3):
                        n.start_soon(quietly, trigger(f"k{i % 10}", f"disk {i} again {again}"))
            # people act, deliveries and timers run in between
            async with trio.open_nursery() as n:
                for i in range(1, 41):
                    iid = f"inc-{i}"
                    match i % 8:
                        case 0:
                            n.start_soon(quietly, Act(iid, Acknowledge(by="alice", via="api")))
                        case 1:
                            n.start_soon(quietly, Act(iid, AddNote(text=f"note {i}", by="bob")))
                        case 2:
                            n.start_soon(quietly, Act(iid, Snooze(duration=timedelta(minutes=7))))
                        case 3:
                            n.start_soon(quietly, Act(iid, Edit(title=f"renamed {i}", by="bob")))
                        case 4:
                            link = UseLink(
                                link_id=f"link-{i}",
                                expires_at=EPOCH + timedelta(days=1),
                                command=Acknowledge(by="alice", via="email"),
                            )
                            n.start_soon(quietly, Act(iid, link))
                        case 5:
                            n.start_soon(quietly, Act(iid, Escalate(level=2, by="carol")))
                        case 6:
                            n.start_soon(
                                quietly,
                                Ingest(
                                    "checkout",
                                    f"k{i - 1}",
                                    "pagerduty",
                                    ResolveAlert(key=f"k{i - 1}"),
                                    opens=False,
                                ),
                            )
            await trio.sleep(6 * 60)  # the first level's escalate_after: 5 minutes
            async with trio.open_nursery() as n:
                for i in range(1, 41, 5):
                    n.start_soon(quietly, Act(f"inc-{i}", Resolve(by="alice")))
                for i in range(40, 50):  # new ones, some right behind a resolve of their key
                    n.start_soon(quietly, trigger(f"k{i % 12}", f"late {i}"))
            await trio.sleep(40 * 60)  # acknowledgement timeouts (30m), snoozes end, repeats
            live = s.state
            again = replayed(log)
            assert live.last_seq == again.last_seq > 300
            assert live.incidents == again.incidents
            assert plain(live) == plain(again)
    # the decided values were taken for most appends, not only the easy ones
    assert len(taken) > 100
    assert {t.id for t in taken} >= {f"inc-{i}" for i in range(1, 41)}
