"""The active pager keeps its lease through a failed renewal: it tries again every `poll`
seconds until its lease would run out (a database failover takes a few of those tries), and
steps down only when the lease runs out or another pager took it. On the mock clock, with a
lease whose answers the test scripts (the real one is PostgreSQL's, in tests/e2e)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import trio
import trio.testing

from pager.actors.leadership import Leadership
from pager.core.vocabulary import Role

T = TypeVar("T")

TTL = 3.0  # renew every 1 s, try again every 0.75 s, our view of the lease ends 0.3 s early


class ScriptedLease:
    """Takes the lease once (epoch 1); each renewal answers the next of `renewals` (True,
    False, or an exception to raise), then True."""

    node = "node-a"

    def __init__(self, renewals: list[bool | Exception]) -> None:
        self.renewals = renewals
        self.renewed_at: list[float] = []
        self.taken = 0

    def acquire(self) -> int | None:
        self.taken += 1
        return 1 if self.taken == 1 else None

    def renew(self, epoch: int) -> bool:
        self.renewed_at.append(trio.current_time())
        answer = self.renewals.pop(0) if self.renewals else True
        if isinstance(answer, Exception):
            raise answer
        return answer

    def read(self) -> Any:
        raise psycopg.OperationalError("not asked in these tests")

    def observe(self) -> Any:
        raise psycopg.OperationalError("not asked in these tests")

    def report(self, *args: Any) -> None:
        pass

    def release(self, epoch: int) -> None:
        pass

    def close(self) -> None:
        pass


class QuietLog:
    last_seq = head_seq = 0
    caught_up_at = None

    def __init__(self) -> None:
        self.lost = trio.Event()

    async def activate(self, epoch: int) -> None:
        pass

    def deactivate(self) -> None:
        pass


class IdleTerm:
    actors = None

    def __init__(self) -> None:
        self.done = trio.Event()
        self._stop = trio.Event()

    def enable(self) -> None:
        pass

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started(self)
        try:
            await self._stop.wait()
        finally:
            self.done.set()


class Inline(Leadership):
    """The lease's calls made inline (threads and an autojumping clock do not mix)."""

    async def _thread(self, fn: Callable[..., T], *args: Any) -> T:
        await trio.lowlevel.checkpoint()
        return fn(*args)


def failure() -> psycopg.OperationalError:
    return psycopg.OperationalError("connection failed: session is read-only")


async def lead_for(lease: ScriptedLease, seconds: float) -> list[tuple[float, Role]]:
    """Run a leadership for `seconds` of virtual time; its role at every 0.05 s."""
    node = Inline(QuietLog(), lease, lambda may_act: IdleTerm(), ttl=TTL)  # type: ignore[arg-type]
    seen: list[tuple[float, Role]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        node.serving()
        start = trio.current_time()
        while trio.current_time() - start < seconds:
            seen.append((trio.current_time() - start, node.role))
            await trio.sleep(0.05)
        node.stop()
    return seen


async def test_a_failed_renewal_is_tried_again_after_poll_and_the_lease_is_kept(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lease = ScriptedLease([failure(), failure()])
    seen = await lead_for(lease, 10)
    assert all(role == Role.ACTIVE for t, role in seen if t > 0.1), "it stepped down"
    assert lease.taken == 1
    gaps = [round(b - a, 3) for a, b in zip(lease.renewed_at, lease.renewed_at[1:], strict=False)]
    # two failures 0.75 s apart, then the regular 1 s renewals
    assert gaps[:2] == [0.75, 0.75]
    assert set(gaps[2:]) == {1.0}


async def test_renewals_that_keep_failing_are_tried_until_the_lease_runs_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lease = ScriptedLease([failure()] * 100)
    seen = await lead_for(lease, 6)
    start = lease.renewed_at[0] - 1.0  # taken at start, first renewal 1 s later
    # tried at 1.0, 1.75 and 2.5 s; the lease (ttl 3 s less a 0.3 s margin) ran out at 2.7 s
    assert [round(t - start, 3) for t in lease.renewed_at] == [1.0, 1.75, 2.5]
    stood_by = next(t for t, role in seen if t > 0.1 and role == Role.STANDBY)
    assert 2.7 <= stood_by < 2.8


async def test_a_lease_taken_by_another_pager_ends_the_term_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lease = ScriptedLease([True, False])
    seen = await lead_for(lease, 4)
    assert len(lease.renewed_at) == 2
    stood_by = next(t for t, role in seen if t > 0.1 and role == Role.STANDBY)
    assert 2.0 <= stood_by < 2.1
