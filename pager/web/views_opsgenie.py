"""An incident as Opsgenie's Alert API shows an alert (`GET /v2/alerts/{identifier}`): the
incident's id, number (tinyId) and dedup key (alias), with the Opsgenie fields the create
request brought (priority, tags, entity, responders, actions, details) from its first alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pager.core.model import Incident

__all__ = ["alert_json"]


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z") if t else None


def alert_json(inc: Incident) -> dict[str, Any]:
    alert = inc.alerts.get(inc.dedup_key) or next(iter(inc.alerts.values()), None)
    og: dict[str, Any] = {}
    description = ""
    if alert is not None and isinstance(alert.details, dict):
        og = alert.details.get("opsgenie") or {}
        description = alert.details.get("description") or ""
    return {
        "id": inc.id,
        "tinyId": str(inc.number),
        "alias": inc.dedup_key,
        "message": inc.title,
        "status": "closed" if inc.status == "resolved" else "open",
        "acknowledged": inc.status == "acknowledged" or inc.acknowledged_at is not None,
        "isSeen": inc.acknowledged_at is not None,
        "tags": og.get("tags", []),
        "snoozed": inc.status == "snoozed",
        "count": alert.count if alert else 1,
        "lastOccurredAt": _iso(alert.last_seen if alert else inc.updated_at),
        "createdAt": _iso(inc.created_at),
        "updatedAt": _iso(inc.updated_at),
        "source": (alert.source if alert else None) or "",
        "owner": inc.acknowledged_by or "",
        "priority": og.get("priority", "P3"),
        "responders": og.get("responders", []),
        "integration": {"id": f"opsgenie-{inc.service_id}", "name": inc.service_id, "type": "API"},
        "report": {
            k: v
            for k, v in (
                ("ackTime", _ms(inc.created_at, inc.acknowledged_at)),
                ("closeTime", _ms(inc.created_at, inc.resolved_at)),
                ("acknowledgedBy", inc.acknowledged_by),
                ("closedBy", inc.resolved_by),
            )
            if v is not None
        },
        "actions": og.get("actions", []),
        "entity": og.get("entity", ""),
        "description": description,
        "details": og.get("details", {}),
    }


def _ms(a: datetime, b: datetime | None) -> int | None:
    return int((b - a).total_seconds() * 1000) if b else None
