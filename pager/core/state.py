"""The whole state as the fold of every event so far: the read model the API answers from,
what a snapshot holds, and what start-up rebuilds.

`SystemState.apply` is the only place that changes it, one journaled record at a time, in
sequence order (the journal's commit hook calls it). Incidents inside are immutable values,
so a reader never sees one half-changed, and a snapshot can be serialized from references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .events import (
    ChangeRecorded,
    ConfigApplied,
    Event,
    IncidentEvent,
    IncidentOpened,
    IncidentResolved,
    MaintenanceEnded,
    MaintenanceStarted,
    decode,
)
from .evolve import evolve
from .model import Alert, EscalationState, Incident, Page, Status, TimelineEntry
from .notifications import Attempt, Notification, NotificationBook
from .rules import Window

__all__ = ["STATE_VERSION", "SystemState", "incident_from_json"]

STATE_VERSION = 1
RECENT_CHANGES = 50


class RecordLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def event(self) -> object: ...


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    id: str
    service_id: str
    start: datetime
    end: datetime
    reason: str | None = None
    by: str | None = None

    def as_window(self) -> Window:
        return Window(self.start, self.end, self.reason, self.id)


class SystemState:
    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.open_by_key: dict[tuple[str, str], str] = {}
        self.next_number = 1
        self.last_seq = 0
        self.last_ts: datetime | None = None
        self.maintenance: dict[str, MaintenanceWindow] = {}
        self.changes: dict[str, list[ChangeRecorded]] = {}
        self.config_digest: str | None = None
        self.notifications = NotificationBook()

    # ------------------------------------------------------------------ fold

    def apply(self, record: RecordLike) -> None:
        ev = record.event
        event = ev if isinstance(ev, Event) else decode(record.type, record.data)
        self.apply_event(event, record.seq, record.ts)

    def apply_event(self, event: Event, seq: int, at: datetime) -> None:
        if isinstance(event, IncidentEvent):
            if event.TYPE.startswith("notification."):
                self.notifications.apply(event, at)
            iid = event.incident_id
            inc = evolve(self.incidents.get(iid), event, seq, at)
            self.incidents[iid] = inc
            if isinstance(event, IncidentOpened):
                self.open_by_key[(inc.service_id, inc.dedup_key)] = iid
                if inc.number >= self.next_number:
                    self.next_number = inc.number + 1
            elif (
                isinstance(event, IncidentResolved)
                and self.open_by_key.get((inc.service_id, inc.dedup_key)) == iid
            ):
                del self.open_by_key[(inc.service_id, inc.dedup_key)]
        elif isinstance(event, MaintenanceStarted):
            self.maintenance[event.window_id] = MaintenanceWindow(
                event.window_id, event.service_id, event.start, event.end, event.reason, event.by
            )
        elif isinstance(event, MaintenanceEnded):
            self.maintenance.pop(event.window_id, None)
        elif isinstance(event, ChangeRecorded):
            lst = self.changes.setdefault(event.service_id, [])
            lst.append(event)
            del lst[:-RECENT_CHANGES]
        elif isinstance(event, ConfigApplied):
            self.config_digest = event.digest
        self.last_seq = seq
        self.last_ts = at

    # ------------------------------------------------------------------ queries

    def open_incidents(self) -> list[Incident]:
        return [self.incidents[i] for i in self.open_by_key.values()]

    def maintenance_for(self, service_id: str, at: datetime) -> MaintenanceWindow | None:
        for w in self.maintenance.values():
            if w.service_id == service_id and w.start <= at < w.end:
                return w
        return None

    # ------------------------------------------------------------------ snapshots

    def _load_notification(self, raw: Mapping[str, Any]) -> None:
        n = _notification(raw)
        book = self.notifications
        book.by_id[n.id] = n
        book.by_incident.setdefault(n.incident_id, []).append(n.id)
        if n.open:
            book.pending.setdefault(n.method, {})[n.id] = None
        if n.provider_id:
            book.by_provider_id[n.provider_id] = n.id

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-able (by orjson) form of the whole state. Holds references to immutable
        values only, so it may be serialized in another thread while the state moves on."""
        return {
            "version": STATE_VERSION,
            "last_seq": self.last_seq,
            "last_ts": self.last_ts,
            "next_number": self.next_number,
            "config_digest": self.config_digest,
            "incidents": list(self.incidents.values()),
            "maintenance": list(self.maintenance.values()),
            "changes": {k: list(v) for k, v in self.changes.items()},
            "notifications": list(self.notifications.by_id.values()),
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> SystemState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"snapshot state version {data.get('version')!r} is not {STATE_VERSION}"
            )
        s = cls()
        s.last_seq = data["last_seq"]
        s.last_ts = _dt(data.get("last_ts"))
        s.next_number = data["next_number"]
        s.config_digest = data.get("config_digest")
        for raw in data["incidents"]:
            inc = incident_from_json(raw)
            s.incidents[inc.id] = inc
            if inc.status is not Status.RESOLVED:
                s.open_by_key[(inc.service_id, inc.dedup_key)] = inc.id
        for raw in data["maintenance"]:
            w = MaintenanceWindow(
                raw["id"],
                raw["service_id"],
                _req_dt(raw["start"]),
                _req_dt(raw["end"]),
                raw.get("reason"),
                raw.get("by"),
            )
            s.maintenance[w.id] = w
        for raw in data.get("notifications", ()):
            s._load_notification(raw)
        for sid, lst in data["changes"].items():
            s.changes[sid] = [decode(ChangeRecorded.TYPE, c) for c in lst]  # type: ignore[misc]
        return s


def _notification(raw: Mapping[str, Any]) -> Notification:
    d = dict(raw)
    d["requested_at"] = _req_dt(d["requested_at"])
    d["retry_at"] = _dt(d.get("retry_at"))
    d["history"] = tuple(
        Attempt(_req_dt(a["at"]), a["outcome"], a.get("attempt"), a.get("detail"))
        for a in d.get("history", ())
    )
    return Notification(**d)


def _dt(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def _req_dt(v: str) -> datetime:
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
        d[k] = _dt(d.get(k))
    d["status"] = Status(d["status"])
    d["alerts"] = {k: _alert(a) for k, a in d["alerts"].items()}
    d["timeline"] = tuple(
        TimelineEntry(t[0], _req_dt(t[1]), t[2], t[3], t[4], t[5]) for t in d["timeline"]
    )
    d["messages"] = dict(d.get("messages") or {})
    d["pages"] = {
        uid: Page(
            p["user_id"],
            _req_dt(p["paged_at"]),
            p["level"],
            p["round"],
            p["next_step"],
            _dt(p["next_at"]),
        )
        for uid, p in d.get("pages", {}).items()
    }
    esc = d.get("escalation")
    if esc is not None:
        d["escalation"] = EscalationState(
            esc["policy_id"], esc["level"], esc["round"], _dt(esc["next_at"])
        )
    return Incident(**d)


def _alert(a: Mapping[str, Any]) -> Alert:
    d = dict(a)
    for k in ("first_seen", "last_seen", "resolved_at"):
        d[k] = _dt(d.get(k))
    d["links"] = tuple(d.get("links") or ())
    return Alert(**d)
