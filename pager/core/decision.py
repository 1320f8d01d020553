"""The working state of one `decide` call: the events so far and the incident as they leave
it, so a command that produces several events decides each on the state the previous ones
leave. A plain collector: the steps that commands share (reaching an escalation level,
paging its people, whether an incident may page now) are in paging.py."""

from __future__ import annotations

from .events import Event
from .evolve import evolve
from .model import Incident
from .rules import Context

__all__ = ["Decision"]


class Decision:
    def __init__(self, incident: Incident | None, ctx: Context) -> None:
        self.incident = incident
        self.ctx = ctx
        self.events: list[Event] = []

    @property
    def inc(self) -> Incident:
        assert self.incident is not None
        return self.incident

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self.incident = evolve(self.incident, event, 0, self.ctx.now)
