"""A request routed at once is bounded by `System.request_timeout` through its reply
(pager/actors/reply_deadlines.py), not by a cancel scope: on trio's MockClock, a reply not
answered in time fails with Unavailable at its deadline, an answered one is left as it was,
and a stalled log costs the requester `request_timeout`, not more."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
import trio.testing

from pager.actors.messages import Ingest, Outcome, Reply
from pager.actors.reply_deadlines import TOO_LATE, ReplyDeadlines
from pager.clock import TrioWallClock
from pager.config import Config
from pager.core.commands import TriggerAlert
from pager.errors import Unavailable
from pager.store.base import Draft, Record
from pager.store.memory import MemoryLog

from ..harness import EPOCH, make_config, running_pager

VIRTUAL_DEADLINE = 3600


async def test_each_reply_fails_at_its_own_deadline_unless_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    deadlines = ReplyDeadlines()
    t0 = trio.current_time()
    early, answered, late = Reply(), Reply(), Reply()
    failed_at: dict[str, float] = {}

    async def wait(name: str, reply: Reply) -> None:
        with pytest.raises(Unavailable, match=TOO_LATE):
            await reply.wait()
        failed_at[name] = trio.current_time() - t0

    with trio.fail_after(VIRTUAL_DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(deadlines.run)
            deadlines.add(early, t0 + 10)
            deadlines.add(answered, t0 + 11)
            deadlines.add(late, t0 + 12)
            nursery.start_soon(wait, "early", early)
            nursery.start_soon(wait, "late", late)
            await trio.sleep(5)
            answered.set(Outcome(None, True))
            assert (await answered.wait()).changed
            await trio.sleep(10)
            assert failed_at == {"early": 10, "late": 12}
            assert len(deadlines) == 0  # answered or failed: nothing is kept
            nursery.cancel_scope.cancel()


class StallingLog(MemoryLog):
    """The in-memory log, whose appends wait while `stalled` is not set (a stuck disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.flowing = trio.Event()
        self.flowing.set()

    async def append(self, drafts: Sequence[Draft]) -> list[Record]:
        await self.flowing.wait()
        return await super().append(drafts)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "unused")


async def test_a_request_routed_at_once_gives_up_after_request_timeout(
    config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    log = StallingLog()
    alert = TriggerAlert(key="k1", summary="disk full", severity="critical")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with running_pager(
            config, event_log=log, clock=TrioWallClock(EPOCH), serve_edges=False
        ) as run:
            system = run.system
            log.flowing = trio.Event()  # the disk stalls
            started = trio.current_time()
            with pytest.raises(Unavailable, match=TOO_LATE):
                await system.submit(Ingest("checkout", "k1", "pagerduty", alert))
            assert trio.current_time() - started == pytest.approx(system.request_timeout)
            log.flowing.set()  # and comes back: the next request is answered
            out = await system.submit(Ingest("checkout", "k2", "pagerduty", alert))
            assert out.incident is not None and out.incident.dedup_key == "k2"
