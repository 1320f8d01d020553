"""How incidents and the rest look in JSON: the REST API's bodies, webhook payloads, templates
and `pager replay` all use these views (a leaf module of the core, so every layer may)."""

from __future__ import annotations

from typing import Any

from pager.core.archive import IncidentSummary
from pager.core.model import Alert, Incident, Status, TimelineEntry
from pager.core.vocabulary import AlertStatus

__all__ = ["alert_json", "incident_json", "summary_json", "timeline_json"]


def alert_json(a: Alert) -> dict[str, Any]:
    return {
        "key": a.key,
        "status": a.status,
        "summary": a.summary,
        "severity": a.severity,
        "source": a.source,
        "first_seen": a.first_seen,
        "last_seen": a.last_seen,
        "resolved_at": a.resolved_at,
        "count": a.count,
        "labels": a.labels,
        "details": a.details,
        "links": list(a.links),
    }


def timeline_json(t: TimelineEntry) -> dict[str, Any]:
    out = {"seq": t.seq, "at": t.at, "kind": t.kind, "text": t.text, "by": t.by, "via": t.via}
    if t.token_name is not None:  # an action through the REST API: the token's name
        out["token_name"] = t.token_name
    return out


def summary_json(s: IncidentSummary) -> dict[str, Any]:
    """An archived incident, in the list's shape (its detail rebuilds it in full)."""
    return {
        "id": s.id,
        "number": s.number,
        "short_code": s.short_code,
        "service": s.service_id,
        "dedup_key": s.dedup_key,
        "integration": s.integration,
        "title": s.title,
        "status": s.status,
        "severity": s.severity,
        "urgency": s.urgency,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "acknowledged_at": s.acknowledged_at,
        "acknowledged_by": s.acknowledged_by,
        "resolved_at": s.resolved_at,
        "resolved_by": s.resolved_by,
        "snoozed_until": None,
        "paging": False,
        "alert_counts": {"firing": s.alerts_firing, "total": s.alerts_total},
        "escalation": None,
        "last_seq": s.last_seq,
    }


def incident_json(inc: Incident, *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": inc.id,
        "number": inc.number,
        "short_code": inc.short_code,
        "service": inc.service_id,
        "dedup_key": inc.dedup_key,
        "integration": inc.integration,
        "title": inc.title,
        "status": inc.status.value,
        "severity": inc.severity,
        "urgency": inc.urgency,
        "created_at": inc.created_at,
        "updated_at": inc.updated_at,
        "acknowledged_at": inc.acknowledged_at,
        "acknowledged_by": inc.acknowledged_by,
        "resolved_at": inc.resolved_at,
        "resolved_by": inc.resolved_by,
        "snoozed_until": inc.snoozed_until,
        "paging": inc.paging,
        "alert_counts": {
            "firing": sum(1 for a in inc.alerts.values() if a.status == AlertStatus.FIRING),
            "total": len(inc.alerts) + inc.alerts_unlisted,
        },
        "escalation": None
        if inc.escalation is None
        else {
            "policy": inc.escalation.policy_id,
            "level": inc.escalation.level + 1,
            "round": inc.escalation.round + 1,
            # escalation waits while someone has the incident: no next step to show
            "next_at": inc.escalation.next_at if inc.status is Status.TRIGGERED else None,
        },
        "last_seq": inc.last_seq,
    }
    if detail:
        out["alerts"] = [alert_json(a) for a in inc.alerts.values()]
        out["alerts_unlisted"] = inc.alerts_unlisted  # resolved ones only counted, not listed
        out["timeline"] = [timeline_json(t) for t in inc.timeline]
        out["ack_timeout_at"] = inc.ack_timeout_at
        out["auto_resolve_at"] = inc.auto_resolve_at
        out["page_at"] = inc.page_at
    return out
