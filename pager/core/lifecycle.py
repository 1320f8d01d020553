"""The incident state machine. Everything that decides an incident's status lives in the two
tables of this module (as h11's `_state.py` holds its HTTP state machine): the rest of the
core reads them and never sets a status of its own.

`COMMANDS[status][CommandType]` says which commands a status accepts, and every status the
incident may be in once the command's events are applied. Most commands lead to one status.
Some depend on what the command meets, and the table says so with more than one target
rather than pretending otherwise: an alert that resolves resolves the incident only with the
last firing alert; a `Tick` may end a snooze or an acknowledgement (back to triggered) and
auto-resolve. A command missing from a status's row is refused (`TransitionRefused`) and
the incident is left as it was. `None` is the row of an incident that does not exist yet:
`Open` creates one (or nothing, for an Alertmanager group that never fired).

`EVENTS[status][EventType]` is the status a journaled event leads to: `evolve` takes the
status from here and nowhere else. An event missing from the row leaves the status as it is
(notes, notifications, alerts: they do not move the lifecycle).

A property test (tests/core/test_lifecycle.py) runs random command sequences through
`decide` and `evolve` and checks each status against both tables, and another tries every
(status, command) pair in situations that reach each listed target.
"""

from __future__ import annotations

from collections.abc import Mapping

from pager.errors import TransitionRefused

from .commands import (
    Acknowledge,
    AddNote,
    Edit,
    Escalate,
    Fallback,
    Open,
    Resolve,
    ResolveAlert,
    Snooze,
    Tick,
    TriggerAlert,
    UpsertGroup,
)
from .events import (
    Event,
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
)
from .model import Status

__all__ = ["COMMANDS", "EVENTS", "VERBS", "targets"]

T, A, R = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED

# What the statuses a command may lead to are: one status, or several when the outcome
# depends on the alerts or on the clock; `None` is "no incident".
Targets = frozenset[Status | None]


def _(*statuses: Status | None) -> Targets:
    return frozenset(statuses)


COMMANDS: Mapping[Status | None, Mapping[type, Targets]] = {
    None: {
        Open: _(T, None),  # None: an Alertmanager group seen only resolved opens nothing
    },
    T: {
        TriggerAlert: _(T),
        ResolveAlert: _(T, R),  # R with the last firing alert
        UpsertGroup: _(T, R),  # R when the group has no firing alert left
        Acknowledge: _(A),
        Snooze: _(A),  # snoozing a triggered incident acknowledges it
        Resolve: _(R),
        Escalate: _(T),
        AddNote: _(T),
        Edit: _(T),
        Fallback: _(T),
        Tick: _(T, R),  # R: auto-resolve is due
    },
    A: {
        TriggerAlert: _(A),  # a new trigger while acknowledged pages nobody
        ResolveAlert: _(A, R),
        UpsertGroup: _(A, R),
        Acknowledge: _(A),  # idempotent
        Snooze: _(A),
        Resolve: _(R),
        Escalate: _(T),  # a manual escalation pages again
        AddNote: _(A),
        Edit: _(A),
        Fallback: _(A),  # nobody is paged while acknowledged: nothing to fall back to
        Tick: _(A, T, R),  # T: the acknowledgement timed out or the snooze ended
    },
    R: {
        AddNote: _(R),
        Edit: _(R),
        Fallback: _(R),  # nothing left to notify
        Tick: _(R),
    },
}

EVENTS: Mapping[Status | None, Mapping[type[Event], Status]] = {
    None: {
        IncidentOpened: T,
    },
    T: {
        IncidentAcknowledged: A,
        IncidentSnoozed: A,
        IncidentResolved: R,
        IncidentEscalated: T,
    },
    A: {
        IncidentAcknowledged: A,
        IncidentSnoozed: A,
        IncidentResolved: R,
        IncidentEscalated: T,
        IncidentUnacknowledged: T,
    },
    R: {},
}

# How a refusal and an action link name each command ("cannot resolve alert").
VERBS: Mapping[type, str] = {
    Open: "open",
    TriggerAlert: "trigger",
    ResolveAlert: "resolve_alert",
    UpsertGroup: "upsert",
    Acknowledge: "acknowledge",
    Snooze: "snooze",
    Resolve: "resolve",
    Escalate: "escalate",
    AddNote: "note",
    Edit: "edit",
    Fallback: "fallback",
    Tick: "tick",
}


def targets(status: Status | None, command: type, incident_id: str = "") -> Targets:
    """The statuses `command` may lead to from `status`; raises TransitionRefused if the
    status does not accept it."""
    out = COMMANDS[status].get(command)
    if out is None:
        verb = VERBS[command].replace("_", " ")
        raise TransitionRefused(incident_id, status.value if status else "new", verb)
    return out
