"""Alerts in an incident: opening an incident with its first alerts, a trigger of one
alert, an Alertmanager group's idempotent upsert, and resolving with the last firing alert.
Part of `decide` (incident.py): each function adds events to a `Decision`."""

from __future__ import annotations

from typing import Any

from . import paging
from ._fast import maker
from .commands import AlertObservation, Open, TriggerAlert, UpsertGroup
from .decision import Decision
from .events import AlertsUpdated, Attribution, IncidentOpened, IncidentResolved
from .model import MAX_FIRING_ALERTS, Alert, Status, short_code, worst_severity
from .vocabulary import AlertStatus

__all__ = ["as_fired", "open_incident", "resolve_if_quiet", "trigger", "upsert", "wake_if_quiet"]

# the events every new incident and every alert firing again make, made without a frozen
# dataclass's `object.__setattr__` per field (pager.core._fast): the same values
_incident_opened = maker(IncidentOpened)
_alerts_updated = maker(AlertsUpdated)

T, R = Status.TRIGGERED, Status.RESOLVED


def as_fired(c: TriggerAlert | AlertObservation) -> dict[str, Any]:
    """One alert as `AlertsUpdated.fired` and `IncidentOpened.alerts` carry it."""
    out: dict[str, Any] = {"key": c.key, "summary": c.summary, "severity": c.severity}
    if c.source is not None:
        out["source"] = c.source
    if c.labels:
        out["labels"] = c.labels
    if c.details is not None:
        out["details"] = c.details
    if c.links:
        out["links"] = list(c.links)
    return out


def open_incident(d: Decision, command: Open) -> None:
    new, first = command.new, command.first
    if isinstance(first, UpsertGroup):
        firing = [a for a in first.alerts if a.firing]
        if not firing:
            return  # a group we never saw firing, now resolved: nothing to open
        severity = firing[0].severity
        for a in firing[1:]:
            severity = worst_severity(severity, a.severity)
        title = first.title or firing[0].summary
        alerts = tuple(as_fired(a) for a in {a.key: a for a in firing}.values())
        alerts = alerts[:MAX_FIRING_ALERTS]
    else:
        severity, title = first.severity, first.title or first.summary
        alerts = (as_fired(first),)
    ctx = d.ctx
    urgency = ctx.service.urgency(severity)
    paging_now, page_at, reason = paging.quiet_reason(d, urgency)
    after = ctx.service.auto_resolve_after
    d.emit(
        _incident_opened(
            incident_id=new.incident_id,
            number=new.number,
            short_code=short_code(new.number),
            service_id=new.service_id,
            dedup_key=new.dedup_key,
            integration=new.integration,
            title=title[:1024],
            severity=severity,
            urgency=urgency,
            paging=paging_now,
            page_at=page_at,
            auto_resolve_at=ctx.now + after if after else None,
            reason=reason,
            alerts=alerts,
        )
    )
    if paging_now and page_at is None:
        paging.start_escalation(d)
    paging.status_update(d, "opened")


def trigger(d: Decision, c: TriggerAlert) -> None:
    after = d.ctx.service.auto_resolve_after
    d.emit(
        _alerts_updated(
            incident_id=d.inc.id,
            fired=(as_fired(c),),
            auto_resolve_at=d.ctx.now + after if after else None,
        )
    )
    wake_if_quiet(d)


def wake_if_quiet(d: Decision) -> None:
    """A new trigger on an incident opened during maintenance starts paging once the
    maintenance is over."""
    inc = d.inc
    if not inc.paging and inc.status is T:
        paging.begin_paging(d)


def changed(alert: Alert, obs: AlertObservation) -> bool:
    return (
        alert.status != AlertStatus.FIRING
        or alert.summary != obs.summary
        or alert.severity != obs.severity
        or alert.labels != (obs.labels or None)
        or alert.details != obs.details
    )


def upsert(d: Decision, c: UpsertGroup) -> None:
    """The whole group as Alertmanager sees it, in one event (or none if nothing changed)."""
    inc = d.inc
    seen: set[str] = set()
    firing: list[AlertObservation] = []
    resolved: list[str] = []
    for obs in c.alerts:
        seen.add(obs.key)
        if obs.firing:
            firing.append(obs)
            continue
        alert = inc.alerts.get(obs.key)
        if alert is not None and alert.status == AlertStatus.FIRING and obs.key not in resolved:
            resolved.append(obs.key)
    if not c.truncated:
        for key, alert in inc.alerts.items():
            if key not in seen and alert.status == AlertStatus.FIRING:
                resolved.append(key)
    # at most MAX_FIRING_ALERTS firing afterwards: alerts that start firing past it are left out
    still = {a.key for a in inc.alerts.values() if a.status == AlertStatus.FIRING} - set(resolved)
    room = MAX_FIRING_ALERTS - len(still)
    fired: dict[str, dict[str, Any]] = {}
    for obs in firing:
        alert = inc.alerts.get(obs.key)
        if obs.key not in still and obs.key not in fired:
            if room <= 0:
                continue
            room -= 1
        if alert is None or changed(alert, obs):
            fired[obs.key] = as_fired(obs)
    resolved = [k for k in resolved if k not in fired]
    if not fired and not resolved:
        # an unchanged repeat still says the group fires: after a maintenance, it pages
        wake_if_quiet(d)
        return
    after = d.ctx.service.auto_resolve_after
    d.emit(
        _alerts_updated(
            incident_id=inc.id,
            fired=tuple(fired.values()) or None,
            resolved=tuple(resolved) or None,
            auto_resolve_at=d.ctx.now + after if after and fired else None,
        )
    )
    resolve_if_quiet(d, Attribution(None, c.via))
    wake_if_quiet(d)


def resolve_if_quiet(d: Decision, attribution: Attribution) -> None:
    inc = d.inc
    if inc.status is not R and inc.alerts and not inc.firing_alerts():
        d.emit(
            IncidentResolved(
                incident_id=inc.id, attribution=attribution, reason="all alerts resolved"
            )
        )
        paging.status_update(d, "resolved")
