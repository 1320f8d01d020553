"""The router: sends every request to the actor of its incident, opening incidents on demand.

It owns the index of open incidents by (service, dedup key), updated the moment it decides
to open one, so a second trigger for the same key that arrives before the first is durable
reaches the same actor instead of opening a twin. It starts one incident actor per open
incident (at start-up, and when an alert opens one), and a short-lived one for a request about
a resolved incident (a note, or a 409). It never blocks on an actor: an actor whose inbox is
full gets no more work and the requester hears 503 at once.

Routing a request is synchronous (a lookup, maybe a new actor task, a put into a bounded
mailbox), so a task of the same trio loop may hand a request over with `take` instead of
the inbox: it is routed at once, one channel hop and task switch fewer for every alert of a
storm. When the actor's mailbox is half full, `take` leaves the request alone and the
requester sends it through the inbox as before, which paces a burst for one incident to the
actor's draining (absorbed, not refused: the router yields between messages). Actors still report through the inbox (`Closed`,
`Reroute`); a request that reaches an actor that is closing comes back that way and is
routed afresh, so the order of the two paths does not matter.

Shutdown (`stop`): every actor's inbox is closed, requests still arriving are refused, and
`run` returns once the last actor has finished what it was doing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from pager.clock import WallClock
from pager.core._fast import maker
from pager.core.commands import NewIncident, Open, TriggerAlert, UpsertGroup
from pager.core.model import Status
from pager.core.rules import RulesBook
from pager.core.state import SystemState
from pager.errors import NotFound, Unavailable

from .incident import IncidentActor
from .journal import Journal
from .mailbox import Mailbox
from .messages import Act, Closed, Ingest, Outcome, Reroute, RouterMessage, new_ingest
from .reply_deadlines import ReplyDeadlines
from .timers import Timers

__all__ = ["ACTOR_INBOX", "Router"]

log = logging.getLogger("pager.router")

ACTOR_INBOX = 32
# Appends the event log may hold queued (EventLog.backlog) before new incidents are refused
# with 503 and Retry-After. A log that keeps up holds a few; one whose writes stall (a slow
# disk, a database that does not answer) would otherwise take a new incident, with its
# actor, mailbox and records, for every distinct alert that comes meanwhile: a queue
# without end. Alerts of incidents already open are bounded by their mailboxes. 8,192 is
# about 8 s of a storm of 1,000 new alerts/s (some 10 KB each while queued), near the
# request deadline (10 s) that answers 503 anyway.
MAX_LOG_BACKLOG = 8192

# `NewIncident(...)` and `Open(...)`, the same values, made without a frozen dataclass's
# `object.__setattr__` per field (pager.core._fast): one of each for every new incident
_new_incident = maker(NewIncident)
_open = maker(Open)


def incident_id(number: int) -> str:
    return f"inc-{number}"


class Router:
    def __init__(
        self,
        journal: Journal,
        state: SystemState,
        rules: Callable[[], RulesBook],
        clock: WallClock,
        outbox: trio.MemorySendChannel[RouterMessage],
    ) -> None:
        self.journal = journal
        self.state = state
        self.rules = rules
        self.clock = clock
        self._outbox = outbox  # shared by every actor: they report Closed/Reroute through it
        self._actors: dict[str, Mailbox[Ingest | Act]] = {}
        # actors without a task, their incident's opening durable and nothing to do since
        # (see `_open_soon`): a message or a tick starts the task
        self._idle: dict[str, IncidentActor] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._key_of: dict[str, tuple[str, str]] = {}
        self._next_number = 1
        self._live = 0
        self._stopping = False
        self._nursery: trio.Nursery | None = None
        self._running = False
        self._direct = False  # routing a `take`: a full mailbox raises WouldBlock
        self._loop = trio.CancelScope()
        self.timers = Timers(clock, self._tick)
        self.deadlines = ReplyDeadlines()  # of the requests routed by `take`

    @property
    def actor_count(self) -> int:
        return self._live

    def has_actor(self, incident_id: str) -> bool:
        return incident_id in self._actors

    async def run(
        self,
        inbox: trio.MemoryReceiveChannel[RouterMessage],
        *,
        task_status: trio.TaskStatus[Router] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                timer_scope = trio.CancelScope()
                deadline_scope = trio.CancelScope()

                async def run_timers() -> None:
                    with timer_scope:
                        await self.timers.run()

                async def run_deadlines() -> None:
                    with deadline_scope:
                        await self.deadlines.run()

                nursery.start_soon(run_timers)
                nursery.start_soon(run_deadlines)
                self._next_number = self.state.next_number
                for key, iid in self.state.open_by_key.items():
                    self._by_key[key] = iid
                    self._key_of[iid] = key
                    self._spawn(iid)
                self._running = True
                task_status.started(self)
                try:
                    with self._loop:
                        async with inbox:
                            async for msg in inbox:
                                self._handle(msg)
                finally:
                    self._running = False
                for box in self._actors.values():
                    box.close()
                timer_scope.cancel()
                deadline_scope.cancel()
        finally:
            # what an actor that failed left unanswered: its requesters hear it now
            self.deadlines.fail_all(Unavailable("pager is shutting down"))

    @property
    def running(self) -> bool:
        """Whether `take` may be called: `run` has started and not ended."""
        return self._running

    def take(self, msg: Ingest | Act, deadline: float) -> bool:
        """Route `msg` now (from a task of the router's trio loop; see the module's
        docstring); its requester awaits `msg.reply` as ever, which fails with Unavailable
        at `deadline` (trio time; pager.actors.reply_deadlines) unless answered by then.
        False, with nothing done, when the router is not running or the actor's mailbox is
        half full: send it through the inbox instead."""
        if not self._running:
            return False
        self._direct = True
        try:
            self._handle(msg)
        except trio.WouldBlock:
            return False
        finally:
            self._direct = False
        if not msg.reply.done:
            self.deadlines.add(msg.reply, deadline)
        return True

    def stop(self) -> None:
        """Close every actor's inbox; `run` returns when the last actor is done."""
        self._stopping = True
        for box in self._actors.values():
            box.close()
        self._actors.clear()
        for iid in self._idle:  # nothing to finish
            self.timers.disarm(iid)
            self._live -= 1
        self._idle.clear()
        if self._live == 0:
            self._loop.cancel()

    # ------------------------------------------------------------------ routing

    def _handle(self, msg: RouterMessage) -> None:
        if isinstance(msg, Closed):
            self._closed(msg.incident_id)
        elif self._stopping:
            req = msg.request if isinstance(msg, Reroute) else msg
            req.reply.fail(Unavailable("pager is shutting down"))
        elif isinstance(msg, Reroute):
            req = msg.request
            if isinstance(req, Ingest) and isinstance(req.command, Open):
                req = Ingest(
                    req.service_id, req.dedup_key, req.integration, req.command.first, req.reply
                )
            self._handle(req)
        elif isinstance(msg, Ingest):
            self._ingest(msg)
        else:
            self._act(msg)

    def _ingest(self, msg: Ingest) -> None:
        key = (msg.service_id, msg.dedup_key)
        iid = self._by_key.get(key)
        if iid is None:
            if not msg.opens or not isinstance(msg.command, TriggerAlert | UpsertGroup):
                msg.reply.set(Outcome(None, False))  # acknowledge/resolve of nothing open
                return
            if self.journal.backlog >= MAX_LOG_BACKLOG:
                msg.reply.fail(Unavailable("the event log is behind (a slow disk?); try again"))
                return
            number = self._next_number
            self._next_number += 1
            iid = incident_id(number)
            new = _new_incident(
                incident_id=iid,
                number=number,
                service_id=msg.service_id,
                dedup_key=msg.dedup_key,
                integration=msg.integration,
            )
            self._by_key[key] = iid
            self._key_of[iid] = key
            msg = new_ingest(
                msg.service_id,
                msg.dedup_key,
                msg.integration,
                _open(new=new, first=msg.command),
                msg.reply,
            )
            if self._direct and self.journal.records_soon:
                self._open_soon(iid, msg)
                return
            self._spawn(iid)
        self._forward(iid, msg)

    def _act(self, msg: Act) -> None:
        iid = msg.incident_id
        if iid not in self._actors:
            if not self.state.knows(iid):
                msg.reply.fail(NotFound(f"no incident {iid}"))
                return
            self._spawn(iid)  # a resolved incident: a short-lived actor answers
        self._forward(iid, msg)

    def _forward(self, iid: str, msg: Ingest | Act) -> None:
        box = self._actors[iid]
        if self._direct and 2 * len(box) >= box.capacity:
            raise trio.WouldBlock  # nothing was changed for it: `take` says so
        try:
            box.put_nowait(msg)
        except trio.WouldBlock:
            msg.reply.fail(Unavailable(f"incident {iid} is busy; try again"))
            return
        if self._idle:
            self._wake(iid)

    def _closed(self, iid: str) -> None:
        box = self._actors.pop(iid, None)
        if box is not None:
            box.close()
        key = self._key_of.pop(iid, None)
        if key is not None and self._by_key.get(key) == iid:
            del self._by_key[key]

    # ------------------------------------------------------------------ actors

    def _tick(self, iid: str) -> None:
        box = self._actors.get(iid)
        if box is not None:
            box.tick()
            if self._idle:
                self._wake(iid)

    def _wake(self, iid: str) -> None:
        """Start the task of an actor that has none (see `_open_soon`)."""
        actor = self._idle.pop(iid, None)
        if actor is not None:
            assert self._nursery is not None
            self._nursery.start_soon(self._run_actor, actor, self._actors[iid], name=iid)

    def _open_soon(self, iid: str, msg: Ingest) -> None:
        """Open incident `iid` in the requester's task (`take`), without a task for its
        actor: the opening is decided now and journaled by the log's writer, which then
        answers the requester and calls `_opened`. An actor task (spawning it, its first
        step, its wake-up after the write) was about a tenth of the work of a new incident
        in an alert storm (py-spy, `scripts/bench ingest`); most new incidents have nothing
        more to do for minutes (until their first escalation), so their task starts only
        when a message or a tick comes. Meanwhile what reaches the incident waits in its
        mailbox, as it would for a busy actor."""
        box: Mailbox[Ingest | Act] = Mailbox(ACTOR_INBOX)
        self._actors[iid] = box
        self._live += 1
        actor = IncidentActor(
            iid, self.journal, self.state, self.rules, self.clock, self._outbox, self.timers
        )
        actor.open_soon(msg, lambda unowned: self._opened(actor, box, unowned))

    def _opened(
        self, actor: IncidentActor, box: Mailbox[Ingest | Act], unowned: list[Ingest | Act]
    ) -> None:
        """After `_open_soon`'s turn is durable (or failed): what the actor's task would do
        after a turn. An incident that is not open (the write failed, or it opened
        resolved) closes at once and what reached it is routed afresh; one with messages,
        a tick or a closed mailbox (shutdown) gets its task; the rest wait idle, their next
        deadline armed."""
        iid = actor.id
        inc = self.state.incidents.get(iid)
        if inc is None or inc.status is Status.RESOLVED:
            self.timers.disarm(iid)
            if self._actors.get(iid) is box:
                self._closed(iid)
            box.close()
            self._live -= 1
            for req in [*unowned, *box.drain()]:
                self._handle(Reroute(req))
            if self._stopping and self._live == 0:
                self._loop.cancel()
            return
        for req in unowned:  # cannot happen for an opening turn; as the actor would
            self._handle(Reroute(req))
        actor.arm()
        if box.pending:
            assert self._nursery is not None
            self._nursery.start_soon(self._run_actor, actor, box, name=iid)
        else:
            self._idle[iid] = actor

    def _spawn(self, iid: str) -> None:
        assert self._nursery is not None
        box: Mailbox[Ingest | Act] = Mailbox(ACTOR_INBOX)
        self._actors[iid] = box
        self._live += 1
        actor = IncidentActor(
            iid, self.journal, self.state, self.rules, self.clock, self._outbox, self.timers
        )
        self._nursery.start_soon(self._run_actor, actor, box, name=iid)

    async def _run_actor(self, actor: IncidentActor, box: Mailbox[Ingest | Act]) -> None:
        try:
            await actor.run(box)
        finally:
            self._live -= 1
            if self._stopping and self._live == 0:
                self._loop.cancel()
