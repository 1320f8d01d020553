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
from pager.core.commands import Command, Open, Tick
from pager.core.events import Event
from pager.core.incident import decide_full, next_deadline
from pager.core.model import Incident, Status
from pager.core.rules import Context, RulesBook
from pager.core.state import SystemState, maintenance_reason
from pager.errors import LogUnavailable, PagerError
from pager.store.base import LogDamaged
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

    def _arm(self) -> None:
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
                    self._arm()
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
        now = self.clock.now()
        rules = self.rules()
        current = self.state.incidents.get(self.id)
        provisional = current
        events: list[Event] = []
        answers: list[tuple[Ingest | Act, PagerError | None, bool]] = []
        unowned: list[Ingest | Act] = []
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
        try:
            await self.journal.record(
                events, now, decided=None if provisional is None else (current, provisional)
            )
        except LogUnavailable as e:
            self._hold_until = now + timedelta(seconds=RETRY_AFTER_FAILED_WRITE)
            if batch == [None]:
                log.warning("incident %s: timer events not journaled, retrying: %s", self.id, e)
            for req, _, _ in answers:
                req.reply.fail(e)
            for req in unowned:
                req.reply.fail(e)
            return []
        self._hold_until = None
        after = self.state.incidents.get(self.id)
        for req, err, changed in answers:
            if err is not None:
                req.reply.fail(err)
            else:
                req.reply.set(new_outcome(after, changed))
        return unowned

    def _service_of(self, inc: Incident | None, command: Command) -> str | None:
        if inc is not None:
            return inc.service_id
        if isinstance(command, Open):
            return command.new.service_id
        return None

    def _context(self, rules: RulesBook, service_id: str, now: datetime) -> Context:
        svc = rules.service(service_id)
        return Context(
            service=svc,
            now=now,
            maintenance=maintenance_reason(svc, now, self.state),
            oncall=rules.oncall,
            users=rules.users,
            edits=MESSAGE_EDITS,
        )
