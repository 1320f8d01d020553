"""How incidents and the rest look in JSON: the REST API's bodies, webhook payloads, templates
and `pager replay` all use these views (a leaf module of the core, so every layer may)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from pager.core.archive import IncidentSummary
from pager.core.model import Alert, Incident, Status, TimelineEntry
from pager.core.vocabulary import AlertStatus

__all__ = [
    "TimelineLine",
    "alert_json",
    "incident_json",
    "summary_json",
    "timeline_json",
    "timeline_lines",
]

_FAILED = re.compile(r"Notification (\S+) failed \(attempt (\d+)\)")


class TimelineLine(NamedTuple):
    """One line of an incident's timeline as people read it: an entry, or the failed
    attempts of one notification as one line (`times` of them, the first at `first_at`)."""

    entry: TimelineEntry
    times: int = 1
    first_at: Any = None  # datetime of the first of `times` entries

    @property
    def text(self) -> str:
        return self.entry.text


def timeline_lines(entries: Iterable[TimelineEntry]) -> list[TimelineLine]:
    """The timeline with the failed attempts of each notification collapsed into one line,
    where its latest attempt stands: `Notification inc-7-n2 failed 4 times (attempts 1-4):
    <the latest error>; retrying at ...`."""
    entries = list(entries)
    failed: dict[str, list[int]] = {}  # notification id -> indexes of its failures
    for i, t in enumerate(entries):
        if t.kind == "notification.failed" and (m := _FAILED.match(t.text)):
            failed.setdefault(m[1], []).append(i)
    last = {idx[-1]: idx for idx in failed.values() if len(idx) > 1}
    skip = {i for idx in last.values() for i in idx[:-1]}
    out = []
    for i, t in enumerate(entries):
        if i in skip:
            continue
        idx = last.get(i)
        if idx is None:
            out.append(TimelineLine(t))
            continue
        first, latest = _FAILED.match(entries[idx[0]].text), _FAILED.match(t.text)
        assert first is not None and latest is not None
        head = f"Notification {latest[1]} failed {len(idx)} times (attempts {first[2]}-{latest[2]})"
        text = head + t.text[latest.end() :]
        out.append(TimelineLine(t._replace(text=text), len(idx), entries[idx[0]].at))
    return out


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


def timeline_json(t: TimelineEntry | TimelineLine) -> dict[str, Any]:
    line = t if isinstance(t, TimelineLine) else TimelineLine(t)
    t = line.entry
    out = {"seq": t.seq, "at": t.at, "kind": t.kind, "text": t.text, "by": t.by, "via": t.via}
    if t.token_name is not None:  # an action through the REST API: the token's name
        out["token_name"] = t.token_name
    if line.times > 1:  # the failed attempts of one notification, as one line
        out["count"] = line.times
        out["first_at"] = line.first_at
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
        # a resolved incident pages nobody; and it reads the same whether it is still held
        # in full or already archived to a summary (summary_json)
        "paging": inc.paging and inc.status is not Status.RESOLVED,
        "alert_counts": {
            "firing": sum(1 for a in inc.alerts.values() if a.status == AlertStatus.FIRING),
            "total": len(inc.alerts) + inc.alerts_unlisted,
        },
        "escalation": None
        if inc.escalation is None or (inc.status is Status.RESOLVED and not detail)
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
        out["timeline"] = [timeline_json(t) for t in timeline_lines(inc.timeline)]
        out["unreachable"] = [
            {"user": u.user_id, "at": u.at, "level": u.level + 1, "round": u.round + 1,
             "tried": list(u.tried)}
            for u in inc.unreachable
        ]  # fmt: skip
        out["ack_timeout_at"] = inc.ack_timeout_at
        out["auto_resolve_at"] = inc.auto_resolve_at
        out["page_at"] = inc.page_at
    return out
