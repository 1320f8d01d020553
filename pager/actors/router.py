"""The router: sends every request to the actor of its incident, opening incidents on demand.

It owns the index of open incidents by (service, dedup key), updated the moment it decides
to open one, so a second trigger for the same key that arrives before the first is durable
reaches the same actor instead of opening a twin. It starts one incident actor per open
incident (at start-up, and when an alert opens one), and a short-lived one for a request about
a resolved incident (a note, or a 409). It never blocks on an actor: an actor whose inbox is
full gets no more work and the requester hears 503 at once.

Shutdown (`stop`): every actor's inbox is closed, requests still arriving are refused, and
`run` returns once the last actor has finished what it was doing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from pager.clock import WallClock
from pager.core.commands import NewIncident, Open, TriggerAlert, UpsertGroup
from pager.core.rules import RulesBook
from pager.core.state import SystemState
from pager.errors import NotFound, Unavailable

from .incident import IncidentActor
from .journal import Journal
from .messages import Act, Closed, Ingest, Outcome, Reroute, RouterMessage

__all__ = ["ACTOR_INBOX", "Router"]

log = logging.getLogger("pager.router")

ACTOR_INBOX = 32


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
        self._actors: dict[str, trio.MemorySendChannel[Ingest | Act]] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._key_of: dict[str, tuple[str, str]] = {}
        self._next_number = 1
        self._live = 0
        self._stopping = False
        self._nursery: trio.Nursery | None = None
        self._loop = trio.CancelScope()

    @property
    def actor_count(self) -> int:
        return self._live

    async def run(
        self,
        inbox: trio.MemoryReceiveChannel[RouterMessage],
        *,
        task_status: trio.TaskStatus[Router] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._next_number = self.state.next_number
            for key, iid in self.state.open_by_key.items():
                self._by_key[key] = iid
                self._key_of[iid] = key
                self._spawn(iid)
            task_status.started(self)
            with self._loop:
                async with inbox:
                    async for msg in inbox:
                        self._handle(msg)
            for ch in self._actors.values():
                ch.close()

    def stop(self) -> None:
        """Close every actor's inbox; `run` returns when the last actor is done."""
        self._stopping = True
        for ch in self._actors.values():
            ch.close()
        self._actors.clear()
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
            number = self._next_number
            self._next_number += 1
            iid = incident_id(number)
            new = NewIncident(
                incident_id=iid,
                number=number,
                service_id=msg.service_id,
                dedup_key=msg.dedup_key,
                integration=msg.integration,
            )
            self._by_key[key] = iid
            self._key_of[iid] = key
            self._spawn(iid)
            msg = Ingest(
                msg.service_id,
                msg.dedup_key,
                msg.integration,
                Open(new=new, first=msg.command),
                msg.reply,
            )
        self._forward(iid, msg)

    def _act(self, msg: Act) -> None:
        iid = msg.incident_id
        if iid not in self._actors:
            if iid not in self.state.incidents:
                msg.reply.fail(NotFound(f"no incident {iid}"))
                return
            self._spawn(iid)  # a resolved incident: a short-lived actor answers
        self._forward(iid, msg)

    def _forward(self, iid: str, msg: Ingest | Act) -> None:
        try:
            self._actors[iid].send_nowait(msg)
        except trio.WouldBlock:
            msg.reply.fail(Unavailable(f"incident {iid} is busy; try again"))

    def _closed(self, iid: str) -> None:
        ch = self._actors.pop(iid, None)
        if ch is not None:
            ch.close()
        key = self._key_of.pop(iid, None)
        if key is not None and self._by_key.get(key) == iid:
            del self._by_key[key]

    # ------------------------------------------------------------------ actors

    def _spawn(self, iid: str) -> None:
        assert self._nursery is not None
        send, recv = trio.open_memory_channel[Ingest | Act](ACTOR_INBOX)
        self._actors[iid] = send
        self._live += 1
        self._nursery.start_soon(self._run_actor, iid, recv, name=f"incident {iid}")

    async def _run_actor(self, iid: str, inbox: trio.MemoryReceiveChannel[Ingest | Act]) -> None:
        try:
            actor = IncidentActor(
                iid, self.journal, self.state, self.rules, self.clock, self._outbox
            )
            await actor.run(inbox)
        finally:
            self._live -= 1
            if self._stopping and self._live == 0:
                self._loop.cancel()
