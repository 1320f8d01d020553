"""Decoding a snapshot's JSON back into core values (the encoding is orjson's view of the
dataclasses and named tuples themselves). Snapshots of every age load: an incident's
timeline is `history` (raw entries, timeline.py) or, in one written before those,
`timeline` (its entries in words)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .model import Alert, EscalationState, Incident, Page, Status, TimelineEntry, Unreachable
from .notifications import Attempt, Notification
from .timeline_words import DATETIME_ARGS, RawEntry, raw_entry
from .vocabulary import AlertStatus, NotificationKind, NotificationStatus

__all__ = ["incident_from_json", "notification_from_json", "to_datetime"]


def notification_from_json(raw: Mapping[str, Any]) -> Notification:
    d = dict(raw)
    d["requested_at"] = _required_datetime(d["requested_at"])
    d["retry_at"] = to_datetime(d.get("retry_at"))
    d["kind"] = NotificationKind(d["kind"])
    d["status"] = NotificationStatus(d["status"])
    d["history"] = tuple(
        Attempt(_required_datetime(a["at"]), a["outcome"], a.get("attempt"), a.get("detail"))
        for a in d.get("history", ())
    )
    return Notification(**d)


def to_datetime(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def _required_datetime(v: str) -> datetime:
    return datetime.fromisoformat(v)


_INCIDENT_DATES = (
    "created_at",
    "updated_at",
    "acknowledged_at",
    "resolved_at",
    "snoozed_until",
    "ack_timeout_at",
    "auto_resolve_at",
    "page_at",
)


def incident_from_json(raw: Mapping[str, Any]) -> Incident:
    d = dict(raw)
    for k in _INCIDENT_DATES:
        d[k] = to_datetime(d.get(k))
    d["status"] = Status(d["status"])
    d["alerts"] = {k: _alert(a) for k, a in d["alerts"].items()}
    # raw entries (`history`, see timeline.py); a snapshot written before them has the
    # timeline in words (`timeline`), which an incident keeps as it is
    d["history"] = tuple(map(_entry, d.pop("history", None) or d.pop("timeline", ())))
    d["messages"] = dict(d.get("messages") or {})
    d["pages"] = {
        uid: Page(
            p["user_id"],
            _required_datetime(p["paged_at"]),
            p["level"],
            p["round"],
            p["next_step"],
            to_datetime(p["next_at"]),
        )
        for uid, p in d.get("pages", {}).items()
    }
    d["unreachable"] = tuple(
        Unreachable(u[0], _required_datetime(u[1]), u[2], u[3], tuple(u[4]))
        for u in d.get("unreachable", ())
    )
    esc = d.get("escalation")
    if esc is not None:
        d["escalation"] = EscalationState(
            esc["policy_id"], esc["level"], esc["round"], to_datetime(esc["next_at"])
        )
    return Incident(**d)


def _entry(t: list[Any]) -> TimelineEntry | RawEntry:
    if len(t) == 4:  # (seq, at, kind, args)
        seq, at, kind, args = t
        for i in DATETIME_ARGS.get(kind, ()):
            if args[i] is not None:
                args[i] = _required_datetime(args[i])
        return raw_entry(kind, seq, _required_datetime(at), tuple(args))
    return TimelineEntry(
        t[0], _required_datetime(t[1]), t[2], t[3], t[4], t[5], t[6] if len(t) > 6 else None
    )


def _alert(a: Mapping[str, Any]) -> Alert:
    d = dict(a)
    for k in ("first_seen", "last_seen", "resolved_at"):
        d[k] = to_datetime(d.get(k))
    d["links"] = tuple(d.get("links") or ())
    d["status"] = AlertStatus(d["status"])
    return Alert(**d)
