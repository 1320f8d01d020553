"""Overrides made through the API, laid over the compiled configuration: the schedules the
actors and the API consult are the configured ones plus these, so paging, `/oncall` and the
shifts all see the same thing.

An API override wins over the layers and over the configured overrides (it is the newer
decision); among API overrides the later one wins. One whose schedule or user is no longer in
the configuration (after a reload) is kept in the log but not applied, and listed as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from . import schedule as sched
from .oncall_lookup import OncallLookup
from .rules import RulesBook

__all__ = ["ApiOverride", "applies", "with_overrides"]


@dataclass(frozen=True, slots=True)
class ApiOverride:
    id: str
    schedule_id: str
    user: str
    start: datetime
    end: datetime
    by: str | None = None


def applies(book: RulesBook, o: ApiOverride) -> bool:
    """Whether `o` is in force under `book`: its schedule and user are configured."""
    return o.schedule_id in book.schedules and o.user in book.users


def with_overrides(book: RulesBook, extra: Mapping[str, ApiOverride]) -> RulesBook:
    """`book` with the API overrides `extra` (in the order they were made) added to their
    schedules; `book` itself when there are none."""
    added: dict[str, list[sched.Override]] = {}
    for o in extra.values():
        if applies(book, o):
            added.setdefault(o.schedule_id, []).append(sched.Override(o.user, o.start, o.end))
    if not added:
        return book
    schedules = dict(book.schedules)
    for sid, overrides in added.items():
        s = schedules[sid]
        schedules[sid] = dataclasses.replace(s, overrides=s.overrides + tuple(overrides))
    return dataclasses.replace(book, schedules=schedules, oncall=OncallLookup(schedules))
