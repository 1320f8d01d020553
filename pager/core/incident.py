"""The incident lifecycle: a state machine written as a transition table, and the two
functions of event sourcing.

`TRANSITIONS[status][verb]` is the status a command leads to; a verb missing from a status's
row is refused with `TransitionRefused` and the incident is left as it was. `decide(incident,
command, ctx)` checks the table, reads the context (service rules, now, maintenance, who is on
call) and returns the events that record what happened; `evolve(incident, event, seq, at)`
returns the incident after one event. Replay is a fold of `evolve` over the log.

No trio, no I/O, no clock reads here: time arrives in `ctx.now`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from pager.errors import BadRequest, Conflict, TransitionRefused

from .commands import (
    Acknowledge,
    AddNote,
    AlertObservation,
    Command,
    Escalate,
    Open,
    Resolve,
    ResolveAlert,
    Snooze,
    Tick,
    TriggerAlert,
    UpsertGroup,
)
from .escalation import first_step, next_step, step_at_level
from .events import (
    AlertResolved,
    AlertTriggered,
    Event,
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    NoteAdded,
)
from .model import (
    Alert,
    EscalationState,
    Incident,
    Status,
    TimelineEntry,
    short_code,
    worst_severity,
)
from .rules import Context

__all__ = ["TRANSITIONS", "decide", "evolve", "next_deadline", "verb_of"]

T, A, R = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED

TRANSITIONS: Mapping[Status, Mapping[str, Status]] = {
    T: {
        "trigger": T,
        "resolve_alert": T,
        "upsert": T,
        "acknowledge": A,
        "snooze": A,
        "resolve": R,
        "escalate": T,
        "note": T,
        "tick": T,
    },
    A: {
        "trigger": A,  # a new trigger while acknowledged pages nobody
        "resolve_alert": A,
        "upsert": A,
        "acknowledge": A,  # idempotent
        "snooze": A,
        "resolve": R,
        "escalate": T,
        "unacknowledge": T,  # ack timeout, snooze end
        "note": A,
        "tick": A,
    },
    R: {
        "note": R,
        "tick": R,
    },
}

_VERBS: dict[type, str] = {
    TriggerAlert: "trigger",
    ResolveAlert: "resolve_alert",
    UpsertGroup: "upsert",
    Acknowledge: "acknowledge",
    Snooze: "snooze",
    Resolve: "resolve",
    Escalate: "escalate",
    AddNote: "note",
    Tick: "tick",
}


def verb_of(command: Command) -> str:
    return "open" if isinstance(command, Open) else _VERBS[type(command)]


def _check(inc: Incident, verb: str) -> Status:
    target = TRANSITIONS[inc.status].get(verb)
    if target is None:
        raise TransitionRefused(inc.id, inc.status.value, verb.replace("_", " "))
    return target


class _Decision:
    """Collects events and keeps a provisional incident, so a command that produces several
    events decides each on the state the previous ones leave."""

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

    def start_escalation(self, by: str | None = None, via: str | None = None) -> None:
        policy = self.ctx.service.policy
        if policy is None or not policy.levels:
            return
        level, rnd, next_at = first_step(policy, self.ctx.now)
        self.emit(
            IncidentEscalated(
                incident_id=self.inc.id,
                policy_id=policy.id,
                level=level,
                round=rnd,
                next_at=next_at,
                targets=self.ctx.resolve_targets(policy.levels[level]),
                by=by,
                via=via,
            )
        )

    def quiet_reason(self, urgency: str) -> tuple[bool, datetime | None, str | None]:
        """(paging, page_at, reason) for an incident of this urgency opening now."""
        ctx, svc = self.ctx, self.ctx.service
        if ctx.maintenance is not None:
            return False, None, f"maintenance: {ctx.maintenance}"
        if urgency == "low":
            if svc.low_urgency == "never":
                return False, None, "low urgency: this service pages nobody for it"
            if svc.low_urgency == "business_hours" and svc.business_hours is not None:
                at = svc.business_hours.next_start(ctx.now)
                if at > ctx.now:
                    return True, at, f"low urgency: paging from {at.isoformat()}"
        return True, None, None


def decide(incident: Incident | None, command: Command, ctx: Context) -> list[Event]:
    """The events that `command` produces on `incident` at `ctx.now`, or a typed refusal.

    Raises TransitionRefused (409) when the status does not allow the command, Conflict or
    BadRequest when the command cannot apply to this incident; the incident is unchanged."""
    d = _Decision(incident, ctx)
    if isinstance(command, Open):
        if incident is not None:
            raise Conflict(f"incident {incident.id} exists already")
        _open(d, command)
        return d.events
    if incident is None:
        raise BadRequest("no such incident")
    verb = verb_of(command)
    target = _check(incident, verb)
    now = ctx.now
    match command:
        case TriggerAlert():
            _trigger(d, command)
        case ResolveAlert():
            alert = incident.alerts.get(command.key)
            if alert is not None and alert.status == "firing":
                d.emit(
                    AlertResolved(
                        incident_id=incident.id, key=command.key, occurred_at=command.occurred_at
                    )
                )
                _resolve_if_quiet(d, command.by, command.via)
        case UpsertGroup():
            _upsert(d, command)
        case Acknowledge():
            if incident.status is not A:
                timeout = ctx.service.ack_timeout
                d.emit(
                    IncidentAcknowledged(
                        incident_id=incident.id,
                        by=command.by,
                        via=command.via,
                        ack_timeout_at=now + timeout if timeout else None,
                    )
                )
        case Resolve():
            d.emit(
                IncidentResolved(
                    incident_id=incident.id, by=command.by, via=command.via, reason=command.reason
                )
            )
        case Snooze():
            if command.duration.total_seconds() <= 0:
                raise BadRequest("for: a snooze must last longer than 0s")
            d.emit(
                IncidentSnoozed(
                    incident_id=incident.id,
                    until=now + command.duration,
                    by=command.by,
                    via=command.via,
                )
            )
        case Escalate():
            _escalate(d, command)
        case AddNote():
            if not command.text.strip():
                raise BadRequest("text: a note cannot be empty")
            d.emit(
                NoteAdded(
                    incident_id=incident.id, text=command.text, by=command.by, via=command.via
                )
            )
        case Tick():
            _tick(d)
    assert target is not None
    return d.events


def _open(d: _Decision, command: Open) -> None:
    new, first = command.new, command.first
    if isinstance(first, UpsertGroup):
        firing = [a for a in first.alerts if a.firing]
        if not firing:
            return  # a group we never saw firing, now resolved: nothing to open
        severity = firing[0].severity
        for a in firing[1:]:
            severity = worst_severity(severity, a.severity)
        title = first.title or firing[0].summary
    else:
        severity, title = first.severity, first.title or first.summary
    ctx = d.ctx
    urgency = ctx.service.urgency(severity)
    paging, page_at, reason = d.quiet_reason(urgency)
    after = ctx.service.auto_resolve_after
    d.emit(
        IncidentOpened(
            incident_id=new.incident_id,
            number=new.number,
            short_code=short_code(new.number),
            service_id=new.service_id,
            dedup_key=new.dedup_key,
            integration=new.integration,
            title=title[:1024],
            severity=severity,
            urgency=urgency,
            paging=paging,
            page_at=page_at,
            auto_resolve_at=ctx.now + after if after else None,
            reason=reason,
        )
    )
    if isinstance(first, UpsertGroup):
        _upsert(d, first)
    else:
        _trigger(d, first)
    if paging and page_at is None:
        d.start_escalation()


def _trigger(d: _Decision, c: TriggerAlert) -> None:
    after = d.ctx.service.auto_resolve_after
    d.emit(
        AlertTriggered(
            incident_id=d.inc.id,
            key=c.key,
            summary=c.summary,
            severity=c.severity,
            source=c.source,
            labels=c.labels,
            details=c.details,
            links=c.links,
            occurred_at=c.occurred_at,
            auto_resolve_at=d.ctx.now + after if after else None,
        )
    )
    _wake_if_quiet(d)


def _wake_if_quiet(d: _Decision) -> None:
    """A new trigger on an incident opened during maintenance starts paging once the
    maintenance is over."""
    inc = d.inc
    if (
        not any(isinstance(e, IncidentOpened) for e in d.events)
        and not inc.paging
        and inc.status is T
        and d.quiet_reason(inc.urgency)[0]
    ):
        d.start_escalation()


def _changed(alert: Alert, obs: AlertObservation) -> bool:
    return (
        alert.status != "firing"
        or alert.summary != obs.summary
        or alert.severity != obs.severity
        or alert.labels != obs.labels
        or alert.details != obs.details
    )


def _upsert(d: _Decision, c: UpsertGroup) -> None:
    inc = d.inc
    seen: set[str] = set()
    for obs in c.alerts:
        seen.add(obs.key)
        alert = d.inc.alerts.get(obs.key)
        if obs.firing:
            if alert is None or _changed(alert, obs):
                d.emit(
                    AlertTriggered(
                        incident_id=inc.id,
                        key=obs.key,
                        summary=obs.summary,
                        severity=obs.severity,
                        source=obs.source,
                        labels=obs.labels,
                        details=obs.details,
                        links=obs.links,
                        occurred_at=obs.occurred_at,
                    )
                )
        elif alert is not None and alert.status == "firing":
            d.emit(AlertResolved(incident_id=inc.id, key=obs.key, occurred_at=obs.occurred_at))
    if not c.truncated:
        for key, alert in list(d.inc.alerts.items()):
            if key not in seen and alert.status == "firing":
                d.emit(AlertResolved(incident_id=inc.id, key=key))
    _resolve_if_quiet(d, None, c.via)
    if d.events:
        _wake_if_quiet(d)


def _resolve_if_quiet(d: _Decision, by: str | None, via: str | None) -> None:
    inc = d.inc
    if inc.status is not R and inc.alerts and not inc.firing_alerts():
        d.emit(IncidentResolved(incident_id=inc.id, by=by, via=via, reason="all alerts resolved"))


def _escalate(d: _Decision, c: Escalate) -> None:
    inc, policy = d.inc, d.ctx.service.policy
    if policy is None or not policy.levels:
        raise Conflict(f"service {inc.service_id} has no escalation policy")
    if not 1 <= c.level <= len(policy.levels):
        raise BadRequest(f"level: must be between 1 and {len(policy.levels)}")
    rnd = inc.escalation.round if inc.escalation else 0
    level, rnd, next_at = step_at_level(policy, c.level - 1, rnd, d.ctx.now)
    d.emit(
        IncidentEscalated(
            incident_id=inc.id,
            policy_id=policy.id,
            level=level,
            round=rnd,
            next_at=next_at,
            targets=d.ctx.resolve_targets(policy.levels[level]),
            by=c.by,
            via=c.via,
        )
    )


def _tick(d: _Decision) -> None:
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
                d.start_escalation()
    inc = d.inc
    if inc.status is T and inc.paging:
        if inc.page_at is not None and now >= inc.page_at:
            d.start_escalation()
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
                d.emit(
                    IncidentEscalated(
                        incident_id=inc.id,
                        policy_id=policy.id,
                        level=level,
                        round=rnd,
                        next_at=next_at,
                        targets=d.ctx.resolve_targets(policy.levels[level]),
                    )
                )
            else:
                d.start_escalation()  # the policy changed under a reload: walk the new one
    inc = d.inc
    if inc.status is not R and inc.auto_resolve_at is not None and now >= inc.auto_resolve_at:
        d.emit(IncidentResolved(incident_id=inc.id, via="pager", reason="auto-resolved"))


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
    return min(candidates) if candidates else None


# --------------------------------------------------------------------------- evolve


def _entry(
    inc: Incident,
    seq: int,
    at: datetime,
    kind: str,
    text: str,
    by: str | None = None,
    via: str | None = None,
) -> tuple[TimelineEntry, ...]:
    return (*inc.timeline, TimelineEntry(seq=seq, at=at, kind=kind, text=text, by=by, via=via))


def _by(by: str | None, via: str | None) -> str:
    parts = []
    if by:
        parts.append(f"by {by}")
    if via:
        parts.append(f"via {via}")
    return (" " + " ".join(parts)) if parts else ""


def evolve(incident: Incident | None, event: Event, seq: int, at: datetime) -> Incident:
    """The incident after `event`, journaled as number `seq` at `at`."""
    rep = dataclasses.replace
    if isinstance(event, IncidentOpened):
        inc = Incident(
            id=event.incident_id,
            number=event.number,
            short_code=event.short_code,
            service_id=event.service_id,
            dedup_key=event.dedup_key,
            integration=event.integration,
            title=event.title,
            severity=event.severity,
            urgency=event.urgency,
            status=T,
            created_at=at,
            updated_at=at,
            paging=event.paging,
            page_at=event.page_at,
            auto_resolve_at=event.auto_resolve_at,
            last_seq=seq,
        )
        text = f"Opened ({event.severity}, {event.urgency} urgency)"
        if event.reason:
            text += f"; not paging now: {event.reason}"
        return rep(
            inc,
            timeline=(
                TimelineEntry(seq=seq, at=at, kind=event.TYPE, text=text, via=event.integration),
            ),
        )
    if incident is None:
        raise ValueError(f"{event.TYPE} for an incident that was never opened")
    inc = incident
    match event:
        case AlertTriggered():
            old = inc.alerts.get(event.key)
            alert = Alert(
                key=event.key,
                status="firing",
                summary=event.summary,
                severity=event.severity,
                source=event.source,
                first_seen=old.first_seen if old and old.status == "firing" else at,
                last_seen=at,
                count=(old.count + 1) if old else 1,
                labels=event.labels,
                details=event.details,
                links=event.links or (),
            )
            alerts = {**inc.alerts, event.key: alert}
            inc = rep(
                inc,
                alerts=alerts,
                severity=worst_severity(inc.severity, event.severity),
                auto_resolve_at=event.auto_resolve_at or inc.auto_resolve_at,
            )
            verb = "Alert fired" if old is None or old.status != "firing" else "Alert fired again"
            inc = rep(inc, timeline=_entry(inc, seq, at, event.TYPE, f"{verb}: {event.summary}"))
        case AlertResolved():
            old = inc.alerts.get(event.key)
            if old is not None:
                alerts = {**inc.alerts, event.key: rep(old, status="resolved", resolved_at=at)}
                inc = rep(
                    inc,
                    alerts=alerts,
                    timeline=_entry(inc, seq, at, event.TYPE, f"Alert resolved: {old.summary}"),
                )
        case IncidentAcknowledged():
            inc = rep(
                inc,
                status=A,
                acknowledged_at=at,
                acknowledged_by=event.by,
                ack_timeout_at=event.ack_timeout_at,
                snoozed_until=None,
                timeline=_entry(
                    inc,
                    seq,
                    at,
                    event.TYPE,
                    "Acknowledged" + _by(event.by, event.via),
                    event.by,
                    event.via,
                ),
            )
        case IncidentUnacknowledged():
            inc = rep(
                inc,
                status=T,
                acknowledged_at=None,
                acknowledged_by=None,
                ack_timeout_at=None,
                snoozed_until=None,
                timeline=_entry(inc, seq, at, event.TYPE, f"Triggered again: {event.reason}"),
            )
        case IncidentSnoozed():
            inc = rep(
                inc,
                status=A,
                acknowledged_at=inc.acknowledged_at or at,
                acknowledged_by=inc.acknowledged_by or event.by,
                snoozed_until=event.until,
                ack_timeout_at=None,
                timeline=_entry(
                    inc,
                    seq,
                    at,
                    event.TYPE,
                    f"Snoozed until {event.until.isoformat()}" + _by(event.by, event.via),
                    event.by,
                    event.via,
                ),
            )
        case IncidentResolved():
            text = (
                "Resolved"
                + _by(event.by, event.via)
                + (f" ({event.reason})" if event.reason else "")
            )
            inc = rep(
                inc,
                status=R,
                resolved_at=at,
                resolved_by=event.by,
                snoozed_until=None,
                ack_timeout_at=None,
                page_at=None,
                escalation=rep(inc.escalation, next_at=None) if inc.escalation else None,
                timeline=_entry(inc, seq, at, event.TYPE, text, event.by, event.via),
            )
        case NoteAdded():
            inc = rep(
                inc, timeline=_entry(inc, seq, at, event.TYPE, event.text, event.by, event.via)
            )
        case IncidentEscalated():
            who = ", ".join(event.targets or ()) or "nobody on call"
            text = f"Escalated to level {event.level + 1}" + (
                f" (round {event.round + 1})" if event.round else ""
            )
            text += f": {who}" + _by(event.by, event.via)
            changes: dict[str, object] = {
                "escalation": EscalationState(
                    event.policy_id, event.level, event.round, event.next_at
                ),
                "paging": True,
                "page_at": None,
            }
            if inc.status is A:
                changes.update(
                    status=T,
                    acknowledged_at=None,
                    acknowledged_by=None,
                    ack_timeout_at=None,
                    snoozed_until=None,
                )
            inc = rep(
                inc, **changes, timeline=_entry(inc, seq, at, event.TYPE, text, event.by, event.via)
            )
        case _:
            raise ValueError(f"{event.TYPE} is not an incident event")
    return rep(inc, updated_at=at, last_seq=seq)
