"""What actors send each other: requests with a one-shot reply slot, and the notices an
incident actor sends its router."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from pager.core._fast import maker
from pager.core.commands import Command
from pager.core.model import Incident

__all__ = ["Act", "Closed", "Ingest", "Outcome", "Reply", "Reroute", "new_ingest", "new_outcome"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request did: the incident afterwards (None when nothing was opened) and
    whether any event was journaled."""

    incident: Incident | None
    changed: bool


class Reply:
    """A one-shot reply slot: the requester awaits `wait()`, the actor calls `set` or
    `fail` exactly once. Cheaper than a memory channel or a trio.Event per request (it
    parks its one waiter and wakes it, as pager.actors.mailbox does), and a reply to a
    requester that gave up (timed out) is simply dropped."""

    __slots__ = ("_error", "_value", "_waiter", "done")

    def __init__(self) -> None:
        self.done = False
        self._value: Outcome | None = None
        self._error: BaseException | None = None
        self._waiter: trio.lowlevel.Task | None = None

    def set(self, value: Outcome) -> None:
        if not self.done:
            self._value = value
            self._finish()

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self._error = error
            self._finish()

    def _finish(self) -> None:
        self.done = True
        task, self._waiter = self._waiter, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    async def wait(self) -> Outcome:
        if self.done:
            await trio.lowlevel.checkpoint()
        else:
            if self._waiter is not None:
                raise trio.BusyResourceError("another task is already waiting for this reply")
            self._waiter = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._waiter = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


@dataclass(frozen=True, slots=True)
class Ingest:
    """An alert for (service, dedup key): the router finds the open incident or opens one."""

    service_id: str
    dedup_key: str
    integration: str
    command: Command
    reply: Reply = field(default_factory=Reply)
    opens: bool = True  # False for acknowledge/resolve: never opens an incident


@dataclass(frozen=True, slots=True)
class Act:
    """A command for one incident by id (REST API, interactions)."""

    incident_id: str
    command: Command
    reply: Reply = field(default_factory=Reply)


@dataclass(frozen=True, slots=True)
class Closed:
    """From an incident actor: my incident is resolved (or never opened); stop routing to me."""

    incident_id: str


@dataclass(frozen=True, slots=True)
class Reroute:
    """From a closing incident actor: a request that arrived after it closed."""

    request: Ingest | Act


RouterMessage = Ingest | Act | Closed | Reroute


# `Ingest(...)` and `Outcome(...)`, the same values, made without a frozen dataclass's
# `object.__setattr__` per field (pager.core._fast): every alert makes one or two of each
new_ingest: Callable[..., Ingest] = maker(Ingest)
new_outcome: Callable[..., Outcome] = maker(Outcome)
