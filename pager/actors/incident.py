"""One actor per open incident: it owns the incident's timers and is the only writer of its
events.

Its loop: arm the incident's next deadline with the timer service (escalation step, ack
timeout, snooze end, deferred paging, a person's next notification rule, auto-resolve —
absolute UTC instants from the journal); wait for a request or the timer's tick; take
everything queued with it (one journal append for the
batch); `decide` each on the incident as the previous ones leave it; journal the events;
then answer each requester. Once the incident is resolved (or never opened), it tells the
router, and sends back to the router whatever still reaches it, until the router closes its
inbox.

A deadline that passed while pager was down fires once, at once, when the actor starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import trio

from pager.clock import WallClock
from pager.core._fast import maker
from pager.core.commands import Command, Open, Tick
from pager.core.events import Event
from pager.core.incident import decide_full, next_deadline
from pager.core.model import Incident, Status
from pager.core.rules import Context, RulesBook
from pager.core.state import SystemState, maintenance_reason
from pager.errors import LogUnavailable, PagerError
from pager.store.base import LogDamaged, Record
from pager.transports.registry import MESSAGE_EDITS

from .archived import ensure_incident
from .journal import Journal
from .mailbox import Mailbox
from .messages import Act, Closed, Ingest, Reroute, RouterMessage, new_outcome
from .timers import Timers

__all__ = ["MAX_BATCH", "IncidentActor"]

log = logging.getLogger("pager.incident")

MAX_BATCH = 256
RETRY_AFTER_FAILED_WRITE = (
    1.0  # seconds before a timer whose events could not be journaled tries again
)
# `Context(...)`, the same value, made without a frozen dataclass's `object.__setattr__` per
# field (pager.core._fast): one for every turn, so for every new incident
_context = maker(Context)


class _Turn:
    """One turn's decisions, kept until its events are durable."""

    __slots__ = ("answers", "batch", "decided", "events", "now", "unowned")

    def __init__(self, now: datetime, batch: list[Ingest | Act | None]) -> None:
        self.now = now
        self.batch = batch
        self.events: list[Event] = []
        self.answers: list[tuple[Ingest | Act, PagerError | None, bool]] = []
        self.unowned: list[Ingest | Act] = []
        self.decided: tuple[Incident | None, Incident] | None = None


class IncidentActor:
    __slots__ = ("_hold_until", "clock", "id", "journal", "router", "rules", "state", "timers")

    def __init__(
        self,
        incident_id: str,
        journal: Journal,
        state: SystemState,
        rules: Callable[[], RulesBook],
        clock: WallClock,
        router: trio.MemorySendChannel[RouterMessage],
        timers: Timers,
    ) -> None:
        self.id = incident_id
        self.journal = journal
        self.state = state
        self.rules = rules
        self.clock = clock
        self.router = router
        self.timers = timers
        self._hold_until: datetime | None = None  # timers wait after a failed write

    def arm(self) -> None:
        """Arm the incident's next deadline with the timer service (or disarm it)."""
        inc = self.state.incidents.get(self.id)
        due = None if inc is None else next_deadline(inc)
        if due is None:
            self.timers.disarm(self.id)
            return
        if self._hold_until is not None and due < self._hold_until:
            due = self._hold_until
        self.timers.arm(self.id, due)

    async def run(self, inbox: Mailbox[Ingest | Act]) -> None:
        closing = False
        if self.id not in self.state.incidents and self.id in self.state.archive:
            try:
                await ensure_incident(self.state, self.journal.log, self.id)  # archived: rebuild
            except (OSError, ValueError, LogDamaged) as e:
                log.error("incident %s could not be rebuilt from the log: %s", self.id, e)
        try:
            while True:
                if not closing:
                    self.arm()
                try:
                    requests, ticked = await inbox.take(MAX_BATCH)
                except trio.EndOfChannel:
                    return
                # one turn in a method of its own: nothing of this batch (requests, their
                # replies, an outdated copy of the incident) stays alive while the actor
                # waits, which at 100,000 idle actors is a lot of memory
                closing = await self._turn(requests, ticked, closing)
                del requests
        finally:
            self.timers.disarm(self.id)

    async def _turn(self, requests: list[Ingest | Act], ticked: bool, closing: bool) -> bool:
        """Handle what `take` gave; returns whether the actor is closing."""
        if closing:
            for req in requests:
                await self.router.send(Reroute(req))
            return True
        batch: list[Ingest | Act | None] = list(requests)
        if ticked:
            batch.append(None)
        unowned = await self._process(batch)
        inc = self.state.incidents.get(self.id)
        if inc is None or inc.status is Status.RESOLVED:
            closing = True
            self.timers.disarm(self.id)
            await self.router.send(Closed(self.id))
        # after Closed, so the router routes them afresh (e.g. the firing group that
        # followed a group whose first notice was all-resolved and opened nothing)
        for req in unowned:
            await self.router.send(Reroute(req))
        return closing

    async def _process(self, batch: list[Ingest | Act | None]) -> list[Ingest | Act]:
        """Decide and journal the batch, then answer. Returns the requests that are not
        this actor's to answer: ingest for an incident that was never opened."""
        turn = self._decide(batch)
        try:
            await self.journal.record(turn.events, turn.now, decided=turn.decided)
        except LogUnavailable as e:
            return self._answer(turn, e)
        return self._answer(turn, None)

    def open_soon(self, request: Ingest, finished: Callable[[list[Ingest | Act]], None]) -> None:
        """The turn of the request that opens this actor's incident, without a task of the
        actor's own (the router's `take`, in its requester's task): decided now, journaled
        by the log's writer (Journal.record_soon), answered once durable; then
        `finished(unowned)` tells the router (see Router._opened). Every other turn is
        `run`'s, in the actor's task."""
        turn = self._decide([request])

        def done(_records: list[Record], error: LogUnavailable | None) -> None:
            unowned: list[Ingest | Act] = []
            try:
                unowned = self._answer(turn, error)
            finally:  # even if answering failed (a bug): the router must learn how it ended
                finished(unowned)

        self.journal.record_soon(turn.events, turn.now, done, decided=turn.decided)

    def _decide(self, batch: list[Ingest | Act | None]) -> _Turn:
        """`decide` each request of the batch on the incident as the previous ones leave
        it: the events to journal and the answers to give once they are durable."""
        now = self.clock.now()
        rules = self.rules()
        current = self.state.incidents.get(self.id)
        provisional = current
        turn = _Turn(now, batch)
        events = turn.events
        answers = turn.answers
        unowned = turn.unowned
        ctx: Context | None = None  # the same for the whole batch while the service is
        for req in batch:
            command: Command = Tick() if req is None else req.command
            service_id = self._service_of(provisional, command)
            gone = provisional is not None and provisional.status is Status.RESOLVED
            if service_id is None or (gone and isinstance(req, Ingest)):
                # never opened, or resolved earlier in this batch: an alert that may open an
                # incident goes back to the router, which opens a new one
                if isinstance(req, Ingest):
                    unowned.append(req)
                elif req is not None:
                    answers.append((req, PagerError(f"incident {self.id} does not exist"), False))
                continue
            if ctx is None or ctx.service.id != service_id:
                ctx = self._context(rules, service_id, now)
            try:
                produced, after_command = decide_full(provisional, command, ctx, first=len(events))
            except PagerError as e:
                if req is not None:
                    answers.append((req, e, False))
                continue
            except Exception as e:  # a bug must cost this request, not every incident
                log.exception("incident %s: deciding %s failed", self.id, type(command).__name__)
                if req is not None:
                    answers.append((req, PagerError(f"internal error: {type(e).__name__}"), False))
                continue
            provisional = after_command
            events.extend(produced)
            if req is not None:
                answers.append((req, None, bool(produced)))
        turn.decided = None if provisional is None else (current, provisional)
        return turn

    def _answer(self, turn: _Turn, error: LogUnavailable | None) -> list[Ingest | Act]:
        """Answer the turn's requesters once its events are durable, or fail them all with
        `error` (nothing of the turn happened); returns the requests that are not this
        actor's."""
        if error is not None:
            self._hold_until = turn.now + timedelta(seconds=RETRY_AFTER_FAILED_WRITE)
            if turn.batch == [None]:
                log.warning("incident %s: timer events not journaled, retrying: %s", self.id, error)
            for req, _, _ in turn.answers:
                req.reply.fail(error)
            for req in turn.unowned:
                req.reply.fail(error)
            return []
        self._hold_until = None
        after = self.state.incidents.get(self.id)
        for req, err, changed in turn.answers:
            if err is not None:
                req.reply.fail(err)
            else:
                req.reply.set(new_outcome(after, changed))
        return turn.unowned

    def _service_of(self, inc: Incident | None, command: Command) -> str | None:
        if inc is not None:
            return inc.service_id
        if isinstance(command, Open):
            return command.new.service_id
        return None

    def _context(self, rules: RulesBook, service_id: str, now: datetime) -> Context:
        svc = rules.service(service_id)
        return _context(
            service=svc,
            now=now,
            maintenance=maintenance_reason(svc, now, self.state),
            oncall=rules.oncall,
            users=rules.users,
            edits=MESSAGE_EDITS,
        )
