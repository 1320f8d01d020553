"""Leadership: which of several pager processes on one PostgreSQL database pages people.

Every process competes for the lease (pager/store/lease.py). The one that holds it is
**active**: its event log writes with the lease's epoch, and it runs the incident, heartbeat
and delivery actors (a `Term` of pager/actors/supervisor.py). The others are **standbys**:
their log follows the table, so their state, read API and stream are current, but they
refuse ingest and actions (503 with Retry-After; /readyz answers 503 `standby`, so a load
balancer sends traffic to the active one). The edges learn this through narrow functions
the composition root (pager/service.py) hands them: `refuse_on_standby`, `current_actors`
and `view`.

Taking over: a standby tries for the lease every `poll` seconds (and right when the
holder's lease runs out, by the database's clock); once it has expired it
takes it, bumping the epoch (which fences the old holder out of the log), applies the last
records the old one wrote, and starts the actors: every timer re-arms from the absolute
deadlines in the events (one that passed fires once, at once) and every notification
intent without an outcome is sent again. A page may so go out twice across a crash, never
zero times.

Losing the lease: the active renews it every ttl/3. It steps down at once, stopping its
actors without writing anything more, when its log refuses an append (fenced: another
process took over), when a renewal finds the lease taken, or when it could not renew
before its lease would have run out. Its own clock's view of the lease is conservative
(measured from before the renewal was sent), and the delivery actors ask `may_act()` right
before each send, so a process that was paused past its lease (SIGSTOP, a long GC, a
partition) does not page when it wakes up.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import trio

from pager.config.models import Config
from pager.core.vocabulary import Role
from pager.errors import LogUnavailable, NotActive
from pager.store.lease import LeaderRow, Lease, node_name
from pager.store.pg_schema import first_line
from pager.store.postgres import PostgresLog

from .supervisor import Actors, Term

__all__ = ["ClusterView", "Leadership", "leadership"]

log = logging.getLogger("pager.leadership")

T = TypeVar("T")

RELEASE_TIMEOUT = 3.0  # seconds a clean shutdown waits to give the lease back


@dataclass(frozen=True)
class ClusterView:
    """What /readyz and /metrics show of this process's place in the cluster."""

    node: str
    role: Role
    epoch: int | None
    holder: str | None
    lease_age: float | None  # seconds since the lease was last taken or renewed
    lag_seconds: float | None  # seconds since this process last saw the log's end
    lag_records: int  # records in the database not yet applied here
    last_seq: int


class Leadership:
    def __init__(
        self,
        log_: PostgresLog,
        lease: Lease,
        make_term: Callable[[Callable[[], bool]], Term],
        *,
        ttl: float,
        url: str | None = None,
    ) -> None:
        self.log = log_
        self.lease = lease
        self.make_term = make_term
        self.ttl = ttl
        self.url = url
        self.poll = min(1.0, ttl / 4)
        self.renew_every = ttl / 3
        self.margin = min(1.0, ttl / 10)  # our view of the lease ends this much early
        self.role = Role.STANDBY
        self.epoch: int | None = None
        self.lease_until = -math.inf  # trio time our lease surely lasts until
        self.renewed_at: float | None = None  # trio time of the last successful renewal
        self.leader: LeaderRow | None = None
        self.leader_seen_at = 0.0
        self.takeovers = 0
        self.term: Term | None = None  # the actors' run while this process leads
        self._prepared: Term | None = None  # the next takeover's, built ahead
        self._serving = trio.Event()
        self._stop = trio.Event()
        self.stopped = trio.Event()  # set once a stop has given the lease back (or never led)
        self._started_at = datetime.now(UTC)

    # ------------------------------------------------------------------ what others ask

    @property
    def node(self) -> str:
        return self.lease.node

    @property
    def active(self) -> bool:
        return self.role == Role.ACTIVE

    def current_actors(self) -> Actors | None:
        """The actors running now: while this process is active (None on a standby)."""
        term = self.term
        return term.actors if term is not None and self.active else None

    def refuse_on_standby(self) -> None:
        """Raise NotActive (503 with Retry-After) unless this process is the active one."""
        if not self.active:
            leader = self.leader.holder if self.leader is not None else None
            raise NotActive(
                "this pager is a standby: send to the active one (its /readyz answers 200"
                + (f"; {leader} holds the lease)" if leader and leader != self.node else ")")
            )

    def may_act(self) -> bool:
        """True while this process holds the lease and it surely has not run out."""
        return self.epoch is not None and trio.current_time() < self.lease_until

    def view(self) -> ClusterView:
        now = trio.current_time()
        if self.active and self.renewed_at is not None:
            age: float | None = now - self.renewed_at
        elif self.leader is not None and self.leader.age is not None:
            age = self.leader.age + (now - self.leader_seen_at)
        else:
            age = None
        if self.active:
            lag: float | None = 0.0
            behind = 0
        else:
            seen = self.log.caught_up_at
            lag = None if seen is None else max(0.0, now - seen)
            behind = max(0, self.log.head_seq - self.log.last_seq)
        return ClusterView(
            node=self.node,
            role=self.role,
            epoch=self.epoch if self.active else (self.leader.epoch if self.leader else None),
            holder=self.node if self.active else (self.leader.holder if self.leader else None),
            lease_age=age,
            lag_seconds=lag,
            lag_records=behind,
            last_seq=self.log.last_seq,
        )

    def serving(self) -> None:
        """The listeners are up: timers and heartbeats of an active set may start."""
        self._serving.set()

    def stop(self) -> None:
        """Shutdown: stop the actors gracefully, give the lease back, stop competing."""
        self._stop.set()

    # ------------------------------------------------------------------ the loop

    async def run(
        self, *, task_status: trio.TaskStatus[Leadership] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started(self)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._observe)
                while not self._stop.is_set():
                    epoch = await self._wait_for_lease()
                    if epoch is None:
                        break
                    await self._lead(epoch)
                self.stopped.set()
                nursery.cancel_scope.cancel()
        finally:  # the lease's connection (a thread left behind closes it when done)
            with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT):
                await self._thread(self.lease.close)

    async def _thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)

    async def _wait_for_lease(self) -> int | None:
        if self._prepared is None:  # ready before it is needed: a takeover starts sooner
            self._prepared = self.make_term(self.may_act)
        while not self._stop.is_set():
            sent = trio.current_time()
            try:
                epoch = await self._thread(self.lease.acquire)
            except psycopg.Error as e:
                log.warning("cannot reach the database to compete for the lease: %s", first_line(e))
                epoch = None
            if epoch is not None:
                self.lease_until = sent + self.ttl - self.margin
                self.renewed_at = sent
                return epoch
            wait = self.poll
            # who holds it; and try again right when their lease runs out, if that is sooner
            with contextlib.suppress(psycopg.Error):
                row = await self._thread(self.lease.read)
                self.leader, self.leader_seen_at = row, trio.current_time()
                left = (row.expires_at - row.now).total_seconds()
                wait = min(wait, max(0.02, left + 0.02))
            with trio.move_on_after(wait):
                await self._stop.wait()
        return None

    async def _lead(self, epoch: int) -> None:
        self.takeovers += 1
        try:
            await self.log.activate(epoch)
        except Exception as e:
            log.error("took the lease (epoch %d) but could not catch up: %s", epoch, e)
            self.log.deactivate()
            return
        self.epoch = epoch
        term = self.term = self._prepared or self.make_term(self.may_act)
        self._prepared = None
        stopping_cleanly = False
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_lease, epoch, nursery.cancel_scope)
                nursery.start_soon(self._watch_fence, nursery.cancel_scope)
                await nursery.start(term.run)
                self.role = Role.ACTIVE  # requests are taken from now on
                log.warning(
                    "%s is the active pager now (epoch %d, from record %d)",
                    self.node,
                    epoch,
                    self.log.last_seq + 1,
                )

                async def enable() -> None:
                    await self._serving.wait()
                    term.enable()

                nursery.start_soon(enable)
                await self._stop.wait()
                stopping_cleanly = True
                term.stop()  # its run returns once the actors are done
                await term.done.wait()
                nursery.cancel_scope.cancel()
        except* LogUnavailable as group:  # the term's first append: the database went away
            log.error("the actors could not start (%s); standing by", group.exceptions[0])
        finally:
            self.role = Role.STANDBY
            self.epoch = None
            self.term = None
            self.log.deactivate()
            if stopping_cleanly:
                with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT):
                    try:
                        await self._thread(self.lease.release, epoch)
                        log.info("lease (epoch %d) given back", epoch)
                    except psycopg.Error as e:
                        log.warning("could not give the lease back (%s): it runs out by itself", e)
            else:
                log.warning("%s stands by now (epoch %d is over)", self.node, epoch)

    async def _keep_lease(self, epoch: int, scope: trio.CancelScope) -> None:
        """Renew every `renew_every`; after a failed renewal try again every `poll` (not a
        whole `renew_every` later: a database failover must get its tries before the lease
        runs out)."""
        wake = trio.current_time() + self.renew_every
        while True:
            await trio.sleep_until(min(wake, self.lease_until))
            if trio.current_time() >= self.lease_until:
                log.error("the lease (epoch %d) ran out before it could be renewed", epoch)
                scope.cancel()
                return
            sent = trio.current_time()
            try:
                with trio.move_on_at(self.lease_until):
                    ours = await self._thread(self.lease.renew, epoch)
                    if not ours:
                        log.error("the lease (epoch %d) was taken by another pager", epoch)
                        scope.cancel()
                        return
                    self.lease_until = sent + self.ttl - self.margin
                    self.renewed_at = sent
                    wake = sent + self.renew_every
            except psycopg.Error as e:
                log.warning("renewing the lease failed (%s); trying again", first_line(e))
                wake = trio.current_time() + self.poll

    async def _watch_fence(self, scope: trio.CancelScope) -> None:
        await self.log.lost.wait()
        log.error("an append was refused by the fence: another pager leads; stepping down")
        scope.cancel()

    async def _observe(self) -> None:
        """Every `poll` seconds: say how this process is (pager_nodes) and read the lease
        row and the log's end (for the lag and lease age that /metrics shows)."""
        while True:
            try:
                await self._thread(
                    self.lease.report,
                    self.role,
                    self.epoch,
                    self.log.last_seq,
                    self.url,
                    self._started_at,
                )
                row, head = await self._thread(self.lease.observe)
                self.leader, self.leader_seen_at = row, trio.current_time()
                self.log.head_seq = max(self.log.head_seq, head)
            except psycopg.Error as e:
                log.debug("observing the cluster failed: %s", e)
            await trio.sleep(self.poll)


def leadership(
    log_: PostgresLog, config: Config, make_term: Callable[[Callable[[], bool]], Term]
) -> Leadership:
    """The leadership of this process as `config.store` says (lease TTL, node name)."""
    ttl = config.store.lease_ttl
    server = config.server
    return Leadership(
        log_,
        Lease(str(config.store.dsn), node_name(config.store.node_name), ttl),
        make_term,
        ttl=ttl.total_seconds(),
        url=str(server.public_url or f"http://{server.listen}"),
    )
