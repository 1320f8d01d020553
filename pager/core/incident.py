"""The incident lifecycle: a state machine written as a transition table, and the two
functions of event sourcing.

The table of the state machine is in lifecycle.py (`COMMANDS[status][CommandType]`: the
statuses a command may lead to; a command missing from a status's row is refused with
`TransitionRefused` and the incident is left as it was). `decide(incident,
command, ctx)` checks the table, reads the context (service rules, now, maintenance, who is on
call) and returns the events that record what happened; `evolve(incident, event, seq, at)`
returns the incident after one event. Replay is a fold of `evolve` over the log.

No trio, no I/O, no clock reads here: time arrives in `ctx.now`.
"""

from __future__ import annotations

from datetime import datetime

from pager.errors import BadRequest, Conflict

from . import paging
from .alerts import open_incident, resolve_if_quiet, trigger, upsert
from .commands import (
    Acknowledge,
    AddNote,
    Command,
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
    UseLink,
    who,
)
from .decision import Decision, placeholder_seq
from .escalation import next_step, step_at_level
from .events import (
    AlertsUpdated,
    Attribution,
    Event,
    IncidentAcknowledged,
    IncidentEdited,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    LinkUsed,
    NoteAdded,
)
from .evolve import evolve
from .lifecycle import COMMANDS, VERBS, targets
from .model import (
    Incident,
    Status,
)
from .rules import Context
from .vocabulary import AlertStatus

__all__ = ["TRANSITIONS", "decide", "decide_full", "evolve", "next_deadline", "verb_of"]

T, A, R = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED

# the state machine's table, read by `decide` (here) and `evolve`
TRANSITIONS = COMMANDS


def verb_of(command: Command) -> str:
    if isinstance(command, UseLink):
        return verb_of(command.command)
    return VERBS[type(command)]


def decide(incident: Incident | None, command: Command, ctx: Context) -> list[Event]:
    """The events that `command` produces on `incident` at `ctx.now` (see `decide_full`)."""
    return decide_full(incident, command, ctx)[0]


def decide_full(
    incident: Incident | None, command: Command, ctx: Context, *, first: int | None = None
) -> tuple[list[Event], Incident | None]:
    """The events that `command` produces on `incident` at `ctx.now`, and the incident as
    they leave it; or a typed refusal. With `first`, the incident carries placeholder
    sequence numbers for its events, counted from `first` (see `Decision`).

    Raises TransitionRefused (409) when the status does not allow the command, Conflict or
    BadRequest when the command cannot apply to this incident; the incident is unchanged."""
    d = Decision(incident, ctx, first)
    if isinstance(command, Open):
        if incident is not None:
            raise Conflict(f"incident {incident.id} exists already")
        open_incident(d, command)
        after_open = d.incident.status if d.incident is not None else None
        assert after_open in targets(None, Open)
        return d.events, d.incident
    if incident is None:
        raise BadRequest("no such incident")
    if isinstance(command, UseLink):
        return _use_link(incident, command, ctx, first)
    target = targets(incident.status, type(command), incident.id)
    now = ctx.now
    match command:
        case TriggerAlert():
            trigger(d, command)
        case ResolveAlert():
            alert = incident.alerts.get(command.key)
            if alert is not None and alert.status == AlertStatus.FIRING:
                d.emit(AlertsUpdated(incident_id=incident.id, resolved=(command.key,)))
                resolve_if_quiet(d, who(command))
        case UpsertGroup():
            upsert(d, command)
        case Acknowledge():
            if incident.status is not A:
                timeout = ctx.service.ack_timeout
                d.emit(
                    IncidentAcknowledged(
                        incident_id=incident.id,
                        attribution=who(command),
                        ack_timeout_at=now + timeout if timeout else None,
                    )
                )
                paging.status_update(d, "acknowledged")
        case Resolve():
            d.emit(
                IncidentResolved(
                    incident_id=incident.id,
                    attribution=who(command),
                    reason=command.reason,
                )
            )
            paging.status_update(d, "resolved")
        case Snooze():
            if command.duration.total_seconds() <= 0:
                raise BadRequest("for: a snooze must last longer than 0s")
            d.emit(
                IncidentSnoozed(
                    incident_id=incident.id,
                    until=now + command.duration,
                    attribution=who(command),
                )
            )
            if incident.status is T:
                paging.status_update(d, "acknowledged")
        case Escalate():
            _escalate(d, command)
        case AddNote():
            if not command.text.strip():
                raise BadRequest("text: a note cannot be empty")
            d.emit(
                NoteAdded(
                    incident_id=incident.id,
                    text=command.text,
                    attribution=who(command),
                )
            )
        case Edit():
            if command.title is not None and not command.title.strip():
                raise BadRequest("title: cannot be empty")
            title = command.title if command.title != incident.title else None
            if title is not None or command.description is not None:
                d.emit(
                    IncidentEdited(
                        incident_id=incident.id,
                        title=title,
                        description=command.description,
                        attribution=who(command),
                    )
                )
        case Fallback():
            paging.fallback(d, command.user_id, command.notification_id, command.failed)
        case Tick():
            _tick(d)
    after = d.inc.status
    assert after in target, f"{type(command).__name__}: {incident.status} -> {after}"
    return d.events, d.incident


def _use_link(
    incident: Incident, command: UseLink, ctx: Context, first: int | None
) -> tuple[list[Event], Incident]:
    """The link's command, then `link.used` (even when the command changed nothing, e.g. an
    acknowledgement of an acknowledged incident: the link has been used)."""
    events, after = decide_full(incident, command.command, ctx, first=first)
    assert after is not None
    used = LinkUsed(
        incident_id=incident.id,
        link_id=command.link_id,
        user_id=command.command.by or "",
        action=verb_of(command.command),
        expires_at=command.expires_at,
    )
    seq = 0 if first is None else placeholder_seq(first + len(events))
    return [*events, used], evolve(after, used, seq, ctx.now)


def _escalate(d: Decision, c: Escalate) -> None:
    inc, policy = d.inc, d.ctx.service.policy
    if policy is None or not policy.levels:
        raise Conflict(f"service {inc.service_id} has no escalation policy")
    if not 1 <= c.level <= len(policy.levels):
        raise BadRequest(f"level: must be between 1 and {len(policy.levels)}")
    rnd = inc.escalation.round if inc.escalation else 0
    level, rnd, next_at = step_at_level(policy, c.level - 1, rnd, d.ctx.now)
    paging.escalate_to(d, policy, level, rnd, next_at, who(c))


def _tick(d: Decision) -> None:
    now = d.ctx.now
    inc = d.inc
    if inc.status is A:
        reason = None
        if inc.snoozed_until is not None and now >= inc.snoozed_until:
            reason = "snooze ended"
        elif inc.ack_timeout_at is not None and now >= inc.ack_timeout_at:
            reason = "acknowledgement timed out"
        if reason is not None:
            d.emit(IncidentUnacknowledged(incident_id=inc.id, reason=reason))
            if d.inc.paging:
                paging.begin_paging(d)
    inc = d.inc
    if inc.status is T and inc.paging:
        if inc.page_at is not None:  # deferred: nothing escalates before it
            if now >= inc.page_at:
                paging.start_escalation(d)
        elif (
            inc.escalation is not None
            and inc.escalation.next_at is not None
            and now >= inc.escalation.next_at
        ):
            policy = d.ctx.service.policy
            if policy is not None and policy.id == inc.escalation.policy_id and policy.levels:
                level, rnd, next_at = next_step(
                    policy, inc.escalation.level, inc.escalation.round, now
                )
                paging.escalate_to(d, policy, level, rnd, next_at)
            else:
                paging.start_escalation(d)  # the policy changed under a reload: walk the new one
    paging.notify_due(d)
    inc = d.inc
    if inc.status is not R and inc.auto_resolve_at is not None and now >= inc.auto_resolve_at:
        d.emit(
            IncidentResolved(
                incident_id=inc.id, attribution=Attribution(via="pager"), reason="auto-resolved"
            )
        )
        paging.status_update(d, "resolved")


def next_deadline(inc: Incident) -> datetime | None:
    """The earliest instant at which a Tick may change this incident, or None."""
    if inc.status is R:
        return None
    candidates: list[datetime] = []
    if inc.auto_resolve_at is not None:
        candidates.append(inc.auto_resolve_at)
    if inc.status is A:
        if inc.snoozed_until is not None:
            candidates.append(inc.snoozed_until)
        elif inc.ack_timeout_at is not None:
            candidates.append(inc.ack_timeout_at)
    elif inc.paging:
        if inc.page_at is not None:
            candidates.append(inc.page_at)
        elif inc.escalation is not None and inc.escalation.next_at is not None:
            candidates.append(inc.escalation.next_at)
        candidates.extend(p.next_at for p in inc.pages.values() if p.next_at is not None)
    return min(candidates) if candidates else None
