"""The working state of one `decide` call: the events so far and the incident as they leave
it, so a command that produces several events decides each on the state the previous ones
leave. A plain collector: the steps that commands share (reaching an escalation level,
paging its people, whether an incident may page now) are in paging.py."""

from __future__ import annotations

from ._fast import copier
from .events import Event
from .evolve import evolve
from .model import Incident
from .rules import Context

__all__ = ["Decision", "placeholder_seq", "with_seqs"]

# the decided incident with its journaled sequence numbers: one copier for these three fields
# (no dict of changes to build and walk, for every new incident's commit)
_with_numbers = copier(Incident, ("last_seq", "opened_seq", "history"))


def placeholder_seq(k: int) -> int:
    """The stand-in sequence number of the `k`-th event (from 0) a batch of decisions
    produced: negative, so it cannot be taken for a journaled one. See `with_seqs`."""
    return -(k + 1)


def with_seqs(
    decided: Incident, base: Incident | None, first_seq: int, last_seq: int
) -> Incident | None:
    """`decided` (the incident as decisions from `base` left it, with placeholder sequence
    numbers: `Decision(first=...)`) as evolving `base` through the same events journaled
    as records `first_seq`..`last_seq` gives it, or None when it cannot tell (an entry
    without a placeholder, a timeline that does not extend `base`'s).

    `evolve` uses a record's sequence number in three places only: `last_seq`, the opening
    record's `opened_seq`, and the timeline entry the event adds; everything else about
    the incident is the same whatever the numbers. So the journal's commit can take the
    decided value instead of evolving the incident a second time (SystemState.apply_decided).
    """
    count = last_seq - first_seq + 1
    kept = len(base.history) if base is not None else 0
    history = decided.history
    if len(history) < kept:
        return None
    if base is not None and kept and history[kept - 1] is not base.history[kept - 1]:
        return None
    fresh = []
    for entry in history[kept:]:
        k = -entry[0] - 1
        if not 0 <= k < count:
            return None
        fresh.append((first_seq + k, *entry[1:]))
    opened = decided.opened_seq
    if opened < 0:
        if not 0 <= -opened - 1 < count:
            return None
        opened = first_seq - opened - 1
    elif base is None or opened != base.opened_seq:
        return None
    return _with_numbers(decided, last_seq, opened, history[:kept] + tuple(fresh))


class Decision:
    """`first`: when given, the events are evolved with placeholder sequence numbers
    counted from it (`placeholder_seq`), so that the journal can take the decided incident
    (`with_seqs`); else with 0."""

    def __init__(self, incident: Incident | None, ctx: Context, first: int | None = None) -> None:
        self.incident = incident
        self.ctx = ctx
        self.events: list[Event] = []
        self.first = first

    @property
    def inc(self) -> Incident:
        assert self.incident is not None
        return self.incident

    def emit(self, event: Event) -> None:
        seq = 0 if self.first is None else placeholder_seq(self.first + len(self.events))
        self.events.append(event)
        self.incident = evolve(self.incident, event, seq, self.ctx.now)
